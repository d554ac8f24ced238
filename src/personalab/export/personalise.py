"""The personalisation rule, served as ``models/personalise``: a user id with its feature row
in; the intent score, the behavioural segment, the ``strategy`` and ``k`` items out.
High-intent users (score at or above the threshold) get their personalised recommendations,
casual browsers the trending items they have not seen, unknown users the popular items."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.export.params import PERSONALISE_COLUMNS, ExportError
from personalab.intent.columns import float_block
from personalab.intent.model import IntentModel
from personalab.recommend.served import Recommender


def trending_items(events: pd.DataFrame, window_days: float, n: int) -> pd.Series:
    """The ``n`` items most users touched in the last ``window_days`` of the log, as the share
    of the users with item events then (ties by item id): the recommend stage's trending
    baseline, over every event kind."""
    from personalab.recommend.baselines import popularity

    items = events.loc[events["item_id"].notna(), ["user_id", "item_id", "timestamp"]]
    return popularity(items.astype({"item_id": str}), window_days).head(n)


class Personaliser:
    """Intent model + segmenter + recommender + trending list: the serving decision rule.

    Each request row is a user id with its feature row. The intent score decides the
    strategy: ``personalised`` (the recommender's top-k unseen items) at or above
    ``threshold``, ``trending`` below it (the trending items the user has not seen),
    and ``popular`` for users the recommender does not know (or who have seen every
    item their strategy would offer). The row's segment comes from the segments
    stage's model.
    """

    def __init__(
        self,
        intent: IntentModel,
        segmenter: Any,
        segment_features: Sequence[str],
        segment_names: Mapping[str, str],
        recommender: Recommender,
        trending: pd.Series,
        threshold: float,
        k: int = 10,
    ):
        self.intent, self.segmenter, self.recommender = intent, segmenter, recommender
        self.segment_features = list(segment_features)
        self.segment_names = {str(key): str(value) for key, value in segment_names.items()}
        self.trending, self.threshold, self.k = trending, float(threshold), int(k)
        self._trending_ids = trending.index.to_numpy(dtype=object)
        self._trending_scores = trending.to_numpy(dtype=float)
        in_model = recommender.model.items.get_indexer(pd.Index(self._trending_ids))
        self._trending_at = np.full(len(recommender.model.items), -1)  # item -> trending position
        self._trending_at[in_model[in_model >= 0]] = np.flatnonzero(in_model >= 0)
        self._trending_order = np.argsort(self._trending_ids.astype(str), kind="stable")

    def segments(self, frame: pd.DataFrame) -> np.ndarray:
        labels = self.segmenter.predict(float_block(frame, self.segment_features))
        return np.array([self.segment_names.get(str(label), "unknown") for label in labels])

    def personalise(self, frame: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        k = self.k if k is None else int(k)
        if k < 1:
            raise ExportError(f"k must be at least 1, got {k}")
        if "user_id" not in frame:
            raise ExportError(f"the request has no user_id column (columns: {list(frame.columns)})")
        users = frame["user_id"].to_numpy(dtype=object).astype(str).astype(object)
        _, first = np.unique(users, return_index=True)
        if first.size < users.size:  # one answer per user: their first row
            first.sort()
            frame, users = frame.iloc[first], users[first]
        if users.size == 0:
            return pd.DataFrame(columns=PERSONALISE_COLUMNS)
        score = self.intent.predict_proba(frame)
        segment = self.segments(frame)
        model = self.recommender.model
        inner = model.inner(users)
        strategy = np.where(
            inner < 0, "popular", np.where(score >= self.threshold, "personalised", "trending")
        )
        parts = [
            self._personalised(inner, np.flatnonzero(strategy == "personalised"), k),
            self._trending(inner, np.flatnonzero(strategy == "trending"), k),
        ]
        served = np.zeros(users.size, dtype=bool)
        for part in parts:
            served[part[0]] = True
        strategy[~served] = "popular"  # nothing unseen left to offer them: the popular items
        parts.append(self._popular(np.flatnonzero(strategy == "popular"), k))
        position, rank, items, scores = (np.concatenate(c) for c in zip(*parts, strict=True))
        order = np.lexsort((rank, position))  # the request's order, then rank
        at = position[order]
        return pd.DataFrame(
            {
                "user_id": users[at],
                "intent_score": score[at],
                "segment": segment[at],
                "strategy": strategy[at],
                "rank": rank[order].astype(np.int64),
                "item_id": items[order],
                "score": scores[order].astype(float),
            }
        )

    def _personalised(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """(request position, rank, item, score) of the recommender's top-k unseen items."""
        model = self.recommender.model
        rows, cols, scores, ranks = model.top_k_arrays(inner[who], k)
        return who[rows], ranks, model.item_ids[cols], scores

    def _trending(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """The trending items each (known) user has not seen yet, most trending first."""
        from personalab.evaluation.topk import select_top

        scores = np.tile(self._trending_scores, (who.size, 1))
        if who.size:
            seen = self.recommender.model.seen[inner[who]].tocoo()
            at = self._trending_at[seen.col]
            scores[seen.row[at >= 0], at[at >= 0]] = -np.inf
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

    def _popular(self, who: np.ndarray, k: int) -> tuple:
        top = self.recommender.popular.head(k)
        n = len(top)
        return (
            np.repeat(who, n),
            np.tile(np.arange(1, n + 1), who.size),
            np.tile(top.index.to_numpy(dtype=object), who.size),
            np.tile(top.to_numpy(dtype=float), who.size),
        )

    # --- files ---

    def save(self, folder: Path | str, segmenter_folder: Path | str) -> dict[str, Path]:
        from personalab.core.storage import write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            name: path
            for name, path in self.intent.save(folder / "intent").items()
            if name in ("booster", "config")
        }
        files = {f"intent_{name}": path for name, path in files.items()}
        files |= {
            f"recommender_{name}": path
            for name, path in self.recommender.save(folder / "recommender").items()
        }
        files["segmenter"] = Path(shutil.copytree(segmenter_folder, folder / "segmenter"))
        files["personalise"] = write_json(
            {
                "threshold": self.threshold,
                "k": self.k,
                "segment_features": self.segment_features,
                "segment_names": self.segment_names,
                "trending": [[str(item), float(s)] for item, s in self.trending.items()],
            },
            folder / "personalise.json",
        )
        return files

    @classmethod
    def load(cls, artifacts: Mapping[str, str]) -> Personaliser:
        import mlflow.sklearn

        settings = json.loads(Path(artifacts["personalise"]).read_text(encoding="utf-8"))
        trending = pd.Series(
            [s for _, s in settings["trending"]],
            index=pd.Index([item for item, _ in settings["trending"]], name="item_id"),
            name="score",
            dtype=float,
        )
        return cls(
            IntentModel.load(artifacts["intent_booster"], artifacts["intent_config"]),
            mlflow.sklearn.load_model(artifacts["segmenter"]),
            settings["segment_features"],
            settings["segment_names"],
            Recommender.load(artifacts["recommender_model"], artifacts["recommender_config"]),
            trending,
            settings["threshold"],
            settings["k"],
        )
