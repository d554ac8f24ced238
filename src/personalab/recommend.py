"""Collaborative filtering with Surprise: interactions and vectorised scoring (groundwork of stage ``recommend``).

Interactions
------------
With ``feedback: explicit`` (or ``auto`` when ``rate`` events are at least half
of the item events used, as in MovieLens) each user-item pair takes its latest
explicit rating. Otherwise (``implicit``, or ``auto`` on a behaviour log with a
few ratings among many views) each pair gets an implicit strength: the sum of event weights
(default view 1, click 2, add_to_cart 3, purchase 5), each event optionally
decayed by ``0.5 ** (age_days / half_life_days)`` against the newest event of
the log, capped at ``cap``, then mapped linearly onto ``rating_scale`` (the
smallest possible strength, one weight-1 event, maps to the low end; ``cap`` to
the high end). Users and items with fewer than ``min_user_interactions`` /
``min_item_interactions`` pairs are dropped (repeatedly, until both hold) and
counted.

Vectorised scoring
------------------
:func:`model_arrays` copies a fitted Surprise algorithm into plain arrays;
:mod:`personalab.serving` scores every item for blocks of users from them (a
matrix product for factor models, the similarity matrix for neighbourhood models,
deviation and cluster tables for SlopeOne and CoClustering), equal to Surprise's
own ``predict`` (tested), including its default (the global mean) where Surprise
cannot predict. The served recommender loads the same arrays, so serving needs no
pickled Surprise object.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams, flatten
from personalab.core.paths import upstream
from personalab.serving import (
    KNN_MODELS,
    ArrayModel,
    ModelArrays,
    Recommender,
    block_scorer,
    family_of,
    save_serving_model,  # noqa: F401 - the notebook saves the model through this module
)

DEFAULT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0}


class RecommendError(InputError, ValueError):
    """Interactions or models that cannot be used as asked."""


@dataclass
class Interactions:
    """User-item ratings for Surprise, and what building them dropped."""

    ratings: pd.DataFrame  # user_id, item_id, rating, timestamp (the pair's latest event)
    explicit: bool
    counts: dict[str, int]


def build_interactions(
    events: pd.DataFrame,
    weights: dict[str, float] | None = None,
    cap: float = 20.0,
    half_life_days: float | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    feedback: str = "auto",
) -> Interactions:
    """Explicit ratings or implicit strengths per ``feedback`` (module docstring)."""
    for column in ("user_id", "item_id", "event_type", "timestamp"):
        if column not in events:
            raise RecommendError(f"events lack column {column!r}")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    lo, hi = rating_scale
    if lo >= hi:
        raise RecommendError(
            f"rating_scale must be (low, high) with low < high, got {rating_scale}"
        )
    if feedback not in ("auto", "explicit", "implicit"):
        raise RecommendError(f"feedback must be auto, explicit or implicit, got {feedback!r}")
    rated = events[
        (events["event_type"] == "rate") & events["rating"].notna() & events["item_id"].notna()
    ]
    implicit_events = int(
        (events["event_type"].isin(list(weights)) & events["item_id"].notna()).sum()
    )
    if feedback == "explicit" and rated.empty:
        raise RecommendError("feedback is explicit but the events hold no rate event with a rating")
    use_explicit = feedback == "explicit" or (
        feedback == "auto" and len(rated) > 0 and len(rated) >= implicit_events
    )
    if use_explicit:
        latest = rated.sort_values("timestamp", kind="stable").drop_duplicates(
            ["user_id", "item_id"], keep="last"
        )
        ratings = latest[["user_id", "item_id", "rating", "timestamp"]].reset_index(drop=True)
        explicit = True
    else:
        if cap < min(weights.values(), default=1.0):
            raise RecommendError(f"cap {cap} is below the smallest event weight")
        used = events[events["event_type"].isin(list(weights)) & events["item_id"].notna()]
        strength = used["event_type"].astype("str").map(weights).to_numpy(dtype=float)
        if half_life_days:
            age = (
                used["timestamp"].max() - used["timestamp"]
            ).dt.total_seconds().to_numpy() / 86_400
            strength = strength * 0.5 ** (age / half_life_days)
        pairs = pd.DataFrame(
            {
                "user_id": used["user_id"].to_numpy(),
                "item_id": used["item_id"].to_numpy(),
                "s": strength,
                "timestamp": used["timestamp"].to_numpy(),
            }
        ).groupby(["user_id", "item_id"], sort=True, observed=True)
        summed = pairs["s"].sum().clip(upper=cap)
        floor = min(weights.values())
        scaled = lo + (hi - lo) * (summed - floor).clip(lower=0) / max(cap - floor, 1e-12)
        ratings = pd.DataFrame(
            {"rating": scaled, "timestamp": pairs["timestamp"].max()}
        ).reset_index()
        explicit = False
    pairs_before = len(ratings)
    ratings = _filter_min_counts(ratings, min_user_interactions, min_item_interactions)
    counts = {
        "pairs": len(ratings),
        "pairs_dropped": pairs_before - len(ratings),
        "users": int(ratings["user_id"].nunique()),
        "items": int(ratings["item_id"].nunique()),
    }
    return Interactions(ratings=ratings.reset_index(drop=True), explicit=explicit, counts=counts)


def _filter_min_counts(ratings: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Drop users and items below their minimum until both minimums hold."""
    while True:
        users = ratings.groupby("user_id", observed=True)["item_id"].transform("size")
        items = ratings.groupby("item_id", observed=True)["user_id"].transform("size")
        keep = (users >= min_user) & (items >= min_item)
        if keep.all():
            return ratings
        ratings = ratings[keep]


def to_surprise(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Any:
    """A Surprise ``Dataset`` from (user_id, item_id, rating)."""
    from surprise import Dataset, Reader

    return Dataset.load_from_df(
        ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=rating_scale)
    )


def build_trainset(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Any:
    """The Surprise ``Trainset`` of (user_id, item_id, rating), built with arrays.

    Equal to ``to_surprise(ratings, rating_scale).build_full_trainset()`` (inner ids in
    order of first appearance, each user's and item's ratings in row order) at a
    fraction of its time on a million ratings.
    """
    from collections import defaultdict

    from surprise import Trainset

    users, user_ids = pd.factorize(ratings["user_id"], sort=False)
    items, item_ids = pd.factorize(ratings["item_id"], sort=False)
    values = ratings["rating"].to_numpy(dtype=float)

    def grouped(keys: np.ndarray, others: np.ndarray, n: int) -> defaultdict:
        order = np.argsort(keys, kind="stable")
        pairs = list(zip(others[order].tolist(), values[order].tolist(), strict=True))
        ends = np.cumsum(np.bincount(keys, minlength=n)).tolist()
        starts = [0, *ends[:-1]]
        return defaultdict(
            list, {key: pairs[a:b] for key, (a, b) in enumerate(zip(starts, ends, strict=True))}
        )

    return Trainset(
        grouped(users, items, len(user_ids)),
        grouped(items, users, len(item_ids)),
        len(user_ids),
        len(item_ids),
        len(values),
        tuple(rating_scale),
        {raw: inner for inner, raw in enumerate(user_ids.tolist())},
        {raw: inner for inner, raw in enumerate(item_ids.tolist())},
    )


# --- vectorised scoring: a fitted Surprise model as arrays ---------------------------------------


def trainset_arrays(trainset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR of a Surprise trainset's ratings by inner user, in its order: (indptr, items, ratings, users)."""
    lengths = np.fromiter(
        (len(trainset.ur[u]) for u in range(trainset.n_users)),
        dtype=np.int64,
        count=trainset.n_users,
    )
    total = int(lengths.sum())
    pairs = np.fromiter(
        (pair for u in range(trainset.n_users) for pair in trainset.ur[u]),
        dtype=np.dtype((np.float64, 2)),
        count=total,
    ).reshape(total, 2)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    users = np.repeat(np.arange(trainset.n_users), lengths)
    return indptr, pairs[:, 0].astype(np.int64), pairs[:, 1].copy(), users


def rated_pairs(trainset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inner (user, item) ids of every rating in a Surprise trainset, as two arrays."""
    _, items, _, users = trainset_arrays(trainset)
    return users, items


def factor_terms(algo: Any, users: np.ndarray, items: np.ndarray) -> dict[str, Any]:
    """P, Q, bu, bi and the offset of a fitted factor model: ``offset + bu[u] + bi[i] + Q[i] . P[u]``.

    ``users``/``items`` are the trainset's rated pairs (SVDpp's implicit term needs them).
    """
    name = type(algo).__name__
    trainset = algo.trainset
    mu = float(trainset.global_mean)
    n_users, n_items = trainset.n_users, trainset.n_items
    if name == "BaselineOnly":
        bu, bi = np.asarray(algo.bu), np.asarray(algo.bi)
        return {
            "P": np.zeros((n_users, 0)),
            "Q": np.zeros((n_items, 0)),
            "bu": bu,
            "bi": bi,
            "offset": mu,
        }
    P, Q = np.asarray(algo.pu), np.asarray(algo.qi)
    if name == "SVDpp":
        from scipy.sparse import csr_matrix

        # implicit feedback: P[u] + |N(u)|^-1/2 * sum of y_j over the items u rated, as one sparse product
        per_user = np.bincount(users, minlength=n_users)
        norm = 1.0 / np.sqrt(per_user[users])
        P = P + csr_matrix((norm, (users, items)), shape=(n_users, n_items)) @ np.asarray(algo.yj)
    if name == "SVDpp" or algo.biased:
        return {"P": P, "Q": Q, "bu": np.asarray(algo.bu), "bi": np.asarray(algo.bi), "offset": mu}
    return {"P": P, "Q": Q, "bu": np.zeros(n_users), "bi": np.zeros(n_items), "offset": 0.0}


def model_arrays(algo: Any, seen_min_rating: float | None = None) -> ModelArrays:
    """Everything a fitted Surprise algorithm scores with, as arrays (see :mod:`personalab.serving`).

    The seen pairs (never recommended) are the trainset's pairs rated at least
    ``seen_min_rating`` (all of them when None), so sampled negatives are not "seen".
    """
    name = type(algo).__name__
    family = family_of(name)
    ts = algo.trainset
    indptr, items, ratings, users = trainset_arrays(ts)
    keep = slice(None) if seen_min_rating is None else ratings >= seen_min_rating
    seen_users, seen_items = users[keep], items[keep]
    low, high = ts.rating_scale
    arrays: dict[str, np.ndarray] = {
        "user_ids": np.asarray([ts.to_raw_uid(u) for u in range(ts.n_users)]),
        "item_ids": np.asarray([ts.to_raw_iid(i) for i in range(ts.n_items)]),
        "seen_indptr": np.concatenate(
            [[0], np.cumsum(np.bincount(seen_users, minlength=ts.n_users))]
        ),
        "seen_indices": seen_items,
    }
    scalars: dict[str, Any] = {"algorithm": name, "low": float(low), "high": float(high)}
    mu = float(ts.global_mean)
    if family in ("knn", "slope_one"):
        arrays |= {"ur_indptr": indptr, "ur_items": items, "ur_ratings": ratings}
    if family == "factors":
        terms = factor_terms(algo, users, items)
        scalars["offset"] = float(terms.pop("offset"))
        arrays |= terms
    elif family == "knn":
        user_based = bool(algo.sim_options.get("user_based", True))
        scalars |= {"k": int(algo.k), "min_k": int(algo.min_k), "user_based": user_based, "mu": mu}
        arrays |= {
            "sim": np.asarray(algo.sim),
            "means": np.asarray(getattr(algo, "means", np.zeros(1)), dtype=float),
            "sigmas": np.asarray(getattr(algo, "sigmas", np.ones(1)), dtype=float),
            "bu": np.asarray(getattr(algo, "bu", np.zeros(ts.n_users)), dtype=float),
            "bi": np.asarray(getattr(algo, "bi", np.zeros(ts.n_items)), dtype=float),
        }
        if user_based:  # raters of every item in the trainset's order
            lengths = np.array([len(ts.ir[i]) for i in range(ts.n_items)], dtype=np.int64)
            raters = np.fromiter(
                (pair for i in range(ts.n_items) for pair in ts.ir[i]),
                dtype=np.dtype((np.float64, 2)),
                count=int(lengths.sum()),
            ).reshape(-1, 2)
            arrays |= {
                "ir_item": np.repeat(np.arange(ts.n_items), lengths),
                "ir_user": raters[:, 0].astype(np.int64),
                "ir_rating": raters[:, 1].copy(),
            }
    elif family == "slope_one":
        arrays |= {
            "dev": np.asarray(algo.dev),
            "freq": np.asarray(algo.freq),
            "user_mean": np.asarray(algo.user_mean, dtype=float),
        }
    elif family == "co_clustering":
        arrays |= {
            key: np.asarray(getattr(algo, key))
            for key in (
                "cltr_u",
                "cltr_i",
                "user_mean",
                "item_mean",
                "avg_cltr_u",
                "avg_cltr_i",
                "avg_cocltr",
            )
        }
    else:
        scalars |= {"mu": mu, "sigma": float(algo.sigma)}
    return ModelArrays(arrays, scalars)


def make_scorer(algo: Any, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A function from inner user ids to their (unclipped) scores of every item, for a fitted model."""
    return block_scorer(model_arrays(algo), seed)


def score_blocks(
    algo: Any,
    inner_users: np.ndarray | None = None,
    block_size: int = 4096,
    clip: bool = True,
    seed: int = 0,
    scorer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inner user ids, scores users x items) in blocks: Surprise's estimates, vectorised.

    ``scorer`` is a :func:`make_scorer` result to reuse (built here when not given).
    """
    low, high = algo.trainset.rating_scale
    users = np.arange(algo.trainset.n_users) if inner_users is None else np.asarray(inner_users)
    block_scores = scorer or make_scorer(algo, seed)
    for start in range(0, users.size, block_size):
        block = users[start : start + block_size]
        scores = block_scores(block)
        yield block, np.clip(scores, low, high, out=scores) if clip else scores


def seen_matrix(trainset: Any, min_rating: float | None = None) -> Any:
    """CSR (users x items) of the pairs each user rated in training (inner ids).

    With ``min_rating`` only pairs rated at least that (not sampled negatives) count.
    """
    from scipy import sparse

    _, items, ratings, users = trainset_arrays(trainset)
    if min_rating is not None:
        users, items = users[ratings >= min_rating], items[ratings >= min_rating]
    data = np.ones(users.size, dtype=np.int8)
    return sparse.csr_array((data, (users, items)), shape=(trainset.n_users, trainset.n_items))


def recommend_top_k(
    algo: Any,
    k: int,
    users: list[Any] | None = None,
    exclude_seen: bool = True,
    block_size: int = 4096,
    *,
    seed: int = 0,
    seen_min_rating: float | None = None,
) -> pd.DataFrame:
    """Each known user's ``k`` best unseen items (user_id, item_id, score, rank), in user blocks.

    ``users`` are raw ids (default: every user of the trainset; unknown ones are
    skipped). Scores come from the model's arrays (:mod:`personalab.serving`), so no
    Python loop runs over user-item pairs and memory stays at a few
    ``block_size x items`` arrays.
    """
    model = ArrayModel(model_arrays(algo, seen_min_rating), seed, block_size)
    chosen = model.users if users is None else users
    return model.top_k(list(chosen), k, exclude_seen=exclude_seen)


# --- the stage: params --------------------------------------------------------------------------

STAGE = "recommend"
MODEL_NAME = "personalab-recommender"
ALGORITHMS = (
    "SVD",
    "SVDpp",
    "NMF",
    "SlopeOne",
    "KNNBasic",
    "KNNWithMeans",
    "KNNWithZScore",
    "KNNBaseline",
    "CoClustering",
    "BaselineOnly",
    "NormalPredictor",
)
BASELINES = ("popularity", "random")
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
SIMILARITIES = ("cosine", "msd", "pearson", "pearson_baseline")
SIM_OPTION_KEYS = {"name", "user_based", "min_support", "shrinkage"}
SIMILARITY_BUDGET_BYTES = 4 << 30  # a similarity matrix larger than this is refused before fitting


def algorithm_options(name: str) -> set[str]:
    """Constructor options Surprise's ``name`` accepts (its signature; KNN also ``bsl_options``)."""
    import inspect

    import surprise

    parameters = set(inspect.signature(getattr(surprise, name).__init__).parameters)
    allowed = parameters - {"self", "kwargs"}
    return allowed | {"bsl_options"} if "kwargs" in parameters else allowed


def check_algorithm(name: str, options: Mapping[str, Any], where: str) -> None:
    """Raise ``ValueError`` naming ``where`` when ``name`` or one of its options is not Surprise's."""
    if name not in ALGORITHMS:
        raise ValueError(
            f"{where}: unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}"
        )
    unknown = sorted(set(options) - algorithm_options(name))
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: {name} has no option {unknown[0]!r}; "
            f"its options: {', '.join(sorted(algorithm_options(name))) or 'none'}"
        )
    sim = options.get("sim_options") or {}
    if not isinstance(sim, Mapping):
        raise ValueError(f"{where}.sim_options must be a mapping, got {sim!r}")
    if bad := sorted(set(sim) - SIM_OPTION_KEYS):
        raise ValueError(
            f"{where}.sim_options.{bad[0]}: not a similarity option ({', '.join(sorted(SIM_OPTION_KEYS))})"
        )
    if "name" in sim and sim["name"] not in SIMILARITIES:
        raise ValueError(
            f"{where}.sim_options.name: {sim['name']!r} is not one of {', '.join(SIMILARITIES)}"
        )


DEFAULT_ALGORITHMS: dict[str, dict[str, Any]] = {
    "SVD": {"n_factors": 50, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02},
    "BaselineOnly": {},
}
DEFAULT_SPACE: dict[str, dict[str, list[Any]]] = {
    "SVD": {
        "n_factors": [8, 96],
        "n_epochs": [10, 30],
        "lr_all": [0.002, 0.02],
        "reg_all": [0.005, 0.2],
    }
}


class InteractionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback: Literal["auto", "explicit", "implicit"] = "auto"
    weights: dict[str, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    cap: PositiveFloat = 20.0
    half_life_days: PositiveFloat | None = None
    min_user_interactions: int = Field(3, ge=1)
    min_item_interactions: int = Field(5, ge=1)
    rating_scale: tuple[float, float] = (1.0, 5.0)
    negatives_per_positive: float = Field(1.0, ge=0)
    negative_sampling: Literal["popularity", "uniform"] = "popularity"
    negative_rating: float = 0.0

    @model_validator(mode="after")
    def _below_scale(self) -> InteractionParams:
        if self.negatives_per_positive and self.negative_rating >= self.rating_scale[0]:
            raise ValueError(
                f"negative_rating {self.negative_rating} must be below rating_scale's low end "
                f"{self.rating_scale[0]}"
            )
        return self

    def surprise_scale(self, explicit: bool) -> tuple[float, float]:
        """The rating scale Surprise is given: extended down to ``negative_rating`` with negatives."""
        if explicit or not self.negatives_per_positive:
            return self.rating_scale
        return (self.negative_rating, self.rating_scale[1])


class HoldoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["random", "last_n"] = "random"
    test_share: float = Field(0.2, gt=0, lt=1)
    last_n: int = Field(2, ge=1)
    relevant_min_rating: float | None = None


class CrossValidationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    folds: int = Field(5, ge=2)
    max_pairs: int | None = Field(50_000, ge=100)


class PopularityParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: PositiveFloat | None = None


class RecommendTuningParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_trials: int = Field(4, ge=0)
    timeout_minutes: PositiveFloat | None = 5.0
    space: dict[str, dict[str, list[Any]]] = Field(default_factory=lambda: dict(DEFAULT_SPACE))

    @field_validator("space")
    @classmethod
    def _ranges(cls, space: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, list[Any]]]:
        for algorithm, ranges in space.items():
            for key, values in ranges.items():
                where = f"tuning.space.{algorithm}.{key}"
                if len(values) < 2:
                    raise ValueError(f"{where}: give [low, high] or two or more choices")
                if _is_range(values) and values[0] > values[1]:
                    raise ValueError(f"{where}: low {values[0]} is above high {values[1]}")
        return space


class RecommendRegistryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    model_name: str = MODEL_NAME


class RecommendParams(StageParams):
    seed: int = 42
    interactions: InteractionParams = Field(default_factory=InteractionParams)
    algorithms: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_ALGORITHMS.items()}
    )
    holdout: HoldoutParams = Field(default_factory=HoldoutParams)
    k: int = Field(10, ge=1)
    top_n: int = Field(10, ge=1)
    selection_metric: str = "ndcg_at_10"
    cross_validation: CrossValidationParams = Field(default_factory=CrossValidationParams)
    popularity: PopularityParams = Field(default_factory=PopularityParams)
    tuning: RecommendTuningParams = Field(default_factory=RecommendTuningParams)
    block_size: int = Field(2048, ge=1)
    registry: RecommendRegistryParams = Field(default_factory=RecommendRegistryParams)

    @model_validator(mode="after")
    def _consistent(self) -> RecommendParams:
        if not self.algorithms:
            raise ValueError("algorithms: name at least one Surprise algorithm")
        for name, options in self.algorithms.items():
            check_algorithm(name, options or {}, f"algorithms.{name}")
        for name, ranges in self.tuning.space.items():
            if name not in self.algorithms:
                raise ValueError(f"tuning.space.{name}: {name} is not in algorithms")
            for key in ranges:
                top = key.split(".")[0]
                check_algorithm(name, {top: {} if "." in key else None}, f"tuning.space.{name}")
                if "." in key and (
                    top != "sim_options" or key.split(".", 1)[1] not in SIM_OPTION_KEYS
                ):
                    raise ValueError(f"tuning.space.{name}.{key}: only sim_options.<option> nests")
        allowed = self.ranking_keys()
        if self.selection_metric not in allowed:
            raise ValueError(
                f"selection_metric: {self.selection_metric!r} is not one of {', '.join(allowed)} "
                f"(metrics at k={self.k})"
            )
        return self

    def ranking_keys(self) -> list[str]:
        return [f"{m}_at_{self.k}" for m in RANKING_METRICS]

    def options(self, name: str) -> dict[str, Any]:
        return dict(self.algorithms[name] or {})


def _is_range(values: Sequence[Any]) -> bool:
    return len(values) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


# --- held-out split and baselines ---------------------------------------------------------------


@dataclass
class Holdout:
    """A per-user split of the interactions: the model learns ``train`` and is asked for ``relevant``."""

    train: pd.DataFrame
    test: pd.DataFrame
    relevant: pd.DataFrame  # the test pairs that count as relevant (user_id, item_id)
    explicit: bool = False  # ratings given by users (no negatives are sampled)

    @property
    def users(self) -> list[Any]:
        """The users evaluated: those with at least one relevant held-out item."""
        return self.relevant["user_id"].drop_duplicates().tolist()

    @property
    def catalogue(self) -> list[Any]:
        return self.train["item_id"].drop_duplicates().tolist()


def split_holdout(
    ratings: pd.DataFrame, params: HoldoutParams, seed: int, explicit: bool = False
) -> Holdout:
    """Hold out part of every user's interactions; each user keeps at least one for training.

    ``random``: ``round(test_share * n)`` of a user's ``n`` pairs (at least one),
    drawn with ``seed``. ``last_n``: the user's ``last_n`` latest pairs by time (ties
    by item id). Users with a single pair stay in training only. With
    ``relevant_min_rating`` only held-out pairs rated at least that count as relevant.
    """
    n = ratings.groupby("user_id", observed=True)["item_id"].transform("size").to_numpy()
    if params.kind == "random":
        n_test = np.clip(np.rint(params.test_share * n), 1, None)
        order = ratings.assign(_key=np.random.default_rng(seed).random(len(ratings)))
        order = order.sort_values(["user_id", "_key"], kind="stable")
    else:
        n_test = np.full(len(ratings), params.last_n)
        order = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    n_test = pd.Series(np.minimum(n - 1, n_test), index=ratings.index)
    from_end = order.groupby("user_id", observed=True).cumcount(ascending=False)
    held = (from_end < n_test.loc[order.index]).reindex(ratings.index)
    train = ratings[~held].reset_index(drop=True)
    test = ratings[held].reset_index(drop=True)
    relevant = (
        test
        if params.relevant_min_rating is None
        else test[test["rating"] >= params.relevant_min_rating]
    )
    return Holdout(train, test, relevant[["user_id", "item_id"]].reset_index(drop=True), explicit)


def popularity(ratings: pd.DataFrame, window_days: float | None = None) -> pd.Series:
    """Share of users who interacted with each item, most popular first (ties by item id).

    With ``window_days`` (trending) only pairs whose latest event is within that
    many days of the newest one count; an empty window falls back to all pairs.
    """
    pairs = ratings
    if window_days is not None and "timestamp" in ratings and len(ratings):
        recent = ratings[
            ratings["timestamp"] >= ratings["timestamp"].max() - pd.Timedelta(days=window_days)
        ]
        pairs = recent if len(recent) else ratings
    users = max(pairs["user_id"].nunique(), 1)
    share = pairs.groupby("item_id", observed=True)["user_id"].nunique() / users
    frame = (
        share.rename("score")
        .reset_index()
        .sort_values(["score", "item_id"], ascending=[False, True], kind="stable")
    )
    return frame.set_index("item_id")["score"]


class BaselineModel:
    """``popularity`` (or trending) and ``random`` rankings over the training items, seen excluded."""

    def __init__(
        self,
        kind: str,
        train: pd.DataFrame,
        seed: int = 0,
        window_days: float | None = None,
        block_size: int = 2048,
    ):
        from scipy.sparse import csr_array

        if kind not in BASELINES:
            raise RecommendError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
        self.kind, self.seed, self.block_size = kind, seed, block_size
        self.items = pd.Index(train["item_id"].drop_duplicates().sort_values())
        self.users = pd.Index(train["user_id"].drop_duplicates())
        rows = self.users.get_indexer(train["user_id"])
        cols = self.items.get_indexer(train["item_id"])
        shape = (len(self.users) + 1, len(self.items))  # the last row: users never seen
        self.seen = csr_array((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=shape)
        self.item_scores = (
            popularity(train, window_days).reindex(self.items, fill_value=0.0).to_numpy()
            if kind == "popularity"
            else None
        )

    def top_k(self, users: Sequence[Any], k: int) -> pd.DataFrame:
        from personalab.evaluation.topk import top_k_from_scores

        users = list(dict.fromkeys(users))
        rows = self.users.get_indexer(users)
        rows = np.where(rows < 0, len(self.users), rows)
        rng = np.random.default_rng(self.seed)
        parts = []
        for start in range(0, len(users), self.block_size):
            block = rows[start : start + self.block_size]
            if self.item_scores is None:
                scores = rng.random((block.size, len(self.items)))
            else:
                scores = np.tile(self.item_scores, (block.size, 1))
            parts.append(
                top_k_from_scores(
                    users[start : start + self.block_size],
                    self.items,
                    scores,
                    k,
                    exclude=self.seen[block],
                    block_size=self.block_size,
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else _empty_top()


def _empty_top() -> pd.DataFrame:
    return pd.DataFrame(columns=["user_id", "item_id", "score", "rank"])


# --- Surprise algorithms ------------------------------------------------------------------------


def make_algorithm(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """Surprise's ``name`` with ``options``; seeded and quiet unless the options say otherwise."""
    import surprise

    check = dict(options or {})
    try:
        check_algorithm(name, check, f"algorithms.{name}")
    except ValueError as err:
        raise RecommendError(str(err)) from None
    allowed = algorithm_options(name)
    if "random_state" in allowed:
        check.setdefault("random_state", seed)
    if "verbose" in allowed:
        check.setdefault("verbose", False)
    return getattr(surprise, name)(**check)


def similarity_size(algo: Any, trainset: Any) -> int:
    """Entries of the square matrix ``algo`` builds (similarities; SlopeOne's deviations), or 0."""
    name = type(algo).__name__
    if name in KNN_MODELS:
        user_based = algo.sim_options.get("user_based", True)
        return (trainset.n_users if user_based else trainset.n_items) ** 2
    if name == "SlopeOne":
        return 2 * trainset.n_items**2
    return 0


def fit_algorithm(algo: Any, trainset: Any) -> Any:
    """``algo.fit(trainset)``, refused up front when its square matrices would not fit in memory."""
    check_memory(algo, trainset)
    try:
        return algo.fit(trainset)
    except ZeroDivisionError:
        name = getattr(algo, "sim_options", {}).get("name", "msd")
        raise RecommendError(
            f"algorithms.{type(algo).__name__}: Surprise's {name} similarity divided by zero, "
            "which happens when ratings of 0 are all two items or users share; choose msd or "
            "pearson, or set interactions.negative_rating above 0 in params/recommend.yaml"
        ) from None


def check_memory(algo: Any, trainset: Any) -> None:
    """Raise when ``algo``'s square matrices over ``trainset`` exceed the memory budget."""
    entries = similarity_size(algo, trainset)
    if entries * 8 > SIMILARITY_BUDGET_BYTES:
        name = type(algo).__name__
        based = "user" if getattr(algo, "sim_options", {}).get("user_based", True) else "item"
        hint = (
            "set sim_options.user_based: false (item-based)"
            if based == "user" and name in KNN_MODELS
            else "raise min_item_interactions or drop it from algorithms"
        )
        raise RecommendError(
            f"algorithms.{name}: its {based}-by-{based} matrices would take "
            f"{entries * 8 / 2**30:.1f} GiB ({trainset.n_users:,} users, {trainset.n_items:,} items); "
            f"{hint} in params/recommend.yaml"
        )


def sample_negatives(
    positives: pd.DataFrame,
    per_positive: float,
    rating: float,
    sampling: str = "popularity",
    seed: int = 0,
) -> pd.DataFrame:
    """Unobserved user-item pairs rated ``rating``, about ``per_positive`` per observed pair.

    Implicit feedback has no negatives, and a rating model fitted to positives alone
    learns little about what a user would not pick. Each sampled pair takes the user
    of a random observed pair (so active users get more) and an item drawn uniformly
    or, with ``popularity``, in proportion to its pairs (so popular items are also
    learnt as skipped, the usual remedy against recommending the most popular to
    everyone). Pairs the user interacted with, and repeats, are dropped.
    """
    n = int(round(per_positive * len(positives)))
    if n == 0 or positives.empty:
        return positives.iloc[:0][["user_id", "item_id", "rating"]]
    rng = np.random.default_rng(seed)
    counts = positives["item_id"].value_counts(sort=False)
    weights = counts.to_numpy(dtype=float) / counts.sum() if sampling == "popularity" else None
    drawn = pd.DataFrame(
        {
            "user_id": rng.choice(positives["user_id"].to_numpy(), n),
            "item_id": rng.choice(counts.index.to_numpy(), n, p=weights),
        }
    ).drop_duplicates()
    seen = pd.MultiIndex.from_frame(positives[["user_id", "item_id"]])
    drawn = drawn[~pd.MultiIndex.from_frame(drawn).isin(seen)]
    return drawn.assign(rating=float(rating)).reset_index(drop=True)


def training_ratings(
    positives: pd.DataFrame, params: RecommendParams, explicit: bool, seed: int | None = None
) -> pd.DataFrame:
    """What Surprise is fitted to: the ratings, plus sampled negatives for implicit feedback."""
    ip = params.interactions
    ratings = positives[["user_id", "item_id", "rating"]]
    if explicit or not ip.negatives_per_positive:
        return ratings
    negatives = sample_negatives(
        positives,
        ip.negatives_per_positive,
        ip.negative_rating,
        ip.negative_sampling,
        params.seed if seed is None else seed,
    )
    return pd.concat([ratings, negatives], ignore_index=True)


def trainset_of(
    positives: pd.DataFrame, params: RecommendParams, explicit: bool, seed: int | None = None
) -> Any:
    """A Surprise trainset of ``positives`` (with negatives when implicit, see :func:`training_ratings`)."""
    ratings = training_ratings(positives, params, explicit, seed)
    return build_trainset(ratings, params.interactions.surprise_scale(explicit))


def surprise_model(algo: Any, params: RecommendParams) -> ArrayModel:
    """A fitted Surprise algorithm as arrays answering top-k (sampled negatives are not seen)."""
    seen_min = params.interactions.rating_scale[0]
    return ArrayModel(model_arrays(algo, seen_min), params.seed, params.block_size)


@dataclass
class Fitted:
    name: str
    model: Any  # ArrayModel or BaselineModel
    fit_seconds: float


def fit_candidate(
    name: str,
    options: Mapping[str, Any],
    train: pd.DataFrame,
    params: RecommendParams,
    explicit: bool = False,
) -> Fitted:
    """Fit one algorithm (Surprise's, or a baseline) on ``train``."""
    started = time.perf_counter()
    if name in BASELINES:
        model = BaselineModel(
            name, train, params.seed, params.popularity.window_days, params.block_size
        )
    else:
        algo = fit_algorithm(
            make_algorithm(name, options, params.seed),
            trainset_of(train, params, explicit),
        )
        model = surprise_model(algo, params)
    return Fitted(name, model, time.perf_counter() - started)


def evaluate_ranking(fitted: Fitted, holdout: Holdout, k: int) -> dict[str, float]:
    """Ranking metrics at ``k`` of top-k lists for every evaluated user (see personalab.evaluation.ranking)."""
    from personalab.evaluation.ranking import ranking_report

    started = time.perf_counter()
    recs = fitted.model.top_k(holdout.users, k)
    seconds = time.perf_counter() - started
    if recs.empty:
        raise RecommendError(
            f"{fitted.name} recommended nothing for the {len(holdout.users):,} held-out users"
        )
    report = ranking_report(recs, holdout.relevant, holdout.train, k, holdout.catalogue)
    return {**report, "predict_seconds": seconds}


def cross_validate_rating(
    name: str,
    options: Mapping[str, Any],
    ratings: pd.DataFrame,
    params: RecommendParams,
    explicit: bool = False,
) -> dict[str, float]:
    """Mean RMSE and MAE over seeded k folds (Surprise's ``cross_validate``, its benchmark protocol).

    The folds split what the model is fitted to (for implicit feedback, the
    interactions with their sampled negatives); with ``cross_validation.max_pairs``
    they are drawn from a seeded sample of that many pairs.
    """
    from surprise.model_selection import KFold, cross_validate

    cv = params.cross_validation
    ratings = training_ratings(ratings, params, explicit)
    sample = ratings
    if cv.max_pairs is not None and len(ratings) > cv.max_pairs:
        sample = ratings.sample(n=cv.max_pairs, random_state=params.seed)
    data = to_surprise(sample, params.interactions.surprise_scale(explicit))
    algo = make_algorithm(name, options, params.seed)
    check_memory(algo, data.build_full_trainset())
    np.random.seed(params.seed)  # noqa: NPY002 - NormalPredictor draws from NumPy's global generator
    started = time.perf_counter()
    result = cross_validate(
        algo,
        data,
        measures=["rmse", "mae"],
        cv=KFold(n_splits=cv.folds, random_state=params.seed, shuffle=True),
        n_jobs=1,
    )
    return {
        "rmse": float(np.mean(result["test_rmse"])),
        "mae": float(np.mean(result["test_mae"])),
        "cv_pairs": float(len(sample)),
        "cv_seconds": time.perf_counter() - started,
    }


# --- tuning -------------------------------------------------------------------------------------


def suggest_options(trial: Any, ranges: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Options for one trial: ``[low, high]`` numbers are ranges (log-scaled when
    ``high / low >= 10``, integers when both bounds are); other lists are choices.
    ``sim_options.<key>`` sets a similarity option."""
    chosen: dict[str, Any] = {}
    for key, values in ranges.items():
        if _is_range(values):
            low, high = values
            log = low > 0 and high / low >= 10
            if isinstance(low, int) and isinstance(high, int):
                value = trial.suggest_int(key, low, high, log=log)
            else:
                value = trial.suggest_float(key, float(low), float(high), log=log)
        else:
            value = trial.suggest_categorical(key, list(values))
        chosen[key] = value
    return chosen


def merge_options(base: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` options with a trial's values (``sim_options.name`` into ``sim_options``)."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for key, value in chosen.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            out.setdefault(outer, {})
            out[outer] = {**out[outer], inner: value}
        else:
            out[key] = value
    return out


@dataclass
class TuningResult:
    best_options: dict[str, dict[str, Any]]
    validation: dict[str, float]  # the selection metric on validation, per algorithm
    trials: pd.DataFrame  # algorithm, number, state, value, seconds, options


def tune(holdout: Holdout, params: RecommendParams) -> TuningResult:
    """Choose every algorithm's options on the validation split; tune those with a space.

    Each algorithm with a ``tuning.space`` gets a seeded TPE study of ``n_trials``
    (its first trial is the configured options when they lie in the space), objective
    the selection metric on ``holdout`` (fit on its ``train``, ranked for its held-out
    users). The others and the baselines are evaluated once with their options.
    """
    import optuna

    metric = params.selection_metric
    best, validation, rows = {}, {}, []
    budget = params.tuning.timeout_minutes
    for name in (*params.algorithms, *BASELINES):
        base = params.options(name) if name in params.algorithms else {}
        ranges = params.tuning.space.get(name, {}) if params.tuning.n_trials else {}
        if not ranges:
            started = time.perf_counter()
            fitted = fit_candidate(name, base, holdout.train, params, holdout.explicit)
            value = evaluate_ranking(fitted, holdout, params.k)[metric]
            best[name], validation[name] = base, value
            seconds = time.perf_counter() - started
            rows.append(_trial_row(name, 0, "COMPLETE", value, seconds, base, tuned=False))
            continue

        def objective(
            trial: Any, name: str = name, base: dict = base, ranges: dict = ranges
        ) -> float:
            options = merge_options(base, suggest_options(trial, ranges))
            trial.set_user_attr("options", options)
            fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
            return evaluate_ranking(fitted, holdout, params.k)[metric]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=params.seed),
            study_name=f"{STAGE}-{name}",
        )
        configured = flatten(base)
        start_point = {key: configured[key] for key in ranges if key in configured}
        if start_point and all(_inside(start_point[key], ranges[key]) for key in start_point):
            study.enqueue_trial(start_point)
        study.optimize(
            objective,
            n_trials=params.tuning.n_trials,
            timeout=None if budget is None else budget * 60,
        )
        for trial in study.trials:
            seconds = (
                (trial.datetime_complete - trial.datetime_start).total_seconds()
                if trial.datetime_complete
                else float("nan")
            )
            options = trial.user_attrs.get("options", {})
            rows.append(
                _trial_row(name, trial.number, trial.state.name, trial.value, seconds, options)
            )
        best[name] = study.best_trial.user_attrs["options"]
        validation[name] = float(study.best_value)
    return TuningResult(best, validation, pd.DataFrame(rows))


def _inside(value: Any, values: Sequence[Any]) -> bool:
    if _is_range(values):
        return isinstance(value, int | float) and values[0] <= value <= values[1]
    return value in values


def _trial_row(
    name: str,
    number: int,
    state: str,
    value: float | None,
    seconds: float,
    options: Mapping[str, Any],
    tuned: bool = True,
) -> dict[str, Any]:
    return {
        "algorithm": name,
        "number": number,
        "state": state,
        "value": value,
        "seconds": seconds,
        "tuned": tuned,
        "options": json.dumps(options, sort_keys=True),
    }


def log_trial_runs(trials: pd.DataFrame, metric: str) -> list[str]:
    """One nested MLflow run per tuning trial (and per algorithm evaluated once on validation)."""
    from personalab.core.tracking import log_child_run

    ids = []
    for row in trials.itertuples(index=False):
        options = json.loads(row.options)
        label = f"{row.algorithm} trial {row.number}" if row.tuned else f"{row.algorithm} (fixed)"
        metrics = {} if pd.isna(row.value) else {f"validation_{metric}": float(row.value)}
        metrics["seconds"] = float(row.seconds)
        ids.append(
            log_child_run(
                label,
                {"algorithm": row.algorithm, "state": row.state, **flatten(options)},
                metrics,
            )
        )
    return ids


# --- comparison and the champion ----------------------------------------------------------------


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per algorithm and baseline
    champion: str
    metrics: dict[str, Any]


def compare(
    ratings: pd.DataFrame, holdout: Holdout, tuning: TuningResult, params: RecommendParams
) -> Comparison:
    """Every algorithm (with its chosen options) and baseline, fitted on the training part and
    ranked for the test users; Surprise's algorithms also cross-validated for RMSE and MAE.

    The champion is the Surprise algorithm with the best selection metric on
    *validation* (so the test figures stay unbiased), not the lowest RMSE.
    """
    metric = params.selection_metric
    rows = []
    for name in (*params.algorithms, *BASELINES):
        options = tuning.best_options[name]
        fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
        row = {
            "model": name,
            "kind": "baseline" if name in BASELINES else "surprise",
            f"validation_{metric}": tuning.validation[name],
            **evaluate_ranking(fitted, holdout, params.k),
            "fit_seconds": fitted.fit_seconds,
        }
        if name not in BASELINES:
            row.update(cross_validate_rating(name, options, ratings, params, holdout.explicit))
        row["options"] = json.dumps(options, sort_keys=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    surprise_rows = table[table["kind"] == "surprise"]
    champion = str(surprise_rows.loc[surprise_rows[f"validation_{metric}"].idxmax(), "model"])
    table.insert(2, "champion", table["model"] == champion)
    return Comparison(table, champion, comparison_metrics(table, champion, params))


def comparison_metrics(
    table: pd.DataFrame, champion: str, params: RecommendParams
) -> dict[str, Any]:
    """``<Algo>_rmse``, ``<Algo>_mae``, ``<Algo>_<metric>`` per algorithm; the champion's figures;
    ``popularity_<metric>`` and ``random_<metric>`` for the baselines (metric = ndcg at k)."""
    ndcg = f"ndcg_at_{params.k}"
    rows = table.set_index("model")
    out: dict[str, Any] = {}
    for name, row in rows.iterrows():
        if row["kind"] == "surprise":
            out[f"{name}_rmse"] = float(row["rmse"])
            out[f"{name}_mae"] = float(row["mae"])
        out[f"{name}_{ndcg}"] = float(row[ndcg])
    best = rows.loc[champion]
    out["algorithm"] = champion
    for key in ("rmse", "mae", *params.ranking_keys(), "coverage", "novelty"):
        out[key] = float(best[key])
    out["selection_metric"] = params.selection_metric
    return out


# --- the served recommender ---------------------------------------------------------------------


def fit_recommender(
    ratings: pd.DataFrame,
    name: str,
    options: Mapping[str, Any],
    params: RecommendParams,
    explicit: bool = False,
) -> Recommender:
    """The champion refitted on every interaction, with the popularity fallback of all of them."""
    algo = fit_algorithm(
        make_algorithm(name, options, params.seed), trainset_of(ratings, params, explicit)
    )
    popular = popularity(ratings, params.popularity.window_days).head(max(params.top_n, 100))
    config = {
        "algorithm": name,
        "options": dict(options),
        "top_n": params.top_n,
        "seed": params.seed,
        "block_size": params.block_size,
        "rating_scale": list(params.interactions.rating_scale),
        "seen_min_rating": params.interactions.rating_scale[0],
        "users": algo.trainset.n_users,
        "items": algo.trainset.n_items,
        "pairs": algo.trainset.n_ratings,
    }
    return Recommender(model_arrays(algo, config["seen_min_rating"]), popular, config)


def recommend_everyone(recommender: Recommender, events: pd.DataFrame) -> pd.DataFrame:
    """Top-N for every user of the event log (the model's, and fallbacks for the rest)."""
    users = events["user_id"].drop_duplicates().sort_values().tolist()
    return recommender.recommend(users)


def register_and_decide(
    folder: Path | str, holdout: Holdout, value: float, params: RecommendParams
) -> Any:
    """Register the saved recommender; ``champion`` moves to it only if it beats the current
    champion's recipe (algorithm and options) refitted on this training part and ranked for
    these test users (a served model has seen every interaction, so it cannot be re-scored)."""
    import mlflow

    from personalab.core.registry import promote_if_better, register_model

    def score_champion(uri: str) -> float:
        champion = mlflow.pyfunc.load_model(uri).unwrap_python_model().recommender.config
        fitted = fit_candidate(
            champion["algorithm"], champion["options"], holdout.train, params, holdout.explicit
        )
        return evaluate_ranking(fitted, holdout, params.k)[params.selection_metric]

    client, version = register_model(folder, params.registry.model_name)
    decision = promote_if_better(
        client, params.registry.model_name, version, params.selection_metric, value, score_champion
    )
    mlflow.set_tags(decision.as_tags())
    return decision


# --- plots and outputs --------------------------------------------------------------------------


def plot_comparison(table: pd.DataFrame, params: RecommendParams):
    """Test ranking metric (validation as dots), CV RMSE, and fit / top-k times per model."""
    import matplotlib.pyplot as plt

    metric = params.selection_metric
    ordered = table.sort_values(metric)
    colours = [
        "C3" if c else ("0.6" if k == "baseline" else "C0")
        for c, k in zip(ordered["champion"], ordered["kind"], strict=True)
    ]
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.45 * len(table) + 2.2))
    axes[0].barh(ordered["model"], ordered[metric], color=colours)
    axes[0].scatter(
        ordered[f"validation_{metric}"],
        ordered["model"],
        color="k",
        s=14,
        zorder=3,
        label="validation",
    )
    axes[0].set(title=f"{metric} on the test users (red: champion)", xlabel=metric)
    axes[0].legend(fontsize=8, loc="lower right")
    rated = ordered[ordered["kind"] == "surprise"]
    axes[1].barh(rated["model"], rated["rmse"], color="C0")
    axes[1].set(title=f"RMSE, {params.cross_validation.folds}-fold cross-validation", xlabel="RMSE")
    axes[2].barh(ordered["model"], ordered["fit_seconds"], label="fit")
    axes[2].barh(
        ordered["model"],
        ordered["predict_seconds"],
        left=ordered["fit_seconds"],
        label="top-k for test users",
    )
    axes[2].set(title="Seconds", xlabel="seconds")
    axes[2].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_tuning(trials: pd.DataFrame, metric: str):
    """Validation metric per trial and the best so far, for each tuned algorithm."""
    import matplotlib.pyplot as plt

    tuned = trials[trials["tuned"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (name, group) in enumerate(tuned.groupby("algorithm", sort=False)):
        done = group[group["state"] == "COMPLETE"].sort_values("number")
        ax.scatter(done["number"], done["value"], s=18, color=f"C{i}", label=name)
        ax.step(done["number"], done["value"].cummax(), where="post", color=f"C{i}", alpha=0.6)
    ax.set(
        title="Tuning (Optuna TPE): each trial and the best so far",
        xlabel="trial",
        ylabel=f"validation {metric}",
    )
    if len(tuned):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def load_events(paths: Any) -> pd.DataFrame:
    return pd.read_parquet(upstream(paths.interim / "events.parquet", "ingest", RecommendError))


def save_recommend(
    recommendations: pd.DataFrame,
    comparison: Comparison,
    tuning: TuningResult,
    metrics: Mapping[str, Any],
    serving_folder: Path,
    paths: Any,
) -> dict[str, Path]:
    """Write the recommendations, metrics, comparison and plot data (atomically)."""
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    metric = metrics["selection_metric"]
    return {
        "model": serving_folder,
        "recommendations": write_parquet(
            recommendations, paths.processed / "recommendations.parquet"
        ),
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
        "comparison": write_csv(comparison.table, paths.reports / STAGE / "comparison.csv"),
        "comparison_plot": write_csv(
            comparison.table[["model", metric, "fit_seconds", "predict_seconds"]],
            plots / "comparison.csv",
        ),
        "tuning": write_csv(
            tuning.trials[["algorithm", "number", "state", "value", "seconds"]],
            plots / "tuning.csv",
        ),
    }


def prepare(events: pd.DataFrame, params: RecommendParams) -> tuple[Interactions, Holdout, Holdout]:
    """Interactions, the test split, and the validation split of its training part."""
    ip = params.interactions
    interactions = build_interactions(
        events,
        ip.weights,
        ip.cap,
        ip.half_life_days,
        ip.min_user_interactions,
        ip.min_item_interactions,
        ip.rating_scale,
        ip.feedback,
    )
    if interactions.ratings.empty:
        raise RecommendError(
            "no user-item interactions left to learn from; lower interactions.min_user_interactions "
            "or min_item_interactions, or check the event weights in params/recommend.yaml"
        )
    holdout = split_holdout(
        interactions.ratings, params.holdout, params.seed, interactions.explicit
    )
    validation = split_holdout(
        holdout.train, params.holdout, params.seed + 1, interactions.explicit
    )
    if not holdout.users or not validation.users:
        raise RecommendError(
            "no user has a held-out interaction: users need at least two interactions "
            "(raise interactions.min_user_interactions or use more data)"
        )
    return interactions, holdout, validation


def stage_metrics(
    interactions: Interactions,
    holdout: Holdout,
    comparison: Comparison,
    recommendations: pd.DataFrame,
) -> dict[str, Any]:
    """The stage's metrics JSON: the comparison's figures, the data's size and the fallback share."""
    users = recommendations.drop_duplicates("user_id")
    return {
        **comparison.metrics,
        "fallback_share": float(users["fallback"].mean()) if len(users) else 0.0,
        "fallback_users": int(users["fallback"].sum()),
        "recommended_users": len(users),
        "explicit_feedback": int(interactions.explicit),
        "test_users": len(holdout.users),
        **{f"interaction_{key}": value for key, value in interactions.counts.items()},
    }
