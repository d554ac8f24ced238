"""Unit tests of personalab.features.build: the steps together (rows, leakage guard,
labels and cut-offs, metrics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from personalab.core.status import StageStatus
from personalab.features.build import build_features, features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from personalab.features.schema import LABEL
from personalab.ingest.events import EVENT_TYPES
from tests.unit.features.helpers import (
    CATALOGUE,
    DEVICES,
    FUTURE,
    LOG,
    T,
    approx,
    by_user,
    events_frame,
    params,
    t,
)


def test_one_row_per_user_with_history_and_the_cutoff(at_t):
    assert at_t["user_id"].tolist() == ["a", "b", "c"]
    assert (at_t["cutoff"] == T).all()


def test_build_features_adds_category_shares_per_params():
    events = events_frame(LOG + FUTURE)
    with_shares = build_features(events, params(category_shares=2, cutoffs={"dates": [str(T)]}))
    assert {"category_share_books", "category_share_games"} <= set(with_shares.table.columns)
    assert "category_share_toys" not in with_shares.table.columns
    none = build_features(events, params(category_shares=0, cutoffs={"dates": [str(T)]}))
    assert not any(c.startswith("category_share_") for c in none.table.columns)


# --- leakage guard --------------------------------------------------------------------------


def _random_future(seed: int, devices: list) -> list[tuple]:
    """Events at or after T of every type, for existing and new users (and an extreme item)."""
    rng = np.random.default_rng(seed)
    users = ["a", "b", "c", "new1", "new2"]
    items = [*CATALOGUE, "i9", None]
    rows = []
    for k in range(120):
        user = str(rng.choice(users))
        etype = EVENT_TYPES[k % len(EVENT_TYPES)]
        when = T if k < 16 else t(s=float(rng.uniform(0, 12 * 86400)))
        session = f"{user}3" if rng.random() < 0.3 else f"{user}-f{rng.integers(3)}"
        item = items[rng.integers(len(items))]
        extras = {
            "device": devices[rng.integers(len(devices))],
            "dwell_seconds": float(rng.uniform(0, 900)),
            "scroll_depth": float(rng.uniform(0, 1)),
            "quantity": float(rng.integers(1, 4)),
            "rating": float(rng.integers(1, 6)),
        }
        if item == "i9":  # an item only seen after T, far off the books median
            extras.update(category="books", price=1000.0)
        rows.append((user, session, when, etype, item, extras))
    return rows


def test_events_at_or_after_t_do_not_change_features_at_t():
    before = features_at(events_frame(LOG), T, full_plan(FeaturesParams(), DEVICES))
    future = _random_future(1, ["mobile", "desktop", "tv", None])
    after = features_at(events_frame(LOG + future), T, full_plan(FeaturesParams(), DEVICES))
    pd.testing.assert_frame_equal(after, before)


@pytest.mark.parametrize("seed", [2, 3])
def test_events_after_t_do_not_change_the_built_feature_rows(seed):
    cut = params(cutoffs={"dates": ["2024-03-01"]})
    base = build_features(events_frame(LOG + FUTURE), cut)
    future = _random_future(seed, ["mobile", "desktop", None])
    more = build_features(events_frame(LOG + FUTURE + future), cut)
    assert more.cutoffs == base.cutoffs == [T]
    pd.testing.assert_frame_equal(more.table.drop(columns=LABEL), base.table.drop(columns=LABEL))


def test_a_session_straddling_t_counts_only_its_part_before_t():
    log = [
        ("u", "s", t(m=-10), "view", "i1", {"dwell_seconds": 30.0}),
        ("u", "s", t(m=-4), "click", "i1"),
        ("u", "s", t(m=2), "add_to_cart", "i1"),
        ("u", "s", t(m=5), "purchase", "i1"),
    ]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), [])).iloc[0]
    assert row["sessions_total"] == 1
    assert row["session_duration_max"] == pytest.approx(360.0)
    assert row["events_per_session"] == pytest.approx(2.0)
    assert row["purchases_1d"] == 0
    assert row["revenue_total"] == 0.0
    assert math.isnan(row["days_since_last_purchase"])
    assert math.isnan(row["cart_to_purchase"])


# --- labels and cut-offs --------------------------------------------------------------------


LABEL_LOG = [
    ("at_t", "p1", t(d=-1), "view", "i1"),
    ("at_t", "p2", t(), "purchase", "i1"),  # exactly T: positive
    ("at_horizon", "q1", t(d=-1), "view", "i1"),
    ("at_horizon", "q2", t(d=7), "purchase", "i1"),  # exactly T + 7 d: not in [T, T + 7 d)
    ("just_before", "r1", t(d=-1), "view", "i1"),
    ("just_before", "r1", t(us=-1), "purchase", "i1"),  # T - 1 us: a feature, not a label
    ("newcomer", "n1", t(d=1), "view", "i1"),  # no event before T: no row
]


@pytest.fixture(scope="module")
def labelled():
    dates = ["2024-03-01", "2024-03-02"]  # the second's horizon ends after the log (T + 7 d)
    return build_features(events_frame(LABEL_LOG), params(cutoffs={"dates": dates}))


def test_label_is_a_purchase_in_t_to_t_plus_horizon(labelled):
    assert by_user(labelled.table, LABEL) == {"at_horizon": 0, "at_t": 1, "just_before": 0}


def test_purchase_just_before_t_shows_in_the_features(labelled):
    row = labelled.table.set_index("user_id").loc["just_before"]
    assert row["purchases_1d"] == 1
    assert row["revenue_total"] == pytest.approx(10.0)
    # 1 us = 1.16e-11 days (to within float rounding of the ns timestamps)
    assert 0 < row["days_since_last_purchase"] < 1e-6 / 86400 * 1.1


def test_users_without_history_before_t_have_no_row(labelled):
    assert "newcomer" not in set(labelled.table["user_id"])
    assert len(labelled.table) == 3


def test_cutoff_whose_horizon_runs_past_the_log_is_dropped(labelled):
    assert labelled.cutoffs == [T]
    assert labelled.dropped_cutoffs == [t(d=1)]
    assert (labelled.table["cutoff"] == T).all()
    assert labelled.metrics["cutoffs_dropped"] == 1


# --- metrics --------------------------------------------------------------------------------


def test_metrics_of_build_features():
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": ["2024-03-01"]}))
    assert by_user(result.table, LABEL) == {"a": 0, "b": 1, "c": 0}
    metrics = result.metrics
    assert metrics["rows"] == 3
    assert metrics["users"] == 3
    assert metrics["cutoffs"] == 1
    assert metrics["cutoffs_dropped"] == 0
    assert metrics["positive_rate"] == pytest.approx(1 / 3)
    # 33 numeric + 2 device shares + 3 category shares + 6 segments + rfm, score, dominant
    assert metrics["feature_count"] == 48
    assert len(result.feature_names) == 39
    assert metrics["max_null_share"] == pytest.approx(2 / 3)  # days_since_last_purchase, aov
    assert {k: v for k, v in metrics.items() if k.startswith("share_")} == approx(
        {
            "share_high_clicker": 0.0,
            "share_deep_scroller": 1 / 3,
            "share_long_dweller": 1 / 3,
            "share_converter": 1 / 3,
            "share_cart_abandoner": 1 / 3,
            "share_at_risk": 1 / 3,
        }
    )


def test_metrics_over_two_cutoffs_count_rows_per_cutoff():
    dates = ["2024-02-20", "2024-03-01"]
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": dates}))
    # at 2024-02-20 (T - 10 d): a (a1) and c (c1, c2) have history; b's first event is at T - 10 d
    assert result.table.groupby("cutoff")["user_id"].apply(list).tolist() == [
        ["a", "c"],
        ["a", "b", "c"],
    ]
    assert result.metrics["rows"] == 5
    assert result.metrics["users"] == 3
    assert result.metrics["cutoffs"] == 2


# --- target events ----------------------------------------------------------------------------

TARGET_LOG = [
    ("a", "a1", t(d=-3), "rate", "i1", {"rating": 4.0}),
    ("a", "a2", t(d=2), "rate", "i2", {"rating": 5.0}),  # rates within the horizon
    ("b", "b1", t(d=-2), "rate", "i1", {"rating": 3.0}),
    ("b", "b2", t(d=3), "view", "i1"),  # comes back, but does not rate
    ("c", "c1", t(d=-1), "rate", "i3", {"rating": 2.0}),
    ("c", "c2", t(d=7), "rate", "i1", {"rating": 1.0}),  # at T + 7 d: outside the horizon
]


@pytest.mark.parametrize(
    ("target", "column", "expected"),
    [
        ("rate", "rate_within_horizon", {"a": 1, "b": 0, "c": 0}),
        ("return", "returned_within_horizon", {"a": 1, "b": 1, "c": 0}),
        ("view", "view_within_horizon", {"a": 0, "b": 1, "c": 0}),
        ("purchase", LABEL, {"a": 0, "b": 0, "c": 0}),
    ],
)
def test_target_event_defines_the_label_and_its_column(target, column, expected):
    cut = {"dates": [str(T)]}
    result = build_features(events_frame(TARGET_LOG), params(target_event=target, cutoffs=cut))
    assert result.label == column == result.table.attrs["label"]
    assert by_user(result.table, column) == expected
    assert [c for c in result.table.columns if c.endswith("_within_horizon")] == [column]
    assert result.table.attrs["target_event"] == target


def test_a_label_with_few_positives_or_one_class_is_a_warning():
    cut = {"dates": [str(T)]}
    status = StageStatus("features")
    build_features(events_frame(TARGET_LOG), params(target_event="rate", cutoffs=cut), None, status)
    warnings = [n["message"] for n in status.notes if n["kind"] == "warning"]
    assert "the label rate_within_horizon has under 5 positives at cut-off(s) 2024-03-01: 1" in (
        warnings
    )
    status = StageStatus("features")
    result = build_features(events_frame(TARGET_LOG), params(cutoffs=cut), None, status)
    warnings = [n["message"] for n in status.notes if n["kind"] == "warning"]
    assert (
        "the label purchased_within_horizon holds a single class (0) over 3 rows: the intent "
        "stage cannot learn it"
    ) in warnings
    assert result.metrics["positive_rate"] == 0.0 and not status.skipped


# --- what the log supports ----------------------------------------------------------------------


def test_a_ratings_log_gets_only_the_columns_it_can_have():
    log = [(u, s, when, "rate", item) for u, s, when, _, item, *_ in LOG + FUTURE]
    result = build_features(events_frame(log), params(cutoffs={"dates": [str(T)]}))
    table = result.table
    assert result.feature_names == [
        "days_since_last_event", "days_since_first_event",
        "sessions_1d", "events_1d", "sessions_7d", "events_7d", "sessions_30d", "events_30d",
        "rfm_recency", "rfm_frequency",
        "sessions_total", "session_duration_mean", "session_duration_max", "events_per_session",
        "bounce_rate", "top_category_share", "category_entropy", "activity_trend",
        "category_share_books", "category_share_games",
    ]  # fmt: skip
    assert list(table.columns) == [
        "user_id", "cutoff", *result.feature_names[:10], "rfm_segment",
        *result.feature_names[10:], "seg_at_risk", "engagement_score", "dominant_segment", LABEL,
    ]  # fmt: skip
    assert not table[result.feature_names].isna().all().any()  # no all-NaN column
    # no monetary score: recent and frequent is enough for champions
    assert by_user(table, "rfm_segment") == {"a": "champions", "b": "champions", "c": "hibernating"}
    assert set(table["dominant_segment"]) <= {"at_risk", "none"}
    attrs = table.attrs
    assert attrs["features"] == result.feature_names and attrs["status"] == "partial"
    assert attrs["left_out"]["dwell_mean"] == (
        "needs view events with dwell_seconds; the log has no view events and no dwell_seconds "
        "values"
    )
    assert attrs["horizon_days"] == 7.0 and attrs["skip_reason"] is None
    assert result.metrics["feature_count"] == 20 + 1 + 3  # + seg_at_risk, rfm, score, dominant
    assert result.metrics["features_left_out"] == len(attrs["left_out"])
    assert result.metrics["status"] == "partial" and result.metrics["notes"]


def test_the_default_log_keeps_everything_and_says_complete():
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": ["2024-03-01"]}))
    assert result.table.attrs["left_out"] == {} and result.table.attrs["status"] == "complete"
    assert result.metrics["status"] == "complete" and result.metrics["features_left_out"] == 0


# --- skipped ------------------------------------------------------------------------------------


def test_no_cutoff_gives_an_empty_table_marked_skipped():
    log = [("u", "s", t(s=k), "view", "i1") for k in (0, 59)]  # one minute, to the second
    status = StageStatus("features")
    result = build_features(events_frame(log), params(target_event="return"), None, status)
    assert status.skipped and result.table.empty
    assert list(result.table.columns) == ["user_id", "cutoff", "returned_within_horizon"]
    assert result.table.attrs["status"] == "skipped"
    assert result.table.attrs["skip_reason"] == status.skip_reason
    assert result.table.attrs["features"] == []
    assert result.metrics["status"] == "skipped" and result.metrics["rows"] == 0
    assert result.metrics["skip_reason"].startswith("no cut-off fits: the log spans 1.0 minutes")
    assert result.describe_cutoffs().startswith("horizon 1 minute")
