"""Snakemake glue: build the world's dataset (logic in promptgen.world.dataset)."""

from eval.snakemake_glue import logged
from promptgen.world.dataset import build_dataset

sm = snakemake  # noqa: F821
with logged(sm):
    build_dataset(
        sm.output[0],
        sm.params.n,
        sm.params.seed,
        world_seed=sm.params.world_seed,
        curvature=sm.params.curvature,
    )
