"""Snakemake glue: Table-4 measurements for one generator (logic in eval.table4)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table4 import run_table4

    p = sm.params
    paths = dict(zip(p.table4["texts"], sm.input.inns, strict=True))
    run_table4(sm.wildcards.gen, p.generator, p.clip, p.table4, paths, p.device).to_csv(
        sm.output[0], index=False
    )
