"""eval.plots: the bars drawn are the table's numbers (figures captured before they are saved)."""

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import eval.plots


@pytest.fixture
def captured(monkeypatch):
    figures = []
    real_save = eval.plots._save

    def save(fig, path):
        figures.append([[(p.get_x(), p.get_height()) for p in ax.patches] for ax in fig.axes])
        return real_save(fig, path)

    monkeypatch.setattr(eval.plots, "_save", save)
    return figures


def test_share_bars_draws_each_attributes_own_classes(tmp_path, captured) -> None:
    table = pd.DataFrame(
        {
            "generator": ["g", "g", "g"],
            "attribute": ["tone", "tone", "age"],
            "method": ["unmodified", "lambda1", "unmodified"],
            "judge": ["classifier"] * 3,
            "share_0": [0.4, 0.25, 0.5],
            "share_1": [0.3, 0.25, 0.3],
            "share_2": [0.2, 0.25, 0.2],
            "share_3": [0.1, 0.25, np.nan],
        }
    )
    path = eval.plots.share_bars(table, tmp_path / "shares.png")
    assert matplotlib.image.imread(path).ndim == 3
    tone, age = captured[0]
    assert [h for _, h in tone] == [0.4, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25]
    assert [h for _, h in age] == [0.5, 0.3, 0.2]  # three age classes, no bar for the empty share_3


def test_inn_fidelity_and_fid_identity_plot_the_measured_values(tmp_path, captured) -> None:
    targets = pd.DataFrame(
        {"target": ["a", "b"], "kl": [0.003, 0.1], "kl_mc_stderr": [1e-4, 2e-3], "log_z": [-1.0, -2.1],
         "log_z_exact": [-1.0, -2.0]}
    )  # fmt: skip
    eval.plots.inn_fidelity(targets, tmp_path / "a.png")
    assert [h for _, h in captured[0][0]] == [0.003, 0.1]
    table3 = pd.DataFrame(
        {
            "generator": ["r", "r", "paper"],
            "method": ["unmodified", "PromptGen", "StyleGAN2"],
            "fid": [0.45, 3.3, 3.0],
            "dist_same_id": [np.nan, 0.21, np.nan],
            "dist_diff_id": [np.nan, 1.27, np.nan],
            "source": ["measured", "measured", "paper Table 3"],
        }
    )
    eval.plots.fid_identity(table3, tmp_path / "t3.png")
    fid, dist = captured[1]
    assert [h for _, h in fid] == [0.45, 3.3]  # literature rows are not drawn
    assert [h for _, h in dist] == [0.21, 1.27]


def _table2() -> pd.DataFrame:
    rows = []
    for gen in ("render", "vae"):
        for judge in ("control_classifier", "oracle"):
            for method, values in (("unmodified", [0.19, 0.2]), ("resample", [0.0, 3e-6])):
                rows.append(
                    {"generator": gen, "method": method, "judge": judge, "kl_gender": values[0],
                     "kl_eyeglasses": values[1], "kl_gender_std": 1e-3, "kl_eyeglasses_std": 1e-7,
                     "iid_reference_pairs": 9.4e-5, "source": "measured"}
                )  # fmt: skip
    rows.append(
        {"generator": "StyleGAN2", "method": "FairStyle", "judge": "paper", "kl_gender": 3.2e-7,
         "kl_eyeglasses": 0.0, "source": "paper Table 2"}
    )  # fmt: skip
    return pd.DataFrame(rows)


def test_table2_chart_has_a_panel_per_judge_paper_markers_and_no_bar_for_zero(tmp_path, monkeypatch) -> None:
    seen = {}
    real_save = eval.plots._save

    def save(fig, path):
        seen["fig"] = fig
        seen["bars"] = [[p.get_height() for p in ax.patches] for ax in fig.axes]
        seen["points"] = [[c.get_offsets().data.tolist() for c in ax.collections] for ax in fig.axes]
        return real_save(fig, path)

    monkeypatch.setattr(eval.plots, "_save", save)
    eval.plots.table2_bars(_table2(), tmp_path / "t2.png")
    fig = seen["fig"]
    assert [ax.get_title() for ax in fig.axes] == [
        "render, judged by control_classifier",
        "render, judged by oracle",
        "vae, judged by control_classifier",
        "vae, judged by oracle",
    ]
    heights = [h for h in seen["bars"][0] if np.isfinite(h)]
    assert sorted(heights) == [3e-6, 0.19, 0.2]  # resample's exact zero is not a bar
    points = [xy for coll in seen["points"][0] for xy in coll]
    floor = fig.axes[0].get_ylim()[0]
    assert any(np.isclose(y, 3.2e-7) for _, y in points)  # the paper's FairStyle gender marker
    assert sum(np.isclose(y, 2 * floor) for _, y in points) == 2  # zeros: resample gender, paper eyeglasses
    assert floor < 3e-6
    assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)  # one legend, outside the panels


def test_energy_latency_puts_the_papers_rows_in_their_own_panel(tmp_path, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(eval.plots, "_save", lambda fig, path: seen.setdefault("fig", fig))
    table = pd.DataFrame(
        {
            "method": ["PromptGen", "PPGM (n=10)", "PromptGen"],
            "text": ["a photo of a baby"] * 3,
            "clip_energy": [0.51, 0.54, 0.70],
            "seconds_per_sample": [1e-3, 1.0, 0.2],
            "device": ["cpu", "cpu", "RTX A4000 GPU"],
            "source": ["measured", "measured", "paper Table 4"],
        }
    )
    eval.plots.energy_latency(table, tmp_path / "t4.png")
    fig = seen["fig"]
    assert [ax.get_title() for ax in fig.axes] == ["this run (cpu)", "paper (RTX A4000 GPU)"]
    assert [len(ax.collections) for ax in fig.axes] == [2, 1]
