"""Block scorers: every item's score for blocks of users, from a model's arrays, without Surprise.

Everything here scores from :class:`~personalab.recommend.arrays.ModelArrays`, in
blocks of users, with no Python loop over user-item pairs:

===============  ==================================================================
family           estimate for known user u and item i
===============  ==================================================================
factors          offset + b_u + b_i + q_i . p_u  (SVD, SVDpp with its implicit
                 term folded into p_u, NMF, BaselineOnly with no factors)
                 (implicit's ALS and BPR: q_i . p_u alone, BPR's item bias a
                 column of Q against a column of ones in P)
knn              the k most similar neighbours' (deviation-adjusted) ratings,
                 weighted by positive similarity, as Surprise's KNN classes do
slope_one        the user's mean plus the mean deviation over the items they rated
co_clustering    the co-cluster average plus the user's and item's offsets
normal           seeded draws from the fitted normal (NormalPredictor)
popularity       the item's popularity, the same for every user (the popularity
                 recommender)
item_similarity  sum over the user's items j of w_uj * S[j, i]: the user's weights
                 (``seen_data``) times a sparse item-item similarity S, row = the
                 user's item (implicit's item-item models, SAR)
===============  ==================================================================

Every estimate equals Surprise's ``predict`` for the same pair (tested), including
its default (the global mean) where Surprise cannot predict; the popularity scores equal
the popularity baseline's; the implicit models' scores equal their ``recommend``'s.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from personalab.recommend.arrays import ModelArrays, family_of


def block_scorer(model: ModelArrays, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A function from inner user ids to their (unclipped) scores of every item.

    NormalPredictor's estimates are random draws, so its scores are draws from its
    fitted normal with ``seed`` (reproducible, not equal to any one ``predict``).
    """
    family = family_of(model.algorithm)
    a, s = model.arrays, model.scalars
    if family == "factors":
        return _factor_scorer(model)
    if family == "item_similarity":
        return _item_similarity_scorer(model)
    if family == "knn":
        return _KnnScorer(model)
    if family == "slope_one":
        return _slope_one_scorer(model)
    if family == "co_clustering":
        return _co_clustering_scorer(model)
    if family == "popularity":
        item_scores = a["item_scores"]
        return lambda block: np.tile(item_scores, (block.size, 1))
    rng = np.random.default_rng(seed)
    mu, sigma, n_items = float(s["mu"]), float(s["sigma"]), model.n_items
    return lambda block: rng.normal(mu, sigma, size=(block.size, n_items))


class _KnnScorer:
    """Scores of a KNN model for blocks of inner users (see the module docstring).

    Per user and item, the sums over the top ``k`` neighbours (sum of positive
    similarities, weighted sum of deviations, count) come from the item's raters
    (user-based), or from the user's rated items (item-based; as sparse products for
    a group of users who rated at most ``k`` items); the estimate then starts from
    the algorithm's baseline, as Surprise's KNN classes do.
    """

    def __init__(self, model: ModelArrays):
        a, s = model.arrays, model.scalars
        self.model = model
        self.name = model.algorithm
        self.sim = a["sim"]
        self.k, self.min_k = int(s["k"]), int(s["min_k"])
        self.user_based, self.mu = bool(s["user_based"]), float(s["mu"])
        self.n_items = model.n_items
        self.means, self.sigmas, self.bu, self.bi = a["means"], a["sigmas"], a["bu"], a["bi"]
        self.ur_lengths = np.diff(a["ur_indptr"])
        if self.user_based:  # raters of every item, flattened in the trainset's order
            self.ir_item, self.ir_user, self.ir_rating = a["ir_item"], a["ir_user"], a["ir_rating"]
            lengths = np.bincount(self.ir_item, minlength=self.n_items)
            self.ir_pos = np.arange(self.ir_item.size) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
        # item-based: max(sim, 0) and sim > 0, built on first use
        self.positive_sim: list[np.ndarray] = []

    def deviation(self, r, nb, items, u, nb_is_user):
        name = self.name
        if name == "KNNBasic":
            return r
        if name == "KNNWithMeans":
            return r - self.means[nb]
        if name == "KNNWithZScore":
            return (r - self.means[nb]) / self.sigmas[nb]
        # KNNBaseline: the neighbour's baseline on the same item (user-based) or user (item-based)
        if nb_is_user:
            return r - (self.mu + self.bu[nb] + self.bi[items])
        return r - (self.mu + self.bi[nb] + self.bu[u])

    def neighbours_of_user(self, u: int) -> tuple[np.ndarray, ...]:
        """Per item: (sum of positive sims, weighted sum of deviations, count) over the top k."""
        if self.user_based:
            return self._raters_of_items(u)
        return self._rated_items(u)

    def _raters_of_items(self, u: int) -> tuple[np.ndarray, ...]:
        """User-based: the ``k`` raters of each item most similar to ``u``."""
        k, n_items = self.k, self.n_items
        ir_item, ir_user, ir_rating = self.ir_item, self.ir_user, self.ir_rating
        ir_pos = self.ir_pos
        sims = self.sim[u, ir_user]
        order = np.lexsort((ir_pos, -sims, ir_item))  # by item, most similar first, stable
        item_sorted = ir_item[order]
        starts = np.searchsorted(item_sorted, np.arange(n_items))
        rank = np.arange(order.size) - starts[item_sorted]
        top = order[rank < k]
        items, s_top, r_top, nb = ir_item[top], sims[top], ir_rating[top], ir_user[top]
        dev = self.deviation(r_top, nb, items, u, nb_is_user=True)
        positive = s_top > 0
        weights = np.where(positive, s_top, 0.0)
        sum_sim = np.bincount(items, weights, n_items)
        num = np.bincount(items, weights * dev, n_items)
        count = np.bincount(items, positive.astype(float), n_items)
        return sum_sim, num, count

    def _rated_items(self, u: int) -> tuple[np.ndarray, ...]:
        """Item-based: the ``k`` items ``u`` rated most similar to each item."""
        k = self.k
        rated, ratings = self.model.user_ratings(u)
        sims = self.sim[:, rated]  # items x rated
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
        dev = self.deviation(ratings, rated, None, u, nb_is_user=False)
        weights = np.where(top & (sims > 0), sims, 0.0)
        return weights.sum(axis=1), weights @ dev, (weights > 0).sum(axis=1)

    def all_rated_neighbours(self, users: np.ndarray) -> tuple[np.ndarray, ...]:
        """Item-based, for users who rated at most ``k`` items: every rated item is a neighbour,
        so the sums over neighbours are sparse-dense products for the whole group."""
        from scipy.sparse import csr_array

        sim = self.sim
        if not self.positive_sim:
            self.positive_sim.extend([np.where(sim > 0, sim, 0.0).T, (sim > 0).astype(float).T])
        weights_t, indicator_t = self.positive_sim
        parts = [self.model.user_ratings(int(u)) for u in users]
        lengths = self.ur_lengths[users]
        rows = np.repeat(np.arange(users.size), lengths)
        cols = np.concatenate([rated for rated, _ in parts])
        r = np.concatenate([ratings for _, ratings in parts])
        dev = self.deviation(r, cols, None, users[rows], nb_is_user=False)
        shape = (users.size, self.n_items)
        dev_matrix = csr_array((dev, (rows, cols)), shape=shape)
        rated_mask = csr_array((np.ones(r.size), (rows, cols)), shape=shape)
        return rated_mask @ weights_t, dev_matrix @ weights_t, rated_mask @ indicator_t

    def __call__(self, block: np.ndarray) -> np.ndarray:
        name, n_items, mu = self.name, self.n_items, self.mu
        means, sigmas, bu, bi = self.means, self.sigmas, self.bu, self.bi
        out = np.empty((block.size, n_items))
        grouped: dict[int, tuple[np.ndarray, ...]] = {}
        if not self.user_based:
            few = np.flatnonzero(self.ur_lengths[block] <= self.k)
            if few.size:
                sums = self.all_rated_neighbours(block[few])
                grouped = {int(row): tuple(x[j] for x in sums) for j, row in enumerate(few)}
        for row, u in enumerate(block):
            sum_sim, num, count = grouped.get(row) or self.neighbours_of_user(int(u))
            enough = (count >= self.min_k) & (sum_sim > 0)
            ratio = np.divide(num, sum_sim, out=np.zeros(n_items), where=enough)
            # whose mean/sigma the estimate starts from
            x = u if self.user_based else np.arange(n_items)
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


def _factor_scorer(model: ModelArrays) -> Callable[[np.ndarray], np.ndarray]:
    """``offset + b_u + b_i + P_u . Q_i``; biases and offset absent (implicit's models) count 0."""
    a = model.arrays
    P, Q = a["P"], a["Q"]
    bu, bi, offset = a.get("bu"), a.get("bi"), float(model.scalars.get("offset", 0.0))

    def factor_scores(block: np.ndarray) -> np.ndarray:
        out = P[block] @ Q.T  # in place from here: one block-sized array
        if bi is not None:
            out += bi[None, :]
        if bu is not None:
            out += (bu[block] + offset)[:, None]
        elif offset:
            out += offset
        return out

    return factor_scores


def _item_similarity_scorer(model: ModelArrays) -> Callable[[np.ndarray], np.ndarray]:
    """The block's rows of the user-weight matrix times S: dense float64 (users x items) when
    called, sparse from ``.sparse(block)`` (what :class:`~personalab.recommend.array_model.ArrayModel`
    ranks from, never a dense block)."""
    return _ItemSimilarityScorer(model)


class _ItemSimilarityScorer:
    def __init__(self, model: ModelArrays):
        from scipy.sparse import csr_array

        a, n_items = model.arrays, model.n_items
        self.similarity = csr_array(
            (a["sim_data"].astype(np.float64, copy=False), a["sim_indices"], a["sim_indptr"]),
            shape=(n_items, n_items),
        )
        self.weights = csr_array(
            (a["seen_data"].astype(np.float64, copy=False), a["seen_indices"], a["seen_indptr"]),
            shape=(model.n_users, n_items),
        )

    def sparse(self, block: np.ndarray):
        return self.weights[block] @ self.similarity

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from personalab.recommend.dense import DENSE_CELLS, dense_product

        if block.size * self.similarity.shape[1] <= DENSE_CELLS:
            return dense_product(self.weights, block, self.similarity)
        return self.sparse(block).toarray()


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
