"""Snakemake glue: evaluate PromptGen's Table-2 rows from one trained INN (logic in eval.table2)."""

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm) as log:
    from eval.table2 import evaluate_promptgen

    frame = evaluate_promptgen(
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        sm.input[0],
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
    )
    frame.to_csv(sm.output[0], index=False)
    log.info("\n%s", frame.to_string())
