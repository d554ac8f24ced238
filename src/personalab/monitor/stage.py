"""The monitor stage's work: every check on its inputs, then the retraining recommendation.

Reference and latest: the latest cut-off of the features table is compared with the cut-offs
before it, the rows the intent stage learns and validates on (its test part is the latest).
Each check that cannot run on this log (one cut-off, no intent or recommender champion, no
segments, a log shorter than the hit-rate windows) is left out with the reason, and the
recommendation is made from the checks that ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus
from personalab.monitor.backtest import COLUMNS as BACKTEST_COLUMNS
from personalab.monitor.backtest import backtest, prediction_drift, scores
from personalab.monitor.drift import COLUMNS as DRIFT_COLUMNS
from personalab.monitor.drift import feature_drift
from personalab.monitor.hit_rate import COLUMNS as HIT_RATE_COLUMNS
from personalab.monitor.hit_rate import hit_rate_drop, hit_rate_windows
from personalab.monitor.params import MonitorParams
from personalab.monitor.segment_drift import changed_shares, segment_psi, segment_shares
from personalab.recommend.params import RecommendParams

KEYS = ("user_id", "cutoff")


@dataclass
class MonitorInputs:
    """What the checks read (:func:`personalab.monitor.io.load_inputs` gathers it)."""

    table: pd.DataFrame  # the features table, every cut-off
    label: str | None  # its label column
    recent: pd.DataFrame  # the same columns over each cut-off's recent window (.recent)
    window: pd.Timedelta | None  # that window
    events: pd.DataFrame  # user_id, item_id, event_type, timestamp (and rating)
    predict: Callable[[pd.DataFrame], np.ndarray] | None = None  # the intent champion
    model_features: list[str] | None = None  # its input columns
    champion_roc_auc: float = np.nan  # its test ROC-AUC when it was registered
    recipe: dict[str, Any] | None = None  # the recommender champion's algorithm and options
    recommend_params: RecommendParams = field(default_factory=RecommendParams)
    history: pd.DataFrame | None = None  # segment_history.parquet
    left_out: dict[str, str] = field(default_factory=dict)  # check -> why its input is missing


@dataclass
class MonitorResult:
    metrics: dict[str, Any]
    drift: pd.DataFrame  # recent features: latest against the reference, per feature
    input_drift: pd.DataFrame  # the features table itself (the champion's inputs)
    drift_over_time: pd.DataFrame  # per cut-off: drifted features and share
    backtest: pd.DataFrame
    segments: pd.DataFrame  # per cut-off: each segment's share and the changed share
    hit_rate: pd.DataFrame
    reasons: list[str]

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    def recommendation(self) -> str:
        if self.reasons:
            return "Retrain: " + "; ".join(self.reasons) + "."
        return "No retraining needed: no check crossed its threshold in params/monitor.yaml."


#: scored by rank within each cut-off's users (quintiles), so their distribution is fixed by
#: construction and moves only when ties cross a quintile (e.g. the share of users with no
#: revenue passing 80%): their raw columns are watched instead
RANK_SCORES = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment")


def feature_columns(table: pd.DataFrame, label: str | None) -> list[str]:
    """The columns whose drift is measured: every feature but the rank scores."""
    return [c for c in table.columns if c not in (*KEYS, label, *RANK_SCORES)]


def drift_over_time(
    recent: pd.DataFrame, features: list[str], params: MonitorParams
) -> pd.DataFrame:
    """Per cut-off: how many recent features drifted against the other reference cut-offs (the
    latest: against all of them), and the largest statistic."""
    cutoffs = sorted(recent["cutoff"].unique())
    latest, rows = cutoffs[-1], []
    for cutoff in cutoffs:
        others = recent["cutoff"].ne(cutoff) & recent["cutoff"].lt(latest)
        if not others.any():
            continue
        table = _drift(recent[others], recent[recent["cutoff"] == cutoff], features, params)
        rows.append(
            {
                "cutoff": cutoff,
                "role": "latest" if cutoff == latest else "reference",
                "drifted": int(table["drifted"].sum()),
                "drifted_share": float(table["drifted"].mean()),
                f"max_{params.drift.statistic}": float(table[params.drift.statistic].max()),
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


def _drift(reference, current, features, params: MonitorParams) -> pd.DataFrame:
    d = params.drift
    return feature_drift(
        reference, current, features, d.statistic, d.threshold, d.bins, d.missing_change
    )


def run_monitor(inputs: MonitorInputs, params: MonitorParams, status: StageStatus) -> MonitorResult:
    """Every check, each left out (noted in ``status``) when this log cannot give it."""
    for check, why in inputs.left_out.items():
        status.leave_out(check, why)
    table, label = inputs.table, inputs.label
    cutoffs = sorted(table["cutoff"].unique()) if len(table) else []
    metrics: dict[str, Any] = {"cutoffs": len(cutoffs)}
    drift = input_drift = pd.DataFrame(columns=[*DRIFT_COLUMNS, "drifted"])
    over_time = pd.DataFrame(columns=["cutoff", "role", "drifted", "drifted_share"])
    tested, segments = pd.DataFrame(columns=BACKTEST_COLUMNS), pd.DataFrame()
    latest = cutoffs[-1] if cutoffs else None
    if latest is not None:
        metrics["latest_cutoff"] = str(latest)
    reference_rows = table["cutoff"] < latest if latest is not None else None
    if len(cutoffs) < 2:
        status.leave_out(
            "feature, prediction and segment drift",
            f"the features table has {len(cutoffs)} cut-off(s): drift needs a reference before the latest",
        )
    else:
        metrics["reference_cutoffs"] = len(cutoffs) - 1
        features = feature_columns(inputs.recent, label)
        recent_ref = inputs.recent[inputs.recent["cutoff"] < latest]
        recent_cur = inputs.recent[inputs.recent["cutoff"] == latest]
        if recent_ref.empty or recent_cur.empty:
            status.leave_out(
                "feature drift",
                "no user has an event in the recent window of the reference or of the latest cut-off",
            )
        else:
            drift = _drift(recent_ref, recent_cur, features, params)
            over_time = drift_over_time(inputs.recent, features, params)
            metrics |= {
                "window_days": inputs.window / pd.Timedelta(days=1),
                "features_monitored": len(features),
                "drifted_features": int(drift["drifted"].sum()),
                "drifted_share": float(drift["drifted"].mean()),
                f"max_feature_{params.drift.statistic}": float(drift[params.drift.statistic].max()),
            }
        names = [
            n
            for n in inputs.model_features or feature_columns(table, label)
            if n not in RANK_SCORES
        ]
        input_drift = _drift(
            table[reference_rows], table[~reference_rows], [n for n in names if n in table], params
        )
        metrics["input_drifted_features"] = int(input_drift["drifted"].sum())
    if inputs.predict is not None and latest is not None:
        probability = scores(table, inputs.predict)
        if label is not None:
            tested = backtest(table, probability, label, latest, params.calibration_bins)
            last = tested.iloc[-1]
            metrics |= {
                f"latest_{k}": float(last[k])
                for k in ("roc_auc", "pr_auc", "brier", "ece", "positive_rate", "mean_predicted")
            }
            metrics["champion_test_roc_auc"] = float(inputs.champion_roc_auc)
            metrics["roc_auc_drop"] = float(inputs.champion_roc_auc - last["roc_auc"])
        else:
            status.leave_out("backtest", "the features table has no label column")
        if len(cutoffs) >= 2:
            metrics |= prediction_drift(
                probability, reference_rows, ~reference_rows, params.drift.bins
            )
    if inputs.history is not None and len(cutoffs) >= 2 and not inputs.history.empty:
        history = inputs.history
        segments = segment_shares(history).join(changed_shares(history))
        metrics["segment_psi"] = segment_psi(history, history["cutoff"].max())
        metrics["changed_segment_share"] = float(segments["changed_share"].iloc[-1])
    hits = pd.DataFrame(columns=HIT_RATE_COLUMNS)
    if inputs.recipe is not None:
        hp = params.hit_rate
        width = pd.Timedelta(days=hp.window_days) if hp.window_days else inputs.window
        if width is None:
            status.leave_out(
                "recommender hit rate",
                "no window: set hit_rate.window_days (the log has no cut-offs to space them)",
            )
        else:
            hits, why = hit_rate_windows(
                inputs.events,
                inputs.recommend_params,
                inputs.recipe["algorithm"],
                inputs.recipe["options"],
                hp.windows,
                width,
            )
            if why is not None:
                status.leave_out("recommender hit rate", why)
            else:
                metrics |= {
                    "hit_rate_first": float(hits["hit_rate"].iloc[0]),
                    "hit_rate_last": float(hits["hit_rate"].iloc[-1]),
                    "popularity_hit_rate_last": float(hits["popularity_hit_rate"].iloc[-1]),
                    "hit_rate_drop": hit_rate_drop(hits),
                }
    reasons = retrain_reasons(metrics, drift, params)
    metrics["retrain"] = int(bool(reasons))
    metrics["retrain_reasons"] = reasons
    metrics |= status.metrics()
    return MonitorResult(metrics, drift, input_drift, over_time, tested, segments, hits, reasons)


def retrain_reasons(
    metrics: dict[str, Any], drift: pd.DataFrame, params: MonitorParams
) -> list[str]:
    """Each threshold of ``params.retrain`` that the measured figures cross, as a sentence."""
    rule, stat, reasons = params.retrain, params.drift.statistic, []
    if metrics.get("drifted_features", 0) >= rule.drifted_features:
        worst = drift[drift["drifted"]].head(3)
        named = ", ".join(
            f"{r.feature} ({stat} {getattr(r, stat):.2f})" for r in worst.itertuples()
        )
        reasons.append(
            f"{metrics['drifted_features']} of {metrics['features_monitored']} features drifted in the recent window, most: {named}"
        )
    checks = [
        ("prediction_psi", rule.prediction_psi, "the intent probabilities drifted (PSI {:.2f})"),
        (
            "roc_auc_drop",
            rule.roc_auc_drop,
            "the intent champion's ROC-AUC at the latest cut-off is {:.3f} below its test's",
        ),
        ("segment_psi", rule.segment_psi, "the segment shares drifted (PSI {:.2f})"),
        (
            "hit_rate_drop",
            rule.hit_rate_drop,
            "the recommender's hit rate fell by {:.0%} from the first window to the last",
        ),
    ]
    for key, threshold, sentence in checks:
        value = metrics.get(key, np.nan)
        if np.isfinite(value) and value >= threshold:
            reasons.append(sentence.format(value))
    return reasons
