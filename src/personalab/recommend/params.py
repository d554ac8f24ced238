"""The stage's contract: its name, the algorithms and metrics it knows, ``params/recommend.yaml``
validated as :class:`RecommendParams`, and the error it raises on unusable input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams

if TYPE_CHECKING:
    import pandas as pd

STAGE = "recommend"
MODEL_NAME = "personalab-recommender"
#: Surprise's rating predictors (fitted to ratings, or to implicit strengths with negatives)
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
#: the `implicit` library's models (fitted to implicit strengths), and the co-occurrence model
IMPLICIT_CLASSES = (
    "AlternatingLeastSquares",
    "BayesianPersonalizedRanking",
    "CosineRecommender",
    "BM25Recommender",
    "TFIDFRecommender",
)
COOCCURRENCE_CLASSES = ("SAR", "EASE")  # item-to-item models of this package
CLASSES = (*IMPLICIT_CLASSES, *COOCCURRENCE_CLASSES, *ALGORITHMS)
BASELINES = ("popularity", "random")
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
SIMILARITIES = ("cosine", "msd", "pearson", "pearson_baseline")
SIM_OPTION_KEYS = {"name", "user_based", "min_support", "shrinkage"}
DEFAULT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0, "rate": 1.0}


class RecommendError(InputError, ValueError):
    """Interactions or models that cannot be used as asked."""


def class_of(name: str, options: Mapping[str, Any] | None) -> str:
    """The model class of the named entry ``name``: its ``class`` option, else the name itself."""
    return str((options or {}).get("class", name))


def model_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """An entry's options for its class's constructor (without ``class``)."""
    return {key: value for key, value in (options or {}).items() if key != "class"}


def family_of_class(cls: str) -> str:
    """``surprise`` (rating predictors), ``implicit`` (the implicit library), ``linear`` (EASE)
    or ``cooccurrence`` (SAR)."""
    if cls in ALGORITHMS:
        return "surprise"
    if cls in IMPLICIT_CLASSES:
        return "implicit"
    return "linear" if cls == "EASE" else "cooccurrence"


def algorithm_options(name: str) -> set[str]:
    """Constructor options class ``name`` accepts (its signature; Surprise's KNN also ``bsl_options``)."""
    import inspect

    if name in IMPLICIT_CLASSES:
        from personalab.recommend.implicit_models import implicit_options

        return set(implicit_options(name))
    if name == "EASE":
        from personalab.recommend.ease import ease_options

        return set(ease_options())
    if name in COOCCURRENCE_CLASSES:
        from personalab.recommend.cooccurrence import sar_options

        return set(sar_options())
    import surprise

    parameters = set(inspect.signature(getattr(surprise, name).__init__).parameters)
    allowed = parameters - {"self", "kwargs"}
    return allowed | {"bsl_options"} if "kwargs" in parameters else allowed


def check_algorithm(name: str, options: Mapping[str, Any], where: str) -> None:
    """Raise ``ValueError`` naming ``where`` when the entry's class or one of its options is
    unknown (``name`` is the entry's name; its class is ``options['class']`` or the name)."""
    cls = class_of(name, options)
    if cls not in CLASSES:
        raise ValueError(
            f"{where}: unknown model class {cls!r}"
            + (
                ""
                if "class" in options
                else " (an entry's name is its class unless it sets `class`)"
            )
            + f"; choose from {', '.join(CLASSES)}"
        )
    options = model_options(options)
    unknown = sorted(set(options) - algorithm_options(cls))
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: {cls} has no option {unknown[0]!r}; "
            f"its options: {', '.join(sorted(algorithm_options(cls))) or 'none'}"
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
    "ALS": {
        "class": "AlternatingLeastSquares",
        "factors": 32,
        "regularization": 0.1,
        "alpha": 2.0,
        "iterations": 15,
    },
    "BPR": {
        "class": "BayesianPersonalizedRanking",
        "factors": 64,
        "learning_rate": 0.01,
        "regularization": 0.01,
        "iterations": 100,
    },
    "EASE": {"class": "EASE", "l2": 250.0, "neighbours": 500, "max_items": 10000},
    "ItemKNN": {"class": "CosineRecommender", "K": 50},
    "SAR": {"class": "SAR", "similarity": "jaccard"},
    "SVD": {"n_factors": 50, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02},
}
DEFAULT_SPACE: dict[str, dict[str, list[Any]]] = {
    "ALS": {"factors": [16, 128], "regularization": [0.01, 10.0], "alpha": [0.5, 20.0]},
}


class InteractionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback: Literal["implicit", "explicit"] = "implicit"
    weights: dict[str, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    weigh_by_rating: bool = False
    cap: PositiveFloat = 20.0
    half_life_days: PositiveFloat | None = None
    min_user_interactions: int = Field(3, ge=1)
    min_item_interactions: int = Field(5, ge=1)
    rating_scale: tuple[float, float] = (1.0, 5.0)
    negatives_per_positive: float = Field(1.0, ge=0)
    negative_sampling: Literal["popularity", "uniform"] = "uniform"
    negative_rating: float = 0.0

    @model_validator(mode="after")
    def _below_scale(self) -> InteractionParams:
        if self.negatives_per_positive and self.negative_rating >= self.rating_scale[0]:
            raise ValueError(
                f"negative_rating {self.negative_rating} must be below rating_scale's low end "
                f"{self.rating_scale[0]}"
            )
        return self

    def surprise_scale(
        self, explicit: bool, ratings: pd.DataFrame | None = None
    ) -> tuple[float, float]:
        """The rating scale Surprise is given. Implicit targets: ``rating_scale``, extended down
        to ``negative_rating`` with negatives. Explicit ratings: their own span in ``ratings``
        (a log rated 1-10 is predicted on 1-10, not clipped to ``rating_scale``)."""
        if explicit:
            if ratings is None or ratings.empty:
                return self.rating_scale
            low, high = float(ratings["rating"].min()), float(ratings["rating"].max())
            if low < high:
                return (low, high)
            return (min(low, self.rating_scale[0]), max(high, self.rating_scale[1]))
        if not self.negatives_per_positive:
            return self.rating_scale
        return (self.negative_rating, self.rating_scale[1])


class HoldoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["random", "last_n", "by_time"] = "random"
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

    n_trials: int = Field(8, ge=0)
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
                if is_range(values) and values[0] > values[1]:
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
    exclude_seen: bool = True
    selection_metric: str = "ndcg_at_10"
    cross_validation: CrossValidationParams = Field(default_factory=CrossValidationParams)
    popularity: PopularityParams = Field(default_factory=PopularityParams)
    tuning: RecommendTuningParams = Field(default_factory=RecommendTuningParams)
    sessions: NextItemParams = Field(default_factory=lambda: NextItemParams())
    block_size: int = Field(2048, ge=1)
    registry: RecommendRegistryParams = Field(default_factory=RecommendRegistryParams)

    @model_validator(mode="after")
    def _consistent(self) -> RecommendParams:
        if not self.algorithms:
            raise ValueError("algorithms: name at least one model (named entries with a class)")
        for name, options in self.algorithms.items():
            check_algorithm(name, options or {}, f"algorithms.{name}")
        if "space" not in self.tuning.model_fields_set:  # the default space: its entries present
            space = {k: v for k, v in self.tuning.space.items() if k in self.algorithms}
            object.__setattr__(self, "tuning", self.tuning.model_copy(update={"space": space}))
        for name, ranges in self.tuning.space.items():
            if name not in self.algorithms:
                raise ValueError(f"tuning.space.{name}: {name} is not in algorithms")
            for key in ranges:
                top = key.split(".")[0]
                entry = {
                    "class": class_of(name, self.algorithms[name]),
                    top: {} if "." in key else None,
                }
                check_algorithm(name, entry, f"tuning.space.{name}")
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
        """The entry's options, ``class`` included (see :func:`class_of`)."""
        return dict(self.algorithms[name] or {})


def is_range(values: Sequence[Any]) -> bool:
    """Whether a tuning space entry is a ``[low, high]`` numeric range (else a list of choices)."""
    return len(values) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


# the next-item model's params live with it; its module needs RecommendError from this one
from personalab.recommend.sessions import NextItemParams  # noqa: E402

RecommendParams.model_rebuild()
