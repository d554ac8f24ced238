"""What a synthetic log is made of: the vocabularies, the latent user types and the config.

``SynthConfig`` holds the sizes, seed, dirt rates and planted drift (``DriftConfig``) of one
log; ``USER_TYPES`` the behavioural parameters of each latent user type (see
:mod:`.population`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

INTENT_SLOPE = 0.9
CATEGORIES = (
    "electronics", "books", "fashion", "home", "beauty", "sports",
    "toys", "grocery", "garden", "automotive", "music", "health",
)  # fmt: skip
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("direct", "search", "social", "email", "ads")
MALFORMED_KINDS = ("bad_timestamp", "unknown_event_type", "negative_price", "missing_user_id")
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class UserType:
    """Behavioural parameters shared by the users of one latent type."""

    name: str
    share: float
    sessions_per_day: float
    views_per_session: float
    dwell_median_s: float
    scroll_mean: float
    click_prob: float
    cart_logit: float
    purchase_logit: float
    price_sensitivity: float
    mobile_share: float
    lifecycle: str = "steady"  # steady | lapsing | new


USER_TYPES: tuple[UserType, ...] = (
    UserType("loyal_buyer", 0.18, 0.14, 4.0, 40.0, 0.55, 0.45, 0.5, -0.6, 0.2, 0.45),
    UserType("bargain_hunter", 0.22, 0.11, 6.0, 18.0, 0.40, 0.60, 0.0, -1.8, 1.6, 0.65),
    UserType("window_shopper", 0.30, 0.095, 5.0, 75.0, 0.80, 0.30, -1.2, -3.6, 0.6, 0.55),
    UserType("lapsing", 0.15, 0.15, 4.0, 30.0, 0.50, 0.40, -0.3, -1.4, 0.8, 0.50, "lapsing"),
    UserType("new_user", 0.15, 0.14, 3.0, 25.0, 0.45, 0.50, -0.5, -2.2, 1.0, 0.70, "new"),
)


class DriftConfig(BaseModel):
    """Drift planted in a synthetic log: from ``at_day`` days after its start on, a share of the
    users behave as another latent type, item prices move by a factor, and a share of the
    sessions turn to one category (see :mod:`.drift`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_day: float = Field(gt=0, description="days after start when the drift begins")
    type_share: float = Field(0.0, ge=0, le=1, description="share of users whose type changes")
    price_factor: float = Field(1.0, gt=0, description="item prices are multiplied by this")
    surge_category: str | None = Field(None, description="the category that surges")
    surge_share: float = Field(0.0, ge=0, le=1, description="share of sessions it takes over")

    @model_validator(mode="after")
    def _check_surge(self) -> DriftConfig:
        if self.surge_category is not None and self.surge_category not in CATEGORIES:
            raise ValueError(
                f"surge_category {self.surge_category!r} is not a category of the generator: "
                f"{list(CATEGORIES)}"
            )
        if self.surge_share > 0 and self.surge_category is None:
            raise ValueError("surge_share needs a surge_category")
        return self

    @property
    def starts_s(self) -> float:
        """The drift's start, in seconds from the log's start."""
        return self.at_day * SECONDS_PER_DAY


class SynthConfig(BaseModel):
    """Sizes, seed and dirt rates of a synthetic log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 42
    n_users: int = Field(20_000, ge=1)
    n_items: int = Field(3_000, ge=len(CATEGORIES))
    n_days: int = Field(90, ge=1)
    start: str = "2026-01-01"
    duplicate_rate: float = Field(0.01, ge=0, lt=1, description="share of events re-sent")
    late_rate: float = Field(0.005, ge=0, lt=1, description="share delivered hours late")
    malformed_rate: float = Field(0.002, ge=0, lt=1, description="share of rows corrupted")
    bot_users: int = Field(20, ge=0, description="number of bot users added")
    rating_prob: float = Field(0.2, ge=0, le=1, description="chance a purchase is rated")
    drift: DriftConfig | None = Field(None, description="drift planted from a day on (none)")

    @model_validator(mode="after")
    def _check_start(self) -> SynthConfig:
        try:
            pd.Timestamp(self.start)
        except ValueError as err:
            raise ValueError(f"start {self.start!r} is not a date: {err}") from None
        if self.drift is not None and self.drift.at_day >= self.n_days:
            raise ValueError(
                f"drift.at_day {self.drift.at_day} is not inside the log's {self.n_days} days"
            )
        return self

    @property
    def start_ts(self) -> pd.Timestamp:
        ts = pd.Timestamp(self.start)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    @property
    def end_ts(self) -> pd.Timestamp:
        return self.start_ts + pd.Timedelta(days=self.n_days)
