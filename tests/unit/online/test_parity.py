"""The online row equals the features stage's row: a store built at ``S`` plus a user's events in
``[S, T)`` as live events gives, for every column, what ``features_at`` gives at ``T`` on the log
before ``S`` plus those events, on a log of every shape."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.online.parity import parity_gaps
from tests.unit.online.helpers import SHAPES, instants, plan_for, shape


def chosen_users(events: pd.DataFrame, as_of: pd.Timestamp, at: pd.Timestamp) -> list[str]:
    """Users with live events (stored before and not), a stored user without any, a visitor."""
    past = events[events["timestamp"] < as_of]
    live = events[(events["timestamp"] >= as_of) & (events["timestamp"] < at)]
    stored = set(past["user_id"].astype(str))
    active = live["user_id"].astype(str).value_counts().index.tolist()
    returning = [u for u in active if u in stored][:5]
    new = [u for u in active if u not in stored][:2]
    idle = sorted(stored - set(active))[:1]
    return [*returning, *new, *idle]


@pytest.mark.parametrize("name", SHAPES)
def test_online_rows_equal_the_features_stage_rows_on_every_log_shape(name):
    events = shape(name)
    as_of, at = instants(events)
    plan = plan_for(events[events["timestamp"] < as_of])
    users = chosen_users(events, as_of, at)
    assert len(users) >= 4
    gaps = parity_gaps(events, plan, as_of, at, users)
    assert gaps.empty, gaps.to_string()


def test_ranks_follow_everybody_else_on_to_t_as_their_windows_empty():
    """Windows shorter than ``T - S``: the others' window counts, ranked by RFM frequency and
    the engagement score, lose what left them between ``S`` and ``T``; their days since an
    event grow."""
    events = shape("funnel")
    as_of, at = instants(events)
    weights = {"sessions_3d": 1.0, "events_1d": 1.0, "purchases_3d": 2.0, "dwell_mean": 1.0}
    weights |= {"days_since_first_event": 1.0, "days_since_last_purchase": 0.5}
    plan = plan_for(
        events[events["timestamp"] < as_of], windows_days=[1, 3], engagement_weights=weights
    )
    assert (at - as_of) > pd.Timedelta(days=3)
    gaps = parity_gaps(events, plan, as_of, at, chosen_users(events, as_of, at))
    assert gaps.empty, gaps.to_string()


@pytest.mark.parametrize("trend_days", [1.0, 2.5])
def test_the_others_activity_trend_and_cart_abandonment_slide_on_to_t(trend_days):
    """Named as engagement weights, everybody's activity trend and cart abandonment rate are
    ranked at ``T``: their trend windows slide and their carts come of age between ``S`` and
    ``T`` without any new event."""
    events = shape("funnel")
    as_of, at = instants(events)
    weights = {"activity_trend": 1.0, "cart_abandonment_rate": 2.0, "events_7d": 1.0}
    plan = plan_for(
        events[events["timestamp"] < as_of],
        engagement_weights=weights,
        trend_days=trend_days,
        segments={"abandon_hours": 30.0},
    )
    carts = events[(events["event_type"] == "add_to_cart") & (events["timestamp"] < as_of)]
    assert (carts["timestamp"] > as_of - pd.Timedelta(hours=30)).any()  # some come of age later
    assert at - as_of > pd.Timedelta(days=trend_days)
    gaps = parity_gaps(events, plan, as_of, at, chosen_users(events, as_of, at))
    assert gaps.empty, gaps.to_string()


def test_live_prices_move_the_category_medians_that_price_sensitivity_divides_by():
    """A live price moves its item's median price and so its category's median: an item's new
    price, an item the catalogue never had, and an item priced before without a category that
    a live event gives one (it moves from the no-category median to its category's)."""
    events = shape("funnel")
    as_of, at = instants(events)
    live = (events["timestamp"] >= as_of) & (events["timestamp"] < at)
    user = events.loc[live & events["price"].notna(), "user_id"].value_counts().index[0]
    priced = events.index[live & (events["user_id"] == user) & events["price"].notna()]
    assert len(priced) >= 4
    events.loc[priced[::2], "price"] *= 1.7  # the items' prices move
    categories = events["category"].cat.categories
    events.loc[priced[1], ["item_id", "category"]] = ["never-seen", categories[0]]
    uncategorised = events.loc[priced[3], "item_id"]
    events.loc[(events["item_id"] == uncategorised) & ~live, "category"] = None
    events.loc[priced[3], "category"] = categories[-1]
    plan = plan_for(events[events["timestamp"] < as_of])
    gaps = parity_gaps(events, plan, as_of, at, [user, *chosen_users(events, as_of, at)])
    assert gaps.empty, gaps.to_string()


def test_a_visitor_the_store_never_saw_is_described_by_live_events_alone():
    events = shape("funnel")
    as_of, at = instants(events)
    live = events[(events["timestamp"] >= as_of) & (events["timestamp"] < at)]
    user = live["user_id"].value_counts().index[0]
    visitor = live[live["user_id"] == user].assign(user_id="visitor-1")
    visitor["session_id"] = "visit-1"
    log = pd.concat([events, visitor]).sort_values("timestamp", kind="stable")
    plan = plan_for(log[log["timestamp"] < as_of])
    gaps = parity_gaps(log, plan, as_of, at, ["visitor-1"])
    assert gaps.empty, gaps.to_string()


def test_a_click_burst_is_timed_from_the_first_click_of_anybody_in_the_window():
    """Clicks are floored to whole milliseconds since the window's first click of anybody: a
    stored click of another user 0.7 ms before this user's first moves the last of six clicks
    599,999.4 ms later out of the burst (with this user's own first click as the origin, it
    stays in: the user would be a high clicker)."""
    from personalab.features.plan import full_plan
    from tests.unit.features.helpers import events_frame, t

    first = t(us=700)
    clicks = [first + pd.Timedelta(seconds=s) for s in range(5)]
    clicks.append(first + pd.Timedelta(microseconds=599_999_400))
    rows = [("v", "v1", t(d=-3), "view", "i1"), ("v", "v1", t(), "click", "i1")]
    rows += [("v", "v1", t(us=500), "view", "i2")]
    rows += [("u", "u1", when, "click", "i3") for when in clicks]
    events = events_frame(rows)
    as_of, at = t(us=600), t(m=15)
    gaps = parity_gaps(events, full_plan(), as_of, at, ["u"])
    assert gaps.empty, gaps.to_string()
    stored = events[events["user_id"] == "v"]
    alone = parity_gaps(events.drop(stored.index[1]), full_plan(), as_of, at, ["u"])
    assert alone.empty, alone.to_string()
