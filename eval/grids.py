"""Sample grids: the images behind each table, with the same per-sample seeds across methods.

Sample j of a row is drawn from ε_j (or z_j) seeded by (seed, index) alone
(:func:`promptgen.sample.per_sample_normal`), so a column of a grid shows one latent under every method: the
unmodified generator G(z_j), the baselines started from z_j, and PromptGen's G(f(ε_j, c)).

* :func:`table2_grid`: one row per requested combination of the binary attributes, a column block per
  configured method, each sampled as Table 2 evaluates it;
* :func:`table3_grid`: one identity (one ε) per row across the pose grid;
* :func:`table4_grid`: one row per text: the generator, PPGM at each step count, PromptGen;
* :func:`iteration_grid`: Table 5 and Fig. 8, one row per stage (before, then after each INN).

:func:`draw_grid` draws any of them to a PNG.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from eval.debias import column_groups, column_requests  # noqa: E402
from eval.table2 import method_images, method_names  # noqa: E402
from promptgen.baselines.langevin import langevin  # noqa: E402
from promptgen.checkpoint import load_inn  # noqa: E402
from promptgen.conditions import UniformCondition  # noqa: E402
from promptgen.device import resolve_device  # noqa: E402
from promptgen.energies import EnergySum, ModelCache  # noqa: E402
from promptgen.energies.clip import CLIPEnergy  # noqa: E402
from promptgen.generators import Generator, build_generator  # noqa: E402
from promptgen.generators.composed import ComposedGenerator  # noqa: E402
from promptgen.registry import ConfigError  # noqa: E402
from promptgen.sample import per_sample_normal  # noqa: E402

__all__ = [
    "FAILED_GREY",
    "chosen_step_sizes",
    "Grid",
    "draw_grid",
    "iteration_grid",
    "render",
    "table2_grid",
    "table2_requests",
    "table3_grid",
    "table4_grid",
    "draw_table2",
    "draw_table3",
    "draw_table4",
    "draw_iterations",
    "table5_stages",
    "figure8_stages",
]


FAILED_GREY = 0.8  # a failed method's blank block, in [−1, 1]: light grey on the white figure


@dataclass
class Grid:
    """Images (rows, columns, 3, H, W) in [−1, 1]; a label per row; column blocks as (label, width)."""

    images: Tensor
    rows: list[str]
    blocks: list[tuple[str, int]]
    title: str = ""


def _device(module: torch.nn.Module) -> torch.device:
    """Where ``module``'s first parameter or buffer lives (the CPU for a module without tensors)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def render(generator: Generator, latents: Tensor, cond: Tensor | None = None, batch_size: int = 64) -> Tensor:
    """Images of ``latents`` (and per-row conditions) on the CPU, in batches."""
    device = _device(generator)
    out = []
    for i in range(0, len(latents), batch_size):
        z = latents[i : i + batch_size].to(device)
        x = generator(z) if cond is None else generator(z, cond[i : i + batch_size].to(device))
        out.append(x.float().cpu())
    return torch.cat(out)


def _tile(blocks: Sequence[Tensor], rows: int) -> Tensor:
    """Method blocks, each (rows × k, 3, H, W) in row order -> (rows, Σk, 3, H, W)."""
    return torch.cat([b.reshape(rows, -1, *b.shape[1:]) for b in blocks], dim=1)


def table2_requests(
    attributes: Sequence[str], samples: int, task: str = "joint"
) -> tuple[dict[str, Tensor], list[str]]:
    """The requests Table 2's grid asks every method for, per ``sample`` call, and a label per grid row.

    ``joint``: one call, every combination of all attributes; ``columns``: one call per Table-2 column, each
    combination of its attributes with the others free. Each combination is requested ``samples`` times in a
    row (:func:`eval.debias.column_requests`), so row r, column j of a call is request r · ``samples`` + j.

    Example:
        >>> requests, labels = table2_requests(["male", "young"], 1)
        >>> requests["joint"].tolist(), labels[1]
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], 'not male, young')
    """
    k = len(attributes)
    if task == "joint":
        groups = {"joint": tuple(range(k))}
    elif task == "columns":
        groups = column_groups(attributes)
    else:
        raise ConfigError(f"grids.table2_requests: expected 'joint' or 'columns', got {task!r}")
    requests = {key: column_requests(k, group, samples) for key, group in groups.items()}
    labels = []
    for key, batch in requests.items():
        for row in batch[::samples].tolist():
            text = ", ".join(a if v else f"not {a}" for a, v in zip(attributes, row, strict=True) if v >= 0)
            labels.append(text if task == "joint" else f"{key}: {text}")
    return requests, labels


def _failed_label(name: str, reason: str, samples: int) -> str:
    """A failed method's block label: its name, then the reason wrapped to the block's width."""
    lines = textwrap.wrap(f"failed: {reason}", width=max(12, 11 * samples))
    return "\n".join([name, *lines[:3]]) + ("…" if len(lines) > 3 else "")


def table2_grid(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    *,
    pool_path: str | Path,
    fits: Mapping[str, str | Path],
    samples: int,
    seed: int,
    task: str = "joint",
    methods: Sequence[str] | None = None,
    device: str = "auto",
) -> Grid:
    """Table 2: one row per requested combination (:func:`table2_requests`), one column block per method.

    Every method samples as Table 2 evaluates it (:func:`eval.table2.method_images`) on the judged pool of
    ``seed``: the methods that start from prior latents (the unmodified generator, the direction edit,
    PromptGen's ε) use latent i = r · ``samples`` + j for row r, column j of a call, so a column shows one
    latent under each; resampling draws pool rows by weight. A failed method's block is blank (light grey),
    its label the reason.

    Arguments:
        pool_path: the judged prior pool of ``seed`` (:func:`eval.table2.judge_pool`).
        fits: method name -> its training stage's folder (methods with one); a training method missing here
            shows as failed.
        methods: the blocks, in order (default: the generator's methods, :func:`eval.table2.method_names`).
    """
    names = list(methods) if methods is not None else method_names(t2, gen_name)
    requests, labels = table2_requests(list(t2["attributes"]), samples, task)
    with tempfile.TemporaryDirectory() as scratch:  # state folders of the methods without a training stage
        dirs = {m: Path(fits[m]) if m in fits else Path(scratch, m) for m in names}
        for m in set(names) - set(fits):
            dirs[m].mkdir()
        drawn = method_images(
            gen_name, gen_cfg, t2, models, dirs, requests, pool_path=pool_path, device=device, seed=seed
        )
    rows = len(labels)
    shape = next((next(iter(imgs.values())).shape[1:] for _, imgs in drawn.values() if imgs), (3, 8, 8))
    blocks, tiles = [], []
    for name in names:
        status, images = drawn[name]
        if status["status"] == "ok":
            tiles.append(torch.cat(list(images.values())).reshape(rows, samples, *shape))
            blocks.append((name, samples))
        else:
            tiles.append(torch.full((rows, samples, *shape), FAILED_GREY))
            blocks.append((_failed_label(name, status.get("reason", ""), samples), samples))
    return Grid(torch.cat(tiles, dim=1), labels, blocks)


def table3_grid(
    generator: Generator,
    inn_path: str | Path,
    angle_range: float,
    *,
    identities: int,
    per_axis: int,
    seed: int,
) -> Grid:
    """Table 3: one identity (ε seeded by (seed, i)) per row, across a ``per_axis``² grid of (α_x, α_y)."""
    cond = UniformCondition(low=[-angle_range] * 2, high=[angle_range] * 2, reference=[0.0, 0.0])
    poses = cond.grid(per_axis)
    eps = per_sample_normal(seed, range(identities), generator.latent_dim).repeat_interleave(len(poses), 0)
    pg = ComposedGenerator(generator, _inn(inn_path, generator))
    images = render(pg, eps, poses.repeat(identities, 1))
    images = images.reshape(identities, len(poses), *images.shape[1:])
    blocks = [(f"{a:+.2f}\n{b:+.2f}", 1) for a, b in poses.tolist()]
    title = "one identity per row; columns: requested pose (α_x, α_y) in radians"
    return Grid(images, [f"identity {i}" for i in range(identities)], blocks, title)


def _inn(path: str | Path, generator: Generator) -> torch.nn.Module:
    return load_inn(path, map_location=_device(generator))[0]


def table4_grid(
    generator: Generator,
    clip: torch.nn.Module,
    inn_paths: Mapping[str, str | Path],
    clip_settings: Mapping[str, Any],
    *,
    ppgm_steps: Sequence[int],
    step_sizes: Mapping[tuple[str, int], float],
    samples: int,
    seed: int,
) -> Grid:
    """Table 4: one row per text; blocks the generator, PPGM at each step count (at ``step_sizes[(text, n)]``,
    the η Table 4 chose), PromptGen, all from z_i seeded by (seed, i) (PPGM's chains start there)."""
    eps = per_sample_normal(seed, range(samples), generator.latent_dim)
    device = _device(generator)
    settings = {k: v for k, v in clip_settings.items() if k != "weight"}
    rows, names = [], ["generator", *(f"PPGM (n={s})" for s in ppgm_steps), "PromptGen"]
    for text, path in inn_paths.items():
        energy = EnergySum({"text": (float(clip_settings["weight"]), CLIPEnergy(clip, text, **settings))})
        row = [render(generator, eps)]
        for steps in ppgm_steps:
            eta = step_sizes[(text, int(steps))]
            kw = {"steps": int(steps), "step_size": eta, "batch_size": samples, "device": device}
            res = langevin(generator, energy, samples, seed=seed, **kw)
            row.append(res.images.detach().float().cpu())
        row.append(render(ComposedGenerator(generator, _inn(path, generator)), eps))
        rows.append(_tile(row, 1))
    return Grid(torch.cat(rows), list(inn_paths), [(m, samples) for m in names])


def chosen_step_sizes(scores: str | Path) -> dict[tuple[str, int], float]:
    """PPGM's η per (text, step count) from a Table-4 CSV (its ``PPGM (n=…)`` rows' ``ppgm_step_size``).

    Example:
        >>> import io
        >>> csv = "method,text,ppgm_step_size\\nPromptGen,a,\\nPPGM (n=10),a,0.03\\n"
        >>> chosen_step_sizes(io.StringIO(csv))
        {('a', 10): 0.03}
    """
    out = {}
    for r in pd.read_csv(scores).itertuples(index=False):
        n = re.fullmatch(r"PPGM \(n=(\d+)\)", str(r.method))
        if n:
            out[(str(r.text), int(n.group(1)))] = float(r.ppgm_step_size)
    return out


def iteration_grid(
    generator: Generator, stages: Mapping[str, Sequence[str | Path]], *, samples: int, seed: int
) -> Grid:
    """Table 5 and Fig. 8: one row per stage, G(f_1(…f_m(ε_j))) for the stage's INN chain (empty: G(ε_j))."""
    eps = per_sample_normal(seed, range(samples), generator.latent_dim)
    rows = []
    for chain in stages.values():
        gen = generator
        for path in chain:
            gen = ComposedGenerator(gen, _inn(path, generator))
        rows.append(render(gen, eps))
    return Grid(torch.stack(rows), list(stages), [(f"samples 0–{samples - 1}", samples)])


def _mosaic(
    images: Tensor, blocks: Sequence[tuple[str, int]], gap: int, block_gap: int
) -> tuple[np.ndarray, list[float]]:
    """One RGB array with ``gap`` white pixels between images and ``block_gap`` between blocks; the x centre
    of each block."""
    r, c, _, h, w = images.shape
    starts, x, centres = [], 0, []
    for _, width in blocks:
        centres.append(x + (width * (w + gap) - gap) / 2)
        starts += [x + j * (w + gap) for j in range(width)]
        x += width * (w + gap) - gap + block_gap
    canvas = np.ones((r * (h + gap) - gap, x - block_gap, 3))
    pixels = ((images.clamp(-1, 1) + 1) / 2).permute(0, 1, 3, 4, 2).numpy()
    for i in range(r):
        for j in range(c):
            canvas[i * (h + gap) : i * (h + gap) + h, starts[j] : starts[j] + w] = pixels[i, j]
    return canvas, centres


def draw_grid(grid: Grid, path: str | Path, cell: float = 0.8) -> Path:
    """Draw ``grid`` to ``path`` (PNG): rows labelled on the left, one label above each column block.

    Arguments:
        cell: inches per image (at least the image's own pixels are kept: dpi ≥ resolution / cell).
    """
    if sum(w for _, w in grid.blocks) != grid.images.shape[1]:
        raise ValueError(f"blocks {grid.blocks} do not cover the grid's {grid.images.shape[1]} columns")
    rows, cols, _, h, _ = grid.images.shape
    gap, block_gap = max(h // 32, 1), max(h // 4, 2)
    canvas, centres = _mosaic(grid.images, grid.blocks, gap=gap, block_gap=block_gap)
    per_pixel = cell / (h + gap)  # inches per canvas pixel
    data_w, data_h = canvas.shape[1] * per_pixel, canvas.shape[0] * per_pixel
    left = 0.3 + 0.065 * max(len(r) for r in grid.rows)
    top = 0.45 + 0.15 * max(label.count("\n") + 1 for label, _ in grid.blocks) + (0.3 if grid.title else 0)
    width, height = left + data_w + 0.2, top + data_h + 0.15
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((left / width, 0.15 / height, data_w / width, data_h / height))
    ax.imshow(canvas, interpolation="nearest", aspect="equal")
    ax.set_yticks([i * (h + gap) + h / 2 for i in range(rows)], grid.rows, fontsize=8)
    ax.set_xticks(centres, [label for label, _ in grid.blocks], fontsize=8)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if grid.title:
        fig.text(0.01, 1 - 0.1 / height, grid.title, fontsize=9, va="top")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=max(100, int(np.ceil(h / cell))))
    plt.close(fig)
    return path


def _generator(gen_cfg: Mapping[str, Any], device: str) -> Generator:
    return build_generator(gen_cfg["generator"], psi=gen_cfg["psi_eval"], device=resolve_device(device))


def draw_table2(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    pool_path: str | Path,
    fits: Mapping[str, str | Path],
    grids: Mapping[str, Any],
    out: str | Path,
    *,
    seed: int,
    methods: Sequence[str] | None = None,
    device: str = "auto",
) -> Path:
    """:func:`table2_grid` from the pipeline's config sections (``table2``, ``models``, ``grids``) on the
    judged pool and the training stages of ``seed``."""
    task = grids["table2_requests"]
    grid = table2_grid(
        gen_name,
        gen_cfg,
        t2,
        models,
        pool_path=pool_path,
        fits=fits,
        samples=int(grids["samples"]),
        seed=int(seed),
        task=task,
        methods=methods,
        device=device,
    )
    grid.title = (
        f"seed {seed}; one row per requested combination ({task} requests); a column is one prior latent "
        "under every method that starts from it (resampling draws pool rows by weight)"
    )
    return draw_grid(grid, out)


def draw_table3(
    gen_cfg: Mapping[str, Any],
    t3: Mapping[str, Any],
    inn_path: str | Path,
    grids: Mapping[str, Any],
    out: str | Path,
    device: str = "auto",
) -> Path:
    """:func:`table3_grid` from the pipeline's config sections (``table3``, ``grids``)."""
    grid = table3_grid(
        _generator(gen_cfg, device),
        inn_path,
        float(t3["angle_range"]),
        identities=int(grids["identities"]),
        per_axis=int(grids["poses_per_axis"]),
        seed=int(grids["seed"]),
    )
    return draw_grid(grid, out)


def draw_table4(
    gen_cfg: Mapping[str, Any],
    clip_entry: Mapping[str, Any],
    t4: Mapping[str, Any],
    inn_paths: Sequence[str | Path],
    scores: str | Path,
    grids: Mapping[str, Any],
    out: str | Path,
    device: str = "auto",
) -> Path:
    """:func:`table4_grid` from the pipeline's config sections; ``inn_paths[i]`` is the INN of text i, and
    ``scores`` the generator's Table-4 CSV, whose PPGM rows give the η chosen per text and step count."""
    clip = ModelCache(resolve_device(device)).get(clip_entry, "models.clip")
    grid = table4_grid(
        _generator(gen_cfg, device),
        clip,
        dict(zip(t4["texts"], inn_paths, strict=True)),
        t4["clip"],
        ppgm_steps=list(t4["ppgm_steps"]),
        step_sizes=chosen_step_sizes(scores),
        samples=int(grids["samples"]),
        seed=int(grids["seed"]),
    )
    grid.title = "one row per text; a column is one seed (PPGM's chains start from it)"
    return draw_grid(grid, out)


def draw_iterations(
    gen_cfg: Mapping[str, Any],
    stages: Mapping[str, Sequence[str | Path]],
    grids: Mapping[str, Any],
    out: str | Path,
    device: str = "auto",
) -> Path:
    """:func:`iteration_grid` for Table 5 or Fig. 8: ``stages`` maps a row label to its INN chain."""
    grid = iteration_grid(
        _generator(gen_cfg, device), stages, samples=int(grids["iteration_samples"]), seed=int(grids["seed"])
    )
    grid.title = "one row per stage; a column is one seed before and after each INN"
    return draw_grid(grid, out)


def table5_stages(attributes: Sequence[str], lambdas: Sequence[float], inns: Mapping[str, str]) -> dict:
    """Table 5's rows: per attribute the unmodified generator, then G∘f at each λ.

    ``inns[f"{attr}_lambda{λ}"]`` is the INN of one attribute and λ.

    Example:
        >>> table5_stages(["tone"], [1], {"tone_lambda1": "t/inn.pt"})
        {'tone: unmodified': [], 'tone: λ = 1': ['t/inn.pt']}
    """
    stages: dict[str, list] = {}
    for attr in attributes:
        stages[f"{attr}: unmodified"] = []
        for lam in lambdas:
            stages[f"{attr}: λ = {lam}"] = [inns[f"{attr}_lambda{lam}"]]
    return stages


def figure8_stages(iter1: str, iter2: str, calibrated: str, weight: float, calibrated_weight: float) -> dict:
    """Fig. 8's rows: G, G∘f₁ (the text), G∘f₁∘f₂ at the configured λ and at the calibrated λ."""
    return {
        "G": [],
        "G∘f₁ (text)": [iter1],
        f"G∘f₁∘f₂ (λ = {weight:g})": [iter1, iter2],
        f"G∘f₁∘f₂ (calibrated λ = {calibrated_weight:.3g})": [iter1, calibrated],
    }
