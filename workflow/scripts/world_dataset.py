"""Snakemake glue: build the world's dataset (logic in promptgen.world.dataset)."""

from promptgen.world.dataset import build_dataset

sm = snakemake  # noqa: F821
build_dataset(sm.output[0], sm.params.n, sm.params.seed, world_seed=sm.params.world_seed)
