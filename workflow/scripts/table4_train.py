"""Snakemake glue: train the Table-4 CLIP INN for one text (logic in eval.table4)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table4 import clip_train_spec
    from promptgen.spec import train_from_spec

    p = sm.params
    train_from_spec(
        clip_train_spec(p.generator, p.clip, p.text, p.table4, p.device), Path(sm.output[0]).parent
    )
