"""Snakemake glue: gender shares of G, G∘f₁ and (G∘f₁)∘f₂ (logic in eval.table5)."""

import json

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.figure8 import composed_entry
    from eval.table5 import share_rows

    p = sm.params
    f8 = p.figure8
    kw = {"n": f8["samples"], "seed": f8["seed"], "device": p.device, "batch_size": f8["batch_size"]}
    head, gen = f8["gender_head"], sm.wildcards.gen
    with open(sm.input.calibration) as f:
        calibrated = json.load(f)["lambda"]
    frames = [
        share_rows(gen, p.generator, p.model, head, "unmodified", **kw).assign(iteration=0),
        share_rows(gen, p.generator, p.model, head, "iter1_text", inn_path=sm.input.iter1, **kw).assign(
            iteration=1
        ),
        *(
            share_rows(
                gen, composed_entry(p.generator, sm.input.iter1), p.model, head, method, inn_path=inn, **kw
            ).assign(iteration=2, weight=lam)
            for method, inn, lam in (
                ("iter2_debias", sm.input.iter2, f8["lambda"]),
                ("iter2_calibrated", sm.input.iter2_calibrated, calibrated),
            )
        ),
    ]
    pd.concat(frames, ignore_index=True).assign(text=f8["text"]).to_csv(sm.output[0], index=False)
