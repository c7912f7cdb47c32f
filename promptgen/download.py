"""Fetch the paper world's checkpoints listed in a manifest (``config/weights.yaml``), with resume and sha256.

Each entry names a published URL, a sha256 (``null`` where none is published — never guessed) and the path
the configs expect. A download goes to ``<path>.part`` and resumes it with an HTTP ``Range`` request; the
file is moved into place only after its sha256 matches. Offline, or with ``check_weights``, nothing is
fetched and :func:`missing_report` gives one message listing every missing file, where to get it and where
to put it. Nothing here runs inside the pipeline or the library's loaders: weights are never fetched silently.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import torch
import yaml

from promptgen.registry import ConfigError

__all__ = [
    "DownloadError",
    "WeightEntry",
    "download_entry",
    "download_file",
    "load_manifest",
    "missing",
    "missing_report",
    "select",
    "sha256_file",
]

CHUNK = 1 << 20
TIMEOUT_S = 60.0
USER_AGENT = "promptgen-bench-download"
HTTP_PARTIAL, HTTP_RANGE_NOT_SATISFIABLE = 206, 416
JIT_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")  # OpenAI CLIP archive attributes


class DownloadError(RuntimeError):
    """A download failed verification; the one-line message names the URL, the file and what was expected."""


@dataclass(frozen=True)
class WeightEntry:
    """One checkpoint of the manifest (paths relative to the repository root)."""

    name: str
    url: str
    path: str
    sha256: str | None = None
    used_by: str = ""
    optional: bool = False
    unpack: str | None = None
    provides: tuple[str, ...] = field(default_factory=tuple)
    convert: dict | None = None

    def outputs(self) -> tuple[str, ...]:
        """The files that must exist for this entry to count as present."""
        return self.provides or (self.path,)


def load_manifest(path: str | Path) -> list[WeightEntry]:
    """Read the ``weights:`` list of a manifest; errors name the file and the offending entry."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"manifest: {path} not found (expected config/weights.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    entries = []
    for i, raw in enumerate(data.get("weights") or []):
        try:
            raw = {**raw, "provides": tuple(raw.get("provides") or ())}
            entries.append(WeightEntry(**raw))
        except TypeError as err:
            raise ConfigError(f"{path}: weights[{i}]: {err}") from err
    return entries


def select(
    entries: Sequence[WeightEntry], names: Iterable[str] = (), everything: bool = False
) -> list[WeightEntry]:
    """Entries named in ``names`` (optional ones too), else the required ones (all with ``everything``)."""
    names = list(names)
    known = {e.name: e for e in entries}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"download: unknown checkpoint {unknown[0]!r} (known: {', '.join(known)})")
    if names:
        return [known[n] for n in names]
    return [e for e in entries if everything or not e.optional]


def missing(entries: Iterable[WeightEntry], root: str | Path = ".") -> list[WeightEntry]:
    """Entries with at least one output file absent under ``root``."""
    root = Path(root)
    return [e for e in entries if not all((root / p).is_file() for p in e.outputs())]


def missing_report(entries: Sequence[WeightEntry], total: int, root: str | Path = ".") -> str:
    """One message listing every missing checkpoint: where to get it and where to put it."""
    root = Path(root)
    lines = [
        f"{len(entries)} of {total} paper checkpoints missing under {root}; download each and put it here:"
    ]
    for e in entries:
        sha = f"sha256 {e.sha256}" if e.sha256 else "no published sha256"
        lines.append(f"  - {e.name}: {e.url} -> {root / e.path} ({sha}; for {e.used_by})")
        if e.unpack is not None:
            lines.append(f"      then unzip it into {root / e.unpack} so that {', '.join(e.provides)} exist")
        if e.convert is not None:
            lines.append(
                f"      then run `promptgen download {e.name}` (offline too) to write {e.convert['path']}"
            )
    lines.append("Then check with `promptgen download --check` (docs/paper-world.md explains each file).")
    return "\n".join(lines)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _append(url: str, part: Path, timeout: float, progress: Callable[[int], None] | None) -> None:
    start = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, start, timeout)
    except urllib.error.HTTPError as err:
        if err.code == HTTP_RANGE_NOT_SATISFIABLE and start:
            return  # the partial file is already complete
        raise
    with resp:
        resume = start and resp.status == HTTP_PARTIAL
        with open(part, "ab" if resume else "wb") as f:
            for block in iter(lambda: resp.read(CHUNK), b""):
                f.write(block)
                if progress is not None:
                    progress(len(block))


def download_file(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    *,
    timeout: float = TIMEOUT_S,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Download ``url`` to ``dest`` via ``dest.part`` (resumed with HTTP Range); return the file's sha256.

    A server that ignores the Range header restarts the file. On a sha256 mismatch the partial file is
    removed and :class:`DownloadError` names the URL, the file and both hashes.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _append(url, part, timeout, progress)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url} -> {dest}: sha256 {digest}, expected {sha256}; removed the download")
    part.replace(dest)
    return digest


def _unpack(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if PurePosixPath(member).is_absolute() or ".." in PurePosixPath(member).parts:
                raise DownloadError(f"{archive}: unsafe member {member!r} in the zip; not unpacked")
        zf.extractall(into)


def _torchscript_state_dict(src: Path, dst: Path) -> None:
    """Save the parameters of a (hash-verified) TorchScript archive as a plain state dict."""
    state = dict(torch.jit.load(str(src), map_location="cpu").state_dict())
    for key in JIT_EXTRA_KEYS:
        state.pop(key, None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dst)


def _post_process(entry: WeightEntry, root: Path) -> None:
    if entry.unpack is not None:
        _unpack(root / entry.path, root / entry.unpack)
    if entry.convert is not None:
        if entry.convert.get("kind") != "torchscript-state-dict" or entry.sha256 is None:
            raise ConfigError(f"{entry.name}.convert: only torchscript-state-dict of a file with a sha256")
        _torchscript_state_dict(root / entry.path, root / entry.convert["path"])
    absent = [p for p in entry.outputs() if not (root / p).is_file()]
    if absent:
        raise DownloadError(f"{entry.name}: {root / entry.path} did not provide {absent[0]} as expected")


def download_entry(
    entry: WeightEntry,
    root: str | Path = ".",
    *,
    timeout: float = TIMEOUT_S,
    log: Callable[[str], None] = print,
) -> None:
    """Make one entry present: verify a file already in place, else download it; then unpack/convert."""
    root = Path(root)
    dest = root / entry.path
    if dest.is_file():
        digest = sha256_file(dest) if entry.sha256 else None
        if digest is not None and digest != entry.sha256.lower():
            raise DownloadError(f"{dest}: sha256 {digest}, expected {entry.sha256}; delete it and rerun")
    else:
        log(f"{entry.name}: {entry.url} -> {dest}")
        digest = download_file(entry.url, dest, entry.sha256, timeout=timeout)
        if entry.sha256 is None:
            log(f"{entry.name}: no published sha256; got {digest} (pin it in the manifest)")
    if not all((root / p).is_file() for p in entry.outputs()):
        _post_process(entry, root)
