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
    targets = pd.DataFrame({"target": ["a", "b"], "kl": [0.003, 0.1], "kl_mc_stderr": [1e-4, 2e-3]})
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
