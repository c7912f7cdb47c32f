"""Snakemake glue: one App.-A analytic target (logic in eval.tableA)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.tableA import run_target

    t = sm.params.target
    spec = {
        "generator": {"kind": "identity", "latent_dim": t["dim"]},
        "device": sm.params.device,
        "inn": {**t["inn"], "seed": sm.params.seed},
        "energies": {"target": t["energy"]},
        "train": {**t["train"], "seed": sm.params.seed},
    }
    out = Path(sm.output[0])
    row = run_target(
        sm.wildcards.target, spec, out.parent / sm.wildcards.target, sm.params.kl_samples, sm.params.seed
    )
    row.to_csv(out, index=False)
