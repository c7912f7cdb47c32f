"""Snakemake glue: draw Table 5's sample grid (logic in eval.grids)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_iterations, table5_stages

    p = sm.params
    stages = table5_stages(p.table5["attributes"], p.table5["lambdas"], dict(sm.input.items()))
    draw_iterations(p.generator, stages, p.grids, sm.output[0], p.device)
