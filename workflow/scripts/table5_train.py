"""Snakemake glue: train the moment-constraint INN at one λ (logic in eval.table5)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table5 import moment_train_spec
    from promptgen.spec import train_from_spec

    p = sm.params
    lam = float(sm.wildcards.lam)
    spec = moment_train_spec(
        p.generator, p.model, sm.wildcards.attr, sm.input[0], lam, p.table5, p.device, p.table5["seed"]
    )
    train_from_spec(spec, Path(sm.output[0]).parent)
