"""Metrics, table builders and plots for PromptGen Bench (importable without Snakemake).

Flat modules named by role: ``metric_kl`` (attribute KL to uniform), ``metric_fid`` (Fréchet distance on
any feature extractor, via clean-fid), ``metric_identity`` (same-/different-identity distances),
``metric_pose`` (requested-vs-measured pose error), ``literature`` (rows copied from papers, with source).
"""

__all__: list[str] = []
