"""Baselines on the same EBM as PromptGen: PPGM Langevin dynamics, self-normalised importance
resampling (the exact reference as the pool grows), and latent-direction editing (InterFaceGAN-style)."""

from promptgen.baselines.direction import LatentDirection, balance_along_directions, fit_direction
from promptgen.baselines.langevin import LangevinResult, langevin
from promptgen.baselines.resample import ResampleResult, importance_resample, resample_from_log_weights

__all__ = [
    "LangevinResult",
    "LatentDirection",
    "ResampleResult",
    "balance_along_directions",
    "fit_direction",
    "importance_resample",
    "langevin",
    "resample_from_log_weights",
]
