# Sample grids (eval.grids): each table's images, one column per seed under every method. Table 2's grid is
# an input of rule table2, so `snakemake results/table2.csv` draws it too; rule all asks for the others.
GRIDS = config["grids"]
T2_GRID_SEED = config["table2"]["seeds"][0]  # Table 2's grid shows the first reported seed


rule table2_grid:
    """Table 2's samples on the first reported seed: one row per requested combination, one column block per
    method of the generator, each sampled as the table evaluates it (its judged pool, its training stage)."""
    input:
        pool=lambda w: R(f"table2/{w.gen}/seed{T2_GRID_SEED}/pool.pt"),
        fits=lambda w: T2_PLAN.fits(w.gen, T2_GRID_SEED),
    output:
        report(R("plots/table2_samples_{gen}.png"), caption="../report/grids.rst", category="Table 2"),
    log:
        R("logs/table2_grid/{gen}.log"),
    benchmark:
        R("benchmarks/table2_grid/{gen}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table2=T2_EVAL,
        models=config["models"],
        grids=GRIDS,
        methods=lambda w: list(T2_PLAN.methods_of(w.gen)),
        seed=T2_GRID_SEED,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table2_grid.py"


rule table3_grid:
    """Table 3's samples: one identity per row across the pose grid."""
    input:
        R("table3/{gen}/inn.pt"),
    output:
        report(R("plots/table3_samples_{gen}.png"), caption="../report/grids.rst", category="Table 3"),
    log:
        R("logs/table3_grid/{gen}.log"),
    benchmark:
        R("benchmarks/table3_grid/{gen}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table3=config["table3"],
        grids=GRIDS,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table3_grid.py"


rule table4_grid:
    """Table 4's samples: per text, the generator, PPGM at each step count and PromptGen."""
    input:
        inns=lambda w: expand(
            R("table4/{gen}/text{text}/inn.pt"), gen=w.gen, text=range(len(config["table4"]["texts"]))
        ),
        scores=R("table4/{gen}/table4.csv"),  # PPGM's η chosen per text and step count
    output:
        report(R("plots/table4_samples_{gen}.png"), caption="../report/grids.rst", category="Table 4"),
    log:
        R("logs/table4_grid/{gen}.log"),
    benchmark:
        R("benchmarks/table4_grid/{gen}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        clip=lambda w: config["models"][config["table4"]["clip_model"]],
        table4=config["table4"],
        grids=GRIDS,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table4_grid.py"


rule table5_grid:
    """Table 5's samples: per attribute, before and after the moment constraint at each λ."""
    input:
        unpack(
            lambda w: {
                f"{attr}_lambda{lam}": R(f"table5/{w.gen}/{attr}/lambda{lam}/inn.pt")
                for attr in config["table5"]["attributes"]
                for lam in config["table5"]["lambdas"]
            }
        ),
    output:
        report(R("plots/table5_samples_{gen}.png"), caption="../report/grids.rst", category="Table 5"),
    log:
        R("logs/table5_grid/{gen}.log"),
    benchmark:
        R("benchmarks/table5_grid/{gen}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        table5=config["table5"],
        grids=GRIDS,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/table5_grid.py"


rule figure8_grid:
    """Fig. 8's samples: G, after the text INN, and after each gender de-biasing INN."""
    input:
        iter1=R("figure8/{gen}/iter1/inn.pt"),
        iter2=R("figure8/{gen}/iter2/inn.pt"),
        iter2_calibrated=R("figure8/{gen}/iter2_calibrated/inn.pt"),
        calibration=R("figure8/{gen}/iter2_calibrated/calibration.json"),
    output:
        report(R("plots/figure8_samples_{gen}.png"), caption="../report/grids.rst", category="Figure 8"),
    log:
        R("logs/figure8_grid/{gen}.log"),
    benchmark:
        R("benchmarks/figure8_grid/{gen}.tsv")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,
    params:
        generator=lambda w: generator_entry(w.gen),
        figure8=config["figure8"],
        grids=GRIDS,
        device=config["device"],
    conda:
        ENV
    script:
        "../scripts/figure8_grid.py"
