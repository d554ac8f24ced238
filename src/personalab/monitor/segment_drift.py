"""Segment drift: the segments' sizes at every cut-off, the share of users who changed segment
since the previous cut-off, and the PSI of the segment shares at the latest cut-off against the
reference (the cut-offs before it), from the segments stage's ``segment_history.parquet``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.monitor.drift import binned, psi


def segment_shares(history: pd.DataFrame) -> pd.DataFrame:
    """Rows: cut-offs; columns: segments; values: the share of the cut-off's users."""
    counts = pd.crosstab(history["cutoff"], history["segment"])
    return counts.div(counts.sum(axis=1), axis=0)


def changed_shares(history: pd.DataFrame) -> pd.Series:
    """Per cut-off after the first: the share of the users present at both it and the previous
    cut-off who are in another segment."""
    wide = history.pivot_table(
        index="user_id", columns="cutoff", values="segment_id", aggfunc="first"
    )
    cutoffs = list(wide.columns)
    out = {}
    for before, after in zip(cutoffs, cutoffs[1:], strict=False):
        both = wide[[before, after]].dropna()
        out[after] = float((both[before] != both[after]).mean()) if len(both) else np.nan
    return pd.Series(out, name="changed_share", dtype=float)


def segment_psi(history: pd.DataFrame, latest: pd.Timestamp) -> float:
    """PSI of the segment labels at ``latest`` against every earlier cut-off's."""
    reference = history.loc[history["cutoff"] < latest, "segment"]
    current = history.loc[history["cutoff"] == latest, "segment"]
    return psi(*binned(reference, current, bins=2))
