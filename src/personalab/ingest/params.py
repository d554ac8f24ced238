"""Parameters of the ingest stage (``params/ingest.yaml``): the source, the generator, the rules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalab.core.params import StageParams
from personalab.ingest.bots import BotRules
from personalab.ingest.sources import FORMATS
from personalab.ingest.synth.config import SynthConfig

STAGE = "ingest"


class SourceParams(BaseModel):
    """Where the events come from and how to map them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[FORMATS] = "synthetic"  # type: ignore[valid-type]
    path: str = Field("data/raw", description="file or folder; ignored for synthetic")
    columns: dict[str, str] = Field(
        default_factory=dict, description="file column -> canonical column"
    )
    constants: dict[str, Any] = Field(
        default_factory=dict, description="canonical column -> constant value"
    )
    event_types: dict[str, str] = Field(
        default_factory=dict, description="source event name -> canonical"
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = None
    timestamp_format: str | None = None
    timezone: str = "UTC"


class IngestParams(StageParams):
    """Parameters of the ingest stage (params/ingest.yaml)."""

    source: SourceParams = SourceParams()
    synthetic: SynthConfig = SynthConfig()
    session_gap_minutes: float = Field(30.0, gt=0)
    allowed_lateness_minutes: float = Field(60.0, ge=0)
    late_events: Literal["keep", "quarantine"] = "keep"
    max_quarantine_rate: float = Field(0.05, ge=0, le=1)
    rating_range: tuple[float, float] = (0.0, 5.0)
    bots: BotRules = BotRules()

    @model_validator(mode="after")
    def _check_rating_range(self) -> IngestParams:
        lo, hi = self.rating_range
        if lo >= hi:
            raise ValueError(
                f"rating_range must be [low, high] with low < high, got {list(self.rating_range)}"
            )
        return self
