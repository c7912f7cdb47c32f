"""Snakemake glue: Table 4 with literature rows, and its energy-latency plot."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.plots import energy_latency
    from eval.table4 import with_literature

    measured = pd.concat([pd.read_csv(p) for p in sm.input], ignore_index=True)
    table = with_literature(measured)
    table.to_csv(sm.output.table, index=False)
    energy_latency(table, sm.output.plot)
