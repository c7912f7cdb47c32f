"""Snakemake glue: FID reference statistics (logic in eval.table3)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table3 import reference_statistics

    p = sm.params
    reference_statistics(sm.input[0], p.features, sm.output[0], p.device, p.batch_size)
