import functools
import os
import shutil

from promptgen.download import sha256_file

RESULTS = config["results"]
# Software environment of every rule (the same pins as pyproject.toml); used with --sdm conda.
ENV = "../../environment.yml"
# gpu = 1 for training and sampling jobs when the configured device is (or resolves to) CUDA.
GPU = int(
    config["device"].startswith("cuda")
    or (config["device"] == "auto" and shutil.which("nvidia-smi") is not None)
)


def R(path):
    """A path under the configured results directory."""
    return f"{RESULTS}/{path}"


_sha256 = functools.cache(sha256_file)  # one read per checkpoint and Snakemake process


def generator_entry(name):
    """config["generators"][name], plus the sha256 of its checkpoint file when one is on disk.

    Jobs take the entry as a param and Snakemake re-runs a job whose params changed, so replacing a
    generator's checkpoint (a retrained VAE, another StyleGAN2 pickle at the same path) re-runs every
    job that used it and nothing else.
    """
    entry = config["generators"][name]
    path = entry["generator"].get("checkpoint")
    if isinstance(path, str) and os.path.isfile(path):
        return {**entry, "checkpoint_sha256": _sha256(path)}
    return entry
