"""Train the world's style-based generator: a 64×64 StyleGAN2 on fresh renders of the world, on CPU.

    python -m promptgen.world.train_stylegan2 --out weights/world [--data results/world/dataset.pt]

The StyleGAN2 objective (Karras et al., 2020): non-saturating logistic loss, R1 on reals with lazy
regularisation (every ``r1_interval`` D steps, Adam's lr and betas adjusted by interval/(interval + 1)),
style mixing (off while distilling: it would break the z -> render pairing), and an exponential moving
average of G (``g_ema``, half-life ``ema_kimg`` thousand images with NVIDIA's ramp-up). ADA is not used:
every real batch is a fresh draw of the renderer's prior, so D never sees an image twice. The path-length
regulariser is not used. The shipped run adds a distillation term and starts with it alone
(``distill_weight``, ``distill_only_steps``; docs/stylegan2.md, "The world StyleGAN2").

Writes ``weights/world/stylegan2/world-stylegan2.pt`` in rosinality's ``.pt`` layout (``g_ema`` and
``latent_avg``), loaded by the ``stylegan2`` generator kind like any converted FFHQ checkpoint; its entry in
``weights/world/MANIFEST-stylegan2.json`` (sha256, size, seconds); a benchmark row with wall and CPU seconds;
and, from the trained weights, the acceptance rows of :func:`stylegan2_rows`.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import logging
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import torch
import torch.nn.functional as F
from torch import Tensor

from promptgen.generators.stylegan2.discriminator import Discriminator
from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network
from promptgen.generators.stylegan2.rosinality import ROSINALITY_MAPPING_LR, save_rosinality
from promptgen.world.build import merge_manifest
from promptgen.world.vae import Row, _fid, attribute_shares, sample_images

__all__ = [
    "CHECKPOINT",
    "MANIFEST",
    "StyleGAN2TrainConfig",
    "build_networks",
    "main",
    "stylegan2_rows",
    "train_stylegan2",
]

CHECKPOINT = "stylegan2/world-stylegan2.pt"
MANIFEST = "MANIFEST-stylegan2.json"
BENCHMARK = "benchmarks/results/stylegan2_world_train.csv"
W_AVG_SAMPLES = 10_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StyleGAN2TrainConfig:
    """Architecture and optimisation of the world StyleGAN2 (defaults: the shipped run; see
    docs/stylegan2.md, "The world StyleGAN2", for why the distillation term and these sizes).

    Arguments:
        z_dim: latent dimension (the INN's space).
        w_dim: intermediate latent dimension.
        mapping_layers: depth of the mapping network.
        channels: generator channels per resolution 4 … 64 (the discriminator mirrors them).
        batch_size: images per step for G and for D.
        steps: optimisation steps (one G and one D step each).
        lr: Adam learning rate of G and D (β = (0, 0.99), ε = 1e-8).
        r1_gamma: R1 weight γ (NVIDIA's auto rule 0.0002 · R² / batch gives 0.0256 at R = 64, batch 32).
        r1_interval: lazy regularisation interval of R1.
        style_mixing: probability of mixing two latents at a random w⁺ cutoff.
        ema_kimg: half-life of the generator EMA in thousands of images.
        ema_rampup: the half-life is at most this fraction of the images seen so far.
        distill_weight: weight of the paired distillation term ``|G(z) − render(z)|₁`` (0: a pure GAN);
            needs ``z_dim == latent_dim``; G's latent then pairs with the renderer's at ``world_seed`` and
            curvature 0 (the renderer's default setting).
        distill_only_steps: the first this many steps train G on the distillation term alone (D idle).
        condition_labels: oracle labels (:data:`promptgen.world.groundtruth.BINARY`) a projection
            discriminator is conditioned on: a real render comes with its latent's labels and ``G(z)`` with
            ``z``'s, so D rejects a fake whose attributes disagree with the renderer's at the same ``z``
            (empty: an unconditional D). G itself stays unconditional; needs ``z_dim == latent_dim``.
            Default: the four attributes Table 2 controls, because an unconditional D lets the GAN stage
            draw eyeglasses with little regard to z (benchmarks/stylegan2_conditioning.py).
        mapping_lr_scale: Adam learning-rate factor of the mapping network's parameters (on top of its
            0.01 equalised-lr multiplier).
        latent_dim: the renderer's latent dimension (its prior is the training distribution).
        world_seed: the renderer's world.
        seed: seed of the initialisation, the latents and the renders.
    """

    z_dim: int = 64
    w_dim: int = 128
    mapping_layers: int = 4
    channels: tuple[tuple[int, int], ...] = ((4, 128), (8, 128), (16, 64), (32, 32), (64, 16))
    batch_size: int = 32
    steps: int = 5000
    lr: float = 0.0025
    r1_gamma: float = 0.0256
    r1_interval: int = 16
    style_mixing: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float = 0.05
    distill_weight: float = 10.0
    distill_only_steps: int = 1500
    condition_labels: tuple[str, ...] = ("male", "eyeglasses", "blond", "young")
    mapping_lr_scale: float = 100.0
    latent_dim: int = 64
    world_seed: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        from promptgen.world.groundtruth import BINARY

        unknown = [k for k in self.condition_labels if k not in BINARY]
        if unknown:
            raise ValueError(f"condition_labels: unknown label {unknown[0]!r}; expected from {list(BINARY)}")
        if (self.distill_weight or self.condition_labels) and self.z_dim != self.latent_dim:
            got = f"{self.z_dim} and {self.latent_dim}"
            raise ValueError(f"distill_weight/condition_labels: need z_dim == latent_dim, got {got}")

    def network_config(self) -> StyleGAN2Config:
        """The generator's :class:`StyleGAN2Config` (rosinality's fixed settings: lr multiplier 0.01)."""
        return StyleGAN2Config(
            img_resolution=max(dict(self.channels)),
            z_dim=self.z_dim,
            w_dim=self.w_dim,
            channels=dict(self.channels),
            mapping_layers=self.mapping_layers,
            mapping_lr_multiplier=ROSINALITY_MAPPING_LR,
        )


def build_networks(cfg: StyleGAN2TrainConfig) -> tuple[StyleGAN2Network, Discriminator]:
    """Freshly initialised G and D (seeded by ``cfg.seed``)."""
    torch.manual_seed(cfg.seed)
    g = StyleGAN2Network(cfg.network_config())
    return g, Discriminator(g.cfg.img_resolution, dict(cfg.channels), c_dim=len(cfg.condition_labels))


def _render_stream(cfg: StyleGAN2TrainConfig) -> Callable[[int], tuple[Tensor, Tensor]]:
    """A function n -> (z, render(z)): n fresh draws of the renderer's prior from its own seeded stream."""
    from promptgen.world.render import SynthRenderer

    renderer = SynthRenderer(cfg.latent_dim, max(dict(cfg.channels)), seed=cfg.world_seed)
    rng = torch.Generator().manual_seed(cfg.seed + 1)

    @torch.no_grad()
    def draw(n: int) -> tuple[Tensor, Tensor]:
        z = torch.randn(n, cfg.latent_dim, generator=rng)
        return z, renderer(z)

    return draw


def _labels(cfg: StyleGAN2TrainConfig, z: Tensor) -> Tensor | None:
    """D's labels of latents ``z``: the renderer's oracle labels as ±1 (None: an unconditional D)."""
    if not cfg.condition_labels:
        return None
    from promptgen.world.groundtruth import oracle

    truth = oracle(z, 1.0, cfg.world_seed)
    return torch.stack([truth[k].float() * 2 - 1 for k in cfg.condition_labels], dim=1)


def _mixed_ws(g: StyleGAN2Network, z: Tensor, p_mix: float, rng: torch.Generator) -> Tensor:
    """w⁺ of ``z``; with probability ``p_mix`` the entries from a random cutoff on come from a second z."""
    ws = g.truncate(g.mapping(z), 1.0)
    if p_mix > 0 and torch.rand((), generator=rng).item() < p_mix:
        cutoff = int(torch.randint(1, g.num_ws, (), generator=rng))
        w2 = g.mapping(torch.randn(z.shape, generator=rng))
        ws = torch.cat([ws[:, :cutoff], w2[:, None].expand(-1, g.num_ws - cutoff, -1)], dim=1)
    return ws


def _generate(
    g: StyleGAN2Network, n: int, cfg: StyleGAN2TrainConfig, rng: torch.Generator, z: Tensor | None = None
) -> Tensor:
    """G(z) for fresh (or the given) latents, with style mixing and random noise, on the training path."""
    z = torch.randn(n, cfg.z_dim, generator=rng) if z is None else z
    paired = cfg.distill_weight or cfg.condition_labels  # z pairs with render(z) or with its labels
    mixing = 0.0 if paired else cfg.style_mixing
    return g.synthesis(_mixed_ws(g, z, mixing, rng), noise_mode="random", rng=rng, fused=False)


def _r1_penalty(d: Discriminator, real: Tensor, c: Tensor | None = None) -> Tensor:
    """Mean over the batch of ‖∇ₓ D(x, c)‖² at real images."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(real, c).sum(), real, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]).mean()


@torch.no_grad()
def _ema_update(g_ema: StyleGAN2Network, g: StyleGAN2Network, beta: float) -> None:
    for p_ema, p in zip(g_ema.parameters(), g.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(g_ema.buffers(), g.buffers(), strict=True):
        b_ema.copy_(b)


def _ema_beta(cfg: StyleGAN2TrainConfig, images_seen: int) -> float:
    half_life = min(cfg.ema_kimg * 1000, images_seen * cfg.ema_rampup)
    return 0.5 ** (cfg.batch_size / max(half_life, 1e-8))


@torch.no_grad()
def _w_avg(g: StyleGAN2Network, n: int = W_AVG_SAMPLES, seed: int = 0) -> Tensor:
    z = torch.randn(n, g.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    return g.mapping(z).mean(dim=0)


def train_stylegan2(
    cfg: StyleGAN2TrainConfig,
    out_path: str | Path,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    snapshot_every: int = 0,
    init: str | Path | None = None,
) -> dict[str, Any]:
    """Train G and D with the StyleGAN2 objective; save ``g_ema`` (rosinality layout) to ``out_path``.

    Arguments:
        cfg: hyper-parameters.
        out_path: the ``.pt`` to write.
        progress: called as ``progress(step, losses)`` every 100 steps.
        snapshot_every: also save ``g_ema`` to ``<out_path>.step{N}.pt`` every this many steps (0: never).
        init: a checkpoint of the same architecture (e.g. a snapshot) G and ``g_ema`` start from; D starts
            afresh. Steps count from 0, so ``distill_only_steps`` applies again.

    Returns:
        ``wall_seconds``, ``cpu_seconds`` (process CPU time, all threads), ``steps`` and the final losses.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    g, d = build_networks(cfg)
    if init is not None:
        from promptgen.generators import build_generator

        g.load_state_dict(
            build_generator({"kind": "stylegan2", "checkpoint": str(init)}).network.state_dict()
        )
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    ratio = cfg.r1_interval / (cfg.r1_interval + 1)
    groups = [
        {"params": list(g.synthesis.parameters()), "lr": cfg.lr},
        {"params": list(g.mapping.parameters()), "lr": cfg.lr * cfg.mapping_lr_scale},
    ]
    opt_g = torch.optim.Adam(groups, betas=(0.0, 0.99), eps=1e-8)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
    draw_real, rng = _render_stream(cfg), torch.Generator().manual_seed(cfg.seed + 2)
    losses: dict[str, float] = {}
    for step in range(cfg.steps):
        z_real, real = draw_real(cfg.batch_size)
        d.requires_grad_(False)
        z_fake = z_real if cfg.distill_weight else torch.randn(cfg.batch_size, cfg.z_dim, generator=rng)
        fake = _generate(g, cfg.batch_size, cfg, rng, z_fake)
        adversarial = step >= cfg.distill_only_steps
        loss_g = F.softplus(-d(fake, _labels(cfg, z_fake))).mean() if adversarial else fake.new_zeros(())
        if cfg.distill_weight:
            distill = (fake - real).abs().mean()
            loss_g = loss_g + cfg.distill_weight * distill
            losses["distill"] = distill.item()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        losses |= {"g": loss_g.item()}
        if adversarial:
            losses |= _d_step(d, g, opt_d, (real, _labels(cfg, z_real)), step, cfg, rng)
        _ema_update(g_ema, g, _ema_beta(cfg, (step + 1) * cfg.batch_size))
        if progress is not None and step % 100 == 0:
            progress(step, losses)
        if snapshot_every and (step + 1) % snapshot_every == 0:
            _save(g_ema, Path(f"{out_path}.step{step + 1}.pt"), cfg, {})
    info = {
        "steps": cfg.steps,
        "wall_seconds": time.perf_counter() - wall0,
        "cpu_seconds": time.process_time() - cpu0,
        "threads": torch.get_num_threads(),
        "losses": losses,
    }
    _save(g_ema, Path(out_path), cfg, info)
    return info


def _d_step(
    d: Discriminator,
    g: StyleGAN2Network,
    opt_d: torch.optim.Optimizer,
    batch: tuple[Tensor, Tensor | None],
    step: int,
    cfg: StyleGAN2TrainConfig,
    rng: torch.Generator,
) -> dict[str, float]:
    """One logistic D step on the real ``batch`` (images, labels or None) and fresh fakes, plus the lazy R1
    step every ``r1_interval`` steps."""
    out = {}
    real, c_real = batch
    d.requires_grad_(True)
    z = torch.randn(cfg.batch_size, cfg.z_dim, generator=rng)
    with torch.no_grad():
        fake = _generate(g, cfg.batch_size, cfg, rng, z)
    loss_d = F.softplus(d(fake, _labels(cfg, z))).mean() + F.softplus(-d(real, c_real)).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    out["d"] = loss_d.item()
    if step % cfg.r1_interval == 0:
        r1 = _r1_penalty(d, real, c_real)
        opt_d.zero_grad(set_to_none=True)
        (r1 * (cfg.r1_gamma / 2) * cfg.r1_interval).backward()
        opt_d.step()
        out["r1"] = r1.item()
    return out


def _save(g_ema: StyleGAN2Network, path: Path, cfg: StyleGAN2TrainConfig, info: Mapping[str, Any]) -> None:
    g_ema.mapping.w_avg.copy_(_w_avg(g_ema))
    config = {k: (list(map(list, v)) if k == "channels" else v) for k, v in dataclasses.asdict(cfg).items()}
    save_rosinality(path, g_ema.state_dict(), {"train_config": config, "train_info": dict(info)})


@torch.no_grad()
def stylegan2_rows(
    checkpoint: str | Path,
    data_images: Tensor,
    features: Callable[[Tensor], Tensor],
    classifier: Callable[[Tensor], Mapping[str, Tensor]],
    vae_fid: float | None = None,
    n: int = 10_000,
    seed: int = 0,
    share_tol: float = 0.05,
    psi_eval: float = 0.7,
    batch_size: int = 256,
) -> list[Row]:
    """Acceptance rows ``(metric, value, threshold, pass)`` of the world StyleGAN2 (kind ``stylegan2``).

    * ``stylegan2.fid_world`` (ψ = 1) against ``2 × vae_fid`` when the VAE's FID is given;
    * per binary head of the evaluation ``classifier``: the share at ψ = 1 within ``share_tol`` of the data's;
    * ``stylegan2.fid_world_psi{ψ}``: FID at ``psi_eval`` above the FID at ψ = 1;
    * per head, ``stylegan2.share_toward_wmean_psi{ψ}``: the share at ``psi_eval`` is no farther than the
      share at ψ = 1 from the W-mean image's label (the classifier's decision on ``G(w_avg)``), as truncation
      does on real StyleGAN2 networks.

    Arguments:
        checkpoint: the ``.pt`` written by :func:`train_stylegan2`.
        data_images: the world dataset's renders (the reference), uint8 or float in [-1, 1].
        features: the world's FID feature extractor.
        classifier: the world's evaluation attribute classifier.
        vae_fid: the world VAE's FID measured the same way (``None``: no threshold row).
        n: samples per truncation; seed: their latents' seed.
        share_tol: tolerance on each share; psi_eval: the evaluation truncation.
        batch_size: images per forward pass.
    """
    from promptgen.generators import build_generator

    gens = {
        psi: build_generator({"kind": "stylegan2", "checkpoint": str(checkpoint)}, psi=psi)
        for psi in (1.0, psi_eval)
    }
    fake = {psi: sample_images(gen, n, seed, batch_size) for psi, gen in gens.items()}
    fid = {psi: _fid(features, x, data_images, batch_size) for psi, x in fake.items()}
    rows: list[Row] = []
    if vae_fid is None:
        rows.append(("stylegan2.fid_world", fid[1.0], "", True))
    else:
        rows.append(("stylegan2.fid_world", fid[1.0], f"<={2 * vae_fid:.4g}", fid[1.0] <= 2 * vae_fid))
    tag = f"psi{psi_eval:g}"
    rows.append((f"stylegan2.fid_world_{tag}", fid[psi_eval], f">{fid[1.0]:.4g}", fid[psi_eval] > fid[1.0]))
    net = gens[1.0].network
    mean_img = net.synthesis(net.truncate(net.mapping.w_avg[None], 1.0)).clamp(-1, 1)
    mean_label = {k: float(v.item() >= 0) for k, v in classifier(mean_img).items() if v.ndim == 1}
    data = attribute_shares(classifier, data_images, batch_size)
    shares = {psi: attribute_shares(classifier, x, batch_size) for psi, x in fake.items()}
    for k in data:
        gap = abs(shares[1.0][k] - data[k])
        rows.append((f"stylegan2.share_gap.{k}", gap, f"<={share_tol:g}", gap <= share_tol))
        rows.append((f"stylegan2.share.{k}", shares[1.0][k], "", True))
        rows.append((f"stylegan2.share_{tag}.{k}", shares[psi_eval][k], "", True))
        before, after = abs(shares[1.0][k] - mean_label[k]), abs(shares[psi_eval][k] - mean_label[k])
        rows.append((f"stylegan2.share_toward_wmean_{tag}.{k}", before - after, ">=0", after <= before))
        rows.append((f"stylegan2.wmean_label.{k}", mean_label[k], "", True))
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = ckpt.get("train_config", {})
    if cfg.get("distill_weight", 0) > 0 or cfg.get("condition_labels"):  # G(z) pairs with the oracle at z
        rows += oracle_agreement_rows(gens[1.0], classifier, cfg.get("world_seed", 0), n, seed, batch_size)
    return rows


@torch.no_grad()
def oracle_agreement_rows(
    generator,
    classifier: Callable[[Tensor], Mapping[str, Tensor]],
    world_seed: int,
    n: int,
    seed: int,
    batch_size: int = 256,
) -> list[Row]:
    """The approximate oracle a distilled generator inherits — the renderer's oracle at the same z
    (curvature 0) — against the evaluation classifier's call on G(z), per binary head; beside it the same
    agreement for the renderer's own images (the classifier's accuracy: the ceiling). Per head also the
    classifier's positive rate where the oracle says present (``recall``) and where it says absent
    (``false_positive``): a generator that draws an attribute without regard to z has the two equal."""
    from promptgen.world.groundtruth import oracle
    from promptgen.world.render import SynthRenderer

    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    truth = oracle(z, 1.0, world_seed)
    renderer = SynthRenderer(generator.latent_dim, generator.resolution, seed=world_seed)
    calls = {}
    for name, gen in (("stylegan2", generator), ("render", renderer)):
        outs = [classifier(gen(c)) for c in z.split(batch_size)]
        calls[name] = {k: torch.cat([o[k] for o in outs]) for k in outs[0] if outs[0][k].ndim == 1}
    rows: list[Row] = []
    for k in calls["stylegan2"]:
        for name in ("stylegan2", "render"):
            call, present = calls[name][k] >= 0, truth[k].bool()
            agree = float((call == present).float().mean())
            rows.append((f"stylegan2.approx_oracle_agreement.{name}.{k}", agree, "", True))
            rows.append(
                (f"stylegan2.approx_oracle_recall.{name}.{k}", float(call[present].float().mean()), "", True)
            )
            fp = float(call[~present].float().mean())
            rows.append((f"stylegan2.approx_oracle_false_positive.{name}.{k}", fp, "", True))
    return rows


def write_manifest(
    out_dir: str | Path, checkpoint: Path, cfg: StyleGAN2TrainConfig, info: Mapping[str, Any]
) -> Path:
    """Merge the checkpoint's entry (sha256, size, seconds, steps) into ``MANIFEST-stylegan2.json``."""
    meta = {
        "model": "world StyleGAN2 (rosinality .pt layout)",
        "seconds": round(float(info["wall_seconds"]), 1),
        "cpu_seconds": round(float(info["cpu_seconds"]), 1),
        "steps": int(info["steps"]),
        "threads": int(info["threads"]),
        "distill_weight": cfg.distill_weight,
        "condition_labels": list(cfg.condition_labels),
        "seed": cfg.seed,
    }
    rebuild = f"python -m promptgen.world.train_stylegan2 --out {out_dir}"
    return merge_manifest(Path(out_dir) / MANIFEST, {checkpoint: meta}, rebuild)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_benchmark(path: str | Path, cfg: StyleGAN2TrainConfig, info: Mapping[str, Any]) -> Path:
    """Append one training row (wall and CPU seconds, threads, load, CPU model) to the benchmark CSV."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "threads": info["threads"],
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "steps": info["steps"],
        "batch": cfg.batch_size,
        "distill_weight": cfg.distill_weight,
        "wall_seconds": round(float(info["wall_seconds"]), 1),
        "cpu_seconds": round(float(info["cpu_seconds"]), 1),
        "wall_minutes": round(float(info["wall_seconds"]) / 60, 2),
    }
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row), lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path


def _vae_fid(metrics_csv: Path | None) -> float | None:
    if metrics_csv is None or not metrics_csv.is_file():
        return None
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row["metric"] == "vae.fid_world":
                return float(row["value"])
    return None


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("weights/world"),
    show_default=True,
    help="Weights folder: stylegan2/ and MANIFEST-stylegan2.json go here.",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="World dataset (the FID and share reference); without it no acceptance rows are written.",
)
@click.option(
    "--metrics",
    "metrics_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results/world/metrics-stylegan2.csv"),
    show_default=True,
    help="Acceptance rows (metric,value,threshold,pass).",
)
@click.option(
    "--vae-metrics",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The VAE's rows (metrics-clip-vae.csv): its vae.fid_world sets the FID threshold.",
)
@click.option(
    "--benchmark",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(BENCHMARK),
    show_default=True,
    help="CSV the training time row is appended to.",
)
@click.option("--steps", type=int, default=None, help="Override the training steps (smoke tests).")
@click.option(
    "--n-samples", type=int, default=10_000, show_default=True, help="Samples per ψ for FID, shares."
)
@click.option("--skip-training", is_flag=True, help="Only evaluate the checkpoint already in --out.")
@click.option(
    "--snapshot-every",
    type=int,
    default=0,
    show_default=True,
    help="Also save g_ema as <checkpoint>.step<N>.pt every this many steps (0: never).",
)
@click.option(
    "--condition-labels",
    default=None,
    help="Comma-separated oracle labels the discriminator is conditioned on (default: the config's).",
)
@click.option("--threads", type=int, default=2, show_default=True, help="torch intra-op threads.")
def main(
    out_dir: Path,
    data_path: Path | None,
    metrics_path: Path,
    vae_metrics: Path | None,
    benchmark: Path,
    steps: int | None,
    n_samples: int,
    skip_training: bool,
    snapshot_every: int,
    condition_labels: str | None,
    threads: int,
) -> None:
    """Train the world StyleGAN2 into OUT (rosinality .pt), record its time, write its acceptance rows."""
    from promptgen.world.build import write_rows
    from promptgen.world.train_clip_vae import _load

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    checkpoint = out_dir / CHECKPOINT
    if not skip_training:
        overrides: dict[str, Any] = {} if steps is None else {"steps": steps}
        if condition_labels is not None:
            overrides["condition_labels"] = tuple(k.strip() for k in condition_labels.split(",") if k.strip())
        try:
            cfg = StyleGAN2TrainConfig(**overrides)
        except ValueError as err:
            raise click.BadParameter(str(err)) from None
        info = train_stylegan2(
            cfg, checkpoint, lambda s, losses: log.info("step %d %s", s, losses), snapshot_every
        )
        write_manifest(out_dir, checkpoint, cfg, info)
        write_benchmark(benchmark, cfg, info)
        click.echo(f"trained in {info['wall_seconds']:.0f} s wall, {info['cpu_seconds']:.0f} s CPU")
    if data_path is None:
        return
    from promptgen.world.dataset import load_dataset

    features = _load("world-features", out_dir / "features.pt")
    classifier = _load("world-classifier", out_dir / "attributes_eval.pt")
    data = load_dataset(data_path)
    rows = stylegan2_rows(checkpoint, data.images, features, classifier, _vae_fid(vae_metrics), n_samples)
    write_rows(rows, metrics_path)
    for metric, value, threshold, ok in rows:
        click.echo(f"{metric},{value:.6g},{threshold},{ok}")


if __name__ == "__main__":
    main()
