"""Parameters of the ingest stage (``params/ingest.yaml``): the source, the generator, the rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from personalab.engine.params import DataStageParams
from personalab.ingest.bots import BotRules
from personalab.ingest.sources.params import SourceParams
from personalab.ingest.synth.config import SynthConfig

STAGE = "ingest"


class IngestParams(DataStageParams):
    """Parameters of the ingest stage (params/ingest.yaml)."""

    source: SourceParams = SourceParams()
    synthetic: SynthConfig = SynthConfig()
    session_gap_minutes: float = Field(30.0, gt=0)
    allowed_lateness_minutes: float = Field(60.0, ge=0)
    late_events: Literal["keep", "quarantine"] = "keep"
    max_quarantine_rate: float = Field(0.05, ge=0, le=1)
    # auto: the smallest common scale holding 99% of the log's ratings (validation.RATING_SCALES)
    rating_range: tuple[float, float] | Literal["auto"] = "auto"
    # timestamps outside [from, to] are quarantined as implausible; to = null: a day after the run
    plausible_timestamps: tuple[str, str | None] = ("1990-01-01", None)
    bots: BotRules = BotRules()

    @model_validator(mode="after")
    def _check_rating_range(self) -> IngestParams:
        if self.rating_range == "auto":
            return self
        lo, hi = self.rating_range
        if lo >= hi:
            raise ValueError(
                f"rating_range must be [low, high] with low < high, got {list(self.rating_range)}"
            )
        return self

    @model_validator(mode="after")
    def _check_plausible_timestamps(self) -> IngestParams:
        import pandas as pd

        bounds = []
        for value in self.plausible_timestamps:
            try:
                bounds.append(None if value is None else pd.Timestamp(value))
            except ValueError:
                raise ValueError(f"plausible_timestamps: {value!r} is not a date") from None
        if bounds[1] is not None and bounds[0] >= bounds[1]:
            raise ValueError(
                f"plausible_timestamps must be [from, to] with from < to, got {list(self.plausible_timestamps)}"
            )
        return self
