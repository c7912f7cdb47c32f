"""Snakemake glue: train the Table-2 conditional INN (logic in eval.table2)."""

from pathlib import Path

from eval.snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm) as log:
    from eval.table2 import train_spec
    from promptgen.spec import train_from_spec

    spec = train_spec(
        sm.params.generator, sm.params.table2, sm.params.models, sm.params.device, int(sm.wildcards.seed)
    )
    checkpoint = train_from_spec(spec, Path(sm.output[0]).parent).checkpoint
    log.info("trained %s", checkpoint)
