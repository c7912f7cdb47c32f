"""Snakemake glue: concatenate per-job CSV rows into one table."""

import pandas as pd

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    pd.concat([pd.read_csv(p) for p in sm.input], ignore_index=True).to_csv(sm.output[0], index=False)
