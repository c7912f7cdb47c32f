"""Snakemake glue: the Table-2 entanglement sweep and its plot (logic in eval.entanglement and eval.plots)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.entanglement import entanglement_table
    from eval.plots import entanglement_lines

    argument = sm.params.argument
    table = entanglement_table(
        (pd.read_csv(p) for p in sm.input), sm.params.settings, argument, sm.params.judge
    )
    table.to_csv(sm.output.table, index=False)
    entanglement_lines(table, sm.output.plot, argument)
