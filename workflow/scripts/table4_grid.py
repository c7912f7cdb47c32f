"""Snakemake glue: draw Table 4's sample grid (logic in eval.grids)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_table4

    p = sm.params
    draw_table4(
        p.generator, p.clip, p.table4, list(sm.input.inns), sm.input.scores, p.grids, sm.output[0], p.device
    )
