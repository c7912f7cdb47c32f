"""A convolutional VAE trained on the world's renders: the learned generator (the paper's NVAE analog).

PromptGen is meant for generators whose latent space nobody designed; the renderer's latent space is
designed, so the embedded world also ships this VAE, trained on the rendered dataset. As a generator
(kind ``world-vae``) it maps z ~ N(0, I_d) to images in [-1, 1]:

    G(z) = decoder(m + L·f(ψz)),

where ψ is the truncation and m + L·f(·) the second stage (:mod:`promptgen.world.vae_prior`): a Gaussian
(m, L Lᵀ) and an affine-coupling INN f fitted after training to the aggregate posterior of the training
set, so that samples land where the decoder was trained (m = 0, L = I, f = id is the plain VAE prior).

The decoder likelihood is Gaussian with the batch's optimal scale σ_x² = MSE (the "optimal σ-VAE"),
which balances the reconstruction and KL terms without a hand-tuned β. After the ELBO epochs and the fit
of the second stage, an adversarial stage (VAE-GAN style, :class:`AdversarialConfig`) fine-tunes the VAE
on the ELBO plus a small non-saturating GAN term on decodes of second-stage samples (and on the
reconstructions): the ELBO alone trains the decoder only at the (very narrow) posteriors of the training
images, so decodes of prior samples between them were blurred ghosts of two faces that the classifiers read
as "no eyeglasses" and "older".

References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114).
    Rybkin, Daniilidis & Levine, "Simple and Effective VAE Training with Calibrated Decoders", ICML 2021
    (arXiv:2006.13202).
    Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019 (arXiv:1903.05789).
    Vahdat & Kautz, "NVAE: A Deep Hierarchical Variational Autoencoder", NeurIPS 2020 (arXiv:2007.03898).
    Larsen et al., "Autoencoding beyond pixels using a learned similarity metric", ICML 2016
    (arXiv:1512.09300).
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually Converge?", ICML 2018 (R1).

Example:
    >>> from promptgen.generators import build_generator
    >>> G = build_generator({"kind": "world-vae", "checkpoint": "weights/world/vae/world-vae.pt"}, psi=0.7)
    >>> x = G(torch.randn(4, G.latent_dim))  # (4, 3, 64, 64) in [-1, 1]
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from cleanfid.fid import fid_from_feats
from torch import Tensor, nn

from promptgen.device import (
    CompiledOrEager,
    autocast_context,
    call_rows_in_fixed_chunks,
    compile_enabled,
    cpu_autocast_dtype,
)
from promptgen.generators.base import GENERATORS, Generator
from promptgen.models.common import CheckpointError, describe_load_error
from promptgen.registry import ConfigError
from promptgen.world.nets import COMPILE_CHUNK
from promptgen.world.vae_prior import LatentPrior, PriorFitConfig, fit_latent_prior

LOG = logging.getLogger(__name__)
# CPU seconds of the decoder's first compile of a chunk on a cold Inductor cache, without / with gradients:
# the estimate its log line gives (benchmarks/compile_times.py; benchmarks/results/compile_times.csv)
COMPILE_FIRST_USE_S = (18.0, 25.0)

__all__ = [
    "VAE",
    "AdversarialConfig",
    "Critic",
    "Row",
    "VaeArch",
    "VaeTrainConfig",
    "WorldVAEGenerator",
    "attribute_shares",
    "load_vae",
    "sample_images",
    "train_vae",
    "vae_metrics",
]


@dataclass(frozen=True)
class VaeArch:
    """Architecture of the VAE.

    Arguments:
        latent_dim: dimension d of z.
        resolution: image height and width (a power of two ≥ 16).
        channels: channels of the encoder's stride-2 convolutions, finest first (the decoder mirrors them);
            ``resolution / 2**len(channels)`` is the bottleneck's spatial size.
    """

    latent_dim: int = 32
    resolution: int = 64
    channels: tuple[int, ...] = (32, 64, 128, 128)

    @property
    def bottleneck(self) -> int:
        return self.resolution // 2 ** len(self.channels)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.SiLU())


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.SiLU())


class VAE(nn.Module):
    """Convolutional encoder q(z|x) = N(μ(x), diag σ²(x)) and decoder p(x|z) = N(dec(z), σ_x² I).

    σ_x is not a parameter: each batch uses its maximum-likelihood value σ_x² = mean squared error
    ("optimal σ-VAE", Rybkin et al. 2021), which balances reconstruction and KL without a hand-set β.

    Arguments:
        arch: the architecture (see :class:`VaeArch`).
    """

    def __init__(self, arch: VaeArch | None = None):
        super().__init__()
        self.arch = arch = arch or VaeArch()
        chans, b = (3, *arch.channels), arch.bottleneck
        flat = chans[-1] * b * b
        self.encoder = nn.Sequential(
            *[_down(i, o) for i, o in zip(chans[:-1], chans[1:], strict=True)], nn.Flatten()
        )
        self.to_posterior = nn.Linear(flat, 2 * arch.latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(arch.latent_dim, flat), nn.Unflatten(1, (chans[-1], b, b)))
        ups = [_up(i, o) for i, o in zip(chans[:1:-1], chans[-2:0:-1], strict=True)]
        self.decoder = nn.Sequential(*ups, nn.ConvTranspose2d(chans[1], 3, 4, 2, 1), nn.Tanh())

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images in [-1, 1] -> posterior mean and log-variance, each (N, d)."""
        mu, logvar = self.to_posterior(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z: Tensor) -> Tensor:
        """Latents (N, d) -> images in [-1, 1]."""
        return self.decoder(self.from_latent(z))

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        """Negative ELBO per image, in nats, with the batch's optimal decoder scale σ_x² = MSE (σ-VAE)."""
        elbo, log, _ = self.loss_and_reconstruction(x, generator)
        return elbo, log

    def loss_and_reconstruction(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, float], Tensor]:
        """:meth:`loss`, plus the decode of the posterior sample it scored (the reconstruction of ``x``)."""
        mu, logvar = (t.float() for t in self.encode(x))  # float32 even under bfloat16 autocast
        z = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
        recon = self.decode(z)
        sq = (recon.float() - x).pow(2).flatten(1).sum(-1)
        dim = x[0].numel()
        log_sigma = 0.5 * (sq.mean().detach() / dim).clamp(min=1e-6).log()
        nll = 0.5 * sq / (2 * log_sigma).exp() + dim * (log_sigma + 0.5 * math.log(2 * math.pi))
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
        log = {"nll": nll.mean().item(), "kl": kl.mean().item(), "sigma_x": log_sigma.exp().item()}
        return (nll + kl).mean(), log, recon


class Critic(nn.Module):
    """The adversarial stage's discriminator: stride-2 4×4 convolutions with LeakyReLU(0.2), then a linear
    logit ("real" > 0). No normalisation layers (the R1 penalty regularises it).

    Arguments:
        resolution: input height and width (divisible by 16).
        channels: channels of the four convolutions, finest first.
    """

    def __init__(self, resolution: int = 64, channels: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        chans, layers = (3, *channels), []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        side = resolution // 2 ** len(channels)
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(chans[-1] * side * side, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[:, 0].float()


@dataclass(frozen=True)
class AdversarialConfig:
    """The adversarial fine-tune that follows the ELBO epochs (see the module docstring).

    Each step trains the :class:`Critic` on a batch of renders against decodes of second-stage samples
    (non-saturating loss, R1 penalty on the renders every ``r1_every`` steps, scaled by ``r1_every``), then
    the whole VAE on ELBO / (pixels per image) + ``weight`` · [softplus(−critic(decode(prior(u)))) +
    ``recon_weight`` · softplus(−critic(x̃))], x̃ the reconstructions the ELBO scored (Larsen et al.'s
    VAE-GAN puts the GAN term on both). The defaults are the shipped recipe; the variants measured against
    it (batch, critic width, steps, the reconstructions' term) are in docs/world-clip-vae.md: 3 000 steps
    missed the eyeglasses share by 0.007, 5 000 passed.

    Arguments:
        steps: fine-tune steps.
        weight: weight of the GAN term against the per-pixel ELBO.
        batch_size: renders and prior samples per step.
        lr: Adam learning rate of the VAE and the critic (β = (0.5, 0.99)).
        r1: weight γ of the R1 penalty (γ/2)·‖∇ critic(x)‖².
        r1_every: apply R1 every this many steps (lazy regularisation).
        critic_channels: the critic's channels.
        recon_weight: weight of the GAN term on reconstructions, relative to the one on prior decodes
            (0: prior decodes only).
    """

    steps: int = 5000
    weight: float = 0.1
    batch_size: int = 32
    lr: float = 2e-4
    r1: float = 1.0
    r1_every: int = 16
    critic_channels: tuple[int, ...] = (16, 32, 64, 128)
    recon_weight: float = 1.0


def _critic_step(critic: Critic, opt, real: Tensor, fake: Tensor, cfg: AdversarialConfig, step: int) -> float:
    real = real.detach().requires_grad_(step % cfg.r1_every == 0 and cfg.r1 > 0)
    d_real = critic(real)
    loss = nn.functional.softplus(-d_real).mean() + nn.functional.softplus(critic(fake)).mean()
    if real.requires_grad:
        (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
        loss = loss + cfg.r1 * cfg.r1_every * 0.5 * grad.pow(2).flatten(1).sum(-1).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def adversarial_finetune(
    vae: VAE,
    prior: LatentPrior,
    images: Tensor,
    cfg: AdversarialConfig,
    seed: int = 0,
    autocast: torch.dtype | None = None,
) -> list[dict[str, float]]:
    """Fine-tune ``vae`` in place with :class:`AdversarialConfig`; ``prior`` (fixed) supplies the fakes.

    The generator is then decoder ∘ ``prior``: keep that second stage (refitting it after the fine-tune
    moves the samples off what the critic trained the decoder for). ``autocast``: run the VAE and the
    critic under ``torch.autocast("cpu", autocast)`` in channels-last layout (the prior and the losses stay
    float32); ``None``: float32.

    Returns:
        one ``{"critic", "gan", "nll", "kl", "sigma_x"}`` row per 100 steps (means over those steps).
    """
    gen = torch.Generator().manual_seed(seed + 1)
    torch.manual_seed(seed + 1)
    critic = Critic(vae.arch.resolution, cfg.critic_channels).to(memory_format=_layout(autocast))
    betas = (0.5, 0.99)
    opt_vae = torch.optim.Adam(vae.parameters(), lr=cfg.lr, betas=betas)
    opt_critic = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=betas)
    dim, logs, window, start = 3 * vae.arch.resolution**2, [], [], time.perf_counter()
    vae.train()
    for step in range(cfg.steps):
        real = _batch(images, torch.randint(len(images), (cfg.batch_size,), generator=gen), autocast)
        u = torch.randn(cfg.batch_size, vae.arch.latent_dim, generator=gen)
        with torch.no_grad():
            latent = prior(u)  # the prior is fixed: no gradient to it, computed once per step
        with autocast_context(autocast):
            with torch.no_grad():
                fake = vae.decode(latent)
            critic_loss = _critic_step(critic, opt_critic, real, fake, cfg, step)
            elbo, log, recon = vae.loss_and_reconstruction(real, generator=gen)
            gan = nn.functional.softplus(-critic(vae.decode(latent))).mean()
            if cfg.recon_weight:
                gan = gan + cfg.recon_weight * nn.functional.softplus(-critic(recon)).mean()
        loss = elbo / dim + cfg.weight * gan
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"VAE adversarial stage: non-finite loss at step {step} (gan term {gan.item()})"
            )
        opt_vae.zero_grad(set_to_none=True)
        loss.backward()
        opt_vae.step()
        window.append({"critic": critic_loss, "gan": gan.item(), **log})
        if len(window) == 100 or step == cfg.steps - 1:
            logs.append({k: sum(w[k] for w in window) / len(window) for k in window[0]})
            window = []
            LOG.info(
                "VAE adversarial step %d/%d: %s (%.0f s)",
                step + 1,
                cfg.steps,
                logs[-1],
                time.perf_counter() - start,
            )
    vae.eval()
    return logs


class WorldVAEGenerator(Generator):
    """The VAE's decoder as a frozen generator: G(z) = decoder(prior(ψz)).

    Arguments:
        vae: a trained :class:`VAE` (only its decoder is used).
        prior: the second stage u -> m + L·f(u); ``None`` for the plain prior.
        psi: truncation ψ in [0, 1] (scales z).
    """

    def __init__(
        self, vae: VAE, prior: LatentPrior | None = None, psi: float = 1.0, compile: bool | str = False
    ):
        super().__init__(vae.arch.latent_dim, vae.arch.resolution, psi)
        self.vae = vae.eval()
        self.prior = prior or LatentPrior.standard(vae.arch.latent_dim)
        self.compile = compile_enabled(compile, "generator.compile")
        self._compiled: CompiledOrEager | None = None

    def forward(self, z: Tensor) -> Tensor:
        if not self.compile:
            return self._decode(z)
        if self._compiled is None:
            self._compiled = CompiledOrEager(
                self._decode, "the VAE decoder (world-vae)", first_use_s=COMPILE_FIRST_USE_S
            )
        return call_rows_in_fixed_chunks(self._compiled, z, COMPILE_CHUNK)

    def _decode(self, z: Tensor) -> Tensor:
        return self.vae.decode(self.prior(self.psi * z))

    def __getstate__(self) -> dict:
        # compiled code is rebuilt on first use, never copied or pickled
        return {**super().__getstate__(), "_compiled": None}


@dataclass(frozen=True)
class VaeTrainConfig:
    """Hyper-parameters of VAE training.

    Arguments:
        epochs: passes over the dataset.
        batch_size: images per step.
        lr: peak Adam learning rate (cosine decay to 0).
        seed: seeds the initialisation, batch order and reparameterisation noise.
        threads: torch CPU threads (``None`` leaves the setting alone).
        prior: how the second stage is fitted after training (``None``: the plain N(0, I) prior).
        adversarial: the adversarial fine-tune after the second stage's fit (``None``: none).
        arch: the architecture.
        precision: ``auto`` (bfloat16 autocast and channels-last layout where the CPU has AMX tiles, else
            float32), ``bf16`` or ``fp32`` (see :func:`promptgen.device.cpu_autocast_dtype`); the ELBO
            epochs and the adversarial stage use it, the second stage's fit stays float32.
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    threads: int | None = 1
    prior: PriorFitConfig | None = PriorFitConfig()
    adversarial: AdversarialConfig | None = AdversarialConfig()
    arch: VaeArch = VaeArch()
    precision: str = "auto"


def _layout(autocast: torch.dtype | None) -> torch.memory_format:
    return torch.contiguous_format if autocast is None else torch.channels_last


def _batch(images: Tensor, index: Tensor, autocast: torch.dtype | None) -> Tensor:
    return _to_unit(images[index]).contiguous(memory_format=_layout(autocast))


def _to_unit(images: Tensor) -> Tensor:
    return images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images


def _train_epoch(
    vae: VAE,
    opt,
    sched,
    images: Tensor,
    cfg: VaeTrainConfig,
    gen: torch.Generator,
    autocast: torch.dtype | None,
) -> dict[str, float]:
    order, logs = torch.randperm(len(images), generator=gen), []
    for start in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
        x = _batch(images, order[start : start + cfg.batch_size], autocast)
        with autocast_context(autocast):
            loss, log = vae.loss(x, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        logs.append(log)
    return {k: sum(log[k] for log in logs) / len(logs) for k in logs[0]}


def train_vae(images: Tensor, out_path: str | Path, cfg: VaeTrainConfig | None = None) -> dict[str, Any]:
    """Train the VAE on uint8 renders (N, 3, H, W) and save a ``world-vae`` checkpoint at ``out_path``.

    Returns:
        ``{"checkpoint", "seconds", "log", "adversarial_log", "precision"}``: the path, wall time, per-epoch
        means of nll, kl, σ_x, the adversarial stage's rows (see :func:`adversarial_finetune`; empty without
        it) and the precision used (``fp32`` or ``bf16``).
    """
    cfg = cfg or VaeTrainConfig()
    autocast = cpu_autocast_dtype(cfg.precision, "VaeTrainConfig.precision")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    vae, gen, start = VAE(cfg.arch).train(), torch.Generator().manual_seed(cfg.seed), time.perf_counter()
    vae = vae.to(memory_format=_layout(autocast))
    opt = torch.optim.Adam(vae.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * (len(images) // cfg.batch_size))
    log = []
    for epoch in range(cfg.epochs):
        log.append(_train_epoch(vae, opt, sched, images, cfg, gen, autocast))
        LOG.info("VAE epoch %d/%d: %s (%.0f s)", epoch + 1, cfg.epochs, log[-1], time.perf_counter() - start)
    vae.eval()
    prior = None if cfg.prior is None else fit_latent_prior(vae.encode, images, cfg.prior)
    adversarial_log = []
    if cfg.adversarial is not None:
        sampler = prior or LatentPrior.standard(cfg.arch.latent_dim)
        adversarial_log = adversarial_finetune(vae, sampler, images, cfg.adversarial, cfg.seed, autocast)
    _save(vae, prior, Path(out_path))
    return {
        "checkpoint": Path(out_path),
        "seconds": time.perf_counter() - start,
        "log": log,
        "adversarial_log": adversarial_log,
        "precision": "fp32" if autocast is None else "bf16",
    }


def _save(vae: VAE, prior: LatentPrior | None, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = {**asdict(vae.arch), "channels": list(vae.arch.channels)}
    state = {k: v.detach().cpu().contiguous() for k, v in vae.state_dict().items()}
    torch.save({"arch": arch, "state_dict": state, "prior": None if prior is None else prior.to_dict()}, path)


def load_vae(checkpoint: str | Path) -> tuple[VAE, LatentPrior | None]:
    """Load a ``world-vae`` checkpoint: the VAE (eval mode) and its second-stage prior (or ``None``)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint: VAE checkpoint {path} not found "
            "(train it with the world build step or promptgen.world.vae.train_vae, "
            "or restore weights/world/vae/ from git)"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        arch = VaeArch(**{**blob["arch"], "channels": tuple(blob["arch"]["channels"])})
        vae = VAE(arch)
        vae.load_state_dict(blob["state_dict"])
        prior = None if blob.get("prior") is None else LatentPrior.from_dict(blob["prior"])
    except Exception as err:  # noqa: BLE001 - any failure means a foreign, truncated or corrupt file
        raise CheckpointError(
            f"checkpoint: {path} is not a world-vae checkpoint ({describe_load_error(err)}); "
            "expected a dict with arch, state_dict and prior"
        ) from err
    return vae.eval(), prior


@GENERATORS.register("world-vae")
def _world_vae(checkpoint: str, psi: float = 1.0, compile: bool | str = False) -> WorldVAEGenerator:
    """Generator kind ``world-vae``: ``{kind: world-vae, checkpoint: path/to/world-vae.pt, compile: auto}``.

    ``compile``: decode through ``torch.compile`` in fixed chunks of 64 latents (``true``, ``false`` or
    ``auto``); decodes agree with eager ones to float rounding.
    """
    vae, prior = load_vae(checkpoint)
    return WorldVAEGenerator(vae, prior, psi=psi, compile=compile)


@torch.no_grad()
def sample_images(generator: Generator, n: int, seed: int = 0, batch_size: int = 256) -> Tensor:
    """n samples G(z), z ~ N(0, I) drawn at once from ``seed``, as uint8 (N, 3, H, W) like the dataset."""
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    x = torch.cat([generator(z[i : i + batch_size]) for i in range(0, n, batch_size)])
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@torch.no_grad()
def _apply(fn: Callable[[Tensor], Any], images: Tensor, batch_size: int) -> list[Any]:
    return [fn(_to_unit(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]


def attribute_shares(
    classifier: Callable[[Tensor], Mapping[str, Tensor]], images: Tensor, batch_size: int = 256
) -> dict[str, float]:
    """Share of images each binary head calls positive (probability ≥ 0.5, i.e. logit ≥ 0).

    Arguments:
        classifier: images in [-1, 1] -> ``{name: logits}``; heads with shape (N,) are binary.
        images: (N, 3, H, W), uint8 or float in [-1, 1].
    """
    outs = _apply(classifier, images, batch_size)
    binary = [k for k, v in outs[0].items() if v.ndim == 1]
    return {k: torch.cat([o[k] for o in outs]).ge(0).float().mean().item() for k in binary}


Row = tuple[str, float, str, bool]
"""An acceptance row ``(metric, value, threshold, pass)`` as in :mod:`promptgen.world.metrics`."""


def _fid(features: Callable[[Tensor], Tensor], a: Tensor, b: Tensor, batch_size: int) -> float:
    feats = [torch.cat(_apply(features, x, batch_size)).double().numpy() for x in (a, b)]
    with warnings.catch_warnings():  # clean-fid passes scipy's deprecated ``disp`` to sqrtm
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(fid_from_feats(*feats))


def vae_metrics(
    generator: Generator,
    data_images: Tensor,
    features: Callable[[Tensor], Tensor],
    classifier: Callable[[Tensor], Mapping[str, Tensor]],
    n: int = 10_000,
    seed: int = 0,
    share_tol: float = 0.05,
    reference_images: Tensor | None = None,
    batch_size: int = 256,
) -> list[Row]:
    """Acceptance rows ``(metric, value, threshold, pass)`` of the learned generator.

    FID between ``n`` samples and the data in the world's feature space (clean-fid's Fréchet distance
    on ``features``), and, per binary head of the *evaluation* ``classifier``, |share(samples) −
    share(data)| against ``share_tol``.

    Arguments:
        generator: the generator (at the truncation to report; ψ = 1 for FID).
        data_images: dataset renders (the FID and share reference), uint8 or float in [-1, 1].
        features: images in [-1, 1] -> (N, D) features (the world's FID feature extractor).
        classifier: images in [-1, 1] -> ``{name: logits}`` (the evaluation classifier).
        n: number of generated samples.
        seed: seed of the latents.
        share_tol: tolerance on each attribute share.
        reference_images: other renders of the world (e.g. held-out, ``n`` of them); when given, their FID
            to the data is reported too — the floor a perfect generator would reach at this sample size.
        batch_size: images per forward pass.
    """
    fake = sample_images(generator, n, seed, batch_size)
    rows = [("vae.fid_world", _fid(features, fake, data_images, batch_size), "", True)]
    if reference_images is not None:
        rows.append(
            ("vae.fid_world_data_floor", _fid(features, reference_images, data_images, batch_size), "", True)
        )
    data = attribute_shares(classifier, data_images, batch_size)
    gen = attribute_shares(classifier, fake, batch_size)
    for k in data:
        gap = abs(gen[k] - data[k])
        rows.append((f"vae.share_gap.{k}", gap, f"<={share_tol:g}", gap <= share_tol))
        rows += [(f"vae.share.{k}", gen[k], "", True), (f"data.share.{k}", data[k], "", True)]
    return rows
