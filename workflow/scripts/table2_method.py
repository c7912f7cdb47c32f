"""Snakemake glue: one Table-2 method's rows on one generator, seed and task (logic in eval.table2)."""

from pathlib import Path

from snakemake_glue import logged

from eval.table2 import evaluate_method

sm = snakemake  # noqa: F821
with logged(sm) as log:
    state = sm.input.state
    state = [state] if isinstance(state, str) else list(state)  # [status.json] or [] (no training stage)
    rows, combos = evaluate_method(
        sm.wildcards.gen,
        sm.params.generator,
        sm.params.table2,
        sm.params.models,
        sm.wildcards.method,
        pool_path=sm.input.pool,
        state_dir=Path(state[0]).parent if state else Path(sm.output.rows).parent,
        task=sm.wildcards.task,
        device=sm.params.device,
        seed=int(sm.wildcards.seed),
    )
    rows.to_csv(sm.output.rows, index=False)
    combos.to_csv(sm.output.combos, index=False)
    log.info("\n%s", rows.to_string())
