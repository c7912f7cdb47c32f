"""Snakemake glue: evaluate one Table-2 method (logic in eval.table2)."""

from eval.snakemake_glue import logged
from eval.table2 import evaluate_method

sm = snakemake  # noqa: F821
with logged(sm) as log:
    frame = evaluate_method(
        sm.wildcards.method,
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
        inn_path=sm.input[0] if sm.input else None,
    )
    frame.to_csv(sm.output[0], index=False)
    log.info("\n%s", frame.to_string())
