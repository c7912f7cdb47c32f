import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.stats import entropy

from eval.literature import literature_rows
from eval.metric_fid import fid_from_statistics
from eval.metric_identity import embedding_distance, identity_distances
from eval.metric_kl import joint_labels, kl_noise_floor, kl_to_uniform, shares


def test_kl_to_uniform_matches_scipy_and_handles_empty_classes() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(4, size=1000, p=[0.1, 0.2, 0.3, 0.4])
    assert kl_to_uniform(labels, 4) == pytest.approx(entropy(shares(labels, 4), np.full(4, 0.25)))
    assert kl_to_uniform(np.zeros(10, dtype=int), 2) == pytest.approx(np.log(2))  # an empty class: no NaN
    assert kl_to_uniform(np.array([0, 1, 0, 1]), 2) == 0.0


def test_joint_labels_and_noise_floor() -> None:
    joint, k = joint_labels([np.array([0, 1, 1]), np.array([1, 0, 1])], [2, 2])
    assert k == 4 and joint.tolist() == [1, 2, 3]
    rng = np.random.default_rng(1)
    n = 4000
    kls = [kl_to_uniform(rng.integers(0, 4, n), 4) for _ in range(400)]
    assert np.mean(kls) == pytest.approx(kl_noise_floor(4, n), rel=0.15)


def test_identity_distances_pair_poses_as_the_paper_and_count_each_pair_once() -> None:
    rng = np.random.default_rng(0)
    first, second, third = rng.normal(size=(3, 6, 8))
    same, diff = identity_distances(first, second, third)
    ref_same = np.mean([embedding_distance(first[i], second[i]) for i in range(6)])
    ref_diff = np.mean([embedding_distance(third[2 * j], third[2 * j + 1]) for j in range(3)])
    assert same == pytest.approx(ref_same) and diff == pytest.approx(ref_diff)
    # The paper's code adds (b, a) beside (a, b): the same mean, from twice the rows.
    twice = np.mean(
        [embedding_distance(third[2 * j + a], third[2 * j + 1 - a]) for j in range(3) for a in (0, 1)]
    )
    assert diff == pytest.approx(twice)
    assert embedding_distance(first[0], first[0]) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="identity_distances"):
        identity_distances(first, second, third[:4])


def test_fid_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 6)), rng.normal(loc=0.5, size=(500, 6)) * 1.3
    sa = (a.mean(0), np.cov(a, rowvar=False), 500)
    sb = (b.mean(0), np.cov(b, rowvar=False), 500)
    covmean = sqrtm(sa[1] @ sb[1]).real
    ref = np.sum((sa[0] - sb[0]) ** 2) + np.trace(sa[1] + sb[1] - 2 * covmean)
    assert fid_from_statistics(sa, sb) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("table", ["table2", "table3", "table4", "figure8"])
def test_literature_rows_name_their_source(table) -> None:
    df = literature_rows(table)
    assert len(df) > 0 and df["source"].str.startswith("paper").all()


def test_table4_break_even_and_step_size_choice() -> None:
    from eval.table4 import _check, break_even, choose_step_size
    from promptgen.registry import ConfigError

    assert break_even(100.0, 1.5, 0.5) == pytest.approx(100.0)
    assert break_even(100.0, 0.5, 0.5) == float("inf")
    assert choose_step_size({0.01: 0.52, 0.003: 0.50, 0.03: 0.50}) == 0.003  # lowest energy, then smallest η
    base = {"seed": 0, "tune_seed": 1000, "ppgm_step_sizes": [0.003, 0.01, 0.03]}
    _check(base)
    with pytest.raises(ConfigError, match="table4.tune_seed"):
        _check({**base, "tune_seed": 0})
    with pytest.raises(ConfigError, match="at least 3"):
        _check({**base, "ppgm_step_sizes": [0.01, 0.03]})
