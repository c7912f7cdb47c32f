# The tables rule all draws; results/summary.md lists whichever of them the rule takes.
SUMMARY_TABLES = ["table2", "table3", "table4", "table5", "figure8", "tableA"]


rule summary:
    """Results/summary.md: every table beside the paper's numbers, the commit, the machine (CPU model, cores,
    calibration figure) and the wall time of each table's jobs."""
    input:
        **{name: R(f"{name}.csv") for name in SUMMARY_TABLES},
    output:
        report(R("summary.md"), caption="../report/summary.rst", category="Summary"),
    log:
        R("logs/summary.log"),
    benchmark:
        R("benchmarks/summary.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        benchmarks=R("benchmarks"),
    conda:
        ENV
    script:
        "../scripts/summary.py"
