"""eval.summary: the results page shows each table beside the paper's rows, the commit, machine and times."""

import pandas as pd

from eval.summary import benchmark_times, git_commit, headline_table2, markdown_table, summary_markdown

MACHINE = {"cpu_model": "Test CPU 9000", "cores": 2, "calibration_s": 0.1484, "load_avg_1min": 0.5}


def _table2() -> pd.DataFrame:
    rows = []
    for method, kl in (("unmodified", 0.19), ("promptgen", 4.8e-4)):
        for judge in ("control_classifier", "oracle"):
            rows.append(
                {"generator": "render", "method": method, "judge": judge, "N": 16000, "kl_gender": kl / 2,
                 "kl_eyeglasses": kl, "kl_gender_std": 1e-5, "kl_eyeglasses_std": 2e-5, "source": "measured"}
            )  # fmt: skip
    rows.append(
        {"generator": "StyleGAN2", "method": "PromptGen", "judge": "CelebA classifiers (paper)",
         "kl_gender": 1.71e-5, "kl_eyeglasses": 1.72e-5, "source": "paper Table 2"}
    )  # fmt: skip
    return pd.DataFrame(rows)


def _benchmarks(root) -> None:
    for rel, s, cpu in (("table2_train/render_seed0.tsv", 700.0, 218.0), ("table2.tsv", 3.0, 2.0)):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{s}\t0:00:00\t100\t{cpu}\n")


def test_markdown_table_joins_std_and_drops_empty_columns() -> None:
    df = pd.DataFrame({"a": ["x"], "kl": [4.8e-4], "kl_std": [1.1e-5], "empty": [float("nan")]})
    assert markdown_table(df).splitlines() == ["| a | kl |", "|---|---|", "| x | 0.00048 ± 1.1e-05 |"]


def test_benchmark_times_group_jobs_by_table(tmp_path) -> None:
    _benchmarks(tmp_path)
    times = benchmark_times(tmp_path).set_index("table")
    assert times.loc["table2", "jobs"] == 2
    assert times.loc["table2", "job_wall_s"] == 703.0 and times.loc["table2", "cpu_s"] == 220.0
    assert times.loc["table2", "longest_job"] == "table2_train/render_seed0"
    assert benchmark_times(tmp_path / "missing").empty


def test_headline_is_the_largest_column_per_judge_with_the_papers_row() -> None:
    head = headline_table2(_table2()).set_index(["generator", "method"])
    assert head.loc[("render", "promptgen"), "oracle"] == 4.8e-4
    assert head.loc[("render", "unmodified"), "control_classifier"] == 0.19
    assert head.loc[("StyleGAN2", "PromptGen"), "CelebA classifiers (paper)"] == 1.72e-5


def test_summary_page_names_commit_machine_paper_rows_and_times(tmp_path) -> None:
    _benchmarks(tmp_path)
    table5 = pd.DataFrame(
        {"generator": ["render"], "attribute": ["tone"], "method": ["lambda1"], "kl": [0.019]}
    )
    page = summary_markdown(
        {"table2": _table2(), "table5": table5},
        commit="abc1234",
        machine=MACHINE,
        times=benchmark_times(tmp_path),
    )
    assert "`abc1234`" in page and "Test CPU 9000, 2 cores" in page and "0.148 s" in page
    assert "| render | promptgen | oracle | 16000 | 0.00024 ± 1e-05 | 0.00048 ± 2e-05 |" in page
    assert (
        "| StyleGAN2 | PromptGen | CelebA classifiers (paper) | 1.71e-05 | 1.72e-05 | paper Table 2 |" in page
    )
    assert "## Table 5" in page and "## Table 3" not in page  # only the tables given
    assert "| table2 | 2 | 703 | 220 | table2_train/render_seed0 | 700 |" in page


def test_git_commit_outside_a_checkout_is_unknown(tmp_path) -> None:
    assert git_commit(tmp_path) == "unknown"
    assert git_commit() != "unknown"
