"""Parameters of the segments stage (``params/segments.yaml``), validated before any work.

Also the stage's name, the clustering algorithms it knows, the default features and log1p
columns (what `features: null` and `log1p: null` mean) and its error type.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams

STAGE = "segments"
ALGORITHMS = ("kmeans", "gmm", "agglomerative", "hdbscan")
#: what ``features: null`` clusters on: those of these the features table has values of
DEFAULT_FEATURES = (
    "days_since_last_event", "days_since_first_event", "sessions_30d", "events_per_session",
    "session_duration_mean", "dwell_mean", "scroll_depth_mean", "clicks_per_view", "view_to_cart",
    "cart_abandonment_rate", "price_sensitivity", "category_entropy", "orders_total",
    "revenue_total", "purchases_30d",
)  # fmt: skip
#: heavy-tailed counts and durations: ``log1p: null`` takes log1p of those among the features
DEFAULT_LOG1P = (
    "days_since_last_event", "days_since_first_event", "sessions_30d", "events_per_session",
    "session_duration_mean", "dwell_mean", "orders_total", "revenue_total", "purchases_30d",
)  # fmt: skip


class SegmentsError(InputError, ValueError):
    """The data cannot be clustered as asked (too few users, constant features, ...)."""


class ChoiceRule(BaseModel):
    """How the winning candidate is picked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["silhouette", "davies_bouldin", "calinski_harabasz", "bic"] = "silhouette"
    min_stability: float = Field(0.8, ge=0, le=1)
    min_cluster_share: float = Field(0.03, ge=0, lt=1)

    @property
    def higher_is_better(self) -> bool:
        return self.metric in ("silhouette", "calinski_harabasz")


class SegmentsParams(StageParams):
    """Parameters of the segments stage (params/segments.yaml)."""

    seed: int = 42
    # None: the default features (DEFAULT_FEATURES) this features table has values of
    features: list[str] | None = Field(None, min_length=2)
    # None: the heavy-tailed defaults (DEFAULT_LOG1P) among the features clustered on
    log1p: list[str] | None = None
    scaler: Literal["standard", "robust", "minmax"] = "standard"
    pca_variance: float | None = Field(None, gt=0, le=1)
    algorithms: list[Literal[ALGORITHMS]] = Field(
        default_factory=lambda: list(ALGORITHMS), min_length=1
    )  # type: ignore[valid-type]
    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)
    fit_sample: int = Field(50_000, ge=100)
    minibatch_above: int = Field(100_000, ge=1)
    gmm_covariance: Literal["full", "diag"] = "diag"
    agglomerative_sample: int = Field(3000, ge=50)
    hdbscan_min_cluster_share: float = Field(0.02, gt=0, lt=1)
    silhouette_sample: int = Field(5000, ge=100)
    stability_resamples: int = Field(3, ge=2)
    stability_sample: int = Field(3000, ge=100)
    choice: ChoiceRule = ChoiceRule()
    name_features: int = Field(2, ge=1, le=4, description="distinctive features in a segment name")

    @model_validator(mode="after")
    def _consistent(self) -> SegmentsParams:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        named = self.features if self.features is not None else DEFAULT_FEATURES
        stray = sorted(set(self.log1p or ()) - set(named))
        if stray:
            where = "features" if self.features is not None else "the default features"
            raise ValueError(f"log1p names column(s) {stray} that are not in {where}")
        if self.choice.metric == "bic" and "gmm" not in self.algorithms:
            raise ValueError(
                "choice.metric 'bic' needs 'gmm' in algorithms (only mixtures have a BIC)"
            )
        return self
