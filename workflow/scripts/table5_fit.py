"""Snakemake glue: fit β̂ for one (generator, attribute) (logic in eval.table5)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table5 import fit_attribute
    from promptgen.moment import save_moment_fit

    p = sm.params
    fit = fit_attribute(p.generator, p.model, sm.wildcards.attr, p.moment, p.device, p.seed)
    save_moment_fit(fit, sm.output[0])
