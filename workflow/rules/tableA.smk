TA = config["tableA"]


rule tableA_target:
    """Train an INN on one analytic target (G = identity) and estimate KL(q‖p) and log Z."""
    output:
        R("tableA/{target}.csv"),
    log:
        R("logs/tableA/{target}.log"),
    benchmark:
        R("benchmarks/tableA/{target}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=GPU,
    params:
        target=lambda w: TA["targets"][w.target],
        kl_samples=TA["kl_samples"],
        seed=TA["seed"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/tableA_target.py"


rule tableA:
    """Results/tableA.csv: INN fidelity on every analytic target."""
    input:
        expand(R("tableA/{target}.csv"), target=list(TA["targets"])),
    output:
        table=report(R("tableA.csv"), caption="../report/tableA.rst", category="Appendix A"),
        plot=report(R("plots/tableA_kl.png"), caption="../report/tableA.rst", category="Appendix A"),
    log:
        R("logs/tableA.log"),
    benchmark:
        R("benchmarks/tableA.tsv"),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        plot="inn_fidelity",  # eval.plots
    conda:
        ENV
    script:
        "../scripts/concat_csv.py"
