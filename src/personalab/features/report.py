"""Tables for the notebook and the plot data: the feature documentation, null shares,
positive rate per cut-off, segment sizes and feature medians by label."""

from __future__ import annotations

import pandas as pd

from personalab.features import families
from personalab.features.schema import LABEL, SEGMENTS


def feature_table_doc() -> pd.DataFrame:
    """The feature table of ``families``' docstring (name, meaning, window) as a frame, for the notebook."""
    lines = families.__doc__.splitlines()
    borders = [i for i, line in enumerate(lines) if line.startswith("=====")]
    top, header_end, bottom = borders[0], borders[1], borders[2]
    starts = [
        i for i, ch in enumerate(lines[top]) if ch == "=" and (i == 0 or lines[top][i - 1] == " ")
    ]
    rows: list[list[str]] = []
    for line in lines[header_end + 1 : bottom]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1][1] = f"{rows[-1][1]} {cells[1]}".strip()
    return pd.DataFrame(rows, columns=["name", "meaning", "window"])


def null_shares(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Share of missing values per feature, largest first."""
    shares = table[names].isna().mean().sort_values(ascending=False)
    return shares.rename("null_share").rename_axis("feature").reset_index()


def positive_rate_by_cutoff(table: pd.DataFrame) -> pd.DataFrame:
    grouped = table.groupby("cutoff")[LABEL].agg(["size", "mean"]).reset_index()
    grouped.columns = ["cutoff", "rows", "positive_rate"]
    grouped["cutoff"] = grouped["cutoff"].dt.strftime("%Y-%m-%d")
    return grouped


def segment_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Users holding each rule segment at the last cut-off (and as dominant segment)."""
    last = table[table["cutoff"] == table["cutoff"].max()]
    held = [int(last[f"seg_{name}"].sum()) for name in SEGMENTS]
    dominant = last["dominant_segment"].value_counts().reindex([*SEGMENTS, "none"], fill_value=0)
    return pd.DataFrame(
        {
            "segment": [*SEGMENTS, "none"],
            "users": [*held, int((last[[f"seg_{n}" for n in SEGMENTS]].sum(axis=1) == 0).sum())],
            "dominant": dominant.to_numpy(),
        }
    )


def feature_summary_by_label(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Median of each feature for non-buyers and buyers (label 0 and 1)."""
    medians = table.groupby(LABEL)[names].median().T.reindex(columns=[0, 1])
    return medians.set_axis(["non_buyers", "buyers"], axis=1).rename_axis("feature").reset_index()
