"""The stage's wiring: choose the features, sweep, validate, choose, profile, name and
re-assign over time; or skip, with the reason, when nothing can be clustered (no rows, fewer
than two usable features, too few users for ``k_min`` segments, identical users, no candidate
with two or more segments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from personalab.core.status import StageStatus
from personalab.features.schema import LABEL
from personalab.segments.candidates import (
    Candidate,
    choose_candidate,
    comparison_table,
    evaluate_candidates,
    min_users,
)
from personalab.segments.columns import FeatureChoice, choose_features
from personalab.segments.history import assign_all_cutoffs, transitions
from personalab.segments.model import centroid_distances
from personalab.segments.params import SegmentsParams
from personalab.segments.preprocess import feature_matrix, latest_cutoff, make_preprocessor
from personalab.segments.profiles import feature_lift, name_segments, segment_profiles
from personalab.segments.scores import ari_vs_truth


@dataclass
class SegmentsResult:
    pipeline: Pipeline
    chosen: Candidate
    comparison: pd.DataFrame
    assignments: pd.DataFrame
    names: dict[int, str]
    profiles: pd.DataFrame
    lift: pd.DataFrame
    history: pd.DataFrame
    transition_matrix: pd.DataFrame
    metrics: dict[str, Any]
    X: np.ndarray
    fallback: bool
    features: list[str]
    log1p: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)  # every one, as in comparison

    def feature_summary(self) -> pd.DataFrame:
        """Each feature clustered on (and whether log1p was taken) and each default left out,
        with the reason."""
        used = [(f, True, f in self.log1p, "") for f in self.features]
        out = [(f, False, False, why) for f, why in self.left_out.items()]
        return pd.DataFrame(used + out, columns=["feature", "clustered", "log1p", "left_out"])


def build_segments(
    table: pd.DataFrame,
    params: SegmentsParams,
    status: StageStatus,
    truth: pd.DataFrame | None = None,
) -> SegmentsResult | None:
    """Choose the features, sweep, validate, choose, profile, name and re-assign over time.

    None when nothing can be clustered; ``status`` then holds the reason (skipped). What was
    left out or adapted on the way is noted in ``status`` too."""
    prepared = prepare_users(table, params, status)
    if prepared is None:
        return None
    latest, choice, pre, X = prepared
    candidates = evaluate_candidates(X, params)
    comparison = comparison_table(candidates)
    picked = choose_candidate(comparison, params.choice)
    if picked is None:
        status.skip(
            f"no candidate clustering ({len(candidates)} tried) found two or more segments "
            f"with a {params.choice.metric} score: the users do not separate"
        )
        return None
    best, fallback = picked
    if fallback:
        rule = params.choice
        status.warn(
            f"no candidate cleared the choice floors (stability ARI >= {rule.min_stability}, "
            f"smallest segment >= {rule.min_cluster_share:.0%}): took {chosen_name(comparison, best)}, "
            f"the best {rule.metric} of all"
        )
    chosen = candidates[best]
    pipeline = Pipeline([*pre.steps, ("cluster", chosen.model)])
    labels = chosen.labels
    lift = feature_lift(latest, labels, choice.features)
    means = latest[choice.features].astype(float).groupby(labels).mean()
    names = name_segments(lift, params.name_features, means)
    proba = chosen.model.predict_proba(X)
    assignments = assignment_table(latest, X, labels, names, proba)
    profiles = segment_profiles(latest, labels, choice.features, label_of(table))
    profiles.insert(0, "segment", profiles.index.map(names))
    history = assign_all_cutoffs(table, pipeline, choice.features)
    matrix, changed = transitions(history, names)
    metrics = stage_metrics(chosen, len(latest), len(candidates), fallback, changed)
    metrics.update(n_features=len(choice.features), features_left_out=len(choice.left_out))
    if truth is not None and len(truth):
        metrics["ari_vs_truth"] = ari_vs_truth(assignments, truth)
    return SegmentsResult(
        pipeline=pipeline,
        chosen=chosen,
        comparison=comparison,
        assignments=assignments,
        names=names,
        profiles=profiles,
        lift=lift,
        history=history,
        transition_matrix=matrix,
        metrics=metrics,
        X=X,
        fallback=fallback,
        features=list(choice.features),
        log1p=list(choice.log1p),
        left_out=dict(choice.left_out),
        candidates=candidates,
    )


def prepare_users(
    table: pd.DataFrame, params: SegmentsParams, status: StageStatus
) -> tuple[pd.DataFrame, FeatureChoice, Pipeline, np.ndarray] | None:
    """The latest cut-off's users, the features chosen, the fitted preprocessing and the matrix
    it gives; None (``status`` skipped, with the reason) when nothing can be clustered."""
    if table.empty:
        status.skip(empty_table_reason(table))
        return None
    choice = choose_features(table, params, status)
    if len(choice.features) < 2:
        usable = ", ".join(choice.features) or "none"
        status.skip(f"fewer than 2 usable features (usable: {usable}): nothing to cluster on")
        return None
    latest = latest_cutoff(table)
    n, needed = len(latest), min_users(params)
    if n < needed:
        status.skip(
            f"only {n} user(s) at the latest cut-off {latest['cutoff'].iloc[0]}: too few for "
            f"{params.k_min} segments (k_min; the sweep needs at least {needed} users)"
        )
        return None
    pre = make_preprocessor(params, choice.features, choice.log1p)
    raw = feature_matrix(latest, choice.features)
    imputed = pre[:2].fit_transform(raw)  # log1p and imputation: before scaling and PCA
    if np.allclose(imputed, imputed[0]):
        status.skip(
            f"every user at the latest cut-off has the same (preprocessed) features "
            f"{', '.join(choice.features)}: there is nothing to cluster"
        )
        return None
    X = pre.fit_transform(raw)
    if params.k_max >= n and any(a != "hdbscan" for a in params.algorithms):
        status.adapted(
            f"k swept from {params.k_min} to {n - 1} only: {n} users (k_max {params.k_max})"
        )
    return latest, choice, pre, X


def chosen_name(comparison: pd.DataFrame, row: int) -> str:
    return str(comparison.loc[row, "candidate"])


def empty_table_reason(table: pd.DataFrame) -> str:
    """Why the features table has no rows: the features stage's skip reason when it skipped."""
    if table.attrs.get("status") == "skipped":
        reason = table.attrs.get("skip_reason") or "no reason given"
        return f"the features stage skipped ({reason}): no users to cluster"
    return "the features table has no rows: no users to cluster"


def label_of(table: pd.DataFrame) -> str | None:
    """The label column (the table's ``attrs["label"]``; ``purchased_within_horizon`` for a
    table without attrs), or None when the table has none."""
    label = table.attrs.get("label") or LABEL
    return label if label in table else None


def assignment_table(
    latest: pd.DataFrame,
    X: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    proba: np.ndarray | None,
) -> pd.DataFrame:
    """Per user of the latest cut-off: segment id and name, distance to the centroid, probability."""
    return pd.DataFrame(
        {
            "user_id": latest["user_id"],
            "cutoff": latest["cutoff"],
            "segment_id": labels,
            "segment": pd.Series(labels).map(names).astype("str"),
            "distance": centroid_distances(X, labels),
            "probability": proba.max(axis=1) if proba is not None else np.nan,
        }
    )


def stage_metrics(
    chosen: Candidate, users: int, candidates: int, fallback: bool, changed: float
) -> dict[str, Any]:
    """The chosen candidate's scores and the stage's counts (BIC for mixtures only)."""
    metrics: dict[str, Any] = {
        "algorithm": chosen.algorithm,
        "n_clusters": int(chosen.scores["n_clusters"]),
        "users": users,
        "candidates": candidates,
        "choice_fallback": int(fallback),
        **{
            key: chosen.scores[key]
            for key in (
                "silhouette",
                "davies_bouldin",
                "calinski_harabasz",
                "stability_ari",
                "min_cluster_share",
                "noise_share",
            )
        },
        "changed_segment_share": changed,
    }
    if chosen.algorithm == "gmm":
        metrics["bic"] = chosen.scores["bic"]
    return metrics
