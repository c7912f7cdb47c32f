"""Snakemake glue: build the world's dataset (logic in promptgen.world.dataset)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from promptgen.world.dataset import build_dataset

    build_dataset(
        sm.output[0],
        sm.params.n,
        sm.params.seed,
        world_seed=sm.params.world_seed,
        curvature=sm.params.curvature,
    )
