"""Unit tests of personalab.features.build: the steps together (rows, leakage guard,
labels and cut-offs, metrics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from personalab.features.build import build_features, features_at
from personalab.features.params import FeaturesParams
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
    before = features_at(events_frame(LOG), T, FeaturesParams(), DEVICES)
    future = _random_future(1, ["mobile", "desktop", "tv", None])
    after = features_at(events_frame(LOG + future), T, FeaturesParams(), DEVICES)
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
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
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
