"""What a log lets the stage learn, and why not when it cannot: each check names its cause in one
sentence.

* :func:`nothing_to_recommend`: a log without an item id has nothing to serve (the stage skips);
* :func:`learnable_interactions`: the pairs the stage learns from, and why no collaborative
  filter can be learned from them (explicit feedback without ratings, no counted event with an
  item, a single item or user, nothing left after the minimum-count filters); the popularity
  recommender is then served from every pair the log has;
* :func:`evaluation_gap` and :func:`validation_gap`: why the held-out split cannot judge or
  choose a recommender;
* :func:`identity_note`: what keying "users" by session means for the evaluation.
"""

from __future__ import annotations

import pandas as pd

from personalab.core.profile import LogProfile
from personalab.recommend.holdout import Holdout
from personalab.recommend.interactions import (
    PAIR_COLUMNS,
    Interactions,
    build_interactions,
    keep_min_counts,
)
from personalab.recommend.params import InteractionParams, RecommendParams

EMPTY_LOG = "the event log is empty, so there is nothing to recommend"
NO_ITEMS = "no event of the log has an item id, so there is nothing to recommend"
EXPLICIT_WITHOUT_RATINGS = (
    "interactions.feedback is explicit but the log holds no rate event with a rating, so there "
    "are no ratings to learn from"
)
NO_HELD_OUT = (
    "no user has two or more interactions, so no pair can be held out to evaluate a recommender"
)
NO_VALIDATION = (
    "no user keeps two or more training pairs after the test split, so no validation pair can "
    "be held out to choose between algorithms"
)
SESSION_IDENTITY = (
    "identity is session: every 'user' is one visit, so the held-out pairs come from the visit "
    "the model learned from (the metrics measure completing a visit, not predicting a later one) "
    "and a new visit is a new id that gets the popularity list"
)


def nothing_to_recommend(events: pd.DataFrame) -> str | None:
    """Why ``events`` hold nothing to recommend (no event, or no item id), or None."""
    if events.empty:
        return EMPTY_LOG
    if "item_id" not in events or events["item_id"].isna().all():
        return NO_ITEMS
    return None


def learnable_interactions(
    events: pd.DataFrame, params: RecommendParams
) -> tuple[Interactions, str | None]:
    """The interactions the stage learns from, and why no collaborative filter can be learned
    (None when one can).

    When one can, they are the pairs ``params.interactions`` asks for (explicit ratings or
    implicit strengths, minimum counts applied). When not, every pair the log has, for the
    popularity recommender: implicit strengths when explicit ratings were asked for but the
    log has none, every item event (rating the scale's low end) when no event of a counted type
    has an item, and the pairs before the minimum-count filters when those leave nothing or a
    single item or user.
    """
    ip = params.interactions
    feedback, reason = ip.feedback, None
    if feedback == "explicit" and not _has_ratings(events):
        feedback, reason = "implicit", EXPLICIT_WITHOUT_RATINGS
    every = build_interactions(
        events,
        ip.weights,
        ip.cap,
        ip.half_life_days,
        1,
        1,
        ip.rating_scale,
        feedback,
        ip.weigh_by_rating,
    )
    if every.ratings.empty:
        counted = ", ".join(ip.weights)
        return touched_interactions(events, ip.rating_scale[0]), reason or (
            f"no event of the types interactions.weights counts ({counted}) has an item id, "
            "so no implicit strength can be built"
        )
    if reason is None:
        reason = too_few(every.ratings)
    if reason is not None:
        return every, reason
    kept = keep_min_counts(every, ip.min_user_interactions, ip.min_item_interactions)
    filters = (
        f"after interactions.min_user_interactions {ip.min_user_interactions} and "
        f"min_item_interactions {ip.min_item_interactions}"
    )
    if kept.ratings.empty:
        return every, f"{filters} no user-item pair is left: {_above(every.ratings, ip)}"
    left = too_few(kept.ratings, filters)
    if left:
        return every, left
    kept.every = every.ratings
    return kept, None


def too_few(ratings: pd.DataFrame, after: str | None = None) -> str | None:
    """Why pairs with a single item or a single user teach nothing about choosing items, or None."""
    for column, what, why in (
        ("item_id", "item", "everyone who touched it has seen it, so there is no choice to learn"),
        ("user_id", "user", "there are no other users to learn from"),
    ):
        values = ratings[column].drop_duplicates()
        if len(values) == 1:
            single = f"a single {what} ({values.iloc[0]})"
            head = f"the log has {single}" if after is None else f"{after} {single} is left"
            return f"{head}: {why}"
    return None


def touched_interactions(events: pd.DataFrame, rating: float) -> Interactions:
    """Every user-item pair with any event, rated ``rating`` with strength 1 (its latest event's
    time)."""
    touched = events[events["item_id"].notna()]
    ratings = (
        touched.groupby(["user_id", "item_id"], sort=True, observed=True)["timestamp"]
        .max()
        .reset_index()
        .assign(rating=float(rating), strength=1.0)[PAIR_COLUMNS]
    )
    counts = {
        "pairs": len(ratings),
        "pairs_dropped": 0,
        "users": int(ratings["user_id"].nunique()),
        "items": int(ratings["item_id"].nunique()),
    }
    return Interactions(ratings, explicit=False, counts=counts)


def evaluation_gap(holdout: Holdout, params: RecommendParams) -> str | None:
    """Why the test split cannot judge a recommender (no held-out or relevant pair), or None."""
    return _split_gap(holdout, params, NO_HELD_OUT, "held-out")


def validation_gap(validation: Holdout, params: RecommendParams) -> str | None:
    """Why the validation split cannot choose between algorithms, or None."""
    return _split_gap(validation, params, NO_VALIDATION, "validation")


def identity_note(profile: LogProfile) -> str | None:
    """What keying the log by session means for the evaluation (None for users)."""
    return SESSION_IDENTITY if profile.identity == "session" else None


def _split_gap(split: Holdout, params: RecommendParams, empty: str, what: str) -> str | None:
    if split.test.empty:
        return empty
    if split.relevant.empty:
        return (
            f"no {what} pair is rated holdout.relevant_min_rating "
            f"{params.holdout.relevant_min_rating} or more, so none counts as relevant"
        )
    train = split.train
    judged = train[train["user_id"].isin(split.relevant["user_id"].unique())]
    seen = judged.groupby("user_id", observed=True)["item_id"].nunique()
    if seen.min() >= train["item_id"].nunique():
        return (
            f"every user with a {what} pair has already seen every item of the training part, "
            "so there is nothing unseen to rank for them"
        )
    return None


def _has_ratings(events: pd.DataFrame) -> bool:
    return bool(
        (
            (events["event_type"] == "rate") & events["rating"].notna() & events["item_id"].notna()
        ).any()
    )


def _above(ratings: pd.DataFrame, ip: InteractionParams) -> str:
    per_user = ratings.groupby("user_id", observed=True).size()
    per_item = ratings.groupby("item_id", observed=True).size()
    users = int((per_user >= ip.min_user_interactions).sum())
    items = int((per_item >= ip.min_item_interactions).sum())
    return (
        f"{users:,} of {len(per_user):,} users have {ip.min_user_interactions} or more items and "
        f"{items:,} of {len(per_item):,} items have {ip.min_item_interactions} or more users, too "
        "few to meet both at once (lower them in params/recommend.yaml to try collaborative "
        "filtering on sparser pairs)"
    )
