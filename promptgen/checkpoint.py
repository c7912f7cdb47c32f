"""INN checkpoints: weights + metadata only (never the frozen generator or control models)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import torch

from promptgen import __version__
from promptgen.flows import INN

__all__ = [
    "FORMAT",
    "atomic_save",
    "code_version",
    "config_hash",
    "create_temporary",
    "fsync_dir",
    "load_inn",
    "remove_temporaries",
    "save_inn",
    "state_fingerprint",
]

FORMAT = "promptgen-inn/1"


def config_hash(obj: Any) -> str:
    """A stable short hash of a JSON-able config."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def state_fingerprint(module: torch.nn.Module) -> str:
    """A short sha256 of a module's state dict (names, dtypes, shapes and bytes of every tensor).

    Two generators with the same config entry but other weights (a retrained checkpoint at the same path)
    get different fingerprints; the same weights loaded in another process get the same one.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def code_version() -> str:
    """Package version plus the git commit of the source tree when available."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


TMP_SUFFIX = ".tmp"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file of a unique name, fsync it, then rename it over ``path``.

    A kill at any point leaves either the old file or the new one, never a torn one; two writers of the
    same path never share a temporary file. A kill -9 mid-write can leave ``<name>.<random>.tmp`` behind
    (:func:`remove_temporaries` clears them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def create_temporary(path: Path) -> tuple[int, Path]:
    """Create ``<name>.<random>.tmp`` beside ``path``, exclusively, with the mode a new file gets (umask);
    returns its descriptor (open for writing) and path."""
    while True:
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def fsync_dir(folder: str | Path) -> None:
    """fsync a folder, so that a rename or a new file in it survives a power loss (no-op if unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temporaries(folder: str | Path, names: tuple[str, ...]) -> None:
    """Delete the temporary files :func:`atomic_save` left in ``folder`` for the files ``names``.

    Only safe while no other process writes the folder (hold :func:`promptgen.lock.lock_folder`).
    """
    folder = Path(folder)
    for name in names:
        for tmp in folder.glob(f"{name}.*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)


def save_inn(inn: INN, path: str | Path, metadata: dict[str, Any]) -> None:
    """Save INN weights, its architecture config and metadata (generator entry, control, seed, ...)."""
    state = {k: v.detach().cpu() for k, v in inn.state_dict().items()}
    atomic_save(
        {"format": FORMAT, "inn_config": dict(inn.config), "state_dict": state, "metadata": metadata}, path
    )


def load_inn(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[INN, dict[str, Any]]:
    """Load an INN checkpoint; errors are one-line :class:`CheckpointError` messages naming the file."""
    from promptgen.models.common import CheckpointError, describe_load_error

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint: INN checkpoint {path} not found (train it with `promptgen train`)"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"checkpoint: INN checkpoint {path}: {describe_load_error(err)}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint: {path} is not a {FORMAT} file (an INN written by `promptgen train`)"
        )
    try:
        inn = INN.from_config(ckpt["inn_config"])
        inn.load_state_dict(ckpt["state_dict"])
    except Exception as err:  # noqa: BLE001 - a damaged or hand-edited file
        reason = describe_load_error(err)
        raise CheckpointError(
            f"checkpoint: {path}: inn_config or state_dict does not fit ({reason})"
        ) from err
    return inn.to(map_location), ckpt.get("metadata", {})
