"""Snakemake glue: aggregate a Table-2 task over seeds and plot it (logic in eval.table2 and eval.plots)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.plots import table2_bars
    from eval.table2 import aggregate_table2

    table = aggregate_table2(
        (pd.read_csv(p) for p in sm.input.rows),
        literature=sm.params.literature,
        joint_classes=sm.params.joint_classes,
    )
    table.to_csv(sm.output.table, index=False)
    pd.concat(pd.read_csv(p) for p in sm.input.combos).to_csv(sm.output.combos, index=False)
    table2_bars(table, sm.output.plot)
