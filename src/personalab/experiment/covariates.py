"""CUPED's pre-period covariates: each user's features row as of the experiment's start, and the
predictions made from it.

CUPED removes the part of a metric's variance that a covariate measured before the experiment
explains: the better it predicts the metric, the narrower the interval (by ``1 - sqrt(1 - r^2)``
for a correlation ``r``). The rows are the features stage's, computed with its own plan
(``params/features.yaml`` on the ingest stage's events and profile) at the experiment's start, so
nothing that happened after it leaks in. Per metric, ``params.covariates`` names

- a column of those rows (e.g. ``orders_total``);
- ``intent_probability``: the intent stage's model of the row;
- ``cupac``: a model of the metric itself (CUPAC, "control using predictions as covariates",
  Tang et al. 2020): XGBoost fitted on the features table's rows at each cut-off whose next
  ``window`` ends by the experiment's start, to the metric over that window (conversion:
  logistic, revenue: Tweedie), then scored on the rows at the start. When no cut-off has a whole
  window before the start, the earliest cut-off before it is fitted to its window cut at the
  start, and a note says so.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus

#: the covariate that is the intent model's probability of each user's row
INTENT_COVARIATE = "intent_probability"
#: the covariate that is a model of the metric fitted on the pre-period
CUPAC = "cupac"
#: per metric: its outcome column (:func:`personalab.experiment.analysis.user_outcomes`) and
#: the XGBoost objective of its CUPAC model
TARGETS = {"conversion": ("converted", "binary:logistic"), "revenue_per_user": ("revenue", "reg:tweedie")}  # fmt: skip
CUPAC_BOOSTER = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8,
                 "min_child_weight": 20, "random_state": 0}  # fmt: skip


def covariate_columns(covariates: dict[str, str]) -> dict[str, str]:
    """Per metric, the outcome table's column of its covariate (``cupac``: ``cupac_<metric>``)."""
    return {m: f"{CUPAC}_{m}" if c == CUPAC else c for m, c in covariates.items()}


def covariates_of(
    rows: pd.DataFrame,
    covariates: dict[str, str],
    predict: Callable[[pd.DataFrame], np.ndarray] | None = None,
    cupac: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame | None:
    """``user_id`` and the covariate columns of ``rows`` (the features at the start; None when
    none is there): ``intent_probability`` is ``predict`` of them, ``cupac_<metric>`` the
    arrays of :func:`fit_cupac`. A covariate that cannot be made is missing, and the stage
    leaves its CUPED out."""
    out = rows[["user_id"]].copy()
    for metric, column in covariate_columns(covariates).items():
        if column == INTENT_COVARIATE and predict is not None:
            out[column] = np.asarray(predict(rows), dtype=float)
        elif column == f"{CUPAC}_{metric}" and cupac and metric in cupac:
            out[column] = cupac[metric]
        elif column in rows:
            out[column] = rows[column].to_numpy()
    return out if out.shape[1] > 1 else None


def fit_cupac(
    table: pd.DataFrame,
    events: pd.DataFrame,
    rows: pd.DataFrame,
    start: pd.Timestamp,
    window: pd.Timedelta,
    metrics: list[str],
    status: StageStatus,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, str]]:
    """Per metric, its CUPAC model's prediction for each of ``rows`` (in their order), fitted on
    ``table`` (the features table) and ``events`` (the log, for each cut-off's outcome); what it
    learned from (``cupac_rows``, ``cupac_cutoffs``, ``cupac_window_days``); and why a metric
    was not learned (one value throughout, e.g. no purchase). Raises :class:`CovariateError`
    when no cut-off lies before the start."""
    from xgboost import XGBRegressor

    from personalab.experiment.analysis import user_outcomes

    cutoffs = sorted(c for c in table["cutoff"].unique() if c < start) if len(table) else []
    if not cutoffs:
        raise CovariateError("no features cut-off before the experiment's start to learn from")
    whole = [c for c in cutoffs if c + window <= start]
    if not whole:
        whole, cut = cutoffs[:1], start - cutoffs[0]
        status.adapted(
            f"CUPAC learned the metrics over the {_days(cut)} after the first cut-off (no "
            f"cut-off has a whole {_days(window)} window before the experiment's start)"
        )
        window = cut
    names = [
        c
        for c in rows.select_dtypes(include=["number", "bool"]).columns
        if c in table and c not in ("user_id", "cutoff")
    ]
    frames = []
    for cutoff in whole:
        at = table.loc[table["cutoff"] == cutoff, ["user_id", *names]]
        assigned = pd.DataFrame({"user_id": at["user_id"], "variant": "pre", "timestamp": cutoff})
        outcome = user_outcomes(assigned, events, None, window).set_index("user_id")
        frames.append(at.join(outcome[["converted", "revenue"]], on="user_id"))
    train = pd.concat(frames, ignore_index=True)
    x, scored = train[names].astype(float), rows[names].astype(float)
    out, unlearned = {}, {}
    for metric in metrics:
        target, objective = TARGETS[metric]
        if train[target].nunique() < 2:
            unlearned[metric] = (
                f"its {target} is {train[target].iloc[0]:g} for every user over the next "
                f"{_days(window)} of every cut-off before the start: nothing to learn"
            )
            continue
        model = XGBRegressor(objective=objective, n_jobs=2, **CUPAC_BOOSTER)
        out[metric] = model.fit(x, train[target]).predict(scored).astype(float)
    print(
        f"CUPAC: {', '.join(metrics)} learned from {len(train):,} rows at {len(whole)} "
        f"cut-off(s), each over the next {_days(window)}; scored at the experiment's start"
    )
    info = {"cupac_rows": len(train), "cupac_cutoffs": len(whole),
            "cupac_window_days": window / pd.Timedelta(days=1)}  # fmt: skip
    return out, info, unlearned


class CovariateError(ValueError):
    """A covariate cannot be made for this experiment (the message says why)."""


def _days(span: pd.Timedelta) -> str:
    return f"{span / pd.Timedelta(days=1):.3g} days"
