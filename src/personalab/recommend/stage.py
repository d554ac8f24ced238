"""The stage's steps around the comparison: interactions and splits in (with what this log lets
the stage learn), the champion refitted for every user (or the popularity recommender), and the
stage's metrics out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.profile import LogProfile, full_profile
from personalab.core.status import StageStatus
from personalab.recommend.algorithms import fit_arrays
from personalab.recommend.arrays import POPULARITY
from personalab.recommend.baselines import popularity, popularity_arrays
from personalab.recommend.comparison import Comparison
from personalab.recommend.holdout import Holdout, split_by_time, split_holdout
from personalab.recommend.interactions import Interactions
from personalab.recommend.learnable import (
    evaluation_gap,
    identity_note,
    learnable_interactions,
    nothing_to_recommend,
    validation_gap,
)
from personalab.recommend.params import STAGE, RecommendError, RecommendParams, class_of
from personalab.recommend.served import Recommender

_EMPTY_RATINGS = pd.DataFrame(
    {
        "user_id": pd.Series(dtype=object),
        "item_id": pd.Series(dtype=object),
        "rating": pd.Series(dtype=float),
        "strength": pd.Series(dtype=float),
        "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
    }
)
_COUNTS = ("pairs", "pairs_dropped", "users", "items")


@dataclass
class Prepared:
    """What the stage learns from, and what it can learn (see :func:`prepare`)."""

    interactions: Interactions
    holdout: Holdout | None  # the test split; None: no pair can be held out (nothing is judged)
    validation: Holdout | None  # its training part split again; None: nothing is tuned or chosen
    algorithms: dict[str, dict[str, Any]]  # the Surprise algorithms to learn; {}: popularity only
    reason: str | None = None  # why no collaborative filter can be learned (None: one can)

    @property
    def explicit(self) -> bool:
        return self.interactions.explicit


def prepare(
    events: pd.DataFrame,
    params: RecommendParams,
    status: StageStatus | None = None,
    profile: LogProfile | None = None,
) -> Prepared:
    """Interactions, the test split, and the validation split of its training part; and the
    Surprise algorithms this log can teach.

    When no collaborative filter can be learned (:mod:`personalab.recommend.learnable` names
    the cause, noted as left out in ``status``), the interactions are every pair of the log and
    the candidate is the popularity recommender, judged on the test split when one can be held
    out. A log without an item id skips the stage (``status.skip``; without a ``status``, a
    :class:`RecommendError` names the cause).
    """
    own_status = status is None
    status = StageStatus(STAGE) if status is None else status
    nothing = nothing_to_recommend(events)
    if nothing is not None:
        if own_status:
            raise RecommendError(nothing)
        status.skip(nothing)
        empty = Interactions(_EMPTY_RATINGS.copy(), False, dict.fromkeys(_COUNTS, 0))
        return Prepared(empty, None, None, {}, nothing)
    if note := identity_note(full_profile() if profile is None else profile):
        status.warn(note)
    interactions, reason = learnable_interactions(events, params)
    if params.exclude_seen and (share := repurchase_share(events)) >= REPURCHASE_HINT:
        status.warn(
            f"{share:.0%} of the purchases repeat an item the user bought before, and "
            "exclude_seen is true, so no list offers a user their own items again: for "
            "repeat buying set exclude_seen: false and holdout.kind: by_time"
        )
    holdout, validation, gap = _splits(events, interactions, params)
    if reason is not None or gap is not None:
        status.leave_out("collaborative filtering", reason or gap)
    if reason is not None and holdout is None:
        status.leave_out("evaluation", gap)
    reason = reason or gap
    algorithms = {} if reason else {name: params.options(name) for name in params.algorithms}
    return Prepared(interactions, holdout, validation, algorithms, reason)


#: the share of repeat purchases above which the stage suggests ``exclude_seen: false``
REPURCHASE_HINT = 0.3


def repurchase_share(events: pd.DataFrame) -> float:
    """The share of purchase events whose user bought the same item at an earlier time."""
    bought = events[(events["event_type"] == "purchase") & events["item_id"].notna()]
    if bought.empty:
        return 0.0
    first = bought.groupby(["user_id", "item_id"], observed=True)["timestamp"].transform("min")
    return float((bought["timestamp"] > first).mean())


def _splits(
    events: pd.DataFrame, interactions: Interactions, params: RecommendParams
) -> tuple[Holdout | None, Holdout | None, str | None]:
    """The test split, the validation split of its training part, and why either is missing."""
    explicit, exclude_seen = interactions.explicit, params.exclude_seen
    if params.holdout.kind == "by_time":
        pairs = interactions.ratings
        kept = events[
            events["event_type"].isin(list(params.interactions.weights))
            & events["user_id"].isin(pairs["user_id"].unique())
            & events["item_id"].isin(pairs["item_id"].unique())
        ]

        def pairs_of(part: pd.DataFrame) -> pd.DataFrame:
            return learnable_interactions(part, _all_pairs(params))[0].ratings

        share = params.holdout.test_share
        holdout, train_events = split_by_time(kept, pairs_of, share, explicit, exclude_seen)
        if (gap := evaluation_gap(holdout, params)) is not None:
            return None, None, gap
        validation = split_by_time(train_events, pairs_of, share, explicit, exclude_seen)[0]
    else:
        holdout = split_holdout(interactions.ratings, params.holdout, params.seed, explicit)
        holdout.exclude_seen = exclude_seen
        if (gap := evaluation_gap(holdout, params)) is not None:
            return None, None, gap
        validation = split_holdout(holdout.train, params.holdout, params.seed + 1, explicit)
        validation.exclude_seen = exclude_seen
    if (gap := validation_gap(validation, params)) is not None:
        return holdout, None, gap
    return holdout, validation, None


def _all_pairs(params: RecommendParams) -> RecommendParams:
    """``params`` without the minimum counts (the pairs of a split are already filtered)."""
    interactions = params.interactions.model_copy(
        update={"min_user_interactions": 1, "min_item_interactions": 1}
    )
    return params.model_copy(update={"interactions": interactions})


def describe_split(prepared: Prepared) -> str:
    """What the stage learns from, how it is judged and, when no filter is learned, why."""
    interactions = prepared.interactions
    kind = "explicit ratings" if interactions.explicit else "implicit strengths"
    lines = [f"{kind}: {interactions.counts}"]
    holdout, validation = prepared.holdout, prepared.validation
    if holdout is None:
        lines.append("no test split: nothing is evaluated")
    else:
        held = (
            f"validation: {len(validation.test):,} held-out pairs"
            if validation
            else ("no validation split")
        )
        lines.append(
            f"test: {len(holdout.train):,} training and {len(holdout.test):,} held-out pairs of "
            f"{len(holdout.users):,} users; {held}"
        )
    if not prepared.algorithms:
        lines.append(f"popularity only: {prepared.reason}")
    return "\n".join(lines)


def fit_recommender(
    ratings: pd.DataFrame,
    name: str,
    options: Mapping[str, Any],
    params: RecommendParams,
    explicit: bool = False,
    next_item: NextItem | None = None,
    popular_pairs: pd.DataFrame | None = None,
) -> Recommender:
    """The champion refitted on every interaction, with the popularity fallback of all of them.

    ``popular_pairs`` (default ``ratings``) are the pairs popularity counts: every pair of the
    log (:attr:`Interactions.popularity_pairs`), not only those the minimum counts keep.
    ``name`` ``popularity`` gives the popularity recommender (the most popular items for
    everyone, each user's seen items excluded), saved and served as a learned model is. With
    ``next_item``'s model it also answers lists of items (what comes next)."""
    sessions = None if next_item is None else next_item.model
    counted = ratings if popular_pairs is None else popular_pairs
    popular = popularity(counted, params.popularity.window_days).head(max(params.top_n, 100))
    config: dict[str, Any] = {
        "algorithm": name,
        "options": dict(options),
        "top_n": params.top_n,
        "exclude_seen": params.exclude_seen,
        "seed": params.seed,
        "block_size": params.block_size,
        "rating_scale": list(
            params.interactions.surprise_scale(True, ratings)
            if explicit
            else params.interactions.rating_scale
        ),
    }
    if name == POPULARITY:
        arrays = popularity_arrays(counted, params.popularity.window_days)
        config |= {
            "options": {"window_days": params.popularity.window_days},
            "users": arrays.n_users,
            "items": arrays.n_items,
            "pairs": int(arrays.arrays["seen_indices"].size),
        }
        return Recommender(arrays, popular, config, sessions)
    arrays = fit_arrays(name, options, ratings, params, explicit)
    config |= {"users": arrays.n_users, "items": arrays.n_items, "pairs": len(ratings)}
    config["class"] = class_of(name, options)
    return Recommender(arrays, popular, config, sessions)


@dataclass
class NextItem:
    """The sessions' next-item model (what comes after a list of items), or why there is none."""

    model: Any  # ModelArrays fitted on every session (served); None: not learned
    evaluation: dict[str, Any] | None  # on the held-out sessions (evaluate_next_item's)
    reason: str | None = None


def learn_next_item(
    events: pd.DataFrame, params: RecommendParams, status: StageStatus | None = None
) -> NextItem:
    """Sequential rules learned from the earlier sessions and judged on the later ones (hit rate
    and MRR at k against popularity), then refitted on every session for serving. When the rules
    lose to popularity on the held-out sessions, the served model keeps no rule, so item
    requests get the items most sessions hold (noted in ``status``)."""
    from personalab.recommend.next_item_eval import evaluate_next_item
    from personalab.recommend.sessions import (
        fit_next_item,
        next_item_gap,
        session_sequences,
        split_sessions,
    )

    options = params.sessions
    if not options.enabled:
        return NextItem(None, None, "sessions.enabled is false")
    if "session_id" not in events or nothing_to_recommend(events):
        return NextItem(None, None, "the log has no session with an item")
    sequences = session_sequences(events)
    if (gap := next_item_gap(sequences, options)) is not None:
        if status is not None:
            status.leave_out("next-item model (sessions)", gap)
        return NextItem(None, None, gap)
    train, test = split_sessions(sequences, options)
    evaluation = evaluate_next_item(fit_next_item(train, options), test, params.k)
    served = fit_next_item(sequences, options)
    mrr = f"mrr_at_{params.k}"
    if evaluation["model"][mrr] < evaluation["popularity"][mrr]:
        served.arrays["sim_indices"] = served.arrays["sim_indices"][:0]
        served.arrays["sim_data"] = served.arrays["sim_data"][:0]
        served.arrays["sim_indptr"] = np.zeros_like(served.arrays["sim_indptr"])
        if status is not None:
            status.adapted(
                f"next-item: popularity answered the held-out sessions better ({mrr} "
                f"{evaluation['popularity'][mrr]:.4f} against the rules' "
                f"{evaluation['model'][mrr]:.4f}), so item requests are served the items most "
                "sessions hold"
            )
    return NextItem(served, evaluation, None)


def describe_next_item(next_item: NextItem, k: int) -> str:
    """One line: the next-item model against popularity on the held-out sessions, or why none."""
    if next_item.evaluation is None:
        return f"no next-item model: {next_item.reason}"
    e = next_item.evaluation
    model, pop = e["model"], e["popularity"]
    return (
        f"next item after a session's items, {e['sessions']:,} held-out sessions: hit rate@{k} "
        f"{model[f'hit_rate_at_{k}']:.4f} (popularity {pop[f'hit_rate_at_{k}']:.4f}), "
        f"MRR@{k} {model[f'mrr_at_{k}']:.4f} (popularity {pop[f'mrr_at_{k}']:.4f})"
    )


def next_item_metrics(next_item: NextItem, k: int) -> dict[str, Any]:
    """``next_item_<metric>`` and ``next_item_popularity_<metric>`` (NaN when not learned)."""
    keys = (f"hit_rate_at_{k}", f"mrr_at_{k}")
    e = next_item.evaluation
    out: dict[str, Any] = {"next_item_sessions": 0 if e is None else int(e["sessions"])}
    for key in keys:
        out[f"next_item_{key}"] = float("nan") if e is None else float(e["model"][key])
        out[f"next_item_popularity_{key}"] = (
            float("nan") if e is None else float(e["popularity"][key])
        )
    return out


def recommend_everyone(recommender: Recommender, events: pd.DataFrame) -> pd.DataFrame:
    """Top-N for every user of the event log (the model's, and fallbacks for the rest)."""
    users = events["user_id"].drop_duplicates().sort_values().tolist()
    return recommender.recommend(users)


def describe_recommendations(recommendations: pd.DataFrame, events: pd.DataFrame) -> str:
    """One line: how many of the log's users got a list, how many the fallback, and how many
    none (they have seen every item the model could offer)."""
    everyone = events["user_id"].nunique()
    users = recommendations.drop_duplicates("user_id")
    fallback = int(users["fallback"].sum())
    share = fallback / len(users) if len(users) else 0.0
    line = (
        f"{len(users):,} of {everyone:,} users get a list, {fallback:,} of them the popularity "
        f"fallback ({share:.2%})"
    )
    if len(users) < everyone:
        line += f"; {everyone - len(users):,} have already seen every item the model can offer"
    return line


#: above this share of the log's users on the popularity fallback, the stage warns
FALLBACK_WARNING_SHARE = 0.5


def warn_on_fallback(
    recommendations: pd.DataFrame,
    interactions: Interactions,
    params: RecommendParams,
    status: StageStatus,
) -> None:
    """A warning when most users get the popularity fallback rather than the champion's list:
    the pairs the minimum counts kept, and which params to lower."""
    users = recommendations.drop_duplicates("user_id")
    fallback = int(users["fallback"].sum())
    if not len(users) or fallback <= FALLBACK_WARNING_SHARE * len(users):
        return
    counts, ip = interactions.counts, params.interactions
    kept = ""
    if counts:
        total = counts["pairs"] + counts["pairs_dropped"]
        kept = (
            f": the minimum counts (interactions.min_user_interactions "
            f"{ip.min_user_interactions}, min_item_interactions {ip.min_item_interactions}) keep "
            f"{counts['pairs']:,} of {total:,} user-item pairs, of {counts['users']:,} users and "
            f"{counts['items']:,} items, and the model is learned and judged on those alone; "
            "lower them in params/recommend.yaml to personalise more users"
        )
    status.warn(
        f"{fallback:,} of {len(users):,} users ({fallback / len(users):.0%}) get the popularity "
        f"fallback, not a personalised list{kept}"
    )


def stage_metrics(
    interactions: Interactions,
    holdout: Holdout | None,
    comparison: Comparison,
    recommendations: pd.DataFrame,
    status: StageStatus | None = None,
    next_item: NextItem | None = None,
) -> dict[str, Any]:
    """The stage's metrics JSON: the comparison's figures, the data's size, the fallback share
    and the stage's status (``status``, ``notes``)."""
    users = recommendations.drop_duplicates("user_id")
    return {
        **comparison.metrics,
        "fallback_share": float(users["fallback"].mean()) if len(users) else 0.0,
        "fallback_users": int(users["fallback"].sum()),
        "recommended_users": len(users),
        "explicit_feedback": int(interactions.explicit),
        "test_users": 0 if holdout is None else len(holdout.users),
        **{f"interaction_{key}": value for key, value in interactions.counts.items()},
        **next_item_metrics(next_item or NextItem(None, None), _k_of(comparison)),
        **(status.metrics() if status is not None else {}),
    }


def _k_of(comparison: Comparison) -> int:
    """The ``k`` of the comparison's metrics (its selection metric ends in ``_at_<k>``)."""
    return int(str(comparison.metrics["selection_metric"]).rsplit("_", 1)[1])
