"""Snakemake glue: Fig. 8 iteration 1, the CLIP text control (logic in eval.figure8)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.figure8 import text_train_spec
    from promptgen.spec import train_from_spec

    p = sm.params
    train_from_spec(text_train_spec(p.generator, p.clip, p.figure8, p.device), Path(sm.output[0]).parent)
