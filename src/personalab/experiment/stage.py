"""The experiment stage's work: the experiment's tables, then the analysis and its summary.

A named assignment table is analysed against the ingest stage's events. Without one, on the
synthetic data, the stage simulates an experiment between the exported personalised lists and
the trending items each user has not seen (:mod:`.simulate`), analyses it the same way, and
says whether the interval covers the true uplift. On other data without a table it skips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus
from personalab.experiment.analysis import Analysis, analyze, user_outcomes
from personalab.experiment.covariates import covariate_columns
from personalab.experiment.params import ExperimentError, ExperimentParams
from personalab.experiment.simulate import Simulated

TRENDING_DAYS = 7


@dataclass
class Covariates:
    """CUPED's covariates at the experiment's start (:mod:`.covariates`)."""

    table: pd.DataFrame | None  # user_id and a column per covariate that could be made
    missing: dict[str, str] = field(default_factory=dict)  # covariate column -> why it is not
    info: dict[str, float] = field(default_factory=dict)  # what CUPAC learned from


@dataclass
class ExperimentData:
    assignments: pd.DataFrame  # user_id, variant (str), timestamp
    events: pd.DataFrame
    impressions: pd.DataFrame | None
    covariates: Covariates
    source: str
    simulated: Simulated | None = None
    control: str | None = None  # the simulated experiment's; None: by the params


@dataclass
class ExperimentResult:
    control: str
    variants: pd.DataFrame  # per variant: users, conversion, revenue per user, ctr
    analysis: Analysis
    metrics: dict[str, Any] = field(default_factory=dict)

    def headline(self) -> str:
        m = self.metrics
        text = (
            f"{m['treatment']} against {self.control}: conversion {m['conversion_uplift']:+.1%} "
            f"(95% CI {m['conversion_uplift_ci_lower']:+.1%} to {m['conversion_uplift_ci_upper']:+.1%}, "
            f"p = {m['conversion_pvalue']:.3g}), revenue per user {m['revenue_per_user_uplift']:+.1%} "
            f"(CI {m['revenue_per_user_uplift_ci_lower']:+.1%} to {m['revenue_per_user_uplift_ci_upper']:+.1%})"
        )
        if m.get("srm"):
            text += f"; SAMPLE RATIO MISMATCH (p = {m['srm_pvalue']:.2g}): the split is not the designed one, do not trust the uplift"
        return text


def read_table(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise ExperimentError(f"{path}: {what} not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def read_assignments(path: Path, params: ExperimentParams) -> pd.DataFrame:
    """The assignment table with columns user_id, variant (text) and timestamp (UTC); an error
    names the file and the missing column or the first unreadable time's row."""
    a = params.assignments
    table = read_table(path, "assignment table")
    missing = [c for c in (a.user_id, a.variant, a.timestamp) if c not in table]
    if missing:
        raise ExperimentError(
            f"{path}: column(s) {missing} not found; it has {list(table.columns)}"
        )
    times = pd.to_datetime(table[a.timestamp], utc=True, errors="coerce")
    bad = times.isna() & table[a.timestamp].notna() | table[a.timestamp].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExperimentError(
            f"{path}: row {row + 2 if path.suffix.lower() == '.csv' else row}: column "
            f"{a.timestamp!r}: {table[a.timestamp].iloc[row]!r} is not a time"
        )
    out = pd.DataFrame(
        {
            "user_id": table[a.user_id].astype(str),
            "variant": table[a.variant].astype(str),
            "timestamp": times,
        }
    )
    if out["variant"].nunique() < 2:
        raise ExperimentError(
            f"{path}: column {a.variant!r} has {out['variant'].nunique()} variant(s); an experiment needs two"
        )
    return out


def choose_control(variants: list[str], params: ExperimentParams) -> str:
    if params.control is not None:
        if params.control not in variants:
            raise ExperimentError(
                f"control {params.control!r} is not a variant of the experiment: {variants}"
            )
        return params.control
    return "control" if "control" in variants else sorted(variants)[0]


def trending_unseen(
    events: pd.DataFrame, users: pd.Series, k: int, pool: int = 300
) -> pd.DataFrame:
    """Each user's top-``k`` of the items most touched in the log's last week that they have
    not touched (the export's ``trending`` strategy)."""
    items = events[events["item_id"].notna()]
    end = items["timestamp"].max()
    recent = items[items["timestamp"] > end - pd.Timedelta(days=TRENDING_DAYS)]
    top = recent["item_id"].value_counts().index[:pool]
    cand = pd.DataFrame(
        {
            "user_id": np.repeat(users.to_numpy(), len(top)),
            "item_id": np.tile(np.asarray(top), len(users)),
        }
    )
    seen = items[["user_id", "item_id"]].drop_duplicates().assign(_seen=True)
    cand = cand.merge(seen, on=["user_id", "item_id"], how="left")
    cand = cand[cand["_seen"].isna()].drop(columns="_seen")
    cand["rank"] = cand.groupby("user_id", sort=False).cumcount() + 1
    return cand[cand["rank"] <= k].reset_index(drop=True)


def run_experiment(
    data: ExperimentData, params: ExperimentParams, status: StageStatus
) -> ExperimentResult:
    variants = sorted(data.assignments["variant"].unique())
    control = data.control or choose_control(variants, params)
    window = pd.Timedelta(days=params.window_days) if params.window_days else None
    covariates = covariate_columns(params.covariates)
    outcomes = user_outcomes(
        data.assignments, data.events, data.impressions, window, data.covariates.table
    )
    for metric, column in covariates.items():
        if column not in outcomes:
            why = data.covariates.missing.get(column, "not a column of the features table")
            status.leave_out(f"CUPED of {metric}", f"no covariate {column}: {why}")
    if data.impressions is None:
        status.leave_out(
            "click-through of recommended items", "no impressions table (params: impressions)"
        )
    analysis = analyze(
        outcomes,
        control,
        covariates,
        params.expected_split,
        params.alpha,
        params.power,
        params.srm_alpha,
    )
    summary = variant_summary(outcomes)
    metrics = headline_metrics(analysis, control, len(outcomes)) | data.covariates.info
    if data.simulated is not None:
        sim, treatment = data.simulated, metrics["treatment"]
        for name in ("conversion", "revenue_per_user", "ctr"):
            true = sim.true_uplift(name, control, treatment)
            metrics[f"true_{name}_uplift"] = true
            low, high = (
                metrics.get(f"{name}_uplift_ci_lower"),
                metrics.get(f"{name}_uplift_ci_upper"),
            )
            if low is not None:
                metrics[f"{name}_ci_covers_truth"] = int(low <= true <= high)
    if metrics.get("srm"):
        status.warn(
            f"sample ratio mismatch: p = {metrics['srm_pvalue']:.2g} for the users per variant against the designed split"
        )
    return ExperimentResult(control, summary, analysis, metrics)


def variant_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    grouped = outcomes.groupby("variant")
    table = pd.DataFrame({"users": grouped.size(), "conversion": grouped["converted"].mean(),
                          "revenue_per_user": grouped["revenue"].mean()})  # fmt: skip
    if "impressions" in outcomes:
        table["ctr"] = grouped["rec_clicks"].sum() / grouped["impressions"].sum().replace(0, np.nan)
    return table.reset_index()


def headline_metrics(analysis: Analysis, control: str, users: int) -> dict[str, Any]:
    """The first treatment's figures, flat, for the metrics file and MLflow."""
    results = analysis.results
    treatment = str(results["treatment"].iloc[0])
    out: dict[str, Any] = {"experiment_users": users, "control": control, "treatment": treatment,
                           "variants": int(len(analysis.srm) + 1)}  # fmt: skip
    for row in results[results["treatment"] == treatment].itertuples():
        out[f"{row.metric}_uplift"] = float(row.uplift)
        out[f"{row.metric}_uplift_ci_lower"] = float(row.uplift_ci_lower)
        out[f"{row.metric}_uplift_ci_upper"] = float(row.uplift_ci_upper)
        out[f"{row.metric}_pvalue"] = float(row.pvalue)
    srm = analysis.srm.iloc[0]
    out["srm_pvalue"], out["srm"] = float(srm["pvalue"]), int(srm["mismatch"])
    for row in analysis.cuped.itertuples():
        if row.treatment == treatment:
            out[f"{row.metric}_cuped_narrowing"] = float(row.narrowing)
    for row in analysis.power.itertuples():
        out[f"{row.metric}_min_detectable_uplift"] = float(row.min_detectable_uplift)
    return out
