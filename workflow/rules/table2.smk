from eval.specs import evaluation_section, generator_section, method_section
from eval.table2_plan import Table2Plan

T2 = config["table2"]
# Evaluation jobs see no training settings: changing them re-runs the trainings and, through their outputs,
# the rows that use them. A misspelt generator_train name fails here, at parse time.
T2_EVAL = evaluation_section(T2, "table2", ("train", "inn", "class_weights", "group_weights"))
# A pool, fit or row job sees its own method's entry only: changing one method re-runs that method's jobs.
T2_POOL = method_section(T2_EVAL, None)
# Every generator's methods, built and checked against what the generator provides, at parse time.
T2_PLAN = Table2Plan(config, R)


wildcard_constraints:
    seed=r"\d+",
    method=r"[A-Za-z0-9_\-]+",
    task=r"columns|joint",


rule table2_pool:
    """The prior pool of one generator and seed, rendered once and judged by every classifier (and the
    oracle); the control classifier's log-probabilities are kept for the methods that use the pool."""
    input:
        weights=weight_inputs(list(dict.fromkeys([T2["control_model"], *T2["judges"]]))),
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
        table2=T2_POOL,
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
        table2=lambda w: method_section(generator_section(T2, w.gen, "table2"), w.method),
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
        state=T2_PLAN.state,
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
        table2=lambda w: method_section(T2_EVAL, w.method),
        models=config["models"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table2_method.py"


rule table2:
    """Results/table2.csv (the paper's protocol): mean and std over the reported seeds, accuracy beside each
    KL, the i.i.d. reference KL, literature rows; the per-combination table; and the plot."""
    input:
        rows=T2_PLAN.csvs(T2["seeds"], "columns"),
        combos=T2_PLAN.csvs(T2["seeds"], "columns", "combinations.csv"),
        # Sample grids (workflow/rules/grids.smk): drawn whenever the table is; the script reads only the CSVs.
        samples=expand(R("plots/table2_samples_{gen}.png"), gen=T2["generators"]),
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
        rows=T2_PLAN.csvs(T2["seeds"], "joint"),
        combos=T2_PLAN.csvs(T2["seeds"], "joint", "combinations.csv"),
    output:
        table=report(R("table2_joint.csv"), caption="../report/table2_joint.rst", category="Table 2"),
        combos=R("table2_joint_combinations.csv"),
        plot=R("plots/table2_joint_kl.png"),
    log:
        R("logs/table2_joint.log"),
    benchmark:
        R("benchmarks/table2_joint.tsv")
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
        rows=T2_PLAN.csvs(T2["tuning_seeds"], "columns"),
        combos=T2_PLAN.csvs(T2["tuning_seeds"], "columns", "combinations.csv"),
    output:
        table=R("table2_tuning.csv"),
        combos=R("table2_tuning_combinations.csv"),
        plot=R("plots/table2_tuning_kl.png"),
    log:
        R("logs/table2_tuning.log"),
    benchmark:
        R("benchmarks/table2_tuning.tsv")
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
