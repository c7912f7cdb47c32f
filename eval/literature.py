"""Literature rows: numbers copied from papers live in CSV files with a ``source`` column, not in code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["LITERATURE_DIR", "literature_rows"]

LITERATURE_DIR = Path(__file__).parent / "literature"


def literature_rows(table: str) -> pd.DataFrame:
    """Rows of ``eval/literature/<table>.csv``; every row must name its source."""
    path = LITERATURE_DIR / f"{table}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"literature data {path} not found")
    df = pd.read_csv(path, comment="#")
    if "source" not in df.columns or df["source"].isna().any():
        raise ValueError(f"{path}: every literature row needs a 'source'")
    return df
