"""What prepare does on logs that cannot teach a collaborative filter: each cause named in one
sentence (no contradicting hints), the popularity recommender's pairs, and the skip when there is
nothing to recommend; and the algorithms and cross-validation left out when they cannot run."""

import numpy as np
import pandas as pd
import pytest

from personalab.core.profile import LogProfile
from personalab.core.status import StageStatus
from personalab.recommend import algorithms
from personalab.recommend.comparison import SERVED_POPULARITY, compare
from personalab.recommend.learnable import (
    EMPTY_LOG,
    EXPLICIT_WITHOUT_RATINGS,
    NO_HELD_OUT,
    NO_ITEMS,
    NO_VALIDATION,
    SESSION_IDENTITY,
)
from personalab.recommend.params import RecommendError, RecommendParams
from personalab.recommend.stage import prepare
from personalab.recommend.tuning import tune
from tests.unit.recommend.frames import TINY, events, pairs_of

DEFAULTS = RecommendParams.from_mapping({})  # min_user_interactions 3, min_item_interactions 5


def prepared_with_status(log, params=DEFAULTS, profile=None):
    status = StageStatus("recommend")
    return prepare(log, params, status, profile), status


def left_out(status):
    return [note["message"] for note in status.notes if note["kind"] == "left_out"]


def one_item_log():
    """Twelve users who each viewed, clicked or bought the only item, some several times."""
    kinds = ("view", "click", "purchase")
    return events([(f"u{u:02d}", "i1", kinds[(u + d) % 3], d) for u in range(12) for d in range(3)])


def test_one_item_names_the_single_item_once_without_hints_that_contradict():
    prepared, status = prepared_with_status(one_item_log())
    expected = "the log has a single item (i1): everyone who touched it has seen it, so there is no choice to learn"
    assert prepared.reason == expected
    assert left_out(status) == [
        f"collaborative filtering: {expected}",
        f"evaluation: {NO_HELD_OUT}",
    ]
    text = " ".join(status.lines()).lower()
    assert "raise" not in text and "lower" not in text  # the old hints said both
    assert prepared.algorithms == {} and prepared.holdout is None and prepared.validation is None
    assert status.status == "partial"
    assert prepared.interactions.counts == {
        "pairs": 12,
        "pairs_dropped": 0,
        "users": 12,
        "items": 1,
    }


def test_a_single_user_names_the_user():
    log = events([("solo", f"i{i}", "view", i) for i in range(8)])
    prepared, _ = prepared_with_status(log)
    assert prepared.reason == (
        "the log has a single user (solo): there are no other users to learn from"
    )


def test_filters_that_leave_nothing_count_who_meets_each_and_keep_every_pair():
    # two users with six items each (>= 3), but no item has five users
    log = events(
        [(u, f"i{i + 2 * k}", "view", i) for k, u in enumerate(["a", "b"]) for i in range(6)]
    )
    prepared, status = prepared_with_status(log)
    assert prepared.reason.startswith(
        "after interactions.min_user_interactions 3 and min_item_interactions 5 no user-item pair "
        "is left: 2 of 2 users have 3 or more items and 0 of 8 items have 5 or more users"
    )
    assert left_out(status) == [f"collaborative filtering: {prepared.reason}"]
    assert pairs_of(prepared.interactions.ratings) == pairs_of(log)  # popularity learns every pair
    assert prepared.holdout is not None  # the popularity recommender is still judged


def test_filters_that_leave_a_single_item_say_so():
    # i0 is everyone's; each user's other items are theirs alone (one user each)
    rows = [(f"u{u}", "i0", "view", 0) for u in range(6)]
    rows += [(f"u{u}", f"x{u}{j}", "view", j + 1) for u in range(6) for j in range(3)]
    prepared, _ = prepared_with_status(
        events(rows),
        RecommendParams.from_mapping(
            {"interactions": {"min_user_interactions": 1, "min_item_interactions": 5}}
        ),
    )
    assert prepared.reason == (
        "after interactions.min_user_interactions 1 and min_item_interactions 5 a single item "
        "(i0) is left: everyone who touched it has seen it, so there is no choice to learn"
    )
    assert prepared.interactions.counts["items"] == 19  # popularity over every pair


def test_explicit_feedback_without_rate_events_names_the_setting_and_uses_the_behaviour():
    log = events([(f"u{u}", f"i{(u + j) % 9}", "view", j) for u in range(10) for j in range(4)])
    params = RecommendParams.from_mapping({"interactions": {"feedback": "explicit"}})
    prepared, status = prepared_with_status(log, params)
    assert prepared.reason == EXPLICIT_WITHOUT_RATINGS
    assert left_out(status)[0] == f"collaborative filtering: {EXPLICIT_WITHOUT_RATINGS}"
    assert not prepared.explicit and len(prepared.interactions.ratings) == 40


def test_no_counted_event_type_falls_back_to_every_item_event():
    log = events([(f"u{u}", f"i{(u + j) % 5}", "search", j) for u in range(6) for j in range(3)])
    prepared, _ = prepared_with_status(log)
    assert prepared.reason == (
        "no event of the types interactions.weights counts (view, click, add_to_cart, purchase, "
        "rate) "
        "has an item id, so no implicit strength can be built"
    )
    ratings = prepared.interactions.ratings
    assert pairs_of(ratings) == pairs_of(log) and set(ratings["rating"]) == {1.0}


def test_users_with_a_single_pair_leave_nothing_to_hold_out():
    log = events([("a", "x", "view", 0), ("b", "y", "view", 0), ("c", "x", "click", 1)])
    prepared, status = prepared_with_status(log, RecommendParams.from_mapping(TINY))
    assert prepared.reason == NO_HELD_OUT and prepared.holdout is None
    assert left_out(status) == [f"collaborative filtering: {NO_HELD_OUT}"]  # said once


def test_users_with_two_pairs_are_judged_but_cannot_choose_an_algorithm():
    log = events([(f"u{u}", f"i{(u + j) % 5}", "view", j) for u in range(8) for j in range(2)])
    prepared, _ = prepared_with_status(log, RecommendParams.from_mapping(TINY))
    assert prepared.reason == NO_VALIDATION
    assert prepared.validation is None and len(prepared.holdout.users) == 8
    assert prepared.algorithms == {}


def test_a_relevance_threshold_no_held_out_rating_reaches():
    log = events([(f"u{u}", f"i{(u + j) % 6}", "rate", j, 2.0) for u in range(8) for j in range(4)])
    params = RecommendParams.from_mapping({**TINY, "holdout": {"relevant_min_rating": 4.0}})
    prepared, _ = prepared_with_status(log, params)
    assert prepared.reason == (
        "no held-out pair is rated holdout.relevant_min_rating 4.0 or more, so none counts as "
        "relevant"
    )


def test_users_who_saw_every_training_item_leave_nothing_to_rank():
    log = events([("a", "x", "view", 0), ("a", "y", "view", 1), ("b", "x", "view", 2)])
    log = pd.concat([log, events([("b", "y", "view", 3)])], ignore_index=True)
    params = RecommendParams.from_mapping({**TINY, "holdout": {"kind": "last_n", "last_n": 1}})
    prepared, _ = prepared_with_status(log, params)
    assert prepared.reason == (
        "every user with a held-out pair has already seen every item of the training part, so "
        "there is nothing unseen to rank for them"
    )
    assert prepared.holdout is None


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        (events([]), EMPTY_LOG),
        (events([("a", None, "search", 0), ("b", None, "view", 1)]), NO_ITEMS),
    ],
)
def test_nothing_to_recommend_skips_and_without_a_status_raises(log, reason):
    prepared, status = prepared_with_status(log)
    assert status.skipped and status.skip_reason == reason
    assert prepared.algorithms == {} and prepared.interactions.ratings.empty
    with pytest.raises(RecommendError, match=reason):
        prepare(log, DEFAULTS)


def test_a_log_keyed_by_session_says_what_that_means_for_evaluation(log):
    prepared, status = prepared_with_status(log, profile=LogProfile({"identity": "session"}))
    assert [n["message"] for n in status.notes if n["kind"] == "warning"] == [SESSION_IDENTITY]
    assert prepared.reason is None and status.status == "complete"


def test_a_learnable_log_keeps_every_algorithm_and_notes_nothing(log):
    prepared, status = prepared_with_status(log, RecommendParams.from_mapping(TINY))
    assert prepared.reason is None and prepared.algorithms == {
        "SVD": {"n_factors": 4, "n_epochs": 5}
    }
    assert status.notes == []


# --- algorithms and cross-validation that cannot run on a log ------------------------------------


def test_an_algorithm_that_cannot_run_is_left_out_with_its_reason(stage, monkeypatch):
    params, interactions, holdout, validation = stage
    monkeypatch.setattr(algorithms, "SIMILARITY_BUDGET_BYTES", 0)  # no similarity matrix fits
    knn = {"KNNBasic": {"sim_options": {"user_based": False}}, "BaselineOnly": {}}
    status = StageStatus("recommend")
    tuning = tune(validation, params, knn, status)
    assert [*tuning.best_options] == ["BaselineOnly", "popularity", "random"]
    (note,) = left_out(status)
    assert note.startswith("algorithm KNNBasic: algorithms.KNNBasic: its item-by-item matrices")
    with pytest.raises(RecommendError, match="item-by-item"):
        tune(validation, params, knn)  # without a status the error stops, as before


def test_when_every_algorithm_is_left_out_popularity_is_the_champion(stage, monkeypatch):
    params, interactions, holdout, validation = stage
    monkeypatch.setattr(algorithms, "SIMILARITY_BUDGET_BYTES", 0)
    status = StageStatus("recommend")
    tuning = tune(validation, params, {"SlopeOne": {}}, status)
    result = compare(interactions.ratings, holdout, tuning, params, status)
    assert result.champion == "popularity" and result.metrics["algorithm"] == "popularity"
    assert list(result.table["model"]) == ["popularity", "random"]
    assert result.metrics["ndcg_at_10"] == result.metrics["popularity_ndcg_at_10"] > 0
    assert "rating_rmse" not in result.metrics
    assert status.notes[-1] == {"kind": "adapted", "message": SERVED_POPULARITY}


def test_too_few_pairs_for_the_folds_leave_cross_validation_out():
    rated = [("a", "x", 5), ("a", "y", 3), ("a", "z", 1), ("b", "y", 4), ("b", "z", 2)]
    rated += [("b", "w", 5), ("c", "z", 1), ("c", "w", 4), ("c", "x", 3)]
    log = events([(user, item, "rate", day, r) for day, (user, item, r) in enumerate(rated)])
    params = RecommendParams.from_mapping(
        {
            **TINY,
            "interactions": {**TINY.get("interactions", {}), "feedback": "explicit"},
            "algorithms": {"BaselineOnly": {}},
            "tuning": {"n_trials": 0, "space": {}},
            "holdout": {"kind": "last_n", "last_n": 1},
            "cross_validation": {"folds": 10, "max_pairs": None},
        }
    )
    prepared = prepare(log, params)
    status = StageStatus("recommend")
    tuning = tune(prepared.validation, params)
    result = compare(prepared.interactions.ratings, prepared.holdout, tuning, params, status)
    assert left_out(status) == [
        "cross-validation (rating RMSE, MAE): 9 ratings cannot be split into "
        "cross_validation.folds 10 folds"
    ]
    assert "BaselineOnly_rating_rmse" not in result.metrics
    assert not np.isnan(result.metrics["BaselineOnly_ndcg_at_10"])
    with pytest.raises(RecommendError, match="cannot be split"):
        compare(prepared.interactions.ratings, prepared.holdout, tuning, params)
