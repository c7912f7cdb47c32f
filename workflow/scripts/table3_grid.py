"""Snakemake glue: draw Table 3's sample grid (logic in eval.grids)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_table3

    p = sm.params
    draw_table3(p.generator, p.table3, sm.input[0], p.grids, sm.output[0], p.device)
