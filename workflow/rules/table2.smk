from eval.specs import generator_section

T2 = config["table2"]
# Evaluation needs no training settings: without generator_train, an override re-runs only the trainings
# (and, through their INNs, the PromptGen rows). A misspelt generator_train name fails here, at parse time.
T2_EVAL = generator_section(T2, "", "table2")
T2_METHODS = ["unmodified", "direction", "resample", "promptgen"]


wildcard_constraints:
    seed=r"\d+",


rule table2_train:
    """One conditional INN per (generator, seed): classifier energy on every attribute combination."""
    output:
        R("table2/{gen}/seed{seed}/inn.pt"),
    log:
        R("logs/table2_train/{gen}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_train/{gen}_seed{seed}.tsv")
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
        "../scripts/table2_train.py"


rule table2_baselines:
    """Unmodified, latent-direction and importance-resampling rows of one generator and seed, from one pool of
    prior samples rendered once and judged by every classifier (and the oracle)."""
    output:
        unmodified=R("table2/{gen}/seed{seed}/unmodified.csv"),
        direction=R("table2/{gen}/seed{seed}/direction.csv"),
        resample=R("table2/{gen}/seed{seed}/resample.csv"),
    log:
        R("logs/table2_baselines/{gen}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_baselines/{gen}_seed{seed}.tsv")
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
        "../scripts/table2_baselines.py"


rule table2_promptgen:
    """PromptGen's rows of one generator and seed: samples of its conditional INN, judged by every classifier
    (and the oracle)."""
    input:
        R("table2/{gen}/seed{seed}/inn.pt"),
    output:
        R("table2/{gen}/seed{seed}/promptgen.csv"),
    log:
        R("logs/table2_promptgen/{gen}_seed{seed}.log"),
    benchmark:
        R("benchmarks/table2_promptgen/{gen}_seed{seed}.tsv")
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
        "../scripts/table2_promptgen.py"


rule table2:
    """Results/table2.csv: mean and std over seeds, the noise floor, literature rows; and its plot."""
    input:
        expand(
            R("table2/{gen}/seed{seed}/{method}.csv"),
            gen=T2["generators"],
            seed=T2["seeds"],
            method=T2_METHODS,
        ),
        # Sample grids (workflow/rules/grids.smk): drawn whenever the table is; the script reads only the CSVs.
        samples=expand(R("plots/table2_samples_{gen}.png"), gen=T2["generators"]),
    output:
        table=report(R("table2.csv"), caption="../report/table2.rst", category="Table 2"),
        plot=report(R("plots/table2_kl.png"), caption="../report/table2_plot.rst", category="Table 2"),
    log:
        R("logs/table2.log"),
    benchmark:
        R("benchmarks/table2.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/table2_aggregate.py"
