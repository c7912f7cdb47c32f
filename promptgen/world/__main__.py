"""``python -m promptgen.world``: train the world's models, build its dataset, measure it, plot it."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from promptgen.allocator import reuse_freed_memory

__all__ = ["main"]

_CURVATURE = "The world's latent curvature (promptgen.world.curvature; 0: the untwisted map)."


@click.group()
@click.option("--threads", type=int, default=1, show_default=True, help="torch intra-op threads.")
def main(threads: int) -> None:
    """The embedded synthetic face world (DESIGN.md §5)."""
    torch.set_num_threads(threads)
    reuse_freed_memory()


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("weights/world"), show_default=True)
@click.option("--role", "roles", multiple=True, help="Train only these roles (default: all).")
@click.option("--steps", type=int, default=None, help="Override every role's steps (smoke tests).")
@click.option("--world-seed", type=int, default=0, show_default=True)
def train(out: Path, roles: tuple[str, ...], steps: int | None, world_seed: int) -> None:
    """Train the world's classifiers, pose regressor, ID embedder and FID features into OUT."""
    from promptgen.world.build import train_models

    train_models(out, roles or None, steps, world_seed=world_seed)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output .pt file.")
@click.option("--n", type=int, default=10_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--world-seed", type=int, default=0, show_default=True)
@click.option("--psi", type=float, default=1.0, show_default=True)
@click.option("--curvature", type=click.FloatRange(min=0), default=0.0, show_default=True, help=_CURVATURE)
def dataset(out: Path, n: int, seed: int, world_seed: int, psi: float, curvature: float) -> None:
    """Render N seeded samples with oracle labels and captions (the world's "real data")."""
    from promptgen.world.dataset import build_dataset

    build_dataset(out, n, seed, world_seed=world_seed, psi=psi, curvature=curvature)


@main.command()
@click.option("--weights", type=click.Path(path_type=Path), default=Path("weights/world"), show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("results/world/metrics.csv"), show_default=True
)
@click.option("--n-held-out", type=int, default=4000, show_default=True)
@click.option("--include", multiple=True, type=click.Path(path_type=Path), help="Append rows of these CSVs.")
@click.option("--curvature", type=click.FloatRange(min=0), default=0.0, show_default=True, help=_CURVATURE)
def metrics(weights: Path, out: Path, n_held_out: int, include: tuple[Path, ...], curvature: float) -> None:
    """Write every acceptance figure as metric,value,threshold,pass rows."""
    from promptgen.world.build import evaluate_models, write_rows

    rows = evaluate_models(weights, n_held_out, curvature=curvature)
    write_rows(rows, out, include)
    for row in rows:
        click.echo(",".join(map(str, row)))


@main.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("results/world/contact_sheets"), show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
def sheets(out: Path, seed: int) -> None:
    """Contact sheets per attribute (16 oracle positives over 16 negatives)."""
    from promptgen.world.contact_sheets import write_contact_sheets

    for path in write_contact_sheets(out, seed):
        click.echo(str(path))


@main.command()
@click.option("--curvature", "values", type=click.FloatRange(min=0), multiple=True, required=True)
@click.option("--seed", "seeds", type=int, multiple=True, default=(2024,), show_default=True)
def probe(values: tuple[float, ...], seeds: tuple[int, ...]) -> None:
    """Linear-probe accuracy per attribute (mean over --seed) at each --curvature, and the smallest
    distance of the four to the band [0.75, 0.90] (negative: outside)."""
    from promptgen.world.probe import linear_probe

    for value in values:
        runs = [linear_probe(value, seed=s) for s in seeds]
        mean = {a: sum(r[a] for r in runs) / len(runs) for a in runs[0]}
        margin = min(min(v - 0.75, 0.90 - v) for v in mean.values())
        cells = " ".join(f"{a}={v:.4f}" for a, v in mean.items())
        click.echo(f"curvature={value:g} {cells} band_margin={margin:+.4f}")


if __name__ == "__main__":
    main()
