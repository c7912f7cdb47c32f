"""Snakemake glue: draw Table 2's sample grid (logic in eval.grids)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_table2

    p = sm.params
    fits = {Path(f).parent.name: Path(f).parent for f in sm.input.fits}  # fit/<method>/status.json
    draw_table2(
        sm.wildcards.gen,
        p.generator,
        p.table2,
        p.models,
        sm.input.pool,
        fits,
        p.grids,
        sm.output[0],
        seed=int(p.seed),
        methods=list(p.methods),
        device=p.device,
    )
