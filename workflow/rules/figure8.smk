F8 = config["figure8"]


rule figure8_text:
    """Iteration 1: INN f₁ for the CLIP text control on G."""
    input:
        weights=weight_inputs([F8["clip_model"], F8["gender_model"]]),
    output:
        R("figure8/{gen}/iter1/inn.pt"),
    log:
        R("logs/figure8/{gen}_iter1.log"),
    benchmark:
        R("benchmarks/figure8/{gen}_iter1.tsv")
    priority: 2  # the longest chain of dependent jobs (iteration 1, fit, iteration 2, calibration): first
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        clip=lambda w: config["models"][F8["clip_model"]],
        figure8=F8,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_text.py"


rule figure8_fit:
    """β̂ for uniform gender shares on the composed generator G∘f₁."""
    input:
        R("figure8/{gen}/iter1/inn.pt"),
    output:
        R("figure8/{gen}/iter2/beta.json"),
    log:
        R("logs/figure8/{gen}_fit.log"),
    benchmark:
        R("benchmarks/figure8/{gen}_fit.tsv"),
    priority: 2  # the longest chain of dependent jobs (iteration 1, fit, iteration 2, calibration): first
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][F8["gender_model"]],
        figure8=F8,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_fit.py"


rule figure8_debias:
    """Iteration 2: INN f₂ with the gender moment constraint (weight λ) on G∘f₁."""
    input:
        inn=R("figure8/{gen}/iter1/inn.pt"),
        beta=R("figure8/{gen}/iter2/beta.json"),
    output:
        R("figure8/{gen}/iter2/inn.pt"),
    log:
        R("logs/figure8/{gen}_iter2.log"),
    benchmark:
        R("benchmarks/figure8/{gen}_iter2.tsv")
    priority: 2  # the longest chain of dependent jobs (iteration 1, fit, iteration 2, calibration): first
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][F8["gender_model"]],
        figure8=F8,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_debias.py"


rule figure8_calibrate:
    """Iteration 2 again, at the λ whose trained INN meets the gender moment constraint (a few trials)."""
    input:
        inn=R("figure8/{gen}/iter1/inn.pt"),
        beta=R("figure8/{gen}/iter2/beta.json"),
    output:
        inn=R("figure8/{gen}/iter2_calibrated/inn.pt"),
        calibration=R("figure8/{gen}/iter2_calibrated/calibration.json"),
    log:
        R("logs/figure8/{gen}_calibrate.log"),
    benchmark:
        R("benchmarks/figure8/{gen}_calibrate.tsv")
    priority: 2  # the longest chain of dependent jobs (iteration 1, fit, iteration 2, calibration): first
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][F8["gender_model"]],
        figure8=F8,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_calibrate.py"


rule figure8_shares:
    """Gender shares of G, G∘f₁ and (G∘f₁)∘f₂, by the classifier and the oracle."""
    input:
        iter1=R("figure8/{gen}/iter1/inn.pt"),
        iter2=R("figure8/{gen}/iter2/inn.pt"),
        iter2_calibrated=R("figure8/{gen}/iter2_calibrated/inn.pt"),
        calibration=R("figure8/{gen}/iter2_calibrated/calibration.json"),
    output:
        R("figure8/{gen}/shares.csv"),
    log:
        R("logs/figure8/{gen}_shares.log"),
    benchmark:
        R("benchmarks/figure8/{gen}_shares.tsv"),
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        model=lambda w: config["models"][F8["gender_model"]],
        figure8=F8,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_shares.py"


rule figure8:
    """Results/figure8.csv: gender shares before and after each iteration."""
    input:
        expand(R("figure8/{gen}/shares.csv"), gen=F8["generators"]),
    output:
        table=report(R("figure8.csv"), caption="../report/figure8.rst", category="Figure 8"),
        plot=report(R("plots/figure8_shares.png"), caption="../report/figure8.rst", category="Figure 8"),
    log:
        R("logs/figure8.log"),
    benchmark:
        R("benchmarks/figure8.tsv"),
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
