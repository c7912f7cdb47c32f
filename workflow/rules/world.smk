import os

WORLD_WEIGHTS = "weights/world"  # the shipped weights (sha256 in MANIFEST*.json)


rule world_dataset:
    """The embedded world's "real data": seeded renders with oracle labels and captions (FFHQ analog)."""
    output:
        R("world/dataset.pt"),
    log:
        R("logs/world_dataset.log"),
    benchmark:
        R("benchmarks/world_dataset.tsv"),
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        n=config["world"]["dataset_size"],
        seed=config["world"]["dataset_seed"],
        world_seed=config["world"]["seed"],
        curvature=config["world"]["curvature"],
    conda:
        ENV
    script:
        "../scripts/world_dataset.py"


rule world_metrics:
    """Every acceptance figure of the embedded world on the shipped weights (metric,value,threshold,pass)."""
    input:
        R("world/dataset.pt"),
    output:
        clip_vae=R("world/metrics-clip-vae.csv"),
        stylegan2=R("world/metrics-stylegan2.csv"),
        metrics=report(R("world/metrics.csv"), caption="../report/world.rst", category="World"),
    log:
        R("logs/world_metrics.log"),
    benchmark:
        R("benchmarks/world_metrics.tsv"),
    threads: 2  # the renderer-throughput row measures the whole CPU (both cores)
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        weights=WORLD_WEIGHTS,
        curvature=config["world"]["curvature"],
    conda:
        ENV
    shell:
        "(python -m promptgen.world.train_clip_vae --skip-training --train {input} --out {params.weights}"
        " --metrics {output.clip_vae} --threads {threads}"
        " && python -m promptgen.world.train_stylegan2 --skip-training --out {params.weights} --data {input}"
        " --vae-metrics {output.clip_vae} --metrics {output.stylegan2} --threads {threads}"
        " && python -m promptgen.world --threads {threads} metrics --weights {params.weights}"
        " --curvature {params.curvature} --out {output.metrics} --include {output.clip_vae}"
        " --include {output.stylegan2}) > {log} 2>&1"


rule world_retrain_models:
    """Retrain the six small world models (classifiers, pose, ID, FID features) from scratch."""
    input:
        R("world/dataset.pt"),
    output:
        R("world/retrained/MANIFEST.json"),
    log:
        R("logs/world_retrain_models.log"),
    benchmark:
        R("benchmarks/world_retrain_models.tsv")
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    conda:
        ENV
    shell:
        "python -m promptgen.world --threads {threads} train --out {params.out} > {log} 2>&1"


rule world_retrain_clip_vae:
    """Retrain the tiny CLIP or the VAE from scratch; the two run side by side (one core each)."""
    input:
        R("world/dataset.pt"),
    output:
        R("world/retrained/{model}/{file}.pt"),
    wildcard_constraints:
        model="clip|vae",
        file="world-tiny-clip|world-vae",
    log:
        R("logs/world_retrain_{model}_{file}.log"),
    benchmark:
        R("benchmarks/world_retrain_{model}_{file}.tsv")
    priority: 1  # the VAE is the longest job: start it first
    threads: 1
    resources:
        mem_mb=6000,
        runtime=lambda w: 180 if w.model == "vae" else 30,  # VAE ≈ 80 min at 1 thread on a slow machine
    params:
        out=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
    conda:
        ENV
    shell:
        "python -m promptgen.world.train_clip_vae --train {input} --out {params.out} --model {wildcards.model}"
        " --no-evaluate --threads {threads} > {log} 2>&1"


rule world_retrain_stylegan2:
    """Retrain the world StyleGAN2 from scratch on fresh renders (two threads; its time row goes to the
    retrained folder's benchmark CSV)."""
    output:
        R("world/retrained/stylegan2/world-stylegan2.pt"),
    log:
        R("logs/world_retrain_stylegan2.log"),
    benchmark:
        R("benchmarks/world_retrain_stylegan2.tsv")
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        out=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
    conda:
        ENV
    shell:
        "python -m promptgen.world.train_stylegan2 --out {params.out} --threads {threads}"
        " --benchmark {params.out}/stylegan2_train.csv > {log} 2>&1"


rule world_retrain:
    """Every acceptance figure on the models retrained from scratch into results/world/retrained (the
    shipped ones stay); the training jobs above run in parallel."""
    input:
        data=R("world/dataset.pt"),
        models=R("world/retrained/MANIFEST.json"),
        clip=R("world/retrained/clip/world-tiny-clip.pt"),
        vae=R("world/retrained/vae/world-vae.pt"),
        stylegan2=R("world/retrained/stylegan2/world-stylegan2.pt"),
    output:
        R("world/retrained/metrics.csv"),
    log:
        R("logs/world_retrain.log"),
    benchmark:
        R("benchmarks/world_retrain.tsv")
    threads: 2  # as world_metrics
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        out=lambda w, output: os.path.dirname(output[0]),
        curvature=config["world"]["curvature"],
    conda:
        ENV
    shell:
        "(python -m promptgen.world.train_clip_vae --skip-training --train {input.data} --out {params.out}"
        " --metrics {params.out}/metrics-clip-vae.csv --threads {threads}"
        " && python -m promptgen.world.train_stylegan2 --skip-training --out {params.out} --data {input.data}"
        " --vae-metrics {params.out}/metrics-clip-vae.csv --metrics {params.out}/metrics-stylegan2.csv"
        " --threads {threads}"
        " && python -m promptgen.world --threads {threads} metrics --weights {params.out}"
        " --curvature {params.curvature} --out {output} --include {params.out}/metrics-clip-vae.csv"
        " --include {params.out}/metrics-stylegan2.csv) > {log} 2>&1"
