"""Snakemake glue: train the pose-conditioned INN (logic in eval.table3)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table3 import pose_train_spec
    from promptgen.spec import train_from_spec

    p = sm.params
    train_from_spec(pose_train_spec(p.generator, p.models, p.table3, p.device), Path(sm.output[0]).parent)
