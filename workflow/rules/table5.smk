from eval.specs import generator_section

T5 = config["table5"]
# Share evaluation needs no per-generator training settings (see table2.smk); a misspelt name fails here.
T5_EVAL = generator_section(T5, "", "table5")


rule table5_fit:
    """β̂ of the moment constraint (Eq. 7) for uniform shares of one categorical attribute."""
    input:
        weights=weight_inputs([T5["model"]]),
    output:
        R("table5/{gen}/{attr}/beta.json"),
    log:
        R("logs/table5_fit/{gen}_{attr}.log"),
    benchmark:
        R("benchmarks/table5_fit/{gen}_{attr}.tsv")
    priority: 1  # on the critical path: start before the evaluation jobs that fill the cores
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][T5["model"]],
        moment=T5["moment"],
        seed=T5["seed"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table5_fit.py"


rule table5_train:
    """One INN per λ with energy −λ β̂·γ(x)."""
    input:
        R("table5/{gen}/{attr}/beta.json"),
    output:
        R("table5/{gen}/{attr}/lambda{lam}/inn.pt"),
    log:
        R("logs/table5_train/{gen}_{attr}_lambda{lam}.log"),
    benchmark:
        R("benchmarks/table5_train/{gen}_{attr}_lambda{lam}.tsv")
    priority: 1  # on the critical path: start before the evaluation jobs that fill the cores
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][T5["model"]],
        table5=lambda w: generator_section(T5, w.gen, "table5"),
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table5_train.py"


rule table5_shares:
    """Class shares and KL to uniform of G (method 'unmodified') or of G∘f at one λ."""
    input:
        lambda w: [] if w.method == "unmodified" else [R(f"table5/{w.gen}/{w.attr}/{w.method}/inn.pt")],
    output:
        R("table5/{gen}/{attr}/{method}.csv"),
    log:
        R("logs/table5_shares/{gen}_{attr}_{method}.log"),
    benchmark:
        R("benchmarks/table5_shares/{gen}_{attr}_{method}.tsv"),
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    wildcard_constraints:
        method=r"unmodified|lambda[0-9.]+",
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][T5["model"]],
        table5=T5_EVAL,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table5_shares.py"


rule table5:
    """Results/table5.csv: shares before/after the moment constraint, per λ."""
    input:
        expand(
            R("table5/{gen}/{attr}/{method}.csv"),
            gen=T5["generators"],
            attr=T5["attributes"],
            method=["unmodified"] + [f"lambda{lam}" for lam in T5["lambdas"]],
        ),
    output:
        table=report(R("table5.csv"), caption="../report/table5.rst", category="Table 5"),
        plot=report(R("plots/table5_shares.png"), caption="../report/table5.rst", category="Table 5"),
    log:
        R("logs/table5.log"),
    benchmark:
        R("benchmarks/table5.tsv"),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        plot="share_bars",  # eval.plots
    conda:
        ENV
    script:
        "../scripts/concat_csv.py"
