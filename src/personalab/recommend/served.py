"""The served recommender: a model's arrays answering top-k, with a popularity fallback.

:class:`~personalab.recommend.array_model.ArrayModel` ranks each known user's unseen items;
:class:`Recommender` adds the popularity fallback for users the model does not know
and owns its save and load. A served request (:func:`serve_recommendations`) has its user ids
and ``k`` checked and each answer row labelled with its ``score_kind`` and ``reason``; the MLflow
pyfunc (``pyfunc_model.py``, saved as a model from code) is a thin adapter around it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.arrays import POPULARITY, ModelArrays, ServingError

# --- the recommender with its fallback ----------------------------------------------------------


class Recommender:
    """A fitted model with a popularity fallback: top-N for any user id.

    Users the model knows get their best unseen items; users it does not know
    (new, or below ``min_user_interactions``) get the most popular (or trending)
    items, flagged ``fallback`` with the popularity share as their score.
    Saved as ``model.npz`` (:class:`ModelArrays`) and ``recommender.json``.

    The popularity recommender (served when no collaborative filter could be learned) has
    ``algorithm`` ``popularity`` in both files (:attr:`popularity_only`): known users get the
    most popular items they have not seen.
    """

    def __init__(
        self,
        model: ModelArrays,
        popular: pd.Series,
        config: Mapping[str, Any],
        next_item: ModelArrays | None = None,
    ):
        self.popular, self.config, self.next_item = popular, dict(config), next_item
        self.model = ArrayModel(
            model, int(self.config.get("seed", 0)), int(self.config.get("block_size", 2048))
        )

    @property
    def popularity_only(self) -> bool:
        """True for the popularity recommender (no collaborative filter behind it)."""
        return self.model.model.algorithm == POPULARITY

    @property
    def score_kind(self) -> str:
        """What the ``score`` of a known user's row means (:data:`SCORE_KINDS`)."""
        from personalab.recommend.params import ALGORITHMS

        if self.popularity_only:
            return "popularity_share"
        return "predicted_rating" if self.model.model.algorithm in ALGORITHMS else "relevance"

    def recommend(self, user_ids: Sequence[Any], k: int | None = None) -> pd.DataFrame:
        k = int(self.config["top_n"] if k is None else k)
        if k < 1:
            raise ServingError(f"k must be at least 1, got {k}")
        users = np.asarray(list(dict.fromkeys(user_ids)), dtype=object)
        inner = self.model.inner(users)
        known = np.flatnonzero(inner >= 0)
        exclude_seen = bool(self.config.get("exclude_seen", True))
        rows, cols, scores, ranks = self.model.top_k_arrays(inner[known], k, exclude_seen)
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
        files = {
            "model": self.model.model.save(folder / "model.npz"),
            "config": write_json(config, folder / "recommender.json"),
        }
        if self.next_item is not None:
            files["next_item"] = self.next_item.save(folder / "next_item.npz")
        return files

    def recommend_next(self, contexts: Sequence[Sequence[Any]], k: int) -> pd.DataFrame:
        """Per request (item ids, oldest first): the ``k`` items most likely next by the sessions'
        model, completed with the items most sessions hold (``next_items``' columns)."""
        from personalab.recommend.next_item_eval import next_items

        return next_items(self._sessions(), contexts, k, fill=True)

    def next_lists(self, contexts: Sequence[Sequence[Any]], k: int, fill: bool = True) -> Any:
        """:meth:`recommend_next` as flat arrays
        (:class:`~personalab.recommend.next_item_eval.Lists`, items as ids); without ``fill``,
        the rules' items alone."""
        from personalab.recommend.next_item_eval import next_item_lists

        return next_item_lists(self._sessions(), contexts, k, fill=fill)

    def _sessions(self) -> ModelArrays:
        if self.next_item is None:
            raise ServingError(
                "this recommender has no next-item model (the log's sessions could not teach "
                "one, or sessions.enabled is false): send user_id without items"
            )
        return self.next_item

    @classmethod
    def load(
        cls, model: Path | str, config: Path | str, next_item: Path | str | None = None
    ) -> Recommender:
        settings = json.loads(Path(config).read_text(encoding="utf-8"))
        popular = settings.pop("popular")
        series = pd.Series(
            [score for _, score in popular],
            index=pd.Index([item for item, _ in popular], name="item_id"),
            name="score",
            dtype=float,
        )
        sessions = ModelArrays.load(next_item) if next_item else None
        return cls(ModelArrays.load(model), series, settings, sessions)


# --- served answers: request checks, labels, the MLflow pyfunc folder ---------------------------

#: the largest ``k`` a request may ask of a recommender whose config sets no ``max_k`` (the export
#: sets it from params/export.yaml ``max_k``)
DEFAULT_MAX_K = 100
#: what ``score`` means in a served answer, by its ``score_kind`` (higher is better in each)
SCORE_KINDS = {
    "predicted_rating": (
        "the collaborative filter's predicted rating of the item for the user, on the scale of "
        "its training ratings (explicit ratings: their own span; implicit strengths: mapped "
        "onto params/recommend.yaml interactions.rating_scale), clipped to that scale; not a "
        "probability"
    ),
    "relevance": (
        "the ranking model's relevance score of the item for the user (factor dot product or "
        "similarity-weighted sum of the user's interactions); higher ranks first, comparable "
        "only within one user's list, not a rating or a probability"
    ),
    "next_item_rules": (
        "the sequential-rules score of the item following the request's items (the rules' "
        "weights from the request's items, the latest weighing most); higher ranks first, not "
        "a probability"
    ),
    "session_share": (
        "the share of training sessions that hold the item (the request's items have too few "
        "rules to fill the list)"
    ),
    "popularity_share": (
        "the share of the recommender's training users who interacted with the item (within "
        "the last popularity.window_days of the log when set), from 0 to 1"
    ),
}
#: the columns a served recommender answer adds to :meth:`Recommender.recommend`'s
LABEL_COLUMNS = ["score_kind", "reason"]


def max_k_of(config: Mapping[str, Any]) -> int:
    """The largest ``k`` a request may ask of a recommender with ``config``."""
    return int(config.get("max_k") or max(DEFAULT_MAX_K, int(config["top_n"])))


def requested_k(params: Mapping[str, Any] | None, default: int, max_k: int) -> int:
    """The request param ``k`` (``default`` when absent), a whole number from 1 to ``max_k``."""
    k = (params or {}).get("k")
    if k is None:
        return int(default)
    try:
        whole = not isinstance(k, bool) and float(k).is_integer()
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ServingError(f"k must be a whole number from 1 to {max_k}, got {k!r}")
    if not 1 <= int(k) <= max_k:
        raise ServingError(f"k must be from 1 to {max_k} (the model's max_k), got {int(k)}")
    return int(k)


def requested_users(frame: pd.DataFrame) -> list[str]:
    """The request's user ids as strings; a missing ``user_id`` column or a null id is refused,
    naming the rows (a null would otherwise be served as the user "nan")."""
    if "user_id" not in frame:
        raise ServingError(
            f"the request has no user_id column (columns: {list(frame.columns)}): send user_id, "
            "or items (a list of item ids, oldest first) for what comes next"
        )
    null = np.flatnonzero(frame["user_id"].isna().to_numpy())
    if null.size:
        raise ServingError(
            f"user_id is null in {null.size} row(s) of the request (rows {null[:5].tolist()}, "
            "counted from 0): every row needs a user id"
        )
    return frame["user_id"].astype(str).tolist()


def label_recommendations(recommender: Recommender, answer: pd.DataFrame) -> pd.DataFrame:
    """``answer`` (:meth:`Recommender.recommend`'s) with what each row means: ``score_kind``
    (:data:`SCORE_KINDS`) and ``reason``, why the user got these items."""
    algorithm = recommender.config.get("algorithm", "the model")
    if recommender.popularity_only:
        known = "known user: the most popular items they have not seen (popularity recommender)"
    else:
        known = f"known user: the top items {algorithm} predicts among those they have not seen"
    fallback = answer["fallback"].to_numpy(dtype=bool)
    return answer.assign(
        score_kind=np.where(fallback, "popularity_share", recommender.score_kind).astype(object),
        reason=np.where(fallback, "unknown user: the most popular items", known).astype(object),
    )


def serve_recommendations(
    recommender: Recommender, frame: pd.DataFrame, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """A served request: its user ids, item lists and ``k`` checked, their labelled top-k rows
    out. A row with ``items`` gets what comes next after them (the sessions' next-item model;
    ``user_id`` names the answer, ``request:<row>`` without one); a row with only ``user_id``
    gets the user's top-k."""
    from personalab.recommend.item_requests import next_item_answer, requested_contexts

    k = requested_k(params, int(recommender.config["top_n"]), max_k_of(recommender.config))
    contexts = requested_contexts(frame)
    with_items = [i for i, items in enumerate(contexts or []) if items is not None]
    if not with_items:
        users = requested_users(frame)
        return label_recommendations(recommender, recommender.recommend(users, k))
    rest = frame.drop(index=frame.index[with_items])
    parts = []
    if len(rest):
        users = requested_users(rest.drop(columns="items"))
        parts.append(label_recommendations(recommender, recommender.recommend(users, k)))
    parts.append(next_item_answer(recommender, frame, contexts, with_items, k))
    return pd.concat(parts, ignore_index=True)


def serving_requirements() -> list[str]:
    """Exact pins the served recommender needs (its personalab code ships in code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements("numpy", "pandas", "scipy", "pydantic", "pyyaml")


def serving_signature(default_k: int) -> Any:
    """``user_id`` in, request param ``k``; the labelled rows out (declared, not inferred)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array

    outputs = [("string", "user_id"), ("long", "rank"), ("string", "item_id")]
    outputs += [("double", "score"), ("boolean", "fallback")]
    outputs += [("string", "score_kind"), ("string", "reason")]
    inputs = [
        ColSpec("string", "user_id", required=False),
        ColSpec(Array("string"), "items", required=False),
    ]
    return ModelSignature(
        inputs=Schema(inputs),
        outputs=Schema([ColSpec(kind, name) for kind, name in outputs]),
        params=ParamSchema([ParamSpec("k", "long", int(default_k))]),
    )


def save_serving_model(
    recommender: Recommender, folder: Path | str, example: pd.DataFrame | None = None
) -> Path:
    """The recommender as an MLflow pyfunc folder, its model from code (``pyfunc_model.py``):
    signature with a ``k`` param, input example ``example``'s user ids (or the first known
    user)."""
    from personalab.core.registry import save_pyfunc

    if example is None:
        example = pd.DataFrame({"user_id": [str(recommender.model.users[0])]})
    return save_pyfunc(
        folder,
        str(Path(__file__).with_name("pyfunc_model.py")),
        recommender.save,
        serving_signature(int(recommender.config["top_n"])),
        example,
        serving_requirements(),
    )


def load_recommender(folder: Path | str) -> Recommender:
    """The :class:`Recommender` inside a saved pyfunc folder (or a registry download of one)."""
    artifacts = Path(folder) / "artifacts"
    model, config = artifacts / "model.npz", artifacts / "recommender.json"
    next_item = artifacts / "next_item.npz"
    if not (model.is_file() and config.is_file()):
        raise ServingError(
            f"{folder}: no model.npz and recommender.json under artifacts/; a recommender saved "
            "before array export (Surprise pickle) cannot be served: re-run `dvc repro recommend` "
            "and, if the registry keeps the old version as champion, move the alias of its data "
            "lineage to the new one (MlflowClient().set_registered_model_alias(name, "
            "f'champion-{lineage}', version), lineage: the version's `lineage` tag)"
        )
    return Recommender.load(model, config, next_item if next_item.is_file() else None)
