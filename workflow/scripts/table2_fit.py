"""Snakemake glue: a Table-2 method's training stage (logic in eval.table2)."""

from pathlib import Path

from snakemake_glue import logged

from eval.table2 import fit_method

sm = snakemake  # noqa: F821
with logged(sm) as log:
    status = fit_method(
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        sm.wildcards.method,
        Path(sm.output[0]).parent,
        pool_path=sm.input.pool,
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
    )
    log.info("%s: %s", sm.wildcards.method, status)
