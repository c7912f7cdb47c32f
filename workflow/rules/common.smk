import functools
import hashlib
import os
import shutil

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


@functools.cache
def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
