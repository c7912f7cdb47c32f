T3 = config["table3"]


rule table3_reference:
    """FID reference statistics of the dataset under the configured feature extractor."""
    input:
        R("world/dataset.pt"),
        weights=weight_inputs([T3["features_model"]], gen=False),
    output:
        R("table3/reference_stats.npz"),
    log:
        R("logs/table3_reference.log"),
    benchmark:
        R("benchmarks/table3_reference.tsv"),
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        features=lambda w: config["models"][T3["features_model"]],
        batch_size=T3["batch_size"],
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table3_reference.py"


rule table3_train:
    """Pose-conditioned INN over (α_x, α_y) with the pose and paired identity energies."""
    input:
        weights=weight_inputs([T3["pose_model"], T3["id_model"]]),
    output:
        R("table3/{gen}/inn.pt"),
    log:
        R("logs/table3_train/{gen}.log"),
    benchmark:
        R("benchmarks/table3_train/{gen}.tsv")
    priority: 1  # on the critical path: start before the evaluation jobs that fill the cores
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        models=config["models"],
        table3=T3,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table3_train.py"


rule table3_eval:
    """FID (G and G∘f), same-/different-ID distances and pose error for one generator."""
    input:
        inn=R("table3/{gen}/inn.pt"),
        reference=T3["reference_stats"] or R("table3/reference_stats.npz"),
        weights=weight_inputs([T3["features_model"], T3["id_model"]]),
    output:
        R("table3/{gen}/table3.csv"),
    log:
        R("logs/table3_eval/{gen}.log"),
    benchmark:
        R("benchmarks/table3_eval/{gen}.tsv"),
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        models=config["models"],
        table3=T3,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table3_eval.py"


rule table3:
    """Results/table3.csv with literature rows."""
    input:
        expand(R("table3/{gen}/table3.csv"), gen=T3["generators"]),
    output:
        table=report(R("table3.csv"), caption="../report/table3.rst", category="Table 3"),
        plot=report(R("plots/table3_fid_identity.png"), caption="../report/table3.rst", category="Table 3"),
    log:
        R("logs/table3.log"),
    benchmark:
        R("benchmarks/table3.tsv"),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/table3_aggregate.py"
