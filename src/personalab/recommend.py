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
For factor models the score of every item for a block of users is one matrix
product, equal to Surprise's own ``predict`` (clipped to the rating scale) for
the same pairs:

===============  ==================================================================
algorithm        estimate for known user u and item i
===============  ==================================================================
SVD (biased)     mu + b_u + b_i + q_i . p_u
SVD (unbiased)   q_i . p_u
SVDpp            mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
NMF              q_i . p_u (+ mu + b_u + b_i when biased)
BaselineOnly     mu + b_u + b_i
===============  ==================================================================

Neighbourhood models (KNNBasic, KNNWithMeans, KNNWithZScore, KNNBaseline) score
from the learned similarity matrix one user at a time: item-based, the
neighbours of item i are the ``k`` items the user rated that are most similar to
i; user-based, the ``k`` users who rated i that are most similar to the user
(ties in Surprise's order). Only positive similarities count, and with fewer than
``min_k`` of them the estimate falls back as Surprise's does. SlopeOne scores from
its deviation and frequency matrices, CoClustering from its cluster averages.
Every estimate equals Surprise's ``predict`` (tested), including its default (the
global mean) where Surprise cannot predict.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.errors import InputError

DEFAULT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0}
FACTOR_MODELS = ("SVD", "SVDpp", "NMF", "BaselineOnly")
KNN_MODELS = ("KNNBasic", "KNNWithMeans", "KNNWithZScore", "KNNBaseline")
VECTORISED_MODELS = (*FACTOR_MODELS, *KNN_MODELS, "SlopeOne", "CoClustering", "NormalPredictor")


class RecommendError(InputError, ValueError):
    """Interactions or models that cannot be used as asked."""


@dataclass
class Interactions:
    """User-item ratings for Surprise, and what building them dropped."""

    ratings: pd.DataFrame  # user_id, item_id, rating
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
        ratings = latest[["user_id", "item_id", "rating"]].reset_index(drop=True)
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
        summed = (
            pd.DataFrame(
                {
                    "user_id": used["user_id"].to_numpy(),
                    "item_id": used["item_id"].to_numpy(),
                    "s": strength,
                }
            )
            .groupby(["user_id", "item_id"], sort=True, observed=True)["s"]
            .sum()
            .clip(upper=cap)
        )
        floor = min(weights.values())
        scaled = lo + (hi - lo) * (summed - floor).clip(lower=0) / max(cap - floor, 1e-12)
        ratings = scaled.rename("rating").reset_index()
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


# --- vectorised scoring -------------------------------------------------------------------------


def factor_terms(algo: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """User vectors P, item vectors Q, user biases, item biases and the offset of a fitted factor model.

    The estimate of (u, i) is ``offset + bu[u] + bi[i] + Q[i] . P[u]``.
    """
    name = type(algo).__name__
    trainset = algo.trainset
    mu = float(trainset.global_mean)
    n_users, n_items = trainset.n_users, trainset.n_items
    zeros_u, zeros_i = np.zeros(n_users), np.zeros(n_items)
    if name == "BaselineOnly":
        bu, bi = np.asarray(algo.bu), np.asarray(algo.bi)
        return np.zeros((n_users, 0)), np.zeros((n_items, 0)), bu, bi, mu
    if name == "SVDpp":
        from scipy.sparse import csr_matrix

        # implicit feedback: P[u] + |N(u)|^-1/2 * sum of y_j over the items u rated, as one sparse product
        users, items = rated_pairs(trainset)
        per_user = np.bincount(users, minlength=n_users)
        norm = 1.0 / np.sqrt(per_user[users])
        implicit = csr_matrix((norm, (users, items)), shape=(n_users, n_items)) @ np.asarray(
            algo.yj
        )
        P = np.asarray(algo.pu) + implicit
        return P, np.asarray(algo.qi), np.asarray(algo.bu), np.asarray(algo.bi), mu
    if name in ("SVD", "NMF"):
        P, Q = np.asarray(algo.pu), np.asarray(algo.qi)
        if algo.biased:
            return P, Q, np.asarray(algo.bu), np.asarray(algo.bi), mu
        return P, Q, zeros_u, zeros_i, 0.0
    raise RecommendError(
        f"{name} is not a factor model; vectorised scoring supports {', '.join(FACTOR_MODELS)}"
    )


def rated_pairs(trainset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inner (user, item) ids of every rating in a Surprise trainset, as two arrays."""
    lengths = np.fromiter(
        (len(trainset.ur[u]) for u in range(trainset.n_users)),
        dtype=np.int64,
        count=trainset.n_users,
    )
    users = np.repeat(np.arange(trainset.n_users), lengths)
    items = np.fromiter(
        (j for u in range(trainset.n_users) for j, _ in trainset.ur[u]),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    return users, items


def score_blocks(
    algo: Any,
    inner_users: np.ndarray | None = None,
    block_size: int = 4096,
    clip: bool = True,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inner user ids, scores users x items) in blocks: Surprise's estimates, vectorised.

    NormalPredictor's estimates are random draws, so its scores are draws from its
    fitted normal with ``seed`` (reproducible, not equal to any one ``predict``).
    """
    name = type(algo).__name__
    low, high = algo.trainset.rating_scale
    users = np.arange(algo.trainset.n_users) if inner_users is None else np.asarray(inner_users)
    if name in FACTOR_MODELS:
        P, Q, bu, bi, offset = factor_terms(algo)

        def block_scores(block: np.ndarray) -> np.ndarray:
            return offset + bu[block][:, None] + bi[None, :] + P[block] @ Q.T

    elif name in KNN_MODELS:
        block_scores = _knn_scorer(algo)
    elif name == "SlopeOne":
        block_scores = _slope_one_scorer(algo)
    elif name == "CoClustering":
        block_scores = _co_clustering_scorer(algo)
    elif name == "NormalPredictor":
        rng = np.random.default_rng(seed)
        mu, sigma = float(algo.trainset.global_mean), float(algo.sigma)

        def block_scores(block: np.ndarray) -> np.ndarray:
            return rng.normal(mu, sigma, size=(block.size, algo.trainset.n_items))

    else:
        raise RecommendError(
            f"{name} has no vectorised scoring; supported: {', '.join(VECTORISED_MODELS)}"
        )
    for start in range(0, users.size, block_size):
        block = users[start : start + block_size]
        scores = block_scores(block)
        yield block, np.clip(scores, low, high) if clip else scores


def _user_ratings(trainset: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per inner user: (inner item ids, ratings) in the trainset's order."""
    out = []
    for u in range(trainset.n_users):
        pairs = trainset.ur[u]
        out.append(
            (
                np.fromiter((j for j, _ in pairs), dtype=np.int64, count=len(pairs)),
                np.fromiter((r for _, r in pairs), dtype=float, count=len(pairs)),
            )
        )
    return out


def _knn_scorer(algo: Any):
    """Scores of a fitted KNN model for blocks of inner users (see the module docstring)."""
    ts = algo.trainset
    name = type(algo).__name__
    sim = np.asarray(algo.sim)
    k, min_k = int(algo.k), int(algo.min_k)
    user_based = bool(algo.sim_options.get("user_based", True))
    mu = float(ts.global_mean)
    n_items = ts.n_items
    means = np.asarray(getattr(algo, "means", np.zeros(1)), dtype=float)
    sigmas = np.asarray(getattr(algo, "sigmas", np.ones(1)), dtype=float)
    bu = np.asarray(getattr(algo, "bu", np.zeros(ts.n_users)), dtype=float)
    bi = np.asarray(getattr(algo, "bi", np.zeros(n_items)), dtype=float)
    by_user = _user_ratings(ts)
    if user_based:  # raters of every item, flattened in the trainset's order
        lengths = np.array([len(ts.ir[i]) for i in range(n_items)], dtype=np.int64)
        ir_item = np.repeat(np.arange(n_items), lengths)
        ir_user = np.fromiter(
            (v for i in range(n_items) for v, _ in ts.ir[i]), np.int64, int(lengths.sum())
        )
        ir_rating = np.fromiter(
            (r for i in range(n_items) for _, r in ts.ir[i]), float, int(lengths.sum())
        )
        ir_pos = np.arange(ir_item.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    def neighbours_of_user(u: int) -> tuple[np.ndarray, ...]:
        """Per item: (sum of positive sims, weighted sum of deviations, count) over the top k."""
        if user_based:
            s = sim[u, ir_user]
            order = np.lexsort((ir_pos, -s, ir_item))  # by item, most similar first, stable
            item_sorted = ir_item[order]
            starts = np.searchsorted(item_sorted, np.arange(n_items))
            rank = np.arange(order.size) - starts[item_sorted]
            top = order[rank < k]
            items, s_top, r_top, nb = ir_item[top], s[top], ir_rating[top], ir_user[top]
            deviation = _deviation(r_top, nb, items, u, nb_is_user=True)
            positive = s_top > 0
            weights = np.where(positive, s_top, 0.0)
            sum_sim = np.bincount(items, weights, n_items)
            num = np.bincount(items, weights * deviation, n_items)
            count = np.bincount(items, positive.astype(float), n_items)
            return sum_sim, num, count
        rated, ratings = by_user[u]
        s = sim[:, rated]  # items x rated
        m = rated.size
        # the k most similar rated items per item, ties in the user's rating order (Surprise's
        # stable nlargest): everything above the k-th largest, then the first of those equal to it
        if m <= k:
            top = np.ones(s.shape, dtype=bool)
        else:
            kth = np.partition(s, m - k, axis=1)[:, m - k, None]
            equal = s == kth
            need = k - (s > kth).sum(axis=1, keepdims=True)
            top = (s > kth) | (equal & (np.cumsum(equal, axis=1) <= need))
        deviation = _deviation(ratings, rated, None, u, nb_is_user=False)
        weights = np.where(top & (s > 0), s, 0.0)
        return weights.sum(axis=1), weights @ deviation, (weights > 0).sum(axis=1)

    def _deviation(r, nb, items, u, nb_is_user):
        if name == "KNNBasic":
            return r
        if name == "KNNWithMeans":
            return r - means[nb]
        if name == "KNNWithZScore":
            return (r - means[nb]) / sigmas[nb]
        # KNNBaseline: the neighbour's baseline on the same item (user-based) or user (item-based)
        if nb_is_user:
            return r - (mu + bu[nb] + bi[items])
        return r - (mu + bi[nb] + bu[u])

    positive_sim: list[np.ndarray] = []  # item-based: max(sim, 0) and sim > 0, built on first use

    def all_rated_neighbours(users: np.ndarray) -> tuple[np.ndarray, ...]:
        """Item-based, for users who rated at most ``k`` items: every rated item is a neighbour,
        so the sums over neighbours are sparse-dense products for the whole group."""
        from scipy.sparse import csr_array

        if not positive_sim:
            positive_sim.extend([np.where(sim > 0, sim, 0.0).T, (sim > 0).astype(float).T])
        weights_t, indicator_t = positive_sim
        parts = [by_user[int(u)] for u in users]
        lengths = np.array([len(rated) for rated, _ in parts], dtype=np.int64)
        rows = np.repeat(np.arange(users.size), lengths)
        cols = np.concatenate([rated for rated, _ in parts])
        r = np.concatenate([ratings for _, ratings in parts])
        deviation = _deviation(r, cols, None, users[rows], nb_is_user=False)
        shape = (users.size, n_items)
        dev = csr_array((deviation, (rows, cols)), shape=shape)
        rated_mask = csr_array((np.ones(r.size), (rows, cols)), shape=shape)
        return rated_mask @ weights_t, dev @ weights_t, rated_mask @ indicator_t

    def block_scores(block: np.ndarray) -> np.ndarray:
        out = np.empty((block.size, n_items))
        grouped: dict[int, tuple[np.ndarray, ...]] = {}
        if not user_based:
            few = np.flatnonzero([by_user[int(u)][0].size <= k for u in block])
            if few.size:
                sums = all_rated_neighbours(block[few])
                grouped = {int(row): tuple(s[j] for s in sums) for j, row in enumerate(few)}
        for row, u in enumerate(block):
            sum_sim, num, count = grouped.get(row) or neighbours_of_user(int(u))
            enough = (count >= min_k) & (sum_sim > 0)
            ratio = np.divide(num, sum_sim, out=np.zeros(n_items), where=enough)
            x = u if user_based else np.arange(n_items)  # whose mean/sigma the estimate starts from
            if name == "KNNBasic":
                est = np.where(enough, ratio, mu)  # impossible: Surprise's default, the global mean
            elif name == "KNNWithMeans":
                est = means[x] + ratio
            elif name == "KNNWithZScore":
                est = means[x] + ratio * sigmas[x]
            else:
                est = mu + bu[u] + bi + ratio
            out[row] = est
        return out

    return block_scores


def _slope_one_scorer(algo: Any):
    ts = algo.trainset
    dev, freq = np.asarray(algo.dev), np.asarray(algo.freq)
    user_mean = np.asarray(algo.user_mean, dtype=float)
    by_user = _user_ratings(ts)

    def block_scores(block: np.ndarray) -> np.ndarray:
        out = np.empty((block.size, ts.n_items))
        for row, u in enumerate(block):
            rated = by_user[int(u)][0]
            relevant = freq[:, rated] > 0
            n = relevant.sum(axis=1)
            total = np.where(relevant, dev[:, rated], 0.0).sum(axis=1)
            out[row] = user_mean[u] + np.divide(total, n, out=np.zeros(ts.n_items), where=n > 0)
        return out

    return block_scores


def _co_clustering_scorer(algo: Any):
    cu, ci = np.asarray(algo.cltr_u), np.asarray(algo.cltr_i)
    user_mean, item_mean = np.asarray(algo.user_mean), np.asarray(algo.item_mean)
    avg_u, avg_i = np.asarray(algo.avg_cltr_u), np.asarray(algo.avg_cltr_i)
    cocluster = np.asarray(algo.avg_cocltr)

    def block_scores(block: np.ndarray) -> np.ndarray:
        return (
            cocluster[cu[block]][:, ci]
            + (user_mean[block] - avg_u[cu[block]])[:, None]
            + (item_mean - avg_i[ci])[None, :]
        )

    return block_scores


def seen_matrix(trainset: Any) -> Any:
    """CSR (users x items) of the pairs each user rated in training (inner ids)."""
    from scipy import sparse

    users, items = rated_pairs(trainset)
    data = np.ones(users.size, dtype=np.int8)
    return sparse.csr_array((data, (users, items)), shape=(trainset.n_users, trainset.n_items))


def recommend_top_k(
    algo: Any,
    k: int,
    users: list[Any] | None = None,
    exclude_seen: bool = True,
    block_size: int = 4096,
) -> pd.DataFrame:
    """Each known user's ``k`` best unseen items (user_id, item_id, score, rank), in user blocks.

    ``users`` are raw ids (default: every user of the trainset; unknown ones are
    skipped). Scores come from :func:`score_blocks`, so no Python loop runs over
    user-item pairs and memory stays at a few ``block_size x items`` arrays.
    """
    from personalab.evaluate import top_k_from_scores

    trainset = algo.trainset
    if users is None:
        inner = np.arange(trainset.n_users)
    else:
        known = trainset._raw2inner_id_users
        inner = np.array([known[u] for u in users if u in known], dtype=np.int64)
    item_ids = [trainset.to_raw_iid(i) for i in range(trainset.n_items)]
    seen = seen_matrix(trainset) if exclude_seen else None
    parts = []
    for block, scores in score_blocks(algo, inner, block_size=block_size):
        parts.append(
            top_k_from_scores(
                [trainset.to_raw_uid(u) for u in block],
                item_ids,
                scores,
                k,
                exclude=None if seen is None else seen[block],
                block_size=block_size,
            )
        )
    if not parts:
        return pd.DataFrame(columns=["user_id", "item_id", "score", "rank"])
    return pd.concat(parts, ignore_index=True)
