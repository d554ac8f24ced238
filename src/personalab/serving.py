"""The served recommender: a fitted model as plain arrays, scored without Surprise.

:func:`personalab.recommend.model_arrays` copies what a fitted Surprise algorithm
knows into :class:`ModelArrays` (factors and biases, similarity matrices and the
ratings they combine, deviation or cluster tables) together with the raw user and
item ids and the pairs each user has seen. Everything here scores from those
arrays, in blocks of users, with no Python loop over user-item pairs:

===============  ==================================================================
family           estimate for known user u and item i
===============  ==================================================================
factors          offset + b_u + b_i + q_i . p_u  (SVD, SVDpp with its implicit
                 term folded into p_u, NMF, BaselineOnly with no factors)
knn              the k most similar neighbours' (deviation-adjusted) ratings,
                 weighted by positive similarity, as Surprise's KNN classes do
slope_one        the user's mean plus the mean deviation over the items they rated
co_clustering    the co-cluster average plus the user's and item's offsets
normal           seeded draws from the fitted normal (NormalPredictor)
===============  ==================================================================

Every estimate equals Surprise's ``predict`` for the same pair (tested). The
arrays are saved as one ``.npz`` file (no pickle), so the pipeline's model and
the exported serving model load the same files; :class:`Recommender` adds the
popularity fallback for users the model does not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError

FACTOR_MODELS = ("SVD", "SVDpp", "NMF", "BaselineOnly")
KNN_MODELS = ("KNNBasic", "KNNWithMeans", "KNNWithZScore", "KNNBaseline")
VECTORISED_MODELS = (*FACTOR_MODELS, *KNN_MODELS, "SlopeOne", "CoClustering", "NormalPredictor")


class ServingError(InputError, ValueError):
    """A request or saved model the recommender cannot serve."""


def family_of(algorithm: str) -> str:
    if algorithm in FACTOR_MODELS:
        return "factors"
    if algorithm in KNN_MODELS:
        return "knn"
    families = {"SlopeOne": "slope_one", "CoClustering": "co_clustering"}
    if algorithm in families:
        return families[algorithm]
    if algorithm == "NormalPredictor":
        return "normal"
    raise ServingError(
        f"{algorithm} has no vectorised scoring; supported: {', '.join(VECTORISED_MODELS)}"
    )


@dataclass
class ModelArrays:
    """A fitted model's arrays (``arrays``) and settings (``scalars``: JSON values).

    Always present: ``user_ids`` and ``item_ids`` (raw ids in inner-id order) and the
    CSR ``seen_indptr``/``seen_indices`` of the pairs each user has seen. Scalars
    always hold ``algorithm``, ``low`` and ``high`` (the rating scale scores are
    clipped to).
    """

    arrays: dict[str, np.ndarray]
    scalars: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        return str(self.scalars["algorithm"])

    @property
    def n_users(self) -> int:
        return len(self.arrays["user_ids"])

    @property
    def n_items(self) -> int:
        return len(self.arrays["item_ids"])

    def user_ratings(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner item ids and ratings of user ``u`` in training (the trainset's order)."""
        start, end = self.arrays["ur_indptr"][u], self.arrays["ur_indptr"][u + 1]
        return self.arrays["ur_items"][start:end], self.arrays["ur_ratings"][start:end]

    def seen(self) -> Any:
        from scipy.sparse import csr_array

        indices = self.arrays["seen_indices"]
        return csr_array(
            (np.ones(indices.size, dtype=np.int8), indices, self.arrays["seen_indptr"]),
            shape=(self.n_users, self.n_items),
        )

    def save(self, path: Path | str) -> Path:
        """One ``.npz`` file: the arrays, and the scalars as JSON (loads without pickle)."""
        from personalab.core.storage import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                __scalars__=np.array(json.dumps(self.scalars)),
                **{name: _plain_array(value, name) for name, value in self.arrays.items()},
            )
        return path

    @classmethod
    def load(cls, path: Path | str) -> ModelArrays:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files if name != "__scalars__"}
                scalars = json.loads(str(data["__scalars__"]))
        except (OSError, ValueError, KeyError) as err:
            raise ServingError(f"{path}: not a saved recommender ({err})") from None
        return cls(arrays, scalars)


def _plain_array(value: Any, name: str) -> np.ndarray:
    """Ids as strings, as requests carry them (and so the file loads without pickle)."""
    array = np.asarray(value)
    if array.dtype == object or name.endswith("_ids"):
        array = array.astype(str)
    return array


# --- block scorers ------------------------------------------------------------------------------


def block_scorer(model: ModelArrays, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A function from inner user ids to their (unclipped) scores of every item.

    NormalPredictor's estimates are random draws, so its scores are draws from its
    fitted normal with ``seed`` (reproducible, not equal to any one ``predict``).
    """
    family = family_of(model.algorithm)
    a, s = model.arrays, model.scalars
    if family == "factors":
        P, Q, bu, bi, offset = a["P"], a["Q"], a["bu"], a["bi"], float(s["offset"])

        def factor_scores(block: np.ndarray) -> np.ndarray:
            out = P[block] @ Q.T  # in place from here: one block-sized array
            out += bi[None, :]
            out += (bu[block] + offset)[:, None]
            return out

        return factor_scores
    if family == "knn":
        return _knn_scorer(model)
    if family == "slope_one":
        return _slope_one_scorer(model)
    if family == "co_clustering":
        return _co_clustering_scorer(model)
    rng = np.random.default_rng(seed)
    mu, sigma, n_items = float(s["mu"]), float(s["sigma"]), model.n_items
    return lambda block: rng.normal(mu, sigma, size=(block.size, n_items))


def _knn_scorer(model: ModelArrays) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of a KNN model for blocks of inner users (see :mod:`personalab.recommend`)."""
    a, s = model.arrays, model.scalars
    name = model.algorithm
    sim = a["sim"]
    k, min_k, user_based, mu = int(s["k"]), int(s["min_k"]), bool(s["user_based"]), float(s["mu"])
    n_items = model.n_items
    means, sigmas, bu, bi = a["means"], a["sigmas"], a["bu"], a["bi"]
    ur_lengths = np.diff(a["ur_indptr"])
    if user_based:  # raters of every item, flattened in the trainset's order
        ir_item, ir_user, ir_rating = a["ir_item"], a["ir_user"], a["ir_rating"]
        lengths = np.bincount(ir_item, minlength=n_items)
        ir_pos = np.arange(ir_item.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    def deviation(r, nb, items, u, nb_is_user):
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

    def neighbours_of_user(u: int) -> tuple[np.ndarray, ...]:
        """Per item: (sum of positive sims, weighted sum of deviations, count) over the top k."""
        if user_based:
            sims = sim[u, ir_user]
            order = np.lexsort((ir_pos, -sims, ir_item))  # by item, most similar first, stable
            item_sorted = ir_item[order]
            starts = np.searchsorted(item_sorted, np.arange(n_items))
            rank = np.arange(order.size) - starts[item_sorted]
            top = order[rank < k]
            items, s_top, r_top, nb = ir_item[top], sims[top], ir_rating[top], ir_user[top]
            dev = deviation(r_top, nb, items, u, nb_is_user=True)
            positive = s_top > 0
            weights = np.where(positive, s_top, 0.0)
            sum_sim = np.bincount(items, weights, n_items)
            num = np.bincount(items, weights * dev, n_items)
            count = np.bincount(items, positive.astype(float), n_items)
            return sum_sim, num, count
        rated, ratings = model.user_ratings(u)
        sims = sim[:, rated]  # items x rated
        m = rated.size
        # the k most similar rated items per item, ties in the user's rating order (Surprise's
        # stable nlargest): everything above the k-th largest, then the first of those equal to it
        if m <= k:
            top = np.ones(sims.shape, dtype=bool)
        else:
            kth = np.partition(sims, m - k, axis=1)[:, m - k, None]
            equal = sims == kth
            need = k - (sims > kth).sum(axis=1, keepdims=True)
            top = (sims > kth) | (equal & (np.cumsum(equal, axis=1) <= need))
        dev = deviation(ratings, rated, None, u, nb_is_user=False)
        weights = np.where(top & (sims > 0), sims, 0.0)
        return weights.sum(axis=1), weights @ dev, (weights > 0).sum(axis=1)

    positive_sim: list[np.ndarray] = []  # item-based: max(sim, 0) and sim > 0, built on first use

    def all_rated_neighbours(users: np.ndarray) -> tuple[np.ndarray, ...]:
        """Item-based, for users who rated at most ``k`` items: every rated item is a neighbour,
        so the sums over neighbours are sparse-dense products for the whole group."""
        from scipy.sparse import csr_array

        if not positive_sim:
            positive_sim.extend([np.where(sim > 0, sim, 0.0).T, (sim > 0).astype(float).T])
        weights_t, indicator_t = positive_sim
        parts = [model.user_ratings(int(u)) for u in users]
        lengths = ur_lengths[users]
        rows = np.repeat(np.arange(users.size), lengths)
        cols = np.concatenate([rated for rated, _ in parts])
        r = np.concatenate([ratings for _, ratings in parts])
        dev = deviation(r, cols, None, users[rows], nb_is_user=False)
        shape = (users.size, n_items)
        dev_matrix = csr_array((dev, (rows, cols)), shape=shape)
        rated_mask = csr_array((np.ones(r.size), (rows, cols)), shape=shape)
        return rated_mask @ weights_t, dev_matrix @ weights_t, rated_mask @ indicator_t

    def knn_scores(block: np.ndarray) -> np.ndarray:
        out = np.empty((block.size, n_items))
        grouped: dict[int, tuple[np.ndarray, ...]] = {}
        if not user_based:
            few = np.flatnonzero(ur_lengths[block] <= k)
            if few.size:
                sums = all_rated_neighbours(block[few])
                grouped = {int(row): tuple(x[j] for x in sums) for j, row in enumerate(few)}
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

    return knn_scores


def _slope_one_scorer(model: ModelArrays) -> Callable[[np.ndarray], np.ndarray]:
    dev, freq, user_mean = model.arrays["dev"], model.arrays["freq"], model.arrays["user_mean"]
    n_items = model.n_items

    def slope_one_scores(block: np.ndarray) -> np.ndarray:
        out = np.empty((block.size, n_items))
        for row, u in enumerate(block):
            rated = model.user_ratings(int(u))[0]
            relevant = freq[:, rated] > 0
            n = relevant.sum(axis=1)
            total = np.where(relevant, dev[:, rated], 0.0).sum(axis=1)
            out[row] = user_mean[u] + np.divide(total, n, out=np.zeros(n_items), where=n > 0)
        return out

    return slope_one_scores


def _co_clustering_scorer(model: ModelArrays) -> Callable[[np.ndarray], np.ndarray]:
    a = model.arrays
    cu, ci, cocluster = a["cltr_u"], a["cltr_i"], a["avg_cocltr"]
    user_mean, item_mean, avg_u, avg_i = (
        a["user_mean"],
        a["item_mean"],
        a["avg_cltr_u"],
        a["avg_cltr_i"],
    )

    def co_clustering_scores(block: np.ndarray) -> np.ndarray:
        return (
            cocluster[cu[block]][:, ci]
            + (user_mean[block] - avg_u[cu[block]])[:, None]
            + (item_mean - avg_i[ci])[None, :]
        )

    return co_clustering_scores


# --- top-k for known users, and the recommender with its fallback -------------------------------


class ArrayModel:
    """A fitted model (:class:`ModelArrays`) answering each known user's top-k unseen items."""

    def __init__(self, model: ModelArrays, seed: int = 0, block_size: int = 2048):
        self.model, self.block_size = model, block_size
        self.users = pd.Index(model.arrays["user_ids"])
        self._user_position = {user: i for i, user in enumerate(self.users.tolist())}
        self.items = pd.Index(model.arrays["item_ids"])
        self.item_ids = self.items.to_numpy(dtype=object)
        self.item_order = np.argsort(self.items.to_numpy(), kind="stable")  # ties by item id
        self.seen = model.seen()
        self.scorer = block_scorer(model, seed)
        self.low, self.high = float(model.scalars["low"]), float(model.scalars["high"])

    def inner(self, users: Sequence[Any]) -> np.ndarray:
        """Inner ids of raw user ids (-1: unknown)."""
        position = self._user_position
        return np.fromiter((position.get(user, -1) for user in users), np.int64, len(users))

    def scores(self, inner: np.ndarray) -> np.ndarray:
        """Clipped scores (users x items) of inner user ids, as Surprise's ``predict`` gives."""
        out = self.scorer(np.asarray(inner, dtype=np.int64))
        return np.clip(out, self.low, self.high, out=out)

    def top_k_arrays(self, inner: np.ndarray, k: int, exclude_seen: bool = True) -> tuple:
        """(row in ``inner``, item position, score, rank) of each known user's ``k`` best items.

        Ranked as :func:`personalab.evaluation.topk.top_k_from_scores` ranks (ties by item id),
        without its checks: the ids are the model's own, so each call costs only the scores.
        """
        from personalab.evaluation.topk import select_top

        parts = []
        k_eff = min(int(k), len(self.items))
        for start in range(0, inner.size if k_eff else 0, self.block_size):
            block = inner[start : start + self.block_size]
            scores = self.scores(block)
            if exclude_seen:
                seen = self.seen[block].tocoo()
                scores[seen.row, seen.col] = -np.inf
            cols = select_top(scores, k_eff, self.item_order)
            chosen = np.take_along_axis(scores, cols, axis=1)
            keep = chosen > -np.inf
            rows = np.broadcast_to(np.arange(start, start + block.size)[:, None], cols.shape)
            ranks = np.broadcast_to(np.arange(1, k_eff + 1), cols.shape)
            parts.append((rows[keep], cols[keep], chosen[keep], ranks[keep]))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), empty
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def top_k(self, users: Sequence[Any], k: int, exclude_seen: bool = True) -> pd.DataFrame:
        """Columns user_id, item_id, score, rank for the known ones of ``users`` (others skipped)."""
        inner = self.inner(list(users))
        inner = inner[inner >= 0]
        rows, cols, scores, ranks = self.top_k_arrays(inner, k, exclude_seen)
        return pd.DataFrame(
            {
                "user_id": self.users.take(inner[rows]),
                "item_id": self.items.take(cols),
                "score": scores,
                "rank": ranks.astype(np.int64),
            }
        )


class Recommender:
    """A fitted model with a popularity fallback: top-N for any user id.

    Users the model knows get their best unseen items; users it does not know
    (new, or below ``min_user_interactions``) get the most popular (or trending)
    items, flagged ``fallback`` with the popularity share as their score.
    Saved as ``model.npz`` (:class:`ModelArrays`) and ``recommender.json``.
    """

    def __init__(self, model: ModelArrays, popular: pd.Series, config: Mapping[str, Any]):
        self.popular, self.config = popular, dict(config)
        self.model = ArrayModel(
            model, int(self.config.get("seed", 0)), int(self.config.get("block_size", 2048))
        )

    def recommend(self, user_ids: Sequence[Any], k: int | None = None) -> pd.DataFrame:
        k = int(self.config["top_n"] if k is None else k)
        if k < 1:
            raise ServingError(f"k must be at least 1, got {k}")
        users = np.asarray(list(dict.fromkeys(user_ids)), dtype=object)
        inner = self.model.inner(users)
        known = np.flatnonzero(inner >= 0)
        rows, cols, scores, ranks = self.model.top_k_arrays(inner[known], k)
        cold = np.flatnonzero(inner < 0)
        top = self.popular.head(k)
        n_top = len(top)
        position = np.concatenate([known[rows], np.repeat(cold, n_top)])
        rank = np.concatenate([ranks, np.tile(np.arange(1, n_top + 1), cold.size)])
        order = np.lexsort((rank, position))  # the request's order, then rank
        out = pd.DataFrame(
            {
                "user_id": users[position[order]],
                "rank": rank[order].astype(np.int64),
                "item_id": np.concatenate(
                    [
                        self.model.item_ids[cols],
                        np.tile(top.index.to_numpy(dtype=object), cold.size),
                    ]
                )[order],
                "score": np.concatenate([scores, np.tile(top.to_numpy(dtype=float), cold.size)])[
                    order
                ],
                "fallback": np.repeat([False, True], [rows.size, cold.size * n_top])[order],
            }
        )
        return out

    def save(self, folder: Path | str) -> dict[str, Path]:
        from personalab.core.storage import write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            **self.config,
            "popular": [[str(item), float(score)] for item, score in self.popular.items()],
        }
        return {
            "model": self.model.model.save(folder / "model.npz"),
            "config": write_json(config, folder / "recommender.json"),
        }

    @classmethod
    def load(cls, model: Path | str, config: Path | str) -> Recommender:
        settings = json.loads(Path(config).read_text(encoding="utf-8"))
        popular = settings.pop("popular")
        series = pd.Series(
            [score for _, score in popular],
            index=pd.Index([item for item, _ in popular], name="item_id"),
            name="score",
            dtype=float,
        )
        return cls(ModelArrays.load(model), series, settings)


# --- MLflow pyfunc ------------------------------------------------------------------------------


def _pyfunc_class():
    import mlflow.pyfunc

    class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
        """Serves :class:`Recommender`: rows with ``user_id`` in; their top-k rows out.

        The request's ``params`` may set ``k`` (default: the trained ``top_n``).
        """

        def load_context(self, context):
            self.recommender = Recommender.load(
                context.artifacts["model"], context.artifacts["config"]
            )

        def predict(self, context, model_input, params=None):
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            if "user_id" not in frame:
                raise ServingError(
                    f"the request has no user_id column (columns: {list(frame.columns)})"
                )
            k = (params or {}).get("k")
            return self.recommender.recommend(frame["user_id"].astype(str).tolist(), k)

    return RecommenderPyfunc


def serving_requirements() -> list[str]:
    """Exact pins the served recommender needs (personalab itself ships in the model's code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements("numpy", "pandas", "scipy", "pydantic", "pyyaml")


def save_serving_model(
    recommender: Recommender, folder: Path | str, example: pd.DataFrame | None = None
) -> Path:
    """The recommender as an MLflow pyfunc folder (signature with a ``k`` param, input example:
    ``example``'s user ids, or the first known user)."""
    from mlflow.models import infer_signature

    from personalab.core.registry import save_pyfunc

    if example is None:
        example = pd.DataFrame({"user_id": [str(recommender.model.users[0])]})
    output = recommender.recommend(example["user_id"].tolist())
    signature = infer_signature(example, output, params={"k": int(recommender.config["top_n"])})
    return save_pyfunc(
        folder, _pyfunc_class()(), recommender.save, signature, example, serving_requirements()
    )


def load_recommender(folder: Path | str) -> Recommender:
    """The :class:`Recommender` inside a saved pyfunc folder (or a registry download of one)."""
    artifacts = Path(folder) / "artifacts"
    model, config = artifacts / "model.npz", artifacts / "recommender.json"
    if not (model.is_file() and config.is_file()):
        raise ServingError(
            f"{folder}: no model.npz and recommender.json under artifacts/; a recommender saved "
            "before array export (Surprise pickle) cannot be served: re-run `dvc repro recommend` "
            "and, if the registry keeps the old version as champion, move the alias to the new "
            "one (MlflowClient().set_registered_model_alias(name, 'champion', version))"
        )
    return Recommender.load(model, config)
