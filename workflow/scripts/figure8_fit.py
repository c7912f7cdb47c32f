"""Snakemake glue: β̂ for uniform gender on G∘f₁ (logic in eval.table5, eval.figure8)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.figure8 import composed_entry
    from eval.table5 import fit_attribute
    from promptgen.moment import save_moment_fit

    p = sm.params
    f8 = p.figure8
    fit = fit_attribute(
        composed_entry(p.generator, sm.input[0]),
        p.model,
        f8["gender_head"],
        f8["moment"],
        p.device,
        f8["seed"],
    )
    save_moment_fit(fit, sm.output[0])
