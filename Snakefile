"""PromptGen Bench: one command per table. `snakemake --cores 8 results/table2.csv`."""

import sys

from snakemake.utils import min_version

from eval.config import resolve_config
from promptgen.registry import ConfigError

min_version("9.0")


# The given config over its `base` (config/config.yaml unless it says otherwise; docs/configuration.md),
# checked against the schema with its defaults filled in; a bad key stops here with one line.
try:
    _resolved = resolve_config(
        config,
        f"{workflow.basedir}/workflow/schemas/config.schema.yaml",
        f"{workflow.basedir}/config/config.yaml",
    )
except ConfigError as err:
    _files = ", ".join(map(str, workflow.overwrite_configfiles or [])) or "config"
    sys.exit(f"config error ({_files}): {err}")
config.clear()
config.update(_resolved)


include: "workflow/rules/common.smk"
include: "workflow/rules/world.smk"
include: "workflow/rules/table2.smk"
include: "workflow/rules/entanglement.smk"
include: "workflow/rules/table3.smk"
include: "workflow/rules/table4.smk"
include: "workflow/rules/table5.smk"
include: "workflow/rules/figure8.smk"
include: "workflow/rules/tableA.smk"
include: "workflow/rules/grids.smk"
include: "workflow/rules/summary.smk"


rule all:
    default_target: True
    input:
        R("table2.csv"),
        R("plots/table2_kl.png"),
        R("table3.csv"),
        R("plots/table3_fid_identity.png"),
        R("table4.csv"),
        R("plots/table4_energy_latency.png"),
        R("table5.csv"),
        R("plots/table5_shares.png"),
        R("figure8.csv"),
        R("plots/figure8_shares.png"),
        R("tableA.csv"),
        R("plots/tableA_kl.png"),
        expand(R("plots/table3_samples_{gen}.png"), gen=config["table3"]["generators"]),
        expand(R("plots/table4_samples_{gen}.png"), gen=config["table4"]["generators"]),
        expand(R("plots/table5_samples_{gen}.png"), gen=config["table5"]["generators"]),
        expand(R("plots/figure8_samples_{gen}.png"), gen=config["figure8"]["generators"]),
        R("summary.md"),
