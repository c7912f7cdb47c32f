import functools

from eval.specs import generator_section
from eval.table2 import method_names
from promptgen.methods import build_method, check_needs, generator_provides

T2 = config["table2"]
# Evaluation needs no training settings: without generator_train, an override re-runs only the trainings
# (and, through their states, the methods' rows). A misspelt generator_train name fails here, at parse time.
T2_EVAL = generator_section(T2, "", "table2")


@functools.cache
def t2_methods_of(gen):
    """{method: built method} of one generator; a method whose needs the generator lacks fails in one line.

    Any configured generator works (the entanglement sweep's derived ones run the methods of their base).
    """
    if gen not in config["generators"]:
        raise ValueError(f"table2.generators: {gen!r} is not a key of generators")
    provides = generator_provides(config["generators"][gen])
    base = ENT_BASE.get(gen, gen)
    out = {}
    for name in method_names(T2, base):
        method = build_method(T2["methods"][name], f"table2.methods.{name}")
        check_needs(name, method, gen, provides)
        out[name] = method
    return out


ENT_BASE = {}  # derived generator name -> the generator it was derived from (filled by entanglement.smk)
_extra = sorted(set(T2["generator_methods"]) - set(T2["generators"]))
if _extra:
    raise ValueError(f"table2.generator_methods: {_extra} not in table2.generators {T2['generators']}")
T2_METHODS = {gen: t2_methods_of(gen) for gen in T2["generators"]}
if set(T2["seeds"]) & set(T2["tuning_seeds"]):
    raise ValueError(
        f"table2.seeds {T2['seeds']} and table2.tuning_seeds {T2['tuning_seeds']} overlap: reported seeds must "
        "not be the ones settings were chosen on"
    )


def t2_method_csvs(seeds, task, suffix="csv"):
    """Every (generator, method, seed) CSV of one task (``columns`` or ``joint``)."""
    return [
        R(f"table2/{gen}/seed{seed}/{task}/{method}.{suffix}")
        for gen, methods in T2_METHODS.items()
        for method in methods
        for seed in seeds
    ]


def t2_state(w):
    """A method's training status file (its training job's output), or nothing for a method without one."""
    if t2_methods_of(w.gen)[w.method].trains:
        return R(f"table2/{w.gen}/seed{w.seed}/fit/{w.method}/status.json")
    return []


wildcard_constraints:
    seed=r"\d+",
    method=r"[A-Za-z0-9_\-]+",
    task=r"columns|joint",


rule table2_pool:
    """The prior pool of one generator and seed, rendered once and judged by every classifier (and the
    oracle); the control classifier's log-probabilities are kept for the methods that use the pool."""
    output:
        R("table2/{gen}/seed{seed}/pool.pt"),
    log:
        R("logs/table2_pool/{gen}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_pool/{gen}_seed{seed}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table2=T2_EVAL,
        models=config["models"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table2_pool.py"


rule table2_fit:
    """A method's training stage on one generator and seed (PromptGen: one conditional INN over partial
    specifications serving every column and the joint task); a failure is recorded, not raised."""
    input:
        pool=R("table2/{gen}/seed{seed}/pool.pt"),
    output:
        R("table2/{gen}/seed{seed}/fit/{method}/status.json"),
    log:
        R("logs/table2_fit/{gen}_{method}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_fit/{gen}_{method}_seed{seed}.tsv")
    priority: 1  # on the critical path: start before the evaluation jobs that fill the cores
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table2=lambda w: generator_section(T2, w.gen, "table2"),
        models=config["models"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table2_fit.py"


rule table2_method:
    """One method's rows on one generator and seed: the columns task (the paper's protocol) or the joint
    task; its per-combination counts, accuracies and effective sample sizes beside them."""
    input:
        pool=R("table2/{gen}/seed{seed}/pool.pt"),
        state=t2_state,
    output:
        rows=R("table2/{gen}/seed{seed}/{task}/{method}.csv"),
        combos=R("table2/{gen}/seed{seed}/{task}/{method}.combinations.csv"),
    log:
        R("logs/table2_method/{gen}_{task}_{method}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_method/{gen}_{task}_{method}_seed{seed}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table2=T2_EVAL,
        models=config["models"],
        device=config["device"],
        method_entry=lambda w: T2["methods"][w.method],
    conda:
        ENV
    script:
        "../scripts/table2_method.py"


rule table2:
    """Results/table2.csv (the paper's protocol): mean and std over the reported seeds, accuracy beside each
    KL, the i.i.d. reference KL, literature rows; the per-combination table; and the plot."""
    input:
        rows=t2_method_csvs(T2["seeds"], "columns"),
        combos=t2_method_csvs(T2["seeds"], "columns", "combinations.csv"),
    output:
        table=report(R("table2.csv"), caption="../report/table2.rst", category="Table 2"),
        combos=R("table2_combinations.csv"),
        plot=report(R("plots/table2_kl.png"), caption="../report/table2_plot.rst", category="Table 2"),
    log:
        R("logs/table2.log"),
    benchmark:
        R("benchmarks/table2.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        literature=True,
        joint_classes=None,
    conda:
        ENV
    script:
        "../scripts/table2_aggregate.py"


rule table2_joint:
    """Results/table2_joint.csv (our extension): every combination of all attributes at once, from the same
    trained states; the six columns and the joint KL on that one sample."""
    input:
        rows=t2_method_csvs(T2["seeds"], "joint"),
        combos=t2_method_csvs(T2["seeds"], "joint", "combinations.csv"),
    output:
        table=report(R("table2_joint.csv"), caption="../report/table2_joint.rst", category="Table 2"),
        combos=R("table2_joint_combinations.csv"),
        plot=R("plots/table2_joint_kl.png"),
    log:
        R("logs/table2_joint.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        literature=False,
        joint_classes=2 ** len(T2["attributes"]),
    conda:
        ENV
    script:
        "../scripts/table2_aggregate.py"


rule table2_tuning:
    """Results/table2_tuning.csv: the columns task on the tuning seeds, where hyper-parameters are chosen
    (never reported in table2.csv)."""
    input:
        rows=t2_method_csvs(T2["tuning_seeds"], "columns"),
        combos=t2_method_csvs(T2["tuning_seeds"], "columns", "combinations.csv"),
    output:
        table=R("table2_tuning.csv"),
        combos=R("table2_tuning_combinations.csv"),
        plot=R("plots/table2_tuning_kl.png"),
    log:
        R("logs/table2_tuning.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        literature=False,
        joint_classes=None,
    conda:
        ENV
    script:
        "../scripts/table2_aggregate.py"
