"""Tables for the notebook and the plot data: the feature documentation, null shares,
positive rate per cut-off, segment sizes and feature medians by label."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from personalab.features import families_query
from personalab.features.schema import LABEL, SEGMENTS

#: the plot data's columns (dvc.yaml plots), also written with no rows when the stage skips
PLOT_COLUMNS = {
    "positive_rate": ["cutoff", "rows", "positive_rate"],
    "segment_sizes": ["segment", "users", "dominant"],
    "by_label": ["feature", "non_buyers", "buyers", "difference_sd"],
}
#: features in the by-label plot data: those whose medians differ most (a bar chart stays readable)
TOP_FEATURES = 15


def feature_table_doc(left_out: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The feature table of ``families_query``' docstring (name, meaning, window) as a frame, for the
    notebook; with ``left_out`` ({column: why}) a ``left_out`` column says why a feature is not
    in this log's table ("" when it is)."""
    lines = families_query.__doc__.splitlines()
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
    doc = pd.DataFrame(rows, columns=["name", "meaning", "window"])
    if left_out is not None:
        doc["left_out"] = [_why_left_out(name, left_out) for name in doc["name"]]
    return doc


def _why_left_out(doc_name: str, left_out: Mapping[str, str]) -> str:
    """The reason for the columns a documented name stands for (``purchases_Wd`` for each
    window, ``device_share_<device>`` for each device)."""
    pattern = re.sub(r"<[^>]*>", ".+", re.escape(doc_name).replace("Wd", r"\d+d"))
    reasons = [why for name, why in left_out.items() if re.fullmatch(pattern, name)]
    return reasons[0] if reasons else ""


def time_format(times: Sequence[pd.Timestamp] | pd.Series) -> str:
    """``%Y-%m-%d`` when every time is a midnight, else with the hour and minute (and seconds
    when some have them)."""
    times = pd.Series(list(times), dtype=object)
    if all(t == t.floor("D") for t in times):
        return "%Y-%m-%d"
    return "%Y-%m-%d %H:%M" if all(t == t.floor("min") for t in times) else "%Y-%m-%d %H:%M:%S"


def format_times(times: Sequence[pd.Timestamp]) -> str:
    """The times in one format (:func:`time_format`), comma-separated; ``none`` when empty."""
    form = time_format(times)
    return ", ".join(f"{t:{form}}" for t in times) or "none"


def null_shares(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Share of missing values per feature, largest first."""
    shares = table[names].isna().mean().sort_values(ascending=False)
    return shares.rename("null_share").rename_axis("feature").reset_index()


def positive_rate_by_cutoff(table: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """Rows and the label's positive rate per cut-off (``label``: the table's attrs label)."""
    label = label or table.attrs.get("label", LABEL)
    grouped = table.groupby("cutoff")[label].agg(["size", "mean"]).reset_index()
    grouped.columns = PLOT_COLUMNS["positive_rate"]
    grouped["cutoff"] = grouped["cutoff"].dt.strftime(time_format(grouped["cutoff"]))
    return grouped


def segment_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Users holding each rule segment the table has at the last cut-off (and as dominant
    segment); no rows for a table without rows."""
    if table.empty:
        return pd.DataFrame(columns=PLOT_COLUMNS["segment_sizes"])
    names = [name for name in SEGMENTS if f"seg_{name}" in table]
    last = table[table["cutoff"] == table["cutoff"].max()]
    held = [int(last[f"seg_{name}"].sum()) for name in names]
    dominant = last["dominant_segment"].value_counts().reindex([*names, "none"], fill_value=0)
    nothing = int((last[[f"seg_{n}" for n in names]].sum(axis=1) == 0).sum())
    return pd.DataFrame(
        {"segment": [*names, "none"], "users": [*held, nothing], "dominant": dominant.to_numpy()}
    )


def feature_summary_by_label(
    table: pd.DataFrame, names: list[str], label: str | None = None, top: int = TOP_FEATURES
) -> pd.DataFrame:
    """Median of each feature for label 0 and label 1 (columns ``non_buyers`` and ``buyers``,
    the names dvc.yaml plots, whatever the target event) and their difference in standard
    deviations of the feature (``difference_sd``): the ``top`` features whose medians differ
    most, largest difference first (features without spread or a median left out)."""
    label = label or table.attrs.get("label", LABEL)
    medians = table.groupby(label)[names].median().T.reindex(columns=[0, 1])
    summary = medians.set_axis(PLOT_COLUMNS["by_label"][1:3], axis=1)
    spread = table[names].std().replace(0.0, float("nan"))
    summary["difference_sd"] = (summary["buyers"] - summary["non_buyers"]) / spread
    summary = summary.dropna(subset=["difference_sd"])
    order = summary["difference_sd"].abs().sort_values(ascending=False, kind="stable").index
    return summary.loc[order[:top]].rename_axis("feature").reset_index()
