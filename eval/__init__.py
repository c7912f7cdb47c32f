"""Metrics, table builders and plots for PromptGen Bench (importable without Snakemake).

Flat modules named by role: ``metric_kl`` (attribute KL to uniform and its noise floor), ``metric_fid``
(Fréchet distance on any feature extractor, via clean-fid), ``metric_identity`` (same-/different-identity
distances), ``debias`` (Table 2's methods and judges), ``table2`` … ``tableA`` and ``figure8`` (one table
each), ``literature`` (rows copied from papers, with their source), ``plots`` (charts), ``grids`` (sample
grids), ``summary`` (the generated results page).
"""

__all__: list[str] = []
