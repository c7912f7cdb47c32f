"""``python -m promptgen.world``: train the world's models, build its dataset, measure it, plot it."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from promptgen.allocator import reuse_freed_memory

__all__ = ["main"]


@click.group()
@click.option("--threads", type=int, default=1, show_default=True, help="torch intra-op threads.")
def main(threads: int) -> None:
    """The embedded synthetic face world (docs/design.md §5)."""
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
def dataset(out: Path, n: int, seed: int, world_seed: int, psi: float) -> None:
    """Render N seeded samples with oracle labels and captions (the world's "real data")."""
    from promptgen.world.dataset import build_dataset

    build_dataset(out, n, seed, world_seed=world_seed, psi=psi)


@main.command()
@click.option("--weights", type=click.Path(path_type=Path), default=Path("weights/world"), show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("results/world/metrics.csv"), show_default=True
)
@click.option("--n-held-out", type=int, default=4000, show_default=True)
@click.option("--include", multiple=True, type=click.Path(path_type=Path), help="Append rows of these CSVs.")
def metrics(weights: Path, out: Path, n_held_out: int, include: tuple[Path, ...]) -> None:
    """Write every acceptance figure as metric,value,threshold,pass rows."""
    from promptgen.world.build import evaluate_models, write_rows

    rows = evaluate_models(weights, n_held_out)
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


if __name__ == "__main__":
    main()
