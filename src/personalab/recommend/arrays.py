"""A fitted model as plain arrays: the format the pipeline and the served model share.

:func:`personalab.recommend.from_surprise.model_arrays` copies what a fitted Surprise
algorithm knows into :class:`ModelArrays` (factors and biases, similarity matrices and
the ratings they combine, deviation or cluster tables) together with the raw user and
item ids and the pairs each user has seen; :mod:`personalab.recommend.implicit_models` and
:mod:`personalab.recommend.cooccurrence` do the same for implicit-feedback models. Each
algorithm belongs to a scoring family
(:func:`family_of`; :mod:`personalab.recommend.scorers` scores each). The arrays are
saved as one ``.npz`` file (no pickle), so the pipeline's model and the exported
serving model load the same files.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from personalab.core.errors import InputError

FACTOR_MODELS = ("SVD", "SVDpp", "NMF", "BaselineOnly")
KNN_MODELS = ("KNNBasic", "KNNWithMeans", "KNNWithZScore", "KNNBaseline")
#: the ``implicit`` library's factor models (scored as ``P @ Q.T``, no biases)
IMPLICIT_FACTOR_MODELS = ("AlternatingLeastSquares", "BayesianPersonalizedRanking")
#: the ``implicit`` library's item-item models
IMPLICIT_ITEM_MODELS = ("CosineRecommender", "BM25Recommender", "TFIDFRecommender")
#: the SAR item co-occurrence model (:mod:`personalab.recommend.cooccurrence`)
SAR = "SAR"
#: models scored as the user's weights times an item-item similarity matrix
#: the EASE linear item model (:mod:`personalab.recommend.ease`)
EASE = "EASE"
ITEM_SIMILARITY_MODELS = (*IMPLICIT_ITEM_MODELS, SAR, EASE)
#: the algorithm name of the popularity recommender (saved and served like a learned model)
POPULARITY = "popularity"
VECTORISED_MODELS = (
    *FACTOR_MODELS,
    *KNN_MODELS,
    "SlopeOne",
    "CoClustering",
    "NormalPredictor",
    POPULARITY,
    *IMPLICIT_FACTOR_MODELS,
    *ITEM_SIMILARITY_MODELS,
)


class ServingError(InputError, ValueError):
    """A request or saved model the recommender cannot serve."""


def family_of(algorithm: str) -> str:
    if algorithm in FACTOR_MODELS or algorithm in IMPLICIT_FACTOR_MODELS:
        return "factors"
    if algorithm in ITEM_SIMILARITY_MODELS:
        return "item_similarity"
    if algorithm in KNN_MODELS:
        return "knn"
    families = {"SlopeOne": "slope_one", "CoClustering": "co_clustering"}
    if algorithm in families:
        return families[algorithm]
    if algorithm == "NormalPredictor":
        return "normal"
    if algorithm == POPULARITY:
        return "popularity"
    raise ServingError(
        f"{algorithm} has no vectorised scoring; supported: {', '.join(VECTORISED_MODELS)}"
    )


@dataclass
class ModelArrays:
    """A fitted model's arrays (``arrays``) and settings (``scalars``: JSON values).

    Always present: ``user_ids`` and ``item_ids`` (raw ids in inner-id order) and the
    CSR ``seen_indptr``/``seen_indices`` of the pairs each user has seen (the
    ``item_similarity`` family adds ``seen_data``, the user's weight of each). Scalars
    always hold ``algorithm``, ``low`` and ``high`` (the rating scale scores are
    clipped to; ``-inf`` and ``inf`` for implicit-feedback models, whose scores are no
    ratings).
    """

    arrays: dict[str, np.ndarray]
    scalars: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def cached(self, name: str, build: Any) -> Any:
        """``build(self)``, computed once (what a served request would otherwise rebuild)."""
        if name not in self.derived:
            self.derived[name] = build(self)
        return self.derived[name]

    @property
    def algorithm(self) -> str:
        return str(self.scalars["algorithm"])

    @property
    def n_users(self) -> int:
        return len(self.arrays["user_ids"])

    @property
    def n_items(self) -> int:
        return len(self.arrays["item_ids"])

    @functools.cached_property
    def item_codes(self) -> dict[str, int]:
        """Item id -> inner code (a request's items are read one dict look-up each)."""
        ids = np.asarray(self.arrays["item_ids"]).astype(str)
        return dict(zip(ids.tolist(), range(ids.size), strict=True))

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
