"""Contact sheets: does the oracle agree with what a person sees?

One PNG per binary attribute (16 oracle positives above 16 negatives), one per categorical group (8 samples
per class, one row each), and a pose sweep (one identity per row, yaw / pitch / roll swept over ±30°).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch import Tensor

from promptgen.world.groundtruth import AGE_GROUPS, BINARY, TONE_BINS, labels_from_factors
from promptgen.world.render import SynthRenderer

__all__ = ["contact_sheet", "write_contact_sheets"]


def contact_sheet(rows: list[Tensor], titles: list[str], scale: int = 2, pad: int = 2) -> Image.Image:
    """A labelled grid: each entry of ``rows`` is (K, 3, R, R) in [−1, 1], drawn as one row."""
    res = rows[0].shape[-1] * scale
    cols = max(len(r) for r in rows)
    label_w = 110
    sheet = Image.new("RGB", (label_w + cols * (res + pad), len(rows) * (res + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (row, title) in enumerate(zip(rows, titles, strict=True)):
        y = i * (res + pad)
        draw.text((4, y + res // 2 - 6), title, fill="black")
        for j, img in enumerate(row):
            arr = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
            tile = Image.fromarray(arr).resize((res, res), Image.NEAREST)
            sheet.paste(tile, (label_w + j * (res + pad), y))
    return sheet


@torch.no_grad()
def _pool(n: int, seed: int) -> tuple[SynthRenderer, Tensor, dict[str, Tensor]]:
    G = SynthRenderer()
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    return G, z, labels_from_factors(G.world, G.world(z))


def _pick(mask: Tensor, k: int) -> Tensor:
    return mask.nonzero()[:k, 0]


@torch.no_grad()
def _pose_sweep(G: SynthRenderer, z: Tensor, n_steps: int = 9) -> list[Tensor]:
    angles = torch.linspace(-math.radians(30), math.radians(30), n_steps)
    rows = []
    for k, name in enumerate(("yaw", "pitch", "roll")):
        scene = G.scene(z[k : k + 1].expand(n_steps, -1))
        zero = torch.zeros(n_steps)
        pose = {"yaw": zero, "pitch": zero, "roll": zero} | {name: angles}
        rows.append(G.render(scene.replace(**pose)))
    return rows


@torch.no_grad()
def write_contact_sheets(out_dir: str | Path, seed: int = 0, per_row: int = 8) -> list[Path]:
    """Write the sheets to ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    G, z, lab = _pool(4000, seed)
    paths = []
    for name in BINARY:
        pos, neg = _pick(lab[name], 2 * per_row), _pick(~lab[name], 2 * per_row)
        imgs = [G(z[idx]) for idx in (pos[:per_row], pos[per_row:], neg[:per_row], neg[per_row:])]
        sheet = contact_sheet(imgs, [f"{name}", f"{name}", f"not {name}", f"not {name}"])
        paths.append(out_dir / f"{name}.png")
        sheet.save(paths[-1])
    for group, classes in (("tone", TONE_BINS), ("age_group", AGE_GROUPS)):
        imgs = [G(z[_pick(lab[group] == c, per_row)]) for c in range(len(classes))]
        paths.append(out_dir / f"{group}.png")
        contact_sheet(imgs, list(classes)).save(paths[-1])
    paths.append(out_dir / "pose.png")
    contact_sheet(_pose_sweep(G, z), ["yaw -30..30", "pitch -30..30", "roll -30..30"]).save(paths[-1])
    return paths
