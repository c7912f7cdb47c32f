"""Snakemake glue: Fig. 8 iteration 2, the gender moment constraint on G∘f₁ (logic in eval.table5)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.figure8 import composed_entry, debias_section
    from eval.table5 import moment_train_spec
    from promptgen.spec import train_from_spec

    p = sm.params
    f8 = p.figure8
    gen = composed_entry(p.generator, sm.input.inn)
    spec = moment_train_spec(
        gen, p.model, f8["gender_head"], sm.input.beta, f8["lambda"], debias_section(f8), p.device, f8["seed"]
    )
    train_from_spec(spec, Path(sm.output[0]).parent)
