"""Snakemake glue: Table 3 with literature rows, and its FID / identity-distance plot."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.plots import fid_identity
    from eval.table3 import with_literature

    table = with_literature(pd.concat([pd.read_csv(p) for p in sm.input], ignore_index=True))
    table.to_csv(sm.output.table, index=False)
    fid_identity(table, sm.output.plot)
