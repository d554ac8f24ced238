"""Re-classification over time: the chosen model assigns users at every cut-off.

From the segment history follow the transitions between the last two cut-offs and
how often users change segment between consecutive cut-offs.
"""

from __future__ import annotations

import itertools

import pandas as pd
from sklearn.pipeline import Pipeline

from personalab.segments.preprocess import feature_matrix


def assign_all_cutoffs(
    table: pd.DataFrame, pipeline: Pipeline, features: list[str]
) -> pd.DataFrame:
    """Segment id of every (user, cut-off) with the chosen model (fitted on ``features``)."""
    X = feature_matrix(table, features)
    return pd.DataFrame(
        {"user_id": table["user_id"], "cutoff": table["cutoff"], "segment_id": pipeline.predict(X)}
    )


def transitions(history: pd.DataFrame, names: dict[int, str]) -> tuple[pd.DataFrame, float]:
    """Row-normalised transition matrix between the last two cut-offs and the share who moved."""
    cutoffs = sorted(history["cutoff"].unique())
    if len(cutoffs) < 2:
        return pd.DataFrame(), float("nan")
    before = history[history["cutoff"] == cutoffs[-2]].set_index("user_id")["segment_id"]
    after = history[history["cutoff"] == cutoffs[-1]].set_index("user_id")["segment_id"]
    both = before.index.intersection(after.index)
    frm, to = before.loc[both].map(names), after.loc[both].map(names)
    matrix = pd.crosstab(frm.rename("from"), to.rename("to"), normalize="index")
    return matrix, float((before.loc[both] != after.loc[both]).mean())


def changed_share_by_cutoff(history: pd.DataFrame) -> pd.DataFrame:
    """Share of users (present at both) whose segment changed between consecutive cut-offs."""
    cutoffs = sorted(history["cutoff"].unique())
    # dates for daily cut-offs; with the time when cut-offs fall within a day (a short log)
    daily = all(pd.Timestamp(c) == pd.Timestamp(c).normalize() for c in cutoffs)
    stamp = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
    rows = []
    for a, b in itertools.pairwise(cutoffs):
        before = history[history["cutoff"] == a].set_index("user_id")["segment_id"]
        after = history[history["cutoff"] == b].set_index("user_id")["segment_id"]
        both = before.index.intersection(after.index)
        rows.append(
            {
                "cutoff": pd.Timestamp(b).strftime(stamp),
                "users": len(both),
                "changed_share": float((before.loc[both] != after.loc[both]).mean()),
            }
        )
    return pd.DataFrame(rows, columns=["cutoff", "users", "changed_share"])
