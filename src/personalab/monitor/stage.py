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
from personalab.monitor.hit_rate import (
    beaten_pvalue,
    drop_pvalue,
    duration,
    few_users,
    hit_rate_drop,
    hit_rate_windows,
    one_time,
)
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
    log_start: pd.Timestamp | None = None  # where the log's bulk starts (stray early events aside)
    longest_window: pd.Timedelta | None = None  # the features' longest window (segments too)
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
    not_checked: list[str] = field(default_factory=list)  # the checks left out for this log

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    def recommendation(self) -> str:
        if self.reasons:
            return "Retrain: " + "; ".join(self.reasons) + "."
        return no_retraining(self.not_checked) + " in params/monitor.yaml."


def no_retraining(not_checked: list[str]) -> str:
    """The recommendation when no check asks for retraining, naming the checks not run."""
    if not not_checked:
        return "No retraining needed: no check crossed its threshold"
    return (
        f"No retraining needed from the checks that ran (not checked: {'; '.join(not_checked)}"
        "; the notes say why): none crossed its threshold"
    )


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
        reference, current, features, d.statistic, d.threshold, d.bins, d.missing_change,
        params.retrain.significance,
    )  # fmt: skip


def run_monitor(inputs: MonitorInputs, params: MonitorParams, status: StageStatus) -> MonitorResult:
    """Every check, each left out (noted in ``status``) when this log cannot give it."""
    for check, why in inputs.left_out.items():
        status.leave_out(check, why)
    table = inputs.table
    cutoffs = sorted(table["cutoff"].unique()) if len(table) else []
    metrics: dict[str, Any] = {"cutoffs": len(cutoffs)}
    result = MonitorResult(
        metrics,
        drift=pd.DataFrame(columns=[*DRIFT_COLUMNS, "drifted"]),
        input_drift=pd.DataFrame(columns=[*DRIFT_COLUMNS, "drifted"]),
        drift_over_time=pd.DataFrame(columns=["cutoff", "role", "drifted", "drifted_share"]),
        backtest=pd.DataFrame(columns=BACKTEST_COLUMNS),
        segments=pd.DataFrame(),
        hit_rate=pd.DataFrame(columns=HIT_RATE_COLUMNS),
        reasons=[],
    )
    if cutoffs:
        metrics["latest_cutoff"] = str(cutoffs[-1])
    if len(cutoffs) < 2:
        status.leave_out(
            "feature, prediction and segment drift",
            f"the features table has {len(cutoffs)} cut-off(s): drift needs a reference before the latest",
        )
    else:
        metrics["reference_cutoffs"] = len(cutoffs) - 1
        _feature_checks(inputs, params, status, result)
        _segment_checks(inputs, params, status, result)
    if inputs.predict is not None and cutoffs:
        _intent_checks(inputs, params, status, result)
    if inputs.recipe is not None:
        _hit_rate_checks(inputs, params, status, result)
    result.reasons = retrain_reasons(metrics, result.drift, params)
    result.not_checked = [
        note["message"].split(": ")[0] for note in status.notes if note["kind"] == "left_out"
    ]
    metrics["retrain"] = int(bool(result.reasons))
    metrics["retrain_reasons"] = result.reasons
    metrics["checks_left_out"] = result.not_checked
    metrics |= status.metrics()
    return result


def _feature_checks(inputs, params, status: StageStatus, result: MonitorResult) -> None:
    """Drift of the recent-window features (reference cut-offs whose window reaches before the
    log's start left out) and of the features table itself."""
    table, label, metrics = inputs.table, inputs.label, result.metrics
    latest = table["cutoff"].max()
    features = feature_columns(inputs.recent, label)
    recent = inputs.recent
    if inputs.log_start is not None and inputs.window is not None and len(recent):
        short = sorted(c for c in recent["cutoff"].unique() if c - inputs.window < inputs.log_start)
        short_ref = [c for c in short if c < latest]
        if short_ref:
            status.adapted(
                f"feature drift: reference cut-off(s) {', '.join(f'{c:%Y-%m-%d %H:%M}' for c in short_ref)} "
                f"left out: their recent window ({duration(inputs.window)}) reaches before the log's start"
            )
            recent = recent[~recent["cutoff"].isin(short_ref)]
    recent_ref, recent_cur = recent[recent["cutoff"] < latest], recent[recent["cutoff"] == latest]
    if recent_ref.empty or recent_cur.empty:
        status.leave_out(
            "feature drift",
            "no user has an event in the recent window of a reference cut-off or of the latest",
        )
    else:
        result.drift = _drift(recent_ref, recent_cur, features, params)
        result.drift_over_time = drift_over_time(recent, features, params)
        stat, d = params.drift.statistic, result.drift
        chance = d[(d[stat] >= params.drift.threshold) & ~d["drifted"]]
        if len(chance):
            status.adapted(
                f"feature drift: {len(chance)} feature(s) reach {stat} {params.drift.threshold:g} "
                f"(e.g. {chance['feature'].iloc[0]}, {chance[stat].iloc[0]:.2f}) but are not "
                f"counted: on {len(recent_ref):,} reference and {len(recent_cur):,} latest rows "
                f"of users in the recent window their change is within chance (p >= "
                f"{params.retrain.significance:g}, adjusted for the {len(d)} features)"
            )
        metrics |= {
            "window_days": inputs.window / pd.Timedelta(days=1),
            "features_monitored": len(features),
            "drifted_features": int(result.drift["drifted"].sum()),
            "drifted_share": float(result.drift["drifted"].mean()),
            f"max_feature_{params.drift.statistic}": float(
                result.drift[params.drift.statistic].max()
            ),
        }
    names = [n for n in inputs.model_features or feature_columns(table, label)]
    names = [n for n in names if n not in RANK_SCORES and n in table]
    reference = table["cutoff"] < latest
    result.input_drift = _drift(table[reference], table[~reference], names, params)
    metrics["input_drifted_features"] = int(result.input_drift["drifted"].sum())


def _intent_checks(inputs, params, status: StageStatus, result: MonitorResult) -> None:
    """The backtest of the intent champion at every cut-off and the drift of its predictions."""
    table, label, metrics = inputs.table, inputs.label, result.metrics
    latest = table["cutoff"].max()
    probability = scores(table, inputs.predict)
    if label is not None:
        result.backtest = backtest(table, probability, label, latest, params.calibration_bins)
        last = result.backtest.iloc[-1]
        metrics |= {
            f"latest_{k}": float(last[k])
            for k in ("roc_auc", "pr_auc", "brier", "ece", "positive_rate", "mean_predicted")
        }
        metrics["champion_test_roc_auc"] = float(inputs.champion_roc_auc)
        metrics["roc_auc_drop"] = float(inputs.champion_roc_auc - last["roc_auc"])
    else:
        status.leave_out("backtest", "the features table has no label column")
    if table["cutoff"].nunique() < 2:
        return
    reference, judged = table["cutoff"] < latest, _full_windows(inputs, table["cutoff"])
    if judged is not None:
        # judged against the reference cut-offs whose windows fit in the log
        reference &= judged
    else:
        _not_judged(inputs, status, "prediction drift", "the intent probabilities")
        metrics["prediction_drift_judged"] = 0
    metrics |= prediction_drift(
        probability, reference, table["cutoff"] == latest, params.drift.bins
    )


def _segment_checks(inputs, params, status: StageStatus, result: MonitorResult) -> None:
    """Segment shares and changes at every cut-off; their PSI, latest against the reference
    cut-offs whose features' longest window fits in the log (before that, the windows count the
    whole history, so the shares move as the log grows, whatever users do)."""
    history = inputs.history
    if history is None or history.empty:
        return
    result.segments = segment_shares(history).join(changed_shares(history))
    result.metrics["changed_segment_share"] = float(result.segments["changed_share"].iloc[-1])
    if history["cutoff"].nunique() < 2:
        return
    judged = _full_windows(inputs, history["cutoff"])
    if judged is None:
        _not_judged(inputs, status, "segment drift", "the segments' shares")
        return
    result.metrics["segment_psi"] = segment_psi(history[judged], history["cutoff"].max())


def _full_windows(inputs, cutoffs: pd.Series) -> pd.Series | None:
    """Which of ``cutoffs`` have the features' longest window inside the log (all, when the log's
    start or the windows are unknown); None unless the latest and an earlier one have it.
    Before that the windows count the whole history, so the features, and what is made of them,
    move as the log grows, whatever the users do."""
    if inputs.log_start is None or inputs.longest_window is None:
        return pd.Series(True, index=cutoffs.index)
    full = cutoffs - inputs.longest_window >= inputs.log_start
    latest = cutoffs == cutoffs.max()
    return full if (full & latest).any() and (full & ~latest).any() else None


def _not_judged(inputs, status: StageStatus, what: str, moves: str) -> None:
    status.leave_out(
        f"{what} as a retraining reason",
        f"the features' {duration(inputs.longest_window, adjective=True)} windows reach before "
        f"the log's start at the latest cut-off or at every earlier one: {moves} move as the "
        "log grows (reported, not judged)",
    )


def _hit_rate_checks(inputs, params, status: StageStatus, result: MonitorResult) -> None:
    """The recommender's hit rate over successive windows, beside popularity's, and the tests of
    its drop and of popularity's lead."""
    hp = params.hit_rate
    width = pd.Timedelta(days=hp.window_days) if hp.window_days else inputs.window
    if width is None:
        status.leave_out(
            "recommender hit rate",
            one_time(inputs.events)
            or "no window: set hit_rate.window_days (the log has no cut-offs to space them)",
        )
        return
    hits, why = hit_rate_windows(
        inputs.events,
        inputs.recommend_params,
        inputs.recipe["algorithm"],
        inputs.recipe["options"],
        hp.windows,
        width,
    )
    if why is None and not hits["users"].any():
        why = (
            f"no user of the {len(hits)} windows comes back with a user-item pair the recommender "
            "could know from before them (known user and item, not seen before), so no hit "
            "rate can be measured"
        )
    if why is not None:
        status.leave_out("recommender hit rate", why)
        return
    if len(hits) < hp.windows:
        status.adapted(
            f"recommender hit rate: {len(hits)} windows of {duration(width)}, not {hp.windows}: the "
            "recommender learns at least half the log"
        )
    if (few := few_users(hits)) is not None:
        status.warn(few)
    result.hit_rate = hits
    result.metrics |= {
        "hit_rate_windows": len(hits),
        "hit_rate_first": float(hits["hit_rate"].iloc[0]),
        "hit_rate_last": float(hits["hit_rate"].iloc[-1]),
        "popularity_hit_rate_last": float(hits["popularity_hit_rate"].iloc[-1]),
        "hit_rate_drop": hit_rate_drop(hits),
        "hit_rate_drop_pvalue": drop_pvalue(hits),
        "popularity_lead_pvalue": beaten_pvalue(hits),
    }


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
    ]
    if metrics.get("prediction_drift_judged", 1) == 0:
        checks = [check for check in checks if check[0] != "prediction_psi"]
    for key, threshold, sentence in checks:
        value = metrics.get(key, np.nan)
        if np.isfinite(value) and value >= threshold:
            reasons.append(sentence.format(value))
    # the hit rates rest on few hits on a short log: a change counts only when a test says so
    drop, p = metrics.get("hit_rate_drop", np.nan), metrics.get("hit_rate_drop_pvalue", np.nan)
    if np.isfinite(drop) and drop >= rule.hit_rate_drop and p < rule.significance:
        reasons.append(
            f"the recommender's hit rate fell by {drop:.0%} from the first window to the last "
            f"({metrics['hit_rate_first']:.3f} to {metrics['hit_rate_last']:.3f}, p = {p:.2g})"
        )
    mine, theirs = (
        metrics.get("hit_rate_last", np.nan),
        metrics.get("popularity_hit_rate_last", np.nan),
    )
    p = metrics.get("popularity_lead_pvalue", np.nan)
    if theirs > mine and p < rule.significance:
        reasons.append(
            f"popularity hits more often than the recommender's recipe in the last window "
            f"({theirs:.3f} against {mine:.3f}, p = {p:.2g}): rerun the recommend stage, which "
            "serves popularity when it wins"
        )
    return reasons
