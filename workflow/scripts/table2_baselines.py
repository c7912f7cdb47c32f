"""Snakemake glue: evaluate Table 2's three baselines from one judged pool (logic in eval.table2)."""

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm) as log:
    from eval.table2 import evaluate_baselines

    frames = evaluate_baselines(
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
    )
    for method, frame in frames.items():
        frame.to_csv(getattr(sm.output, method), index=False)
        log.info("%s\n%s", method, frame.to_string())
