"""The stage's contract: its name, the personalise answer's columns, strategies and score kinds,
the parity tolerance, ``params/export.yaml`` validated as :class:`ExportParams`, and the error it
raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.evaluation.classification import NEAR_CHANCE_AUC
from personalab.recommend.served import DEFAULT_MAX_K
from personalab.recommend.served import SCORE_KINDS as RECOMMENDER_SCORE_KINDS

STAGE = "export"
PERSONALISE_COLUMNS = [
    "user_id",
    "intent_score",
    "segment",
    "strategy",
    "rank",
    "item_id",
    "score",
    "score_kind",
    "reason",
]
#: every strategy an answer of ``models/personalise`` may name (the rule that chose its items):
#: with both models, ``personalised`` (intent at or above the threshold: the recommender's
#: top-k), ``trending`` (below: trending items not yet seen) and ``popular`` (unknown to the
#: recommender, or nothing unseen left); without an intent model, ``personalised_no_intent``
#: (every known user: the recommender's top-k, no intent gating) and ``popular``; without a
#: recommender, ``trending_no_recommender`` (everyone: the trending items, the intent score shown);
#: ``popular_unseen`` replaces both ``personalised`` names when the recommender is popularity;
#: a request's live visit may decide instead (:mod:`personalab.export.live_rules`):
#: ``cart_reminder`` and ``category_interest`` (triggers), ``session_items`` (a visitor the
#: recommender does not know: the items that follow the visit's items)
STRATEGIES = (
    "personalised",
    "trending",
    "popular",
    "personalised_no_intent",
    "trending_no_recommender",
    "popular_unseen",
    "cart_reminder",
    "category_interest",
    "session_items",
)
#: what ``score`` means in an answer row, by its ``score_kind`` (higher is better in each): the
#: recommender's kinds (a predicted rating; the popularity share of its fallback and of the
#: popularity recommender), and the trending share of the trending strategies
SCORE_KINDS = {
    **RECOMMENDER_SCORE_KINDS,
    "cart_item": "1 for each item left in the cart this visit (most recent first)",
    "fused_rank": (
        "the reciprocal-rank fusion of the recommender's list and the items that follow this "
        "visit's items: the sum of 1/(60 + rank) over the lists holding the item"
    ),
    "trending_share": (
        "the share of the users with item events in the last personalise.trending_window_days "
        "of the log who touched the item, from 0 to 1"
    ),
}
#: the parts of ``models/personalise`` besides the rule, and the folders the stage exports
PARTS = ("intent", "recommender", "segments")
EXPORTED = ("intent", "recommender", "personalise")
PARITY_TOLERANCE = 1e-9


class ExportError(InputError, ValueError):
    """A champion, input or request the export stage cannot use."""


class TriggerParams(BaseModel):
    """Rules on a request's live events (:mod:`personalab.export.live_rules`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cart_reminder: bool = True
    category_views: int = Field(5, ge=0)


class PersonaliseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high_intent_threshold: float | None = Field(None, ge=0.0, le=1.0)
    min_intent_roc_auc: float = Field(NEAR_CHANCE_AUC, ge=0.0, le=1.0)
    trending_window_days: PositiveFloat = 7.0
    trending_items: PositiveInt = 200
    online_store: bool = True
    triggers: TriggerParams = Field(default_factory=TriggerParams)


class ExportParams(StageParams):
    intent_model: str = "personalab-intent"
    recommender_model: str = "personalab-recommender"
    alias: str = "champion"
    k: PositiveInt = 10
    max_k: PositiveInt = DEFAULT_MAX_K
    example_rows: PositiveInt = 3
    personalise: PersonaliseParams = Field(default_factory=PersonaliseParams)

    @model_validator(mode="after")
    def _k_within_max_k(self) -> ExportParams:
        if self.k > self.max_k:
            raise ValueError(f"k ({self.k}) must not exceed max_k ({self.max_k})")
        return self
