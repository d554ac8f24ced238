"""The stage's contract: its name, the personalise answer's columns and strategies, the parity
tolerance, ``params/export.yaml`` validated as :class:`ExportParams`, and the error it raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from personalab.core.errors import InputError
from personalab.core.params import StageParams

STAGE = "export"
PERSONALISE_COLUMNS = [
    "user_id",
    "intent_score",
    "segment",
    "strategy",
    "rank",
    "item_id",
    "score",
]
STRATEGIES = ("personalised", "trending", "popular")
PARITY_TOLERANCE = 1e-9


class ExportError(InputError, ValueError):
    """A champion, input or request the export stage cannot use."""


class PersonaliseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high_intent_threshold: float | None = Field(None, ge=0.0, le=1.0)
    trending_window_days: PositiveFloat = 7.0
    trending_items: PositiveInt = 200


class ExportParams(StageParams):
    intent_model: str = "personalab-intent"
    recommender_model: str = "personalab-recommender"
    alias: str = "champion"
    k: PositiveInt = 10
    example_rows: PositiveInt = 3
    personalise: PersonaliseParams = Field(default_factory=PersonaliseParams)
