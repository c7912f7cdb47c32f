T4 = config["table4"]


rule table4_train:
    """PromptGen INN for the CLIP energy of one text (same EBM and λ as PPGM)."""
    input:
        weights=weight_inputs([T4["clip_model"]]),
    output:
        R("table4/{gen}/text{text}/inn.pt"),
    log:
        R("logs/table4_train/{gen}_text{text}.log"),
    benchmark:
        R("benchmarks/table4_train/{gen}_text{text}.tsv")
    priority: 2  # before the other trainings: table4_eval (minutes of timing) waits for all three
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        clip=lambda w: config["models"][T4["clip_model"]],
        text=lambda w: T4["texts"][int(w.text)],
        table4=T4,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table4_train.py"


rule table4_eval:
    """PromptGen vs PPGM (n = 10, 50) vs the bare generator: CLIP energy and seconds per sample, one process."""
    input:
        inns=lambda w: expand(R("table4/{gen}/text{text}/inn.pt"), gen=w.gen, text=range(len(T4["texts"]))),
        weights=weight_inputs([T4["clip_model"]]),
    output:
        R("table4/{gen}/table4.csv"),
    log:
        R("logs/table4_eval/{gen}.log"),
    benchmark:
        R("benchmarks/table4_eval/{gen}.tsv")
    priority: 2  # minutes of timing in one job: in a run of every table it was the last job, alone
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        clip=lambda w: config["models"][T4["clip_model"]],
        table4=T4,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table4_eval.py"


rule table4:
    """Results/table4.csv with literature rows, and the energy-latency plot."""
    input:
        expand(R("table4/{gen}/table4.csv"), gen=T4["generators"]),
    output:
        table=report(R("table4.csv"), caption="../report/table4.rst", category="Table 4"),
        plot=report(R("plots/table4_energy_latency.png"), caption="../report/table4.rst", category="Table 4"),
    log:
        R("logs/table4.log"),
    benchmark:
        R("benchmarks/table4.tsv"),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/table4_aggregate.py"
