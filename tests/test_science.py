"""The methods work, not only the plumbing: checks on the tiny configuration (tests/configs/tiny.yaml).

* the moment constraint moves a categorical attribute's shares toward uniform;
* FID ranks a broken generator (constant images) below the working one.
"""

from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import validate

from eval.metric_fid import feature_statistics, fid_from_statistics
from eval.table5 import fit_attribute, moment_train_spec, share_rows
from promptgen.energies import ModelCache
from promptgen.generators import build_generator
from promptgen.moment import save_moment_fit
from promptgen.sample import iter_samples
from promptgen.spec import train_from_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny() -> dict:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))  # fills the schema's defaults
    return cfg


def _generator(tiny: dict):
    entry = tiny["generators"]["user"]
    return entry, build_generator(entry["generator"], psi=entry["psi_train"], device="cpu")


def test_moment_constraint_moves_the_shares_toward_uniform(tiny, tmp_path) -> None:
    entry, _ = _generator(tiny)
    t5 = {**tiny["table5"], "train": {**tiny["table5"]["train"], "steps": 60}}
    model = tiny["models"][t5["model"]]
    attr = t5["attributes"][0]
    fit = fit_attribute(entry, model, attr, t5["moment"], "cpu", 0)
    save_moment_fit(fit, tmp_path / "beta.json")
    spec = moment_train_spec(entry, model, attr, str(tmp_path / "beta.json"), 1.0, t5, "cpu", 0)
    train_from_spec(spec, tmp_path / "inn")
    kw = {"n": 2000, "seed": 3, "device": "cpu", "batch_size": 500}
    before = share_rows("user", entry, model, attr, "unmodified", **kw)
    after = share_rows("user", entry, model, attr, "lambda1", inn_path=str(tmp_path / "inn/inn.pt"), **kw)
    kl_before, kl_after = before["kl"].iloc[0], after["kl"].iloc[0]
    assert kl_after < 0.5 * kl_before, (kl_before, kl_after)


def test_fid_ranks_a_broken_generator_below_the_working_one(tiny) -> None:
    _, gen = _generator(tiny)
    features = ModelCache("cpu").get(tiny["models"]["features"], "models.features")

    def samples(seed: int):
        return lambda: (images for _, _, images in iter_samples(gen, 512, seed=seed, batch_size=128))

    reference = feature_statistics(features, samples(0), 512, 128)
    working = fid_from_statistics(feature_statistics(features, samples(1), 512, 128), reference)
    constant = torch.zeros(128, 3, gen.resolution, gen.resolution)
    broken = fid_from_statistics(
        feature_statistics(features, lambda: iter([constant] * 4), 512, 128), reference
    )
    assert broken > 10 * working, (working, broken)
