"""Helpers the public-format adapters share."""

from __future__ import annotations

import pandas as pd

from personalab.ingest.sources.base import SourceError


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], where: str, fmt: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{where}: not a {fmt} file: column(s) {', '.join(missing)} missing (have: {', '.join(c for c in frame.columns if not c.startswith('_'))})"
        )
