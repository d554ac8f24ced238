"""Unit tests of personalab.segments.columns: the features and log1p columns clustered on."""

from __future__ import annotations

import pytest

from personalab.core.status import StageStatus
from personalab.segments.columns import choose_features
from personalab.segments.params import (
    DEFAULT_FEATURES,
    DEFAULT_LOG1P,
    STAGE,
    SegmentsError,
    SegmentsParams,
)
from tests.unit.segments.helpers import (
    CUTOFFS,
    RATINGS_DROPPED,
    RATINGS_EMPTY,
    RATINGS_KEPT,
    RATINGS_ZERO,
    default_table,
    ratings_table,
)

#: params/segments.yaml's explicit lists before features and log1p became null: the default
#: pipeline must cluster on exactly these
LIST_BEFORE = [
    "days_since_last_event", "days_since_first_event", "sessions_30d", "events_per_session",
    "session_duration_mean", "dwell_mean", "scroll_depth_mean", "clicks_per_view", "view_to_cart",
    "cart_abandonment_rate", "price_sensitivity", "category_entropy", "orders_total",
    "revenue_total", "purchases_30d",
]  # fmt: skip
LOG1P_BEFORE = [
    "days_since_last_event", "days_since_first_event", "sessions_30d", "events_per_session",
    "session_duration_mean", "dwell_mean", "orders_total", "revenue_total", "purchases_30d",
]  # fmt: skip


def choose(table, **values):
    status = StageStatus(STAGE)
    return choose_features(table, SegmentsParams.from_mapping(values), status), status


def test_a_full_table_gives_the_list_of_before_and_a_complete_status():
    choice, status = choose(default_table())
    assert choice.features == LIST_BEFORE == list(DEFAULT_FEATURES)
    assert choice.log1p == LOG1P_BEFORE == list(DEFAULT_LOG1P)
    assert choice.left_out == {} and not choice.explicit
    assert status.status == "complete" and status.notes == []


def test_a_ratings_table_clusters_on_the_defaults_it_has_values_of():
    choice, status = choose(ratings_table())
    assert choice.features == list(RATINGS_KEPT)
    # log1p follows: the heavy-tailed defaults among the features kept
    assert choice.log1p == list(RATINGS_KEPT)
    assert set(choice.left_out) == {*RATINGS_DROPPED, *RATINGS_EMPTY, *RATINGS_ZERO}
    assert choice.left_out["dwell_mean"] == (
        "not built by the features stage (no dwell, scroll or click events)"
    )
    assert choice.left_out["view_to_cart"] == "no values at the latest cut-off"
    assert choice.left_out["orders_total"] == (
        "the same value (0) for every user at the latest cut-off"
    )
    # one note per reason, naming its features; left out makes the stage partial
    assert status.status == "partial"
    assert status.lines() == [
        "left out: feature(s) dwell_mean, scroll_depth_mean, clicks_per_view: not built by the "
        "features stage (no dwell, scroll or click events)",
        "left out: feature(s) view_to_cart, cart_abandonment_rate, price_sensitivity, "
        "category_entropy: no values at the latest cut-off",
        "left out: feature(s) orders_total, revenue_total, purchases_30d: the same value (0) for "
        "every user at the latest cut-off",
    ]


def test_a_default_absent_from_the_table_or_not_numeric_is_left_out():
    table = default_table(drop=("dwell_mean",)).assign(view_to_cart="high")
    choice, _ = choose(table)
    assert choice.left_out["dwell_mean"] == "not in the features table"
    assert choice.left_out["view_to_cart"].startswith("not numeric (")
    assert len(choice.left_out) == 2
    assert len(choice.features) == len(DEFAULT_FEATURES) - 2
    assert "dwell_mean" not in choice.log1p


def test_values_at_earlier_cutoffs_only_do_not_count():
    earlier, latest = CUTOFFS[1:]
    table = default_table(cutoffs=(earlier, latest))
    table.loc[table["cutoff"] == latest, "dwell_mean"] = float("nan")
    choice, _ = choose(table)
    assert choice.left_out == {"dwell_mean": "no values at the latest cut-off"}


def test_an_explicit_list_wins_even_over_a_column_the_default_would_leave_out():
    table = ratings_table()
    choice, status = choose(table, features=["sessions_30d", "orders_total", "events_per_session"])
    assert choice.features == ["sessions_30d", "orders_total", "events_per_session"]
    assert choice.explicit and choice.left_out == {}
    # log1p (null) follows the explicit list, in the order of the defaults
    assert choice.log1p == ["sessions_30d", "events_per_session", "orders_total"]
    # orders_total is 0 for everyone: kept as asked, with a warning
    assert status.status == "complete"
    assert status.lines() == [
        "warning: feature(s) orders_total named in params 'features' have the same value for "
        "every user at the latest cut-off: they do not separate users"
    ]


def test_an_explicit_log1p_list_wins_and_keeps_only_the_chosen_features():
    choice, _ = choose(ratings_table(), log1p=["sessions_30d", "dwell_mean", "revenue_total"])
    assert choice.log1p == ["sessions_30d"]  # dwell_mean and revenue_total are left out
    choice, _ = choose(default_table(), features=["sessions_30d", "dwell_mean"], log1p=[])
    assert choice.log1p == []


@pytest.mark.parametrize(
    ("features", "named"),
    [
        (["sessions_30d", "dwell_mean"], "lacks column(s) ['dwell_mean']"),
        (["sessions_30d", "view_to_cart"], "column(s) ['view_to_cart'] have no values at all"),
    ],
)
def test_an_explicit_missing_or_empty_column_stays_an_error_naming_it(features, named):
    with pytest.raises(SegmentsError) as err:
        choose(ratings_table(), features=features)
    assert named in str(err.value)
    assert "features: null" in str(err.value)
