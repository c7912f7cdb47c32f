import functools
import os
import shutil

from snakemake.exceptions import WorkflowError

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


def _entry_files(entry):
    """Weight files named by a model or generator entry (checkpoint(s), a pretrained path, a model config)."""
    files = [entry[k] for k in ("checkpoint", "model_config") if isinstance(entry.get(k), str)]
    pretrained = entry.get("pretrained")
    if isinstance(pretrained, str) and (os.path.dirname(pretrained) or pretrained.endswith((".pt", ".bin"))):
        files.append(pretrained)  # a path; a tag such as `openai` is open_clip's cache
    checkpoints = entry.get("checkpoints")
    if isinstance(checkpoints, dict):
        files.extend(p for p in checkpoints.values() if isinstance(p, str))
    return files


def _configured_weights():
    files = [f for e in config["models"].values() for f in _entry_files(e)]
    files += [f for g in config["generators"].values() for f in _entry_files(g["generator"])]
    reference = config.get("table3", {}).get("reference_stats")
    return list(dict.fromkeys(files + ([reference] if reference else [])))


def weight_inputs(roles, gen=True):
    """Input function: the weight files of the model ``roles`` (keys of config["models"]) and, with ``gen``,
    of the generator ``{gen}``. When any is absent, fails at DAG time (dry runs too) with one message naming
    every configured weight file that is absent and how to fetch them."""

    def inputs(wildcards):
        files = [f for r in roles for f in _entry_files(config["models"][r])]
        if gen:
            files += _entry_files(config["generators"][wildcards.gen]["generator"])
        if not all(os.path.isfile(f) for f in files):
            absent = [f for f in _configured_weights() if not os.path.isfile(f)]
            raise WorkflowError(
                f"{len(absent)} weight file(s) missing: {', '.join(absent)}; fetch them with `promptgen "
                "download` (`promptgen download --check` lists each with its source; docs/paper-world.md)"
            )
        return files

    return inputs
