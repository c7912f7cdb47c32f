"""Snakemake glue: Fig. 8 iteration 2 at the λ whose INN meets the moment constraint (eval.figure8)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm) as log:
    from eval.figure8 import calibrated_debias, composed_entry

    p = sm.params
    gen = composed_entry(p.generator, sm.input.inn)
    summary = calibrated_debias(gen, p.model, sm.input.beta, p.figure8, p.device, Path(sm.output.inn).parent)
    log.info("calibrated λ = %.4f (gap %.4f)", summary["lambda"], summary["gap"])
