"""Write a generated log to disk (the only module of the generator that touches files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.core.storage import atomic_path


def write_log(events: pd.DataFrame, path: Path | str, rename: dict[str, str] | None = None) -> Path:
    """Write a raw log as CSV, Parquet or JSON lines (by extension), renaming columns on the way."""
    path = Path(path)
    frame = events.rename(columns=rename or {})
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif path.suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        elif path.suffix in (".jsonl", ".json"):
            frame.to_json(tmp, orient="records", lines=True)
        else:
            raise ValueError(f"{path}: unknown extension; use .csv, .parquet or .jsonl")
    return path
