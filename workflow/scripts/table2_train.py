"""Snakemake glue: train the Table-2 conditional INN (logic in eval.table2)."""

import logging
from pathlib import Path

from eval.table2 import train_spec
from promptgen.spec import train_from_spec

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
sm = snakemake  # noqa: F821
spec = train_spec(
    sm.params.generator, sm.params.table2, sm.params.models, sm.params.device, int(sm.wildcards.seed)
)
checkpoint = train_from_spec(spec, Path(sm.output[0]).parent).checkpoint
logging.info("trained %s", checkpoint)
