"""The personalisation rule, served as ``models/personalise``: a user id with its feature row
in; the intent score, the behavioural segment, the ``strategy`` and ``k`` items out.
High-intent users (score at or above the threshold) get their personalised recommendations,
casual browsers the trending items they have not seen, unknown users the popular items. The
rule serves with the parts it has (no intent model, no recommender or no segments:
:class:`Personaliser`). Each answer row names the rule that applied (``strategy``), what its
``score`` means (``score_kind``: :data:`~personalab.export.params.SCORE_KINDS`) and why the user
got these items (``reason``, e.g. "intent 0.8200 >= threshold 0.4100: ...")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.export.live_rules import LiveRules, has_items, listed, live_overrides, steered
from personalab.export.params import PERSONALISE_COLUMNS, ExportError
from personalab.intent.columns import float_block
from personalab.intent.model import IntentModel
from personalab.online.features import VISIT, OnlineFeatures
from personalab.online.visit import Visit
from personalab.recommend.served import DEFAULT_MAX_K, Recommender
from personalab.segments.fast import fast_predict


class Personaliser:
    """Intent model + segmenter + recommender + trending list: the serving decision rule.

    Each request row is a user id with its feature row. With both models, the intent score
    decides the strategy: ``personalised`` (the recommender's top-k unseen items) at or above
    ``threshold``, ``trending`` below it (the trending items the user has not seen), and
    ``popular`` for users the recommender does not know (or who have seen every item their
    strategy would offer). The rule serves with the parts it has:

    - without an intent model (``intent`` None): every user the recommender knows gets its
      top-k (``personalised_no_intent``), the others ``popular``; ``intent_score`` is NaN and
      requests need no intent features;
    - without a recommender (``recommender`` None): every user gets the trending items
      (``trending_no_recommender``; nothing is known of what they have seen) with their score;
    - without a segmenter (``segmenter`` None): ``segment`` is null (None) in every answer.

    When the recommender is the popularity recommender (no collaborative filter could be learned
    or won), its "personalised" answers are the most popular items the user has not seen, and
    are named so: ``popular_unseen`` instead of ``personalised`` / ``personalised_no_intent``.

    Each answer row carries ``score_kind`` (what its ``score`` is: the recommender's predicted
    rating, a trending share or a popularity share) and ``reason`` (one line: why this user got
    this strategy). ``max_k`` bounds the ``k`` a served request may ask for.
    """

    def __init__(
        self,
        intent: IntentModel | None,
        segmenter: Any | None,
        segment_features: Sequence[str],
        segment_names: Mapping[str, str],
        recommender: Recommender | None,
        trending: pd.Series,
        threshold: float | None,
        k: int = 10,
        max_k: int = DEFAULT_MAX_K,
        online: OnlineFeatures | None = None,
        live_rules: LiveRules | None = None,
    ):
        if intent is None and recommender is None:
            raise ExportError("the decision rule needs an intent model or a recommender")
        if not 1 <= int(k) <= int(max_k):
            raise ExportError(f"k must be from 1 to max_k ({max_k}), got {k}")
        self.max_k = int(max_k)
        self.online = online
        self.live_rules = live_rules if live_rules is not None else LiveRules()
        self.intent, self.segmenter, self.recommender = intent, segmenter, recommender
        self.segment_features = [] if segmenter is None else list(segment_features)
        self.segment_names = {str(key): str(value) for key, value in segment_names.items()}
        self.trending, self.k = trending, int(k)
        self.threshold = None if intent is None or threshold is None else float(threshold)
        if intent is not None and self.threshold is None:
            raise ExportError("an intent model needs a high-intent threshold")
        self._trending_ids = trending.index.to_numpy(dtype=object)
        self._trending_scores = trending.to_numpy(dtype=float)
        self._trending_order = np.argsort(self._trending_ids.astype(str), kind="stable")
        if recommender is not None:
            self._popular_ids = recommender.popular.index.to_numpy(dtype=object)
            self._popular_scores = recommender.popular.to_numpy(dtype=float)
            in_model = recommender.model.items.get_indexer(pd.Index(self._trending_ids))
            self._trending_at = np.full(len(recommender.model.items), -1)  # item -> position
            self._trending_at[in_model[in_model >= 0]] = np.flatnonzero(in_model >= 0)

    @property
    def strategies(self) -> tuple[str, ...]:
        """The strategies this rule can answer with (given the parts it has)."""
        if self.recommender is None:
            return ("trending_no_recommender",)
        if self.intent is None:
            return (self._named("personalised_no_intent"), "popular")
        return (self._named("personalised"), "trending", "popular")

    def _named(self, strategy: str) -> str:
        """A strategy's name in answers: a popularity recommender's lists are not personal."""
        popular_only = self.recommender is not None and self.recommender.popularity_only
        return (
            "popular_unseen" if popular_only and strategy.startswith("personalised") else strategy
        )

    def describe(self) -> str:
        """One line: the parts the rule has, its strategies and settings."""
        has = [
            name
            for name, part in (
                ("intent model", self.intent),
                ("recommender", self.recommender),
                ("segmenter", self.segmenter),
            )
            if part is not None
        ]
        rule = "" if self.threshold is None else f"; high-intent threshold {self.threshold:.4f}"
        return (
            f"parts: {', '.join(has)}; strategies: {', '.join(self.strategies)}{rule}; "
            f"{len(self.trending)} trending items; k {self.k}"
        )

    @property
    def feature_columns(self) -> list[str]:
        """The feature columns a request row may carry: the intent model's, then the
        segmenter's others."""
        names = [] if self.intent is None else [s.name for s in self.intent.encoder.columns_]
        return list(dict.fromkeys([*names, *self.segment_features]))

    def segments(self, block: np.ndarray | None, n: int) -> np.ndarray:
        """Each of ``n`` rows' segment name from its segment features (``block``, None without
        a segmenter): None without a segmenter, or for a row with no feature."""
        if self.segmenter is None or block is None:
            return np.full(n, None, dtype=object)
        labels = fast_predict(self.segmenter, block)
        names = np.array([self.segment_names.get(str(label), "unknown") for label in labels])
        return np.where(np.isnan(block).all(axis=1), None, names).astype(object)

    def scores(self, matrix: np.ndarray | None, n: int) -> np.ndarray:
        """Each of ``n`` rows' intent score from its encoded features (``matrix``, None without
        an intent model): NaN without an intent model, or for a row with no feature (a visitor
        with neither history nor live events)."""
        if self.intent is None or matrix is None or not n:
            return np.full(n, np.nan)
        score = self.intent.proba_of(matrix)
        return np.where(np.isnan(matrix).all(axis=1), np.nan, score)

    def choose(self, inner: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Each user's strategy from their inner recommender id (-1: unknown) and intent score."""
        if self.recommender is None:
            return np.full(inner.size, "trending_no_recommender", dtype=object)
        if self.intent is None:
            return np.where(inner < 0, "popular", "personalised_no_intent").astype(object)
        chosen = np.where(score >= self.threshold, "personalised", "trending")
        return np.where(inner < 0, "popular", chosen).astype(object)

    def personalise(self, frame: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        """The answer to feature rows (a ``user_id`` column, the feature columns, optionally
        :data:`~personalab.online.features.VISIT`): :meth:`decide` as a frame."""
        if "user_id" not in frame:
            raise ExportError(f"the request has no user_id column (columns: {list(frame.columns)})")
        users = frame["user_id"].to_numpy(dtype=object).astype(str).astype(object)
        matrix = None if self.intent is None else self.intent.encoder.matrix(frame)
        block = None if self.segmenter is None else float_block(frame, self.segment_features)
        visits = None
        if VISIT in frame:  # a feature row's is missing (NaN once framed with rows by id)
            visits = np.empty(len(frame), dtype=object)
            visits[:] = [v if isinstance(v, Visit) else None for v in frame[VISIT]]
        return pd.DataFrame(
            self.decide(users, matrix, block, visits, k), columns=PERSONALISE_COLUMNS
        )

    def described(
        self, rows: list[dict[str, Any] | None]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The intent model's matrix and the segment features of rows as dicts (the online
        store's, :meth:`~personalab.online.features.OnlineFeatures.described`)."""
        matrix = None if self.intent is None else self.intent.encoder.matrix_of_rows(rows)
        if self.segmenter is None:
            return matrix, None
        names = self.segment_features
        block = np.array(
            [[np.nan] * len(names) if r is None else [r.get(n) for n in names] for r in rows],
            dtype=float,
        ).reshape(len(rows), len(names))
        return matrix, block

    def decide(
        self,
        users: np.ndarray,
        matrix: np.ndarray | None,
        block: np.ndarray | None,
        visits: np.ndarray | None,
        k: int | None = None,
    ) -> dict[str, np.ndarray]:
        """The answer's columns (:data:`PERSONALISE_COLUMNS`) for users (string ids), their
        encoded intent features (``matrix``), segment features (``block``) and live visits
        (None: none), one answer per user (their first row), ``k`` items each."""
        k = self.k if k is None else int(k)
        if k < 1:
            raise ExportError(f"k must be at least 1, got {k}")
        first = np.unique(users, return_index=True)[1] if users.size > 1 else None
        if first is not None and first.size < users.size:  # one answer per user: their first
            first.sort()
            users = users[first]
            matrix = None if matrix is None else matrix[first]
            block = None if block is None else block[first]
            visits = None if visits is None else visits[first]
        if users.size == 0:
            return {name: np.zeros(0, dtype=object) for name in PERSONALISE_COLUMNS}
        score, segment = self.scores(matrix, users.size), self.segments(block, users.size)
        known = self.recommender is not None
        inner = self.recommender.model.inner(users) if known else np.full(users.size, -1)
        strategy = self.choose(inner, score)
        overrides = live_overrides(self.live_rules, self.recommender, visits, inner, k)
        for i, override in overrides.items():
            strategy[i] = override.strategy
        personal = (strategy == "personalised") | (strategy == "personalised_no_intent")
        trending = (strategy == "trending") | (strategy == "trending_no_recommender")
        steer = (
            [] if visits is None else [i for i in np.flatnonzero(personal) if has_items(visits[i])]
        )
        plain = personal.copy()
        plain[steer] = False
        parts = [
            self._personalised(inner, np.flatnonzero(plain), k),
            self._trending(inner, np.flatnonzero(trending), k),
            *(steered(self.recommender, i, int(inner[i]), visits[i], k) for i in steer),
            *(listed(i, o.items, o.scores) for i, o in overrides.items()),
        ]
        if known:  # nothing unseen left to offer them: the popular items
            strategy[~_answered(parts, users.size)] = "popular"
            popular = strategy == "popular"
            at = np.flatnonzero(popular)
            seen = [] if visits is None else [i for i in at if has_items(visits[i])]
            popular[seen] = False
            parts.append(self._popular(np.flatnonzero(popular), k))
            parts += [self._popular(np.array([i]), k, visits[i].items) for i in seen]
        bare = np.flatnonzero(~_answered(parts, users.size))  # no item at all (a log without)
        empty = np.zeros(bare.size, dtype=np.int64), np.full(bare.size, None, dtype=object)
        parts.append((bare, *empty, np.full(bare.size, np.nan)))  # rank 0: the user's one row
        position, rank, items, scores = (np.concatenate(c) for c in zip(*parts, strict=True))
        order = np.lexsort((rank, position))  # the request's order, then rank
        at = position[order]
        named, kind, reason = self.labels(strategy, score, inner)
        for i, override in overrides.items():
            kind[i], reason[i] = override.kind, override.reason
        for i in steer:
            kind[i] = "fused_rank"
            reason[i] += ", steered by this visit's items (reciprocal-rank fusion with the items "
            reason[i] += "that follow them)"
        for i in bare:
            reason[i] += "; no item to offer: the model knows none (rank 0, no item_id)"
        return {
            "user_id": users[at],
            "intent_score": score[at],
            "segment": segment[at],
            "strategy": named[at],
            "rank": rank[order].astype(np.int64),
            "item_id": items[order],
            "score": scores[order].astype(float),
            "score_kind": kind[at],
            "reason": reason[at],
        }

    def labels(self, strategy: np.ndarray, score: np.ndarray, inner: np.ndarray) -> tuple:
        """Per user: the strategy's name in answers, what its scores are (``score_kind``) and
        why the user got it (``reason``), from the strategy served, the intent score and the
        inner recommender id (-1: unknown)."""
        if self.recommender is None:
            recommended, kind = "", "predicted_rating"
        elif self.recommender.popularity_only:
            recommended = "the most popular items they have not seen (popularity recommender)"
            kind = self.recommender.score_kind
        else:
            algorithm = self.recommender.config.get("algorithm", "the recommender")
            recommended = f"the top items {algorithm} predicts among those they have not seen"
            kind = self.recommender.score_kind
        kinds = {
            "personalised": kind,
            "personalised_no_intent": kind,
            "popular": "popularity_share",
        }
        names = [self._named(str(name)) for name in strategy]
        reasons = [
            self._reason(str(name), s, known, recommended)
            for name, s, known in zip(strategy, score, inner >= 0, strict=True)
        ]
        return (
            np.array(names, dtype=object),
            np.array([kinds.get(str(name), "trending_share") for name in strategy], dtype=object),
            np.array(reasons, dtype=object),
        )

    def _reason(self, strategy: str, score: float, known: bool, recommended: str) -> str:
        """One line: why a user got ``strategy`` (a known user served ``popular`` has seen
        every item their strategy would offer)."""
        if strategy == "popular":
            if not known:
                return "unknown to the recommender: the most popular items"
            return "has seen every item their strategy would offer: the most popular items"
        if strategy == "personalised_no_intent":
            return f"not gated on intent (no intent model, or one near chance): {recommended}"
        if strategy == "trending_no_recommender":
            return "no recommender: the most trending items"
        if strategy not in ("personalised", "trending"):
            return ""  # the visit's rules (live_rules.Override) say their own
        sign, offer = (">=", recommended) if strategy == "personalised" else ("<", "")
        offer = offer or "the trending items they have not seen"
        return f"intent {score:.4f} {sign} threshold {self.threshold:.4f}: {offer}"

    def _personalised(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """(request position, rank, item, score) of the recommender's top-k unseen items."""
        if not who.size:
            return _nothing()
        model = self.recommender.model
        rows, cols, scores, ranks = model.top_k_arrays(inner[who], k)
        return who[rows], ranks, model.item_ids[cols], scores

    def _trending(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """The trending items each (known) user has not seen yet, most trending first."""
        from personalab.evaluation.topk import select_top

        if not who.size:
            return _nothing()
        scores = np.tile(self._trending_scores, (who.size, 1))
        if self.recommender is not None:
            rows, cols = self.recommender.model.seen_pairs(inner[who])
            at = self._trending_at[cols]
            scores[rows[at >= 0], at[at >= 0]] = -np.inf
        k_eff = min(k, self._trending_scores.size)
        cols = select_top(scores, k_eff, self._trending_order)
        chosen = np.take_along_axis(scores, cols, axis=1)
        keep = chosen > -np.inf
        rows = np.broadcast_to(np.arange(who.size)[:, None], cols.shape)[keep]
        ranks = np.broadcast_to(np.arange(1, k_eff + 1), cols.shape)[keep]
        return (
            who[rows],
            ranks,
            self._trending_ids[cols[keep]],
            chosen[keep],
        )

    def _popular(self, who: np.ndarray, k: int, visited: Sequence[str] = ()) -> tuple:
        """The ``k`` most popular items for each of ``who``, without the ``visited`` items."""
        if not who.size:
            return _nothing()
        reach = k + len(visited)
        ids, scores = self._popular_ids[:reach], self._popular_scores[:reach]
        if len(visited):
            fresh = ~np.isin(ids.astype(str), np.asarray(visited, dtype=str))
            ids, scores = ids[fresh], scores[fresh]
        ids, scores = ids[:k], scores[:k]
        n = ids.size
        return (
            np.repeat(who, n),
            np.tile(np.arange(1, n + 1), who.size),
            np.tile(ids, who.size),
            np.tile(scores, who.size),
        )

    # --- files (personalab.export.rule_files) ---

    def save(self, folder: Path | str, segmenter_folder: Path | str | None) -> dict[str, Path]:
        """The parts the rule has, by artifact name (``intent_*``, ``recommender_*``,
        ``segmenter``, ``online_store``), and ``personalise.json``."""
        from personalab.export.rule_files import save_rule

        return save_rule(self, folder, segmenter_folder)

    @classmethod
    def load(cls, artifacts: Mapping[str, str]) -> Personaliser:
        """The rule from :meth:`save`'s files (a part whose files are absent stays None)."""
        from personalab.export.rule_files import load_rule

        return load_rule(artifacts)


def _answered(parts: list[tuple], n: int) -> np.ndarray:
    """Which of ``n`` users the parts (request position, rank, item, score) give an item."""
    out = np.zeros(n, dtype=bool)
    for part in parts:
        out[part[0]] = True
    return out


def _nothing() -> tuple:
    """(request position, rank, item, score) of no items."""
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0, dtype=object), np.zeros(0)
