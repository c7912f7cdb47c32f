"""Snakemake glue: Table 3 with literature rows."""

import pandas as pd

from eval.snakemake_glue import logged
from eval.table3 import with_literature

sm = snakemake  # noqa: F821
with logged(sm):
    with_literature(pd.concat([pd.read_csv(p) for p in sm.input], ignore_index=True)).to_csv(
        sm.output[0], index=False
    )
