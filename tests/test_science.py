"""The methods work, not only the plumbing: checks on the tiny configuration (tests/configs/tiny.yaml).

* the moment constraint moves a categorical attribute's shares toward uniform;
* FID ranks a broken generator (constant images) below the working one;
* PPGM's Langevin chains lower the CLIP energy in 10 steps (on the world: see its test).
"""

import math
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import validate

from eval.config import resolve_config
from eval.metric_fid import feature_statistics, fid_from_statistics
from eval.table5 import fit_attribute, moment_train_spec, share_rows
from promptgen.baselines.langevin import langevin
from promptgen.energies import EnergyInput, EnergySum, ModelCache
from promptgen.energies.clip import CLIPEnergy
from promptgen.generators import build_generator
from promptgen.moment import save_moment_fit
from promptgen.sample import iter_samples, per_sample_normal
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


def ppgm_clip_fall(
    world: dict, weight: float, step_size: float, chains: int, steps: int = 10, seed: int = 12
) -> tuple[float, float]:
    """Mean and standard error over ``chains`` PPGM chains of E_CLIP(G(z_n)) − E_CLIP(G(z_0)), on Table 4's
    EBM of the world config ``world`` with the CLIP weight λ replaced by ``weight``; both ends are scored
    with the same augmentation draws, so each difference is paired."""
    gen = build_generator(world["generators"]["render"]["generator"], psi=1.0, device="cpu")
    clip = ModelCache("cpu").get(world["models"]["clip"], "models.clip")
    settings = {k: v for k, v in world["table4"]["clip"].items() if k != "weight"}
    text = world["table4"]["texts"][0]
    judge = CLIPEnergy(clip, text, **settings)
    ebm = EnergySum({"text": (weight, judge)})

    @torch.no_grad()
    def score(images: torch.Tensor) -> torch.Tensor:
        draws = torch.Generator().manual_seed(seed + 1)
        return torch.cat([judge(EnergyInput(x=x, generator=draws)) for x in images.split(32)])

    with torch.no_grad():
        start = score(gen(per_sample_normal(seed, list(range(chains)), gen.latent_dim)))
    end = score(langevin(gen, ebm, chains, steps=steps, step_size=step_size, seed=seed, batch_size=32).images)
    diff = end - start
    return float(diff.mean()), float(diff.std() / math.sqrt(chains))


@pytest.mark.slow
def test_ppgm_lowers_the_clip_energy_from_n_0_to_n_10() -> None:
    """PPGM's chains lower the CLIP energy in 10 Langevin steps on Table 4's EBM (config/config.yaml: the
    renderer, the world's trained tiny CLIP, λ, L and policy).

    On the world, not the tiny configuration: the tiny configuration's CLIP has random weights, and its
    energy hardly depends on the image (10 steps at λ = 20 move it by 1e-4 or less, within noise, at η from
    0.01 to 0.3). On the world one step's drift, −(η/2)∇U, is small next to its noise, √η ξ, so the fall is
    measured over 256 paired chains, at η = 0.03: the largest fall of η ∈ {0.03, 0.1, 0.3, 1} on 64 chains
    of another seed. The test
    asks for a fall of at least 0.002 (the energy's spread over the generator's images is 0.026) and of 3
    standard errors; it fails with η → 0 (no move) or with the energy's sign flipped (the chains climb).
    About 40 s on one free CPU thread.
    """
    schema, default = ROOT / "workflow/schemas/config.schema.yaml", ROOT / "config/config.yaml"
    world = resolve_config({}, schema, default)  # the default config with the schema's defaults
    weight = float(world["table4"]["clip"]["weight"])
    mean, se = ppgm_clip_fall(world, weight, step_size=0.03, chains=256)
    print(f"E(n=10) - E(n=0): {mean:+.5f} ± {se:.5f}")
    assert mean < -0.002 and mean < -3 * se, (mean, se)
