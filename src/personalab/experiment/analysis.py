"""The analysis of an A/B test: per-user outcomes, then tea-tasting's tests.

Each assigned user's outcomes count from their assignment time (to ``window`` after it, or to
the end of the log): ``converted`` (a purchase), ``revenue`` (the purchases' prices),
``rec_clicks`` and ``impressions`` (clicks on items the user was shown, and how many were shown,
when an impressions table is given). Per treatment against the control, tea-tasting
(:mod:`tea_tasting`) gives

- conversion and revenue per user (``Mean``), with the relative uplift's confidence interval by
  the delta method, and again with CUPED (``Mean(..., covariate=...)``): the pre-period
  covariate's part of the variance removed;
- the click-through of recommended items (``RatioOfMeans``: clicks over impressions, per user,
  by the delta method);
- a sample-ratio-mismatch check (``SampleRatio``: a binomial test of the users per variant
  against the designed split);
- the design's minimum detectable effect at the given power (``solve_power``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OUTCOMES = ["converted", "revenue", "rec_clicks", "impressions"]


def user_outcomes(
    assignments: pd.DataFrame,
    events: pd.DataFrame,
    impressions: pd.DataFrame | None = None,
    window: pd.Timedelta | None = None,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per assigned user: ``variant``, the outcomes (:data:`OUTCOMES`) and the covariate
    columns (a user without a pre-period row gets 0). A user assigned twice keeps the first."""
    first = assignments.sort_values("timestamp", kind="stable").drop_duplicates("user_id")
    frame = first.set_index("user_id")[["variant", "timestamp"]]
    joined = events.merge(
        frame["timestamp"].rename("assigned_at"), left_on="user_id", right_index=True
    )
    after = joined["timestamp"] >= joined["assigned_at"]
    if window is not None:
        after &= joined["timestamp"] < joined["assigned_at"] + window
    joined = joined[after]
    bought = joined[joined["event_type"] == "purchase"]
    out = frame[["variant"]].copy()
    out["converted"] = out.index.isin(bought["user_id"]).astype(float)
    price = bought["price"] if "price" in bought else pd.Series(0.0, index=bought.index)
    out["revenue"] = (
        price.fillna(0.0).groupby(bought["user_id"]).sum().reindex(out.index, fill_value=0.0)
    )
    if impressions is not None:
        shown = impressions.groupby("user_id")["impressions"].sum()
        out["impressions"] = shown.reindex(out.index, fill_value=0).astype(float)
        clicks = joined[joined["event_type"] == "click"]
        on_shown = clicks.merge(
            impressions[["user_id", "item_id"]].drop_duplicates(), on=["user_id", "item_id"]
        )
        out["rec_clicks"] = (
            on_shown.groupby("user_id").size().reindex(out.index, fill_value=0).astype(float)
        )
    if covariates is not None:
        cov = covariates.set_index("user_id").reindex(out.index)
        for column in cov:
            out[column] = pd.to_numeric(cov[column], errors="coerce").fillna(0.0).astype(float)
    return out.reset_index()


@dataclass
class Analysis:
    results: pd.DataFrame  # per treatment and metric: both means, uplift and its CI, p-value
    srm: pd.DataFrame  # per treatment: users per variant, p-value, flagged
    power: pd.DataFrame  # per metric: the minimum detectable relative effect
    cuped: pd.DataFrame  # per metric: CI width without and with CUPED, and the narrowing


def metrics_for(outcomes: pd.DataFrame, covariates: dict[str, str]) -> dict:
    """The tea-tasting metrics this table supports (CUPED where the covariate is present)."""
    import tea_tasting as tt

    metrics = {"conversion": tt.Mean("converted"), "revenue_per_user": tt.Mean("revenue")}
    for name, value in (("conversion", "converted"), ("revenue_per_user", "revenue")):
        column = covariates.get(name)
        if column and column in outcomes and outcomes[column].std() > 0:
            metrics[f"{name}_cuped"] = tt.Mean(value, covariate=column)
    if "impressions" in outcomes and outcomes["impressions"].sum() > 0:
        metrics["ctr"] = tt.RatioOfMeans(numer="rec_clicks", denom="impressions")
    return metrics


def analyze(
    outcomes: pd.DataFrame,
    control: str,
    covariates: dict[str, str],
    expected_split: dict[str, float] | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    srm_alpha: float = 0.001,
) -> Analysis:
    """Every treatment against ``control`` (:class:`Analysis`)."""
    import tea_tasting as tt

    metrics = metrics_for(outcomes, covariates)
    level = 1 - alpha
    for metric in metrics.values():
        if hasattr(metric, "confidence_level"):
            metric.confidence_level = level
    frame = outcomes.drop(columns="user_id")
    results, srm, cuped = [], [], []
    for treatment in sorted(set(outcomes["variant"]) - {control}, key=str):
        pair = frame[frame["variant"].isin([control, treatment])]
        ratio = 1.0 if not expected_split else expected_split[treatment] / expected_split[control]
        experiment = tt.Experiment(**metrics, sample_ratio=tt.SampleRatio(ratio))
        raw = experiment.analyze(pair, control=control).to_pandas()
        ratio_row = raw[raw["metric"] == "sample_ratio"].iloc[0]
        table = _ordered(raw)
        srm.append(
            {
                "treatment": treatment,
                "control_users": int(ratio_row["control"]),
                "treatment_users": int(ratio_row["treatment"]),
                "expected_ratio": ratio,
                "pvalue": float(ratio_row["pvalue"]),
                "mismatch": bool(ratio_row["pvalue"] < srm_alpha),
            }  # fmt: skip
        )
        table = table[table["metric"] != "sample_ratio"].assign(treatment=treatment)
        results.append(table)
        cuped.append(_narrowing(table, treatment))
    design = tt.Experiment(**{k: v for k, v in metrics.items() if k != "ctr"})
    for metric in design.metrics.values():
        metric.alpha, metric.power = alpha, power
    power_table = design.solve_power(frame, parameter="rel_effect_size").to_pandas()
    return Analysis(
        pd.concat(results, ignore_index=True) if results else pd.DataFrame(),
        pd.DataFrame(srm),
        power_table.rename(columns={"rel_effect_size": "min_detectable_uplift"}),
        pd.concat(cuped, ignore_index=True) if cuped else pd.DataFrame(),
    )


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    keep = ["metric", "control", "treatment", "rel_effect_size", "rel_effect_size_ci_lower",
            "rel_effect_size_ci_upper", "effect_size", "pvalue"]  # fmt: skip
    return table[keep].rename(
        columns={
            "control": "control_value",
            "treatment": "treatment_value",
            "rel_effect_size": "uplift",
            "rel_effect_size_ci_lower": "uplift_ci_lower",
            "rel_effect_size_ci_upper": "uplift_ci_upper",
            "effect_size": "difference",
        }  # fmt: skip
    )


def _narrowing(table: pd.DataFrame, treatment: str) -> pd.DataFrame:
    width = (table["uplift_ci_upper"] - table["uplift_ci_lower"]).to_numpy()
    by = dict(zip(table["metric"], width, strict=True))
    rows = [
        {
            "treatment": treatment,
            "metric": name,
            "ci_width": by[name],
            "ci_width_cuped": by[f"{name}_cuped"],
            "narrowing": 1 - by[f"{name}_cuped"] / by[name],
        }  # fmt: skip
        for name in ("conversion", "revenue_per_user")
        if f"{name}_cuped" in by and np.isfinite(by[name]) and by[name] > 0
    ]
    return pd.DataFrame(rows)
