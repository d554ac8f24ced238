"""The sweep of candidate clusterings and the rule that picks the winner.

The preprocessed users are clustered by every candidate: each algorithm of
``algorithms`` with ``k`` swept over ``k_min..k_max`` (HDBSCAN finds its own
``k``); every candidate is fitted, scored (``scores``) and, for mixtures, given its
BIC. The choice rule (``choice``) keeps candidates whose stability and smallest
share clear the floors and takes the best by the chosen metric; when none clears
them, the best by the metric is taken and ``choice_fallback`` is 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from personalab.segments.model import SampledClusterer
from personalab.segments.params import ChoiceRule, SegmentsError, SegmentsParams
from personalab.segments.scores import score_clustering, stability


@dataclass
class Candidate:
    algorithm: str
    k: int | None
    model: SampledClusterer
    labels: np.ndarray
    scores: dict[str, float] = field(default_factory=dict)
    started: float = float("nan")  # when it was fitted and scored, in seconds since the epoch
    ended: float = float("nan")

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


def min_users(params: SegmentsParams) -> int:
    """The fewest users the sweep clusters: two per segment of the smallest ``k``."""
    return 2 * max(params.k_min, 2)


def evaluate_candidates(X: np.ndarray, params: SegmentsParams) -> list[Candidate]:
    """Fit and score every candidate of the sweep (``k`` below the number of users)."""
    n = X.shape[0]
    if n < min_users(params):
        raise SegmentsError(
            f"only {n} users: too few to cluster (need at least {min_users(params)})"
        )
    if np.allclose(X, X[0]):
        raise SegmentsError(
            "every user has the same (preprocessed) features: there is nothing to cluster"
        )
    out = []
    for algorithm, k, model in candidate_models(params):
        if k is not None and k >= n:
            continue
        started, tick = time.time(), time.perf_counter()
        model.fit(X)
        labels = model.labels_
        scores = score_clustering(X, labels, params.silhouette_sample, params.seed)
        scores["bic"] = float(model.model_.bic(X)) if algorithm == "gmm" else np.nan
        scores["stability_ari"] = stability(
            model, X, params.stability_resamples, params.stability_sample, params.seed
        )
        scores["seconds"] = time.perf_counter() - tick
        out.append(
            Candidate(algorithm, k, model, labels, scores, started=started, ended=time.time())
        )
    return out


def comparison_table(candidates: list[Candidate]) -> pd.DataFrame:
    rows = [
        {"candidate": c.name, "algorithm": c.algorithm, "k": c.k, **c.scores} for c in candidates
    ]
    return pd.DataFrame(rows)


def choose_candidate(table: pd.DataFrame, rule: ChoiceRule) -> tuple[int, bool] | None:
    """Index (row) of the chosen candidate and whether the floors had to be dropped; None when
    no candidate has two or more segments and a ``rule.metric`` score."""
    if table.empty:
        return None
    usable = table[table[rule.metric].notna() & (table["n_clusters"] >= 2)]
    if usable.empty:
        return None
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
