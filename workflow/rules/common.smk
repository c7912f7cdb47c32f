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
