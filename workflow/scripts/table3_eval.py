"""Snakemake glue: Table-3 measurements for one generator (logic in eval.table3)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table3 import evaluate_pose_inn

    p = sm.params
    frame = evaluate_pose_inn(
        sm.wildcards.gen, p.generator, p.models, p.table3, sm.input.inn, sm.input.reference, p.device
    )
    frame.to_csv(sm.output[0], index=False)
