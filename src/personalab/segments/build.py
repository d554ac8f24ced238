"""The stage's wiring: sweep, validate, choose, profile, name and re-assign over time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from personalab.segments.candidates import (
    Candidate,
    choose_candidate,
    comparison_table,
    evaluate_candidates,
)
from personalab.segments.history import assign_all_cutoffs, transitions
from personalab.segments.model import centroid_distances
from personalab.segments.params import SegmentsError, SegmentsParams
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


def build_segments(
    table: pd.DataFrame, params: SegmentsParams, truth: pd.DataFrame | None = None
) -> SegmentsResult:
    """Sweep, validate, choose, profile, name and re-assign over time."""
    if table.empty:
        raise SegmentsError("features table is empty: run the features stage first")
    latest = latest_cutoff(table)
    raw = feature_matrix(latest, params.features)
    pre = make_preprocessor(params)
    X = pre.fit_transform(raw)
    candidates = evaluate_candidates(X, params)
    comparison = comparison_table(candidates)
    best, fallback = choose_candidate(comparison, params.choice)
    chosen = candidates[best]
    pipeline = Pipeline([*pre.steps, ("cluster", chosen.model)])
    labels = chosen.labels
    lift = feature_lift(latest, labels, params.features)
    names = name_segments(lift, params.name_features)
    proba = chosen.model.predict_proba(X)
    assignments = assignment_table(latest, X, labels, names, proba)
    profiles = segment_profiles(latest, labels, params.features)
    profiles.insert(0, "segment", profiles.index.map(names))
    history = assign_all_cutoffs(table, pipeline, params)
    matrix, changed = transitions(history, names)
    metrics = stage_metrics(chosen, len(latest), len(candidates), fallback, changed)
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
        features=list(params.features),
    )


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
