"""Snakemake glue: concatenate per-job CSV rows into one table; plot it when the rule has a `plot` output."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    import eval.plots

    table = pd.concat([pd.read_csv(p) for p in sm.input], ignore_index=True)
    table.to_csv(sm.output[0], index=False)
    if "plot" in sm.output.keys():
        getattr(eval.plots, sm.params.plot)(table, sm.output.plot)
