"""Snakemake glue: render and judge Table 2's prior pool of one generator and seed (logic in eval.table2)."""

from snakemake_glue import logged

from eval.table2 import judge_pool

sm = snakemake  # noqa: F821
with logged(sm) as log:
    path = judge_pool(
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        sm.output[0],
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
    )
    log.info("pool %s", path)
