"""Snakemake glue: draw Table 2's sample grid (logic in eval.grids)."""

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_table2

    p = sm.params
    draw_table2(p.generator, p.table2, p.models, sm.input[0], p.grids, sm.output[0], p.device)
