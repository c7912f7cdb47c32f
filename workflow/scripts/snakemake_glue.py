"""Helpers for the thin Snakemake scripts: log to the rule's log file, fail with one line.

A :class:`~promptgen.registry.ConfigError` (a bad config entry, an unusable checkpoint file) is one line in
the job's log and on stderr; any other error writes its traceback to the log and one line to stderr.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from promptgen.allocator import reuse_freed_memory
from promptgen.lock import FolderInUseError
from promptgen.registry import ConfigError

__all__ = ["logged"]


@contextmanager
def logged(snakemake: Any) -> Iterator[logging.Logger]:
    """Send logging to the job's log file, starting with a line naming the rule; on error write the
    traceback there and exit with one line; on Ctrl-C write one line and exit with status 130."""
    reuse_freed_memory()
    log_file = snakemake.log[0] if len(snakemake.log) else None
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    logger = logging.getLogger(f"promptgen.{snakemake.rule}")
    named = snakemake.wildcards  # Snakemake's Namedlist, or a plain namespace in tests
    pairs = named.items() if hasattr(named, "items") else vars(named).items()
    wildcards = ", ".join(f"{k}={v}" for k, v in pairs)
    logger.info("rule %s started%s", snakemake.rule, f" ({wildcards})" if wildcards else "")
    try:
        yield logger
    except KeyboardInterrupt as err:  # Ctrl-C: one line here and on stderr, no traceback
        what = f"rule {snakemake.rule} interrupted" + (f": {err}" if str(err) else "")
        logger.error("%s", what)
        print(what, file=sys.stderr)
        sys.exit(130)
    except FolderInUseError as err:  # another run writes this job's folder: the message names it
        message = f"rule {snakemake.rule} failed: {err}"
        logger.error("%s", message)
        sys.exit(message)
    except ConfigError as err:  # a bad config entry or checkpoint file: the message says everything
        message = f"rule {snakemake.rule} failed: {_config_path(str(err), snakemake)}"
        logger.error("%s", message)
        sys.exit(message)
    except Exception as err:  # noqa: BLE001 - every other failure is reported the same way
        logger.error("%s", traceback.format_exc())
        where = f" (traceback in {log_file})" if log_file else ""
        sys.exit(f"rule {snakemake.rule} failed: {type(err).__name__}: {err}{where}")


def _config_path(message: str, snakemake: Any) -> str:
    """A spec's ``generator…`` key as the job's config path ``generators.<gen>.generator…``."""
    gen = getattr(snakemake.wildcards, "gen", None)
    if gen and re.match(r"generator[.:]", message):
        return f"generators.{gen}.{message}"
    return message
