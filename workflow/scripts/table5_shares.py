"""Snakemake glue: class shares for Table 5 (logic in eval.table5)."""

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.table5 import share_rows

    p = sm.params
    frame = share_rows(
        sm.wildcards.gen,
        p.generator,
        p.model,
        sm.wildcards.attr,
        sm.wildcards.method,
        n=p.table5["samples"],
        seed=p.table5["seed"],
        device=p.device,
        inn_path=sm.input[0] if sm.input else None,
        batch_size=p.table5["batch_size"],
    )
    frame.to_csv(sm.output[0], index=False)
