"""Table-2 methods for style-based generators: FairStyle, FairGen and StyleFlow as method kinds.

Each is an entry of ``table2.methods`` (see :mod:`promptgen.methods`) and declares what it needs of the
generator: FairStyle edits S-space (``style_space``); FairGen (in W, its default space) and StyleFlow work in
W (``w_space``). The generator exposes them through ``mapping``, ``styles``, ``synthesize_styles`` and
``synthesize_w`` (:class:`promptgen.generators.stylegan2.StyleGAN2Generator`, for any StyleGAN2 checkpoint).
Every method reads the control classifier's labels of the judged prior pool (P(positive) ≥ 0.5).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from promptgen.methods import METHODS, DebiasMethod, Draws, MethodContext, PriorPool
from promptgen.registry import ConfigError

__all__ = ["FairGen", "FairStyle", "StyleFlowMethod", "pool_labels", "pool_w"]

STYLEFLOW_FILE = "styleflow.pt"


def pool_labels(pool: PriorPool, attributes: list[str]) -> Tensor:
    """0/1 labels (N, k) of the pool by the control classifier (P(positive) ≥ 0.5)."""
    return torch.stack([(pool.control[a][:, 1] >= pool.control[a][:, 0]).long() for a in attributes], dim=1)


@torch.no_grad()
def pool_w(generator, pool: PriorPool, batch_size: int = 1024) -> Tensor:
    """W codes mapping(z) of the pool's latents (not truncated)."""
    return torch.cat([generator.mapping(z) for z in pool.z.split(batch_size)])


def _requested(requests: Tensor, name: str) -> list[int]:
    """The attribute indices every request row fixes (all rows must fix the same ones)."""
    fixed = requests >= 0
    if not bool((fixed == fixed[0]).all()):
        raise ValueError(f"{name}: expects one requested attribute set per call")
    return torch.nonzero(fixed[0]).flatten().tolist()


def _need_pool(ctx: MethodContext, name: str) -> PriorPool:
    if ctx.pool is None:
        raise ConfigError(f"method {name}: needs the judged prior pool, and none was given")
    return ctx.pool


@METHODS.register("fairstyle")
class FairStyle(DebiasMethod):
    """FairStyle (:mod:`promptgen.baselines.fairstyle`): the top ``channels`` style channels of each requested
    attribute by the control classifier's gradient, offsets fit so the edited generator's distribution over
    the requested attributes' combinations is uniform; rendered from the pool's first n latents. Its samples
    are one de-biased distribution, not per-request draws (``conditional`` is False).

    Arguments:
        channels: style channels per attribute (the main knob).
        gradient_samples: samples the channel gradients are averaged over.
        steps, batch_size, lr: the optimisation of the offsets.
    """

    needs = frozenset({"pool", "style_space"})
    conditional = False

    def __init__(
        self,
        channels: int = 1,
        gradient_samples: int = 256,
        steps: int = 200,
        batch_size: int = 64,
        lr: float = 0.05,
    ):
        if not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"fairstyle.channels: expected an integer >= 1, got {channels!r}")
        self.channels, self.gradient_samples = channels, int(gradient_samples)
        self.steps, self.batch_size, self.lr = int(steps), int(batch_size), float(lr)
        self.edits: dict[tuple[int, ...], Any] = {}

    def edit(self, ctx: MethodContext, attrs: list[int], seed: int):
        """The fitted :class:`FairStyleEdit` for the attribute indices ``attrs`` (cached)."""
        from promptgen.baselines.fairstyle import fit_fairstyle, style_gradients, top_channels

        key = tuple(attrs)
        if key not in self.edits:
            gen, heads = ctx.generator, [ctx.attributes[j] for j in attrs]
            z = torch.randn(
                self.gradient_samples, gen.latent_dim, generator=torch.Generator().manual_seed(seed)
            )
            chosen = []
            for head in heads:
                chosen += top_channels(style_gradients(gen, ctx.control, head, z), self.channels, chosen)
            self.edits[key] = fit_fairstyle(
                gen,
                ctx.control,
                heads,
                chosen,
                steps=self.steps,
                batch_size=self.batch_size,
                lr=self.lr,
                seed=seed,
            )
        return self.edits[key]

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        pool = _need_pool(ctx, "fairstyle")
        if len(requests) > len(pool.z):
            raise ConfigError(
                f"table2.pool: {len(pool.z)} rows, fewer than the {len(requests)} samples asked"
            )
        edit = self.edit(ctx, _requested(requests, "fairstyle"), seed)
        return Draws(z=pool.z[: len(requests)], render=lambda z: edit.render(ctx.generator, z))


@METHODS.register("fairgen")
class FairGen(DebiasMethod):
    """FairGen (:mod:`promptgen.baselines.fairgen`): per requested combination, a Gaussian mixture of
    ``components`` components fit to the pool's codes (in W or Z) that the control classifier puts in that
    combination; the requested number of codes drawn from it.

    Arguments:
        components: mixture components per group (the main knob).
        space: ``w`` (needs a W space; the paper's choice for StyleGAN) or ``z``.
        iterations: EM iterations.
    """

    def __init__(self, components: int = 4, space: str = "w", iterations: int = 100):
        if not isinstance(components, int) or components < 1:
            raise ConfigError(f"fairgen.components: expected an integer >= 1, got {components!r}")
        if space not in ("w", "z"):
            raise ConfigError(f"fairgen.space: expected 'w' or 'z', got {space!r}")
        self.components, self.space, self.iterations = components, space, int(iterations)
        self.needs = frozenset({"pool", "w_space"} if space == "w" else {"pool"})

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        from promptgen.baselines.fairgen import fit_gmm, group_rows

        pool = _need_pool(ctx, "fairgen")
        codes = pool_w(ctx.generator, pool) if self.space == "w" else pool.z
        labels = pool_labels(pool, ctx.attributes)
        gen = torch.Generator().manual_seed(int(seed))
        out = torch.empty(len(requests), codes.shape[1])
        unique, inverse = torch.unique(requests.long(), dim=0, return_inverse=True)
        stats = {}
        for u, req in enumerate(unique):
            fixed = torch.nonzero(req >= 0).flatten()
            members = group_rows(labels[:, fixed], req[fixed])
            gmm = fit_gmm(codes[members], self.components, iterations=self.iterations, seed=int(seed))
            rows = torch.nonzero(inverse == u).flatten()
            out[rows] = gmm.sample(len(rows), gen)
            stats[ctx.combination(req)] = {"ess": float(len(members))}
        render = ctx.generator.synthesize_w if self.space == "w" else None
        return Draws(z=out, render=render, stats=stats)


@METHODS.register("styleflow")
class StyleFlowMethod(DebiasMethod):
    """StyleFlow (:mod:`promptgen.baselines.styleflow`): a conditional flow on W trained by maximum likelihood
    on the pool's (w, control-classifier labels of every attribute); sampled at each request, its free
    attributes filled from the labels of a matching pool sample.

    Arguments:
        steps: training steps (the main knob).
        batch_size, lr, blocks, hidden: the flow's training and size.
    """

    needs = frozenset({"pool", "w_space"})
    trains = True

    def __init__(
        self, steps: int = 2000, batch_size: int = 256, lr: float = 1e-3, blocks: int = 8, hidden: int = 256
    ):
        if not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"styleflow.steps: expected an integer >= 1, got {steps!r}")
        self.steps, self.batch_size, self.lr = steps, int(batch_size), float(lr)
        self.blocks, self.hidden = int(blocks), int(hidden)

    def fit(self, ctx: MethodContext) -> None:
        from promptgen.baselines.styleflow import train_styleflow
        from promptgen.generators import build_generator

        pool = _need_pool(ctx, "styleflow")
        gen = build_generator(ctx.gen_cfg["generator"], psi=ctx.gen_cfg["psi_eval"])
        flow, history = train_styleflow(
            pool_w(gen, pool),
            pool_labels(pool, ctx.attributes),
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            blocks=self.blocks,
            hidden=self.hidden,
            seed=ctx.seed,
        )
        torch.save({**flow.state_dict(), "nll": history}, ctx.state_dir / STYLEFLOW_FILE)

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        from promptgen.baselines.styleflow import StyleFlow, fill_free_attributes

        pool = _need_pool(ctx, "styleflow")
        flow = StyleFlow.from_state_dict(torch.load(ctx.state_dir / STYLEFLOW_FILE, weights_only=True))
        gen = torch.Generator().manual_seed(int(seed))
        cond = fill_free_attributes(requests, pool_labels(pool, ctx.attributes), gen)
        return Draws(z=flow.sample(cond, gen), render=ctx.generator.synthesize_w)
