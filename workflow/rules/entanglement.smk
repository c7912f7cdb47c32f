from eval.entanglement import derived_generators
from promptgen.registry import ConfigError

# Table 2 across settings of one generator argument (the embedded world's `curvature`): every swept value
# becomes a generator entry, derived here at parse time, that the Table-2 rules train and evaluate as any
# other (a value equal to the base entry's reuses the base generator's Table-2 files).
ENT = config["entanglement"]
ENT_SETTINGS = {}  # generator name -> swept value
if ENT["generator"] is not None:
    for _value, (_name, _entry) in derived_generators(config["generators"], ENT).items():
        if config["generators"].setdefault(_name, _entry) != _entry:
            raise ConfigError(f"generators.{_name}: already configured; it names entanglement's value {_value}")
        ENT_SETTINGS[_name] = _value
        ENT_BASE[_name] = ENT["generator"]


def entanglement_inputs(wildcards):
    if not ENT_SETTINGS:
        raise ConfigError("entanglement.generator: set the generator whose argument the sweep varies")
    return [
        R(f"table2/{gen}/seed{seed}/columns/{method}.csv")
        for gen in ENT_SETTINGS
        for seed in ENT["seeds"] or T2["seeds"]
        for method in t2_methods_of(gen)
    ]


rule table2_entanglement:
    """Results/table2_entanglement.csv: the largest-column KL of every Table-2 method at each swept value,
    judged by entanglement.judge; and its plot."""
    input:
        entanglement_inputs,
    output:
        table=report(R("table2_entanglement.csv"), caption="../report/table2_entanglement.rst", category="Table 2"),
        plot=report(
            R("plots/table2_entanglement.png"), caption="../report/table2_entanglement.rst", category="Table 2"
        ),
    log:
        R("logs/table2_entanglement.log"),
    benchmark:
        R("benchmarks/table2_entanglement.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=ENT_SETTINGS,
        argument=ENT["argument"],
        judge=ENT["judge"],
    conda:
        ENV
    script:
        "../scripts/table2_entanglement.py"
