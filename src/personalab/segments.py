"""Stage ``segments``: behavioural segments by clustering, chosen by validation.

The users of the latest cut-off of the features table are preprocessed
(feature subset, ``log1p`` of heavy-tailed counts, median imputation, scaling,
optional PCA to a share of variance) and clustered by every candidate: K-Means
(MiniBatchKMeans above ``minibatch_above`` users), Gaussian mixtures, Ward
agglomerative clustering on a sample with the rest assigned to the nearest
centroid, and HDBSCAN on a sample (noise is its own group, ``-1``), with ``k``
swept over ``k_min..k_max``. Every candidate is fitted on a seeded sample of at
most ``fit_sample`` users and then assigns all users, so the sweep scales to
millions of users.

Each candidate is scored by silhouette (on a seeded sample of at most
``silhouette_sample`` users), Davies-Bouldin, Calinski-Harabasz, BIC (mixtures),
the smallest cluster's share, and stability: the mean adjusted Rand index between
the clusterings that models fitted on bootstrap resamples give to one fixed
evaluation sample. The choice rule (``choice``) keeps candidates whose stability
and smallest share clear the floors and takes the best by the chosen metric; when
none clears them, the best by the metric is taken and ``choice_fallback`` is 1.

The chosen clustering is profiled (size, feature means, lift against the
population, purchase rate, revenue share), each segment is named from its most
distinctive features (deterministic for the same data), and the model re-assigns
users at every cut-off to measure how often users change segment.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.core.paths import upstream
from personalab.features.schema import LABEL, SEGMENTS

STAGE = "segments"
ALGORITHMS = ("kmeans", "gmm", "agglomerative", "hdbscan")
NOISE = -1


class SegmentsError(InputError, ValueError):
    """The data cannot be clustered as asked (too few users, constant features, ...)."""


class ChoiceRule(BaseModel):
    """How the winning candidate is picked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["silhouette", "davies_bouldin", "calinski_harabasz", "bic"] = "silhouette"
    min_stability: float = Field(0.8, ge=0, le=1)
    min_cluster_share: float = Field(0.03, ge=0, lt=1)

    @property
    def higher_is_better(self) -> bool:
        return self.metric in ("silhouette", "calinski_harabasz")


class SegmentsParams(StageParams):
    """Parameters of the segments stage (params/segments.yaml)."""

    seed: int = 42
    features: list[str] = Field(
        default_factory=lambda: [
            "days_since_last_event",
            "days_since_first_event",
            "sessions_30d",
            "events_per_session",
            "session_duration_mean",
            "dwell_mean",
            "scroll_depth_mean",
            "clicks_per_view",
            "view_to_cart",
            "cart_abandonment_rate",
            "price_sensitivity",
            "category_entropy",
            "orders_total",
            "revenue_total",
            "purchases_30d",
        ],  # fmt: skip
        min_length=2,
    )
    log1p: list[str] = Field(
        default_factory=lambda: [
            "days_since_last_event",
            "days_since_first_event",
            "sessions_30d",
            "events_per_session",
            "session_duration_mean",
            "dwell_mean",
            "orders_total",
            "revenue_total",
            "purchases_30d",
        ]  # fmt: skip
    )
    scaler: Literal["standard", "robust", "minmax"] = "standard"
    pca_variance: float | None = Field(None, gt=0, le=1)
    algorithms: list[Literal[ALGORITHMS]] = Field(
        default_factory=lambda: list(ALGORITHMS), min_length=1
    )  # type: ignore[valid-type]
    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)
    fit_sample: int = Field(50_000, ge=100)
    minibatch_above: int = Field(100_000, ge=1)
    gmm_covariance: Literal["full", "diag"] = "diag"
    agglomerative_sample: int = Field(3000, ge=50)
    hdbscan_min_cluster_share: float = Field(0.02, gt=0, lt=1)
    silhouette_sample: int = Field(5000, ge=100)
    stability_resamples: int = Field(3, ge=2)
    stability_sample: int = Field(3000, ge=100)
    choice: ChoiceRule = ChoiceRule()
    name_features: int = Field(2, ge=1, le=4, description="distinctive features in a segment name")

    @model_validator(mode="after")
    def _consistent(self) -> SegmentsParams:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        stray = sorted(set(self.log1p) - set(self.features))
        if stray:
            raise ValueError(f"log1p names column(s) {stray} that are not in features")
        return self


# --- preprocessing ------------------------------------------------------------------------------


def _log1p_columns(X: np.ndarray, columns: tuple[int, ...] = ()) -> np.ndarray:
    out = np.array(X, dtype=float, copy=True)
    idx = list(columns)
    out[:, idx] = np.log1p(np.clip(out[:, idx], 0.0, None))
    return out


def make_preprocessor(params: SegmentsParams) -> Pipeline:
    """log1p of the heavy-tailed columns, median imputation, scaling, optional PCA."""
    columns = tuple(params.features.index(name) for name in params.log1p)
    scaler = {"standard": StandardScaler(), "robust": RobustScaler(), "minmax": MinMaxScaler()}[
        params.scaler
    ]
    steps = [
        ("log1p", FunctionTransformer(_log1p_columns, kw_args={"columns": columns})),
        ("impute", SimpleImputer(strategy="median")),
        ("scale", scaler),
    ]
    if params.pca_variance is not None:
        steps.append(
            (
                "pca",
                PCA(n_components=params.pca_variance, svd_solver="full", random_state=params.seed),
            )
        )
    return Pipeline(steps)


def feature_matrix(table: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The chosen feature columns as floats; a clear error for missing or non-numeric ones."""
    missing = [name for name in features if name not in table]
    if missing:
        raise SegmentsError(f"features table lacks column(s) {missing} named in params 'features'")
    frame = table[features]
    bad = [name for name in features if not pd.api.types.is_numeric_dtype(frame[name])]
    if bad:
        raise SegmentsError(f"params 'features' names non-numeric column(s) {bad}")
    values = frame.to_numpy(dtype=float)
    empty = [
        name for name, column in zip(features, values.T, strict=True) if np.isnan(column).all()
    ]
    if empty:
        raise SegmentsError(
            f"feature column(s) {empty} have no values at all; drop them from params 'features'"
        )
    return values


def latest_cutoff(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["cutoff"] == table["cutoff"].max()].reset_index(drop=True)


# --- clusterers with fit / predict --------------------------------------------------------------


class SampledClusterer(ClusterMixin, BaseEstimator):
    """Fit ``method`` on a seeded sample of at most ``sample_size`` rows; assign the rest.

    ``method``: ``kmeans`` (MiniBatchKMeans above ``minibatch_above`` rows), ``gmm``,
    ``agglomerative`` (Ward; others go to the nearest centroid) or ``hdbscan``
    (others take the label of their nearest sampled neighbour, noise included).
    """

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int | None = 5,
        sample_size: int = 200_000,
        minibatch_above: int = 100_000,
        covariance_type: str = "full",
        min_cluster_share: float = 0.02,
        random_state: int = 0,
    ):
        self.method = method
        self.n_clusters = n_clusters
        self.sample_size = sample_size
        self.minibatch_above = minibatch_above
        self.covariance_type = covariance_type
        self.min_cluster_share = min_cluster_share
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> SampledClusterer:
        X = np.asarray(X, dtype=float)
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        if self.n_clusters is not None and n < self.n_clusters:
            raise SegmentsError(f"{n} users cannot form {self.n_clusters} clusters")
        rows = (
            np.sort(rng.choice(n, size=self.sample_size, replace=False))
            if n > self.sample_size
            else np.arange(n)
        )
        sample = X[rows]
        if self.method == "kmeans":
            cls = MiniBatchKMeans if len(rows) > self.minibatch_above else KMeans
            extra = {"batch_size": 4096} if cls is MiniBatchKMeans else {}
            self.model_ = cls(
                n_clusters=self.n_clusters, n_init=4, random_state=self.random_state, **extra
            ).fit(sample)
        elif self.method == "gmm":
            self.model_ = GaussianMixture(
                n_components=self.n_clusters,
                covariance_type=self.covariance_type,
                n_init=1,
                reg_covar=1e-4,
                random_state=self.random_state,
            ).fit(sample)
        elif self.method == "agglomerative":
            from scipy.cluster.hierarchy import fcluster, linkage

            labels = (
                fcluster(linkage(sample, method="ward"), t=self.n_clusters, criterion="maxclust")
                - 1
            )
            self.centroids_ = np.vstack(
                [sample[labels == c].mean(axis=0) for c in np.unique(labels)]
            )
        elif self.method == "hdbscan":
            size = max(5, int(self.min_cluster_share * len(rows)))
            labels = HDBSCAN(min_cluster_size=size, copy=True).fit(sample).labels_
            self.neighbours_ = NearestNeighbors(n_neighbors=1).fit(sample)
            self.sample_labels_ = labels
        else:
            raise ValueError(
                f"unknown clustering method {self.method!r}; known: {', '.join(ALGORITHMS)}"
            )
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.method in ("kmeans", "gmm"):
            return self.model_.predict(X)
        if self.method == "agglomerative":
            return _nearest(X, self.centroids_)
        _, idx = self.neighbours_.kneighbors(X)
        return self.sample_labels_[idx[:, 0]]

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        """Posterior probabilities for mixtures; None for the other methods."""
        return (
            self.model_.predict_proba(np.asarray(X, dtype=float)) if self.method == "gmm" else None
        )


def _nearest(X: np.ndarray, centroids: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], chunk):
        part = X[start : start + chunk]
        d = (part**2).sum(1)[:, None] - 2 * part @ centroids.T + (centroids**2).sum(1)[None, :]
        out[start : start + chunk] = d.argmin(axis=1)
    return out


def centroid_distances(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to the mean of its cluster (in the preprocessed space)."""
    out = np.zeros(X.shape[0])
    for c in np.unique(labels):
        mask = labels == c
        out[mask] = np.linalg.norm(X[mask] - X[mask].mean(axis=0), axis=1)
    return out


# --- candidates and validation ------------------------------------------------------------------


@dataclass
class Candidate:
    algorithm: str
    k: int | None
    model: SampledClusterer
    labels: np.ndarray
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.algorithm}-k{self.k}" if self.k is not None else self.algorithm


def candidate_models(params: SegmentsParams) -> list[tuple[str, int | None, SampledClusterer]]:
    """Every (algorithm, k, unfitted model) of the sweep; HDBSCAN finds its own k."""
    out = []
    for algorithm in params.algorithms:
        ks: list[int | None] = (
            [None] if algorithm == "hdbscan" else list(range(params.k_min, params.k_max + 1))
        )
        for k in ks:
            model = SampledClusterer(
                method=algorithm,
                n_clusters=k,
                sample_size=params.agglomerative_sample
                if algorithm in ("agglomerative", "hdbscan")
                else params.fit_sample,
                minibatch_above=params.minibatch_above,
                covariance_type=params.gmm_covariance,
                min_cluster_share=params.hdbscan_min_cluster_share,
                random_state=params.seed,
            )
            out.append((algorithm, k, model))
    return out


def score_clustering(
    X: np.ndarray, labels: np.ndarray, silhouette_sample: int, seed: int
) -> dict[str, float]:
    """Silhouette (sampled), Davies-Bouldin, Calinski-Harabasz, clusters and smallest share."""
    clusters = np.unique(labels)
    clustered = labels[labels != NOISE]
    sizes = np.bincount(clustered) if clustered.size else np.zeros(1, dtype=int)
    sizes = sizes[sizes > 0] if clustered.size else sizes
    scores = {
        "n_clusters": float(len(clusters[clusters != NOISE])),
        "min_cluster_share": float(sizes.min() / len(labels)),
        "noise_share": float(np.mean(labels == NOISE)),
    }
    if len(clusters) < 2:
        return {
            **scores,
            "silhouette": np.nan,
            "davies_bouldin": np.nan,
            "calinski_harabasz": np.nan,
        }
    sample = min(silhouette_sample, len(labels))
    scores["silhouette"] = float(silhouette_score(X, labels, sample_size=sample, random_state=seed))
    scores["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    scores["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    return scores


def stability(
    model: SampledClusterer, X: np.ndarray, resamples: int, sample_size: int, seed: int
) -> float:
    """Mean pairwise adjusted Rand index of bootstrap-fitted clusterings on one evaluation sample."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    size = min(sample_size, n)
    evaluation = X[rng.choice(n, size=size, replace=False)]
    labelings = []
    for b in range(resamples):
        boot = X[rng.choice(n, size=size, replace=True)]
        fitted = clone(model).set_params(random_state=seed + b + 1, sample_size=size).fit(boot)
        labelings.append(fitted.predict(evaluation))
    return float(
        np.mean([adjusted_rand_score(a, b) for a, b in itertools.combinations(labelings, 2)])
    )


def evaluate_candidates(X: np.ndarray, params: SegmentsParams) -> list[Candidate]:
    """Fit and score every candidate of the sweep."""
    n = X.shape[0]
    if n < max(params.k_min, 2) * 2:
        raise SegmentsError(
            f"only {n} users: too few to cluster (need at least {2 * max(params.k_min, 2)})"
        )
    if np.allclose(X, X[0]):
        raise SegmentsError(
            "every user has the same (preprocessed) features: there is nothing to cluster"
        )
    out = []
    for algorithm, k, model in candidate_models(params):
        if k is not None and k >= n:
            continue
        tick = time.perf_counter()
        model.fit(X)
        labels = model.labels_
        scores = score_clustering(X, labels, params.silhouette_sample, params.seed)
        scores["bic"] = float(model.model_.bic(X)) if algorithm == "gmm" else np.nan
        scores["stability_ari"] = stability(
            model, X, params.stability_resamples, params.stability_sample, params.seed
        )
        scores["seconds"] = time.perf_counter() - tick
        out.append(Candidate(algorithm=algorithm, k=k, model=model, labels=labels, scores=scores))
    return out


def comparison_table(candidates: list[Candidate]) -> pd.DataFrame:
    rows = [
        {"candidate": c.name, "algorithm": c.algorithm, "k": c.k, **c.scores} for c in candidates
    ]
    return pd.DataFrame(rows)


def choose_candidate(table: pd.DataFrame, rule: ChoiceRule) -> tuple[int, bool]:
    """Index (row) of the chosen candidate and whether the floors had to be dropped."""
    usable = table[table[rule.metric].notna() & (table["n_clusters"] >= 2)]
    if usable.empty:
        raise SegmentsError(
            f"no candidate has a {rule.metric} score: every clustering found a single group"
        )
    passing = usable[
        (usable["stability_ari"] >= rule.min_stability)
        & (usable["min_cluster_share"] >= rule.min_cluster_share)
    ]
    pool, fallback = (passing, False) if len(passing) else (usable, True)
    metric = pool[rule.metric]
    best = metric.idxmax() if rule.higher_is_better else metric.idxmin()
    return int(best), fallback


def describe_rule(rule: ChoiceRule) -> str:
    best = "highest" if rule.higher_is_better else "lowest"
    return (
        f"the {best} {rule.metric} among candidates with stability ARI >= {rule.min_stability} "
        f"and smallest cluster share >= {rule.min_cluster_share:.0%} (if none qualifies: the {best} {rule.metric} overall)"
    )


# --- profiles and names -------------------------------------------------------------------------

#: feature -> (word when high, word when low), for segment names
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "days_since_last_event": ("lapsing", "recently active"),
    "days_since_first_event": ("long-standing", "newcomers"),
    "sessions_30d": ("frequent visitors", "rare visitors"),
    "events_per_session": ("long sessions", "short sessions"),
    "session_duration_mean": ("long sessions", "short sessions"),
    "dwell_mean": ("slow readers", "quick browsers"),
    "scroll_depth_mean": ("deep scrollers", "shallow scrollers"),
    "clicks_per_view": ("clickers", "few clicks"),
    "view_to_cart": ("cart fillers", "window shoppers"),
    "cart_abandonment_rate": ("cart abandoners", "decisive"),
    "price_sensitivity": ("premium seekers", "bargain hunters"),
    "category_entropy": ("explorers", "category loyal"),
    "orders_total": ("frequent buyers", "non-buyers"),
    "revenue_total": ("big spenders", "low spenders"),
    "purchases_30d": ("recent buyers", "not buying lately"),
}


def segment_profiles(table: pd.DataFrame, labels: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Per segment: users, share, purchase rate, revenue share and the mean of every feature."""
    frame = table[features].astype(float).assign(_segment=labels)
    profile = frame.groupby("_segment").mean()
    profile.insert(0, "users", frame.groupby("_segment").size())
    profile.insert(1, "share", profile["users"] / len(frame))
    if LABEL in table:
        profile.insert(2, "purchase_rate", table[LABEL].groupby(labels).mean())
    if "revenue_total" in table:
        revenue = table["revenue_total"].groupby(labels).sum()
        profile.insert(3, "revenue_share", revenue / max(revenue.sum(), 1e-12))
    profile.index.name = "segment_id"
    return profile


def feature_lift(table: pd.DataFrame, labels: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Standardised difference of each segment's mean from the population: (mean - pop) / pop std."""
    values = table[features].astype(float)
    mean, std = values.mean(), values.std(ddof=0).replace(0, np.nan)
    return ((values.groupby(labels).mean() - mean) / std).rename_axis("segment_id")


def name_segments(lift: pd.DataFrame, n_words: int = 2) -> dict[int, str]:
    """A readable, unique name per segment from its most distinctive features (deterministic).

    Words come from ``DESCRIPTORS`` for the features with the largest absolute lift;
    when two segments would share a name, the next distinctive word is added.
    """

    def word(row: pd.Series, feature: str) -> str:
        high, low = DESCRIPTORS.get(feature, (f"high {feature}", f"low {feature}"))
        return high if row[feature] > 0 else low

    names: dict[int, str] = {}
    for segment_id in sorted(lift.index):
        if segment_id == NOISE:
            names[segment_id] = "noise"
            continue
        row = lift.loc[segment_id].dropna()
        order = row.abs().sort_values(ascending=False, kind="stable").index
        words: list[str] = []
        for candidate in (word(row, feature) for feature in order):
            if candidate not in words:
                words.append(candidate)
        name = ", ".join(words[:n_words]) or f"segment {segment_id}"
        extra = iter(words[n_words:])
        while name in names.values():
            more = next(extra, None)
            name = f"{name}, {more}" if more else f"{name} ({segment_id})"
        names[segment_id] = name
    return names


def rule_crosstab(table: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Share of each segment's users holding each rule segment of the features stage."""
    columns = [f"seg_{name}" for name in SEGMENTS if f"seg_{name}" in table]
    return (
        table[columns]
        .groupby(names.to_numpy())
        .mean()
        .rename(columns=lambda c: c.removeprefix("seg_"))
    )


# --- re-classification over time ----------------------------------------------------------------


def assign_all_cutoffs(
    table: pd.DataFrame, pipeline: Pipeline, params: SegmentsParams
) -> pd.DataFrame:
    """Segment id of every (user, cut-off) with the chosen model."""
    X = feature_matrix(table, params.features)
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
    rows = []
    for a, b in itertools.pairwise(cutoffs):
        before = history[history["cutoff"] == a].set_index("user_id")["segment_id"]
        after = history[history["cutoff"] == b].set_index("user_id")["segment_id"]
        both = before.index.intersection(after.index)
        rows.append(
            {
                "cutoff": b.strftime("%Y-%m-%d"),
                "users": len(both),
                "changed_share": float((before.loc[both] != after.loc[both]).mean()),
            }
        )
    return pd.DataFrame(rows, columns=["cutoff", "users", "changed_share"])


# --- the stage ----------------------------------------------------------------------------------


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
    assignments = pd.DataFrame(
        {
            "user_id": latest["user_id"],
            "cutoff": latest["cutoff"],
            "segment_id": labels,
            "segment": pd.Series(labels).map(names).astype("str"),
            "distance": centroid_distances(X, labels),
            "probability": proba.max(axis=1) if proba is not None else np.nan,
        }
    )
    profiles = segment_profiles(latest, labels, params.features)
    profiles.insert(0, "segment", profiles.index.map(names))
    history = assign_all_cutoffs(table, pipeline, params)
    matrix, changed = transitions(history, names)
    metrics: dict[str, Any] = {
        "algorithm": chosen.algorithm,
        "n_clusters": int(chosen.scores["n_clusters"]),
        "users": len(latest),
        "candidates": len(candidates),
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


def ari_vs_truth(assignments: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Adjusted Rand index between segments and the generator's latent user types."""
    types = truth.set_index("user_id")["user_type"]
    known = assignments["user_id"].isin(types.index)
    return float(
        adjusted_rand_score(
            types.loc[assignments.loc[known, "user_id"]].to_numpy(),
            assignments.loc[known, "segment_id"],
        )
    )


def load_inputs(paths: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The features table and, when the source had one, the ground truth (else None)."""
    path = upstream(paths.processed / "features.parquet", "features", SegmentsError)
    truth_path = paths.interim / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    return pd.read_parquet(path), (truth if truth is not None and len(truth) else None)


def log_candidate_runs(comparison: pd.DataFrame) -> list[str]:
    """One nested MLflow run per candidate with its parameters and scores."""
    from personalab.core.tracking import log_child_run

    ids = []
    for row in comparison.to_dict("records"):
        params = {"algorithm": row["algorithm"], "k": row["k"] if pd.notna(row["k"]) else "auto"}
        metrics = {
            k: v for k, v in row.items() if k not in ("candidate", "algorithm", "k") and pd.notna(v)
        }
        ids.append(log_child_run(row["candidate"], params, metrics))
    return ids


# --- reporting ----------------------------------------------------------------------------------


def plot_sweep(comparison: pd.DataFrame):
    """Silhouette, Davies-Bouldin and Calinski-Harabasz against k, one line per algorithm."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    swept = comparison[comparison["k"].notna()]
    for ax, metric, better in zip(
        axes,
        ("silhouette", "davies_bouldin", "calinski_harabasz"),
        ("higher", "lower", "higher"),
        strict=True,
    ):
        for algorithm, part in swept.groupby("algorithm", sort=False):
            ax.plot(part["k"], part[metric], marker="o", label=algorithm)
        ax.set(title=f"{metric} ({better} is better)", xlabel="k")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_projection(
    X: np.ndarray, labels: np.ndarray, names: dict[int, str], sample: int = 5000, seed: int = 0
):
    """The users on the first two principal components, coloured by segment (a seeded sample)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(labels), size=min(sample, len(labels)), replace=False)
    xy = PCA(n_components=2, random_state=seed).fit_transform(X[rows])
    fig, ax = plt.subplots(figsize=(8, 6))
    for segment_id in sorted(np.unique(labels)):
        mask = labels[rows] == segment_id
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=4, alpha=0.5, label=names.get(segment_id, str(segment_id))
        )
    ax.set(title="Segments on the first two principal components", xlabel="PC 1", ylabel="PC 2")
    ax.legend(markerscale=4, fontsize=8)
    fig.tight_layout()
    return fig


def plot_profile_heatmap(lift: pd.DataFrame, names: dict[int, str]):
    """Standardised lift of every feature per segment (red: above the population, blue: below)."""
    import matplotlib.pyplot as plt

    values = lift.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * lift.shape[1], 1.2 + 0.5 * lift.shape[0]))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(lift.shape[1]), lift.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(lift.shape[0]), [names.get(i, str(i)) for i in lift.index], fontsize=8)
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="(segment mean - population mean) / population std")
    ax.set_title("Segment profiles")
    fig.tight_layout()
    return fig


def model_requirements() -> list[str]:
    """Exact pins of what the saved segmenter needs to load (personalab itself ships in code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements(
        "scikit-learn", "scipy", "numpy", "pandas", "cloudpickle", "pydantic", "pyyaml"
    )


def save_segments(result: SegmentsResult, paths: Any) -> dict[str, Any]:
    """Write assignments, history, profiles, plot data, the model and metrics atomically."""
    import mlflow.sklearn

    from personalab.core.storage import atomic_dir, write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    out = {
        "segments": write_parquet(result.assignments, paths.processed / "segments.parquet"),
        "history": write_parquet(
            result.history.assign(
                segment=result.history["segment_id"].map(result.names).astype("str")
            ),
            paths.processed / "segment_history.parquet",
        ),
        "profiles": write_csv(
            result.profiles.reset_index(), paths.reports / "segments" / "profiles.csv"
        ),
        # without timings, so the versioned file changes only when the results do
        "comparison": write_csv(
            result.comparison.drop(columns="seconds"), paths.reports / "segments" / "candidates.csv"
        ),
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "changed": write_csv(changed_share_by_cutoff(result.history), plots / "changed_share.csv"),
    }
    for algorithm, part in result.comparison[result.comparison["k"].notna()].groupby("algorithm"):
        columns = [
            "k",
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "stability_ari",
            "min_cluster_share",
        ]
        out[f"sweep_{algorithm}"] = write_csv(
            part[columns].astype({"k": int}), plots / f"sweep_{algorithm}.csv"
        )
    model_dir = paths.models / "segmenter"
    with atomic_dir(model_dir) as tmp:
        mlflow.sklearn.save_model(
            result.pipeline,
            str(tmp),
            serialization_format="cloudpickle",
            code_paths=[str(Path(__file__).parent)],  # the model unpickles personalab classes
            pip_requirements=model_requirements(),
            # what a caller needs to use it: the input columns in order, and the segment names
            metadata={
                "features": result.features,
                "segment_names": {str(key): name for key, name in result.names.items()},
            },
        )
    out["model"] = model_dir
    return out
