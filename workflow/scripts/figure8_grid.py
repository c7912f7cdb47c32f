"""Snakemake glue: draw Fig. 8's sample grid (logic in eval.grids)."""

import json

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    from eval.grids import draw_iterations, figure8_stages

    p = sm.params
    calibrated = json.loads(open(sm.input.calibration).read())["lambda"]
    i = sm.input
    stages = figure8_stages(i.iter1, i.iter2, i.iter2_calibrated, p.figure8["lambda"], calibrated)
    draw_iterations(p.generator, stages, p.grids, sm.output[0], p.device)
