"""What the users do: sessions in time, and the events of each session's funnel.

Sessions arrive as an inhomogeneous Poisson process with intensity

    rate[u](t) = base_rate[u] * activity[u](t)      (sessions per day)

where ``activity`` is 1 for steady users, 0 before sign-up for new users, and
``exp(-(t - lapse_start) / lapse_tau_days)`` after the lapse for lapsing users.
A session ends in a purchase with probability ``purchase_prob[u]``, independently. Drift, when
the config plants it (:mod:`.drift`), changes the type of some users' later sessions, the prices
and the sessions' categories from a day on.

Sessions follow a view -> click -> scroll -> add_to_cart -> purchase funnel with
drop-off. Items are drawn from the user type's taste (:mod:`.population`). Buyers
sometimes rate what they bought (1-5, higher for items their type likes).

Every random draw comes from the one generator passed in, in a fixed order: the
functions below are called in the order they appear, so a seed gives one log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.ingest.synth.config import (
    CATEGORIES,
    CHANNELS,
    DEVICES,
    SECONDS_PER_DAY,
    USER_TYPES,
    SynthConfig,
)
from personalab.ingest.synth.drift import session_types, shifted_prices, surge_focus
from personalab.ingest.synth.population import Taste, sigmoid


def make_sessions(config: SynthConfig, users: dict, rng: np.random.Generator) -> dict:
    """Session start times by thinning a Poisson process at each user's peak rate."""
    days = float(config.n_days)
    n_cand = rng.poisson(users["rate"] * days)
    owner = np.repeat(np.arange(len(n_cand)), n_cand)
    t = rng.uniform(0.0, days, size=owner.size)
    activity = np.where(t >= users["active_from"][owner], 1.0, 0.0)
    lapse = users["lapse_start"][owner]
    decayed = np.exp(-np.clip(t - lapse, 0.0, None) / users["lapse_tau"][owner])
    activity = np.where(np.isnan(lapse), activity, activity * decayed)
    keep = rng.random(owner.size) < activity
    owner, t = owner[keep], t[keep]
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    n = owner.size
    utype, purchase_prob = session_types(config, users, owner, t)
    z = users["z"][owner]
    purchased = rng.random(n) < purchase_prob
    cart_logit = np.array([ut.cart_logit for ut in USER_TYPES])[utype] + 0.8 * z
    abandoned = ~purchased & (rng.random(n) < sigmoid(cart_logit - 1.0))
    views_mean = np.array([ut.views_per_session for ut in USER_TYPES])[utype]
    n_views = 1 + rng.poisson(np.maximum(views_mean - 1.0, 0.1) * np.exp(0.15 * z))
    n_views = np.where(purchased, np.maximum(n_views, 2), n_views)
    focus = np.where(rng.random(n) < 0.5, users["fav_cat"][owner], -1)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.35, 0.3, 0.15, 0.1, 0.1])
    return {
        "owner": owner,
        "type": utype,
        "start_s": t * SECONDS_PER_DAY,
        "purchased": purchased,
        "abandoned": abandoned,
        "n_views": n_views,
        "focus": surge_focus(config, focus, t, rng),
        "channel": channel,
    }


def sample_items(
    utype: np.ndarray, category: np.ndarray, taste: Taste, rng: np.random.Generator
) -> np.ndarray:
    """Draw one item per row from its type's taste, restricted to ``category`` when >= 0."""
    out = np.empty(utype.size, dtype=np.int64)
    u = rng.random(utype.size)
    n_cats = taste.cat_lo.shape[1]
    for t in range(len(USER_TYPES)):
        rows = np.flatnonzero(utype == t)
        cat = category[rows]
        restricted = cat >= 0
        lo = np.where(restricted, taste.cat_lo[t, np.clip(cat, 0, n_cats - 1)], 0.0)
        width = np.where(restricted, taste.cat_mass[t, np.clip(cat, 0, n_cats - 1)], 1.0)
        target = lo + u[rows] * width
        out[rows] = np.searchsorted(taste.cdf[t], target, side="right")
    return np.minimum(out, taste.cdf.shape[1] - 1)


def make_events(
    config: SynthConfig,
    users: dict,
    sessions: dict,
    items: pd.DataFrame,
    taste: Taste,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The clean events of every session: browsing, searches, purchases, abandoned carts."""
    views = _draw_views(users, sessions, taste, rng)
    parts = _browse_parts(views, rng)
    parts += _search_parts(users, sessions, rng)
    parts += _purchase_parts(config, users, sessions, views, taste, rng)
    parts += _abandon_parts(sessions, views, rng)
    return _events_table(config, parts, users, sessions, items)


@dataclass
class _Views:
    """The views of all sessions, in session order, and what each view leads to."""

    sess: np.ndarray  # session of each view
    item: np.ndarray
    dwell: np.ndarray
    time: np.ndarray
    clicked: np.ndarray
    scrolled: np.ndarray
    depth: np.ndarray
    first: np.ndarray  # per session: position of its first view
    last: np.ndarray  # per session: position of its last view


def _draw_views(users: dict, sessions: dict, taste: Taste, rng: np.random.Generator) -> _Views:
    owner = sessions["owner"]
    n_views = sessions["n_views"]
    n_sessions = owner.size
    # --- views -------------------------------------------------------------------------------
    v_sess = np.repeat(np.arange(n_sessions), n_views)
    v_user = owner[v_sess]
    v_type = sessions["type"][v_sess]
    v_z = users["z"][v_user]
    stray = rng.random(v_sess.size) < 0.2
    v_cat = np.where(stray, -1, sessions["focus"][v_sess])
    v_item = sample_items(v_type, v_cat, taste, rng)
    dwell_median = np.array([t.dwell_median_s for t in USER_TYPES])[v_type] * np.exp(0.3 * v_z)
    dwell = np.minimum(dwell_median * np.exp(rng.normal(0.0, 0.8, size=v_sess.size)), 1200.0)
    dwell = np.round(np.maximum(dwell, 1.0), 1)
    first_view = np.cumsum(n_views) - n_views
    offset = np.cumsum(dwell) - dwell
    offset = offset - offset[first_view][v_sess]
    v_time = sessions["start_s"][v_sess] + offset
    click_p = np.clip(np.array([t.click_prob for t in USER_TYPES])[v_type] + 0.08 * v_z, 0.02, 0.95)
    clicked = rng.random(v_sess.size) < click_p
    scrolled = rng.random(v_sess.size) < 0.55
    scroll_mean = np.clip(
        np.array([t.scroll_mean for t in USER_TYPES])[v_type] + 0.08 * v_z, 0.05, 0.95
    )
    depth = np.round(np.clip(rng.beta(scroll_mean * 6.0, (1.0 - scroll_mean) * 6.0), 0.01, 1.0), 3)
    last_view = first_view + n_views - 1
    return _Views(
        sess=v_sess,
        item=v_item,
        dwell=dwell,
        time=v_time,
        clicked=clicked,
        scrolled=scrolled,
        depth=depth,
        first=first_view,
        last=last_view,
    )


def _part(kind, sess, time, item=None, **extra) -> dict:
    """One batch of events of a kind: sessions, times, items (or None) and extra columns."""
    return {"kind": kind, "sess": sess, "time": time, "item": item, **extra}


def _browse_parts(views: _Views, rng: np.random.Generator) -> list[dict]:
    v_sess, v_time, v_item, dwell = views.sess, views.time, views.item, views.dwell
    clicked, scrolled = views.clicked, views.scrolled
    return [
        _part("view", v_sess, v_time, v_item, dwell=dwell),
        _part(
            "click",
            v_sess[clicked],
            v_time[clicked] + np.minimum(dwell[clicked], 20.0) * rng.random(clicked.sum()),
            v_item[clicked],
        ),
        _part(
            "scroll",
            v_sess[scrolled],
            v_time[scrolled] + dwell[scrolled] * rng.random(scrolled.sum()),
            v_item[scrolled],
            depth=views.depth[scrolled],
        ),
    ]


def _search_parts(users: dict, sessions: dict, rng: np.random.Generator) -> list[dict]:
    # --- searches at the start of some sessions -------------------------------------------------
    owner = sessions["owner"]
    searched = np.flatnonzero(rng.random(owner.size) < 0.3)
    return [
        _part(
            "search",
            searched,
            sessions["start_s"][searched] - rng.uniform(5, 30, searched.size),
            None,
            category=np.where(
                sessions["focus"][searched] >= 0,
                sessions["focus"][searched],
                users["fav_cat"][owner[searched]],
            ),
        )
    ]


def _purchase_parts(
    config: SynthConfig,
    users: dict,
    sessions: dict,
    views: _Views,
    taste: Taste,
    rng: np.random.Generator,
) -> list[dict]:
    # --- purchases: cart the last viewed item (sometimes two), then buy ---------------------------
    v_time, v_item, dwell, last_view = views.time, views.item, views.dwell, views.last
    bought = np.flatnonzero(sessions["purchased"])
    end_of_browse = v_time[last_view[bought]] + dwell[last_view[bought]]
    cart_t = end_of_browse + rng.uniform(2, 20, bought.size)
    parts = [_part("add_to_cart", bought, cart_t, v_item[last_view[bought]])]
    second = bought[rng.random(bought.size) < 0.25]
    sec_view = last_view[second] - 1
    sec_t = v_time[last_view[second]] + rng.uniform(1, 10, second.size)
    parts.append(_part("add_to_cart", second, sec_t, v_item[sec_view]))
    pay_t = cart_t + rng.uniform(30, 300, bought.size)
    qty = 1 + rng.poisson(0.3, bought.size)
    parts.append(_part("purchase", bought, pay_t, v_item[last_view[bought]], quantity=qty))
    sec_pay = pay_t[np.searchsorted(bought, second)] + 1.0
    parts.append(
        _part(
            "purchase", second, sec_pay, v_item[sec_view], quantity=np.ones(second.size, dtype=int)
        )
    )
    # ratings for some purchases, higher for items the user's type likes
    rated = rng.random(bought.size) < config.rating_prob
    r_sess, r_item = bought[rated], v_item[last_view[bought[rated]]]
    r_aff = taste.affinity[sessions["type"][r_sess], r_item]
    rating = np.clip(np.round(3.2 + 0.9 * r_aff + rng.normal(0, 0.6, r_sess.size)), 1, 5)
    parts.append(
        _part(
            "rate", r_sess, pay_t[rated] + rng.uniform(60, 900, r_sess.size), r_item, rating=rating
        )
    )
    return parts


def _abandon_parts(sessions: dict, views: _Views, rng: np.random.Generator) -> list[dict]:
    # --- abandoned carts: an item viewed in the session goes to the cart, no purchase ------------
    v_time, v_item, dwell = views.time, views.item, views.dwell
    aband = np.flatnonzero(sessions["abandoned"])
    pick = views.first[aband] + (rng.random(aband.size) * sessions["n_views"][aband]).astype(int)
    ab_t = v_time[pick] + dwell[pick] * rng.random(aband.size)
    parts = [_part("add_to_cart", aband, ab_t, v_item[pick])]
    removed = rng.random(aband.size) < 0.3
    parts.append(
        _part(
            "remove_from_cart",
            aband[removed],
            ab_t[removed] + rng.uniform(10, 120, removed.sum()),
            v_item[pick[removed]],
        )
    )
    return parts


def _part_column(parts: list[dict], name: str, fill=np.nan) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(p.get(name), dtype=float) if name in p else np.full(p["sess"].size, fill)
            for p in parts
        ]
    )


def _events_table(
    config: SynthConfig, parts: list[dict], users: dict, sessions: dict, items: pd.DataFrame
) -> pd.DataFrame:
    """The parts as one events frame (no draws here): ids, times, labels and numbers per row."""
    owner = sessions["owner"]
    price = items["price"].to_numpy()
    sess = np.concatenate([p["sess"] for p in parts])
    n = sess.size
    kind = np.concatenate([np.full(p["sess"].size, p["kind"], dtype=object) for p in parts])
    time_s = np.concatenate([p["time"] for p in parts])
    item = np.concatenate(
        [p["item"] if p["item"] is not None else np.full(p["sess"].size, -1) for p in parts]
    )
    has_item = item >= 0
    item_idx = np.where(has_item, item, 0)
    cat_code = np.where(has_item, items["category_code"].to_numpy()[item_idx], np.nan)
    search_cat = _part_column(parts, "category")
    cat_code = np.where(np.isnan(cat_code), search_cat, cat_code)
    user = owner[sess]
    events = pd.DataFrame(
        {
            "user_id": users["user_id"][user],
            "timestamp_s": time_s,
            "event_type": kind,
            "item_id": np.where(has_item, items["item_id"].to_numpy()[item_idx], None),
            "category": np.where(
                np.isnan(cat_code),
                None,
                np.asarray(CATEGORIES, dtype=object)[np.nan_to_num(cat_code).astype(int)],
            ),
            "price": np.where(has_item, shifted_prices(config, price[item_idx], time_s), np.nan),
            "quantity": _part_column(parts, "quantity"),
            "rating": _part_column(parts, "rating"),
            "dwell_seconds": _part_column(parts, "dwell"),
            "scroll_depth": _part_column(parts, "depth"),
            "device": np.asarray(DEVICES, dtype=object)[users["device"][user]],
            "channel": np.asarray(CHANNELS, dtype=object)[sessions["channel"][sess]],
        }
    )
    events.loc[
        events["event_type"].isin(["purchase", "add_to_cart", "remove_from_cart"])
        & events["quantity"].isna(),
        "quantity",
    ] = 1.0
    assert len(events) == n
    return events
