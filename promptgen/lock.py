"""An exclusive lock on an output folder while one process writes it.

The lock is an OS lock (``fcntl.flock``) on the file ``<folder>/train.lock``: the kernel releases it when
the process ends, however it ends (``kill -9`` included), so a crashed run never leaves a stale lock. The
file itself stays; while the lock is held it names the holder's host and process id, for the message a
second writer gets. On NFS, Linux maps ``flock`` to NFS byte-range locks, so two machines sharing one
results folder exclude each other too.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_FILE", "FolderInUseError", "lock_folder"]

LOCK_FILE = "train.lock"


class FolderInUseError(RuntimeError):
    """Another process holds the folder's lock; the message names the folder and, if known, the holder."""


@contextmanager
def lock_folder(folder: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Arguments:
        folder: the output folder one run writes.

    Returns:
        The folder, as a path.

    Raises:
        FolderInUseError: another process (here or on another machine sharing the folder) holds it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            by = f" by {holder}" if holder else ""
            raise FolderInUseError(
                f"{folder} is being written{by}; wait for that run to end, or write elsewhere"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield folder
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
