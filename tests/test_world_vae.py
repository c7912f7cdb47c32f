"""The world VAE: generator contract, registry kind ``world-vae``, seeded training, latent fit, metrics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor

from promptgen.device import cpu_autocast_dtype
from promptgen.generators import GENERATORS, build_generator
from promptgen.registry import ConfigError
from promptgen.world.vae import (
    VAE,
    AdversarialConfig,
    VaeArch,
    VaeTrainConfig,
    WorldVAEGenerator,
    adversarial_finetune,
    attribute_shares,
    load_vae,
    sample_images,
    train_vae,
    vae_metrics,
)
from promptgen.world.vae_prior import LatentPrior, PriorFitConfig, fit_latent_prior, posterior_samples

SMALL = VaeArch(latent_dim=8, resolution=64, channels=(8, 8, 16, 16))
SMALL_PRIOR = PriorFitConfig(draws=2, flow_blocks=2, flow_hidden=16, steps=20, batch_size=32)
SMALL_ADV = AdversarialConfig(steps=3, batch_size=8, r1_every=2, critic_channels=(8, 8, 8, 8))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    images = torch.randint(0, 256, (64, 3, 64, 64), dtype=torch.uint8)
    path = tmp_path_factory.mktemp("vae") / "world-vae.pt"
    train_vae(
        images,
        path,
        VaeTrainConfig(epochs=1, batch_size=32, arch=SMALL, prior=SMALL_PRIOR, adversarial=SMALL_ADV),
    )
    return path


def test_generator_contract(checkpoint: Path):
    assert "world-vae" in GENERATORS.kinds
    G = build_generator({"kind": "world-vae", "checkpoint": str(checkpoint)}, psi=0.7)
    assert isinstance(G, WorldVAEGenerator) and (G.latent_dim, G.resolution, G.psi) == (8, 64, 0.7)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
    assert not any(p.requires_grad for p in G.parameters())


def test_compiled_decoder_runs_in_fixed_chunks(recording_compile: list[int], checkpoint: Path):
    """``compile``: decodes in chunks of 64 latents (a short batch at its own size), the eager images."""
    import copy

    entry = {"kind": "world-vae", "checkpoint": str(checkpoint)}
    eager, compiled = build_generator(entry, psi=0.7), build_generator({**entry, "compile": True}, psi=0.7)
    z = torch.randn(69, eager.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for n in (3, 69):
            torch.testing.assert_close(compiled(z[:n]), eager(z[:n]), atol=1e-5, rtol=0)
    assert recording_compile == [3, 64, 64]
    assert copy.deepcopy(compiled)._compiled is None  # compiled code is never copied
    with pytest.raises(ConfigError, match="generator.compile: expected true, false or auto"):
        build_generator({**entry, "compile": "sometimes"})


def test_truncation_scales_the_latent(checkpoint: Path):
    entry = {"kind": "world-vae", "checkpoint": str(checkpoint)}
    z = torch.randn(4, 8)
    G0, G1, Gh = (build_generator(entry, psi=psi) for psi in (0.0, 1.0, 0.5))
    centre = G0.vae.decode(G0.prior(torch.zeros(1, 8)))
    torch.testing.assert_close(G0(z), centre.expand(4, -1, -1, -1))
    torch.testing.assert_close(Gh(z), G1(0.5 * z))


def test_missing_checkpoint_names_the_key(tmp_path: Path):
    with pytest.raises(ConfigError, match="generator.checkpoint"):
        build_generator({"kind": "world-vae", "checkpoint": str(tmp_path / "nope.pt")})


def test_training_is_seeded(tmp_path: Path):
    images = torch.randint(0, 256, (48, 3, 64, 64), dtype=torch.uint8)
    cfg = VaeTrainConfig(
        epochs=1, batch_size=16, arch=SMALL, seed=3, prior=SMALL_PRIOR, adversarial=SMALL_ADV
    )
    for i in range(2):
        result = train_vae(images, tmp_path / f"{i}.pt", cfg)
        log, adv = result["log"], result["adversarial_log"]
        assert len(log) == 1 and all(torch.isfinite(torch.tensor(v)) for v in log[0].values())
        assert len(adv) == 1 and {"critic", "gan", "nll", "kl"} <= adv[0].keys()
        assert all(torch.isfinite(torch.tensor(v)) for v in adv[0].values())
    (a, pa), (b, pb) = load_vae(tmp_path / "0.pt"), load_vae(tmp_path / "1.pt")
    for x, y in ((a, b), (pa, pb)):
        pairs = zip(x.state_dict().values(), y.state_dict().values(), strict=True)
        assert all(torch.equal(u, v) for u, v in pairs)


def test_adversarial_stage_trains_the_decoder_on_prior_samples():
    """The stage changes the decoder, keeps the prior it was given, and is a function of the seed."""
    images = torch.randint(0, 256, (32, 3, 64, 64), dtype=torch.uint8)
    prior = LatentPrior(torch.full((8,), 0.5), 2 * torch.eye(8))
    u = torch.randn(4, 8)
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        vae = VAE(SMALL).eval()
        before = vae.decode(prior(u)).detach()
        logs = adversarial_finetune(vae, prior, images, SMALL_ADV, seed=4)
        assert not vae.training and len(logs) == 1
        outs.append(vae.decode(prior(u)).detach())
        assert (outs[-1] - before).abs().max() > 1e-4
    assert torch.equal(outs[0], outs[1])
    torch.testing.assert_close(prior(torch.zeros(1, 8))[0], torch.full((8,), 0.5))


def test_loss_and_reconstruction_scores_the_reconstruction_it_returns():
    torch.manual_seed(0)
    vae, x = VAE(SMALL).eval(), torch.rand(4, 3, 64, 64) * 2 - 1
    elbo, log = vae.loss(x, generator=torch.Generator().manual_seed(5))
    elbo2, log2, recon = vae.loss_and_reconstruction(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(elbo, elbo2) and log == log2
    mu, logvar = vae.encode(x)
    z = mu + torch.randn(mu.shape, generator=torch.Generator().manual_seed(5)) * (0.5 * logvar).exp()
    torch.testing.assert_close(recon, vae.decode(z))
    assert log["sigma_x"] == pytest.approx((recon - x).pow(2).mean().sqrt().item(), rel=1e-5)


def test_adversarial_stage_gan_term_on_reconstructions():
    """recon_weight changes the stage only through the GAN term (weight 0 leaves it without effect)."""
    images = torch.randint(0, 256, (32, 3, 64, 64), dtype=torch.uint8)
    prior, u = LatentPrior.standard(8), torch.randn(4, 8)

    def decodes(**kw) -> torch.Tensor:
        torch.manual_seed(0)
        vae = VAE(SMALL).eval()
        adversarial_finetune(vae, prior, images, replace(SMALL_ADV, **kw), seed=4)
        return vae.decode(prior(u)).detach()

    assert not torch.equal(decodes(recon_weight=0.0), decodes(recon_weight=1.0))
    assert torch.equal(decodes(weight=0.0, recon_weight=0.0), decodes(weight=0.0, recon_weight=1.0))


def test_adversarial_stage_names_a_non_finite_loss():
    images = torch.randint(0, 256, (16, 3, 64, 64), dtype=torch.uint8)
    nan_prior = LatentPrior(torch.full((8,), float("nan")), torch.eye(8))
    with pytest.raises(FloatingPointError, match="adversarial stage: non-finite loss at step 0"):
        adversarial_finetune(VAE(SMALL), nan_prior, images, SMALL_ADV)


def test_second_stage_matches_the_aggregate_posterior():
    torch.manual_seed(0)
    vae = VAE(SMALL).eval()
    images = torch.randint(0, 256, (100, 3, 64, 64), dtype=torch.uint8)
    cfg = PriorFitConfig(draws=3, flow_blocks=0, seed=1)
    prior = fit_latent_prior(vae.encode, images, cfg)
    z = posterior_samples(vae.encode, images, 3, torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(prior.mean, z.mean(0).float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(
        (prior.chol @ prior.chol.T).double(), torch.cov(z.T, correction=0), atol=1e-5, rtol=1e-4
    )
    assert torch.equal(prior.chol, prior.chol.tril())
    torch.testing.assert_close(prior(torch.zeros(1, 8))[0], prior.mean)


def test_second_stage_flow_round_trips(tmp_path: Path):
    torch.manual_seed(0)
    vae = VAE(SMALL).eval()
    images = torch.randint(0, 256, (64, 3, 64, 64), dtype=torch.uint8)
    prior = fit_latent_prior(vae.encode, images, SMALL_PRIOR)
    assert prior.flow is not None and not any(p.requires_grad for p in prior.flow.parameters())
    torch.save(prior.to_dict(), tmp_path / "prior.pt")
    again = LatentPrior.from_dict(torch.load(tmp_path / "prior.pt", weights_only=True))
    u = torch.randn(5, 8)
    torch.testing.assert_close(again(u), prior(u))
    assert torch.equal(LatentPrior.standard(8)(u), u)


def test_sampling_is_batch_size_independent(checkpoint: Path):
    G = build_generator({"kind": "world-vae", "checkpoint": str(checkpoint)})
    a, b = sample_images(G, 10, seed=1, batch_size=3), sample_images(G, 10, seed=1, batch_size=10)
    assert a.dtype == torch.uint8 and a.shape == (10, 3, 64, 64)
    assert (a.int() - b.int()).abs().max() <= 1  # float summation order only


def stub_classifier(x: Tensor) -> dict[str, Tensor]:
    """ "bright" if the mean pixel is positive; a categorical head that shares must ignore."""
    return {"bright": x.mean((1, 2, 3)) * 100, "tone": torch.zeros(len(x), 4)}


def test_attribute_shares_use_probability_one_half():
    images = torch.cat([torch.full((3, 3, 4, 4), 250), torch.full((1, 3, 4, 4), 5)]).to(torch.uint8)
    assert attribute_shares(stub_classifier, images, batch_size=3) == {"bright": 0.75}


def test_vae_metrics_rows(checkpoint: Path):
    G = build_generator({"kind": "world-vae", "checkpoint": str(checkpoint)})
    data = torch.randint(0, 256, (40, 3, 64, 64), dtype=torch.uint8)
    features = lambda x: x.mean((2, 3))  # noqa: E731
    rows = vae_metrics(G, data, features, stub_classifier, n=40, share_tol=1.0, reference_images=data[:20])
    by_name = {r[0]: r for r in rows}
    names = {"vae.fid_world", "vae.fid_world_data_floor", "vae.share_gap.bright", "vae.share.bright"}
    assert set(by_name) == names | {"data.share.bright"}
    assert by_name["vae.fid_world"][1] >= 0 and by_name["vae.share_gap.bright"][2:] == ("<=1", True)
    assert all(len(r) == 4 and isinstance(r[1], float) for r in rows)


WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "world"


def test_shipped_vae_matches_its_manifest():
    import json

    from promptgen.download import sha256_file as sha256
    from promptgen.world.train_clip_vae import MANIFEST, weight_paths

    path = weight_paths(WEIGHTS)["vae"]
    files = json.loads((WEIGHTS / MANIFEST).read_text())["files"]
    assert sha256(path) == files[str(path.relative_to(WEIGHTS))]["sha256"]
    G = build_generator({"kind": "world-vae", "checkpoint": str(path)}, psi=0.7)
    x = G(torch.randn(4, G.latent_dim))
    assert x.shape == (4, 3, 64, 64) and x.min() >= -1 and x.max() <= 1


@pytest.mark.slow
def test_vae_retrains_to_acceptance(tmp_path: Path):
    from promptgen.models import MODELS
    from promptgen.world import models  # noqa: F401  (registers the world adapter kinds)
    from promptgen.world.dataset import build_dataset
    from promptgen.world.metrics import held_out
    from promptgen.world.train_clip_vae import train_clip_vae, weight_paths

    data = build_dataset(tmp_path / "dataset.pt", n=10_000, seed=0)
    train_clip_vae(data, tmp_path, models=("vae",))
    G = build_generator({"kind": "world-vae", "checkpoint": str(weight_paths(tmp_path)["vae"])})
    features = MODELS.build({"kind": "world-features", "checkpoint": str(WEIGHTS / "features.pt")})
    classifier = MODELS.build({"kind": "world-classifier", "checkpoint": str(WEIGHTS / "attributes_eval.pt")})
    rows = vae_metrics(
        G, data.images, features, classifier, n=10_000, reference_images=held_out(10_000).images
    )
    assert all(ok for *_, ok in rows), rows


def test_precision_names_a_bad_value(tmp_path: Path):
    with pytest.raises(ConfigError, match="VaeTrainConfig.precision: unknown precision 'fp16'"):
        train_vae(
            torch.zeros(8, 3, 64, 64, dtype=torch.uint8), tmp_path / "x.pt", VaeTrainConfig(precision="fp16")
        )
    assert not (tmp_path / "x.pt").exists()
    assert cpu_autocast_dtype("fp32") is None and cpu_autocast_dtype("bf16") is torch.bfloat16


def test_bf16_training_saves_float32_weights_and_records_it(tmp_path: Path):
    """bfloat16 autocast changes the training (it is applied) but the checkpoint stays float32, contiguous."""
    images = torch.randint(0, 256, (48, 3, 64, 64), dtype=torch.uint8)
    cfg = VaeTrainConfig(epochs=1, batch_size=16, arch=SMALL, prior=SMALL_PRIOR, adversarial=SMALL_ADV)
    states = {}
    for precision in ("fp32", "bf16"):
        result = train_vae(images, tmp_path / f"{precision}.pt", replace(cfg, precision=precision))
        assert result["precision"] == precision
        assert all(torch.isfinite(torch.tensor(v)) for row in result["adversarial_log"] for v in row.values())
        vae, _ = load_vae(tmp_path / f"{precision}.pt")
        states[precision] = vae.state_dict()
        floats = [v for v in states[precision].values() if v.is_floating_point()]
        assert all(v.dtype == torch.float32 and v.is_contiguous() for v in floats)
    pairs = zip(states["fp32"].values(), states["bf16"].values(), strict=True)
    assert not all(torch.equal(u, v) for u, v in pairs)


def test_auto_precision_follows_the_cpu(monkeypatch: pytest.MonkeyPatch):
    import promptgen.device as device

    monkeypatch.setattr(device, "_native_bf16", lambda: False)
    assert cpu_autocast_dtype("auto") is None
    monkeypatch.setattr(device, "_native_bf16", lambda: True)
    assert cpu_autocast_dtype("auto") is torch.bfloat16
