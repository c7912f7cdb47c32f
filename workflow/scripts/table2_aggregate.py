"""Snakemake glue: aggregate Table 2 and plot it (logic in eval.table2 and eval.plots)."""

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.plots import table2_bars
    from eval.table2 import aggregate_table2

    table = aggregate_table2(pd.read_csv(p) for p in sm.input if p.endswith(".csv"))
    table.to_csv(sm.output.table, index=False)
    table2_bars(table, sm.output.plot)
