"""Embedded default data: a deterministic generator of realistic behavioural event logs.

``generate_log(SynthConfig(...))`` returns the raw event log (as a source would
deliver it, dirt included), the ground truth per user and the item catalogue.
The same config and seed always give the same log.

The model
---------
Users belong to a latent behavioural type (``USER_TYPES``). Types differ in visit
rate, session length, dwell time, scroll depth, click and cart propensity, price
sensitivity, lifecycle and category taste. Each user also has an individual
intent trait ``z ~ N(0, 1)`` that shows in every session (longer dwell, deeper
scrolls, more clicks and carts when ``z`` is high) and sets purchase propensity:

    purchase_prob[u] = sigmoid(type.purchase_logit + INTENT_SLOPE * z[u])   (per session)

Sessions arrive as an inhomogeneous Poisson process with intensity

    rate[u](t) = base_rate[u] * activity[u](t)      (sessions per day)

where ``activity`` is 1 for steady users, 0 before sign-up for new users, and
``exp(-(t - lapse_start) / lapse_tau_days)`` after the lapse for lapsing users.
A session ends in a purchase with probability ``purchase_prob[u]``,
independently, so purchases form a Poisson process with hazard
``rate[u](t) * purchase_prob[u]`` and

    P(purchase in [T, T + h)) = 1 - exp(-purchase_prob[u] * integral_T^{T+h} rate[u](t) dt),

which :func:`purchase_probability` computes exactly from the truth table.

Sessions follow a view -> click -> scroll -> add_to_cart -> purchase funnel with
drop-off. Items have categories, log-normal prices and Zipf popularity; each
type shares a category taste and item affinities, so collaborative filtering
has real signal. Buyers sometimes rate what they bought (1-5, higher for items
their type likes).

Dirt, at rates from the config: re-sent duplicates (same ``event_id``, arriving
later), late arrivals (delivered hours after they happened), bot users (bursts
of views about a second apart with zero dwell) and malformed rows (bad
timestamps, unknown event types, negative prices, missing user ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

INTENT_SLOPE = 0.9
CATEGORIES = (
    "electronics", "books", "fashion", "home", "beauty", "sports",
    "toys", "grocery", "garden", "automotive", "music", "health",
)  # fmt: skip
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("direct", "search", "social", "email", "ads")
MALFORMED_KINDS = ("bad_timestamp", "unknown_event_type", "negative_price", "missing_user_id")
_DAY = 86_400.0


@dataclass(frozen=True)
class UserType:
    """Behavioural parameters shared by the users of one latent type."""

    name: str
    share: float
    sessions_per_day: float
    views_per_session: float
    dwell_median_s: float
    scroll_mean: float
    click_prob: float
    cart_logit: float
    purchase_logit: float
    price_sensitivity: float
    mobile_share: float
    lifecycle: str = "steady"  # steady | lapsing | new


USER_TYPES: tuple[UserType, ...] = (
    UserType("loyal_buyer", 0.18, 0.14, 4.0, 40.0, 0.55, 0.45, 0.5, -0.6, 0.2, 0.45),
    UserType("bargain_hunter", 0.22, 0.11, 6.0, 18.0, 0.40, 0.60, 0.0, -1.8, 1.6, 0.65),
    UserType("window_shopper", 0.30, 0.095, 5.0, 75.0, 0.80, 0.30, -1.2, -3.6, 0.6, 0.55),
    UserType("lapsing", 0.15, 0.15, 4.0, 30.0, 0.50, 0.40, -0.3, -1.4, 0.8, 0.50, "lapsing"),
    UserType("new_user", 0.15, 0.14, 3.0, 25.0, 0.45, 0.50, -0.5, -2.2, 1.0, 0.70, "new"),
)


class SynthConfig(BaseModel):
    """Sizes, seed and dirt rates of a synthetic log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 42
    n_users: int = Field(20_000, ge=1)
    n_items: int = Field(3_000, ge=len(CATEGORIES))
    n_days: int = Field(90, ge=1)
    start: str = "2026-01-01"
    duplicate_rate: float = Field(0.01, ge=0, lt=1, description="share of events re-sent")
    late_rate: float = Field(0.005, ge=0, lt=1, description="share delivered hours late")
    malformed_rate: float = Field(0.002, ge=0, lt=1, description="share of rows corrupted")
    bot_users: int = Field(20, ge=0, description="number of bot users added")
    rating_prob: float = Field(0.2, ge=0, le=1, description="chance a purchase is rated")

    @model_validator(mode="after")
    def _check_start(self) -> SynthConfig:
        try:
            pd.Timestamp(self.start)
        except ValueError as err:
            raise ValueError(f"start {self.start!r} is not a date: {err}") from None
        return self

    @property
    def start_ts(self) -> pd.Timestamp:
        ts = pd.Timestamp(self.start)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    @property
    def end_ts(self) -> pd.Timestamp:
        return self.start_ts + pd.Timedelta(days=self.n_days)


@dataclass
class SyntheticLog:
    """A generated log: raw events (file order, dirt included), truth per user, items."""

    events: pd.DataFrame
    truth: pd.DataFrame
    items: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def generate_log(config: SynthConfig | None = None) -> SyntheticLog:
    """Generate a raw behavioural event log (see the module docstring for the model)."""
    config = config or SynthConfig()
    rng = np.random.default_rng(config.seed)
    items = _make_items(config, rng)
    taste = _make_taste(items, rng)
    users = _make_users(config, rng, taste)
    sessions = _make_sessions(config, users, rng)
    clean = _make_events(config, users, sessions, items, taste, rng)
    bots = _make_bots(config, items, rng, first_user=config.n_users)
    events = pd.concat([clean, bots["events"]], ignore_index=True)
    # the log is an export of [start, end): activity spilling past either edge is cut
    inside = (events["timestamp_s"] >= 0) & (events["timestamp_s"] < config.n_days * _DAY)
    events = events.loc[inside].reset_index(drop=True)
    truth = pd.concat([users["truth"], bots["truth"]], ignore_index=True)
    events, counts = _add_dirt(config, events, rng)
    counts["bot_events"] = len(bots["events"])
    counts["clean_events"] = len(clean)
    return SyntheticLog(events=events, truth=truth, items=items, counts=counts)


def purchase_probability(
    truth: pd.DataFrame, cutoff: pd.Timestamp | str, horizon_days: float
) -> pd.Series:
    """True probability that each user purchases within ``[cutoff, cutoff + horizon)``.

    Uses the truth table's hazard (``base_rate``, ``purchase_prob``, ``active_from``,
    ``lapse_start``, ``lapse_tau_days``); bots get 0. Indexed by ``user_id``.
    """
    cutoff = pd.Timestamp(cutoff)
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    required = {
        "user_id",
        "base_rate",
        "purchase_prob",
        "active_from",
        "lapse_start",
        "lapse_tau_days",
    }
    missing = required - set(truth.columns)
    if missing:
        raise KeyError(f"truth table lacks column(s) {sorted(missing)}")
    expected = expected_sessions(truth, cutoff, cutoff + pd.Timedelta(days=horizon_days))
    prob = 1.0 - np.exp(-truth["purchase_prob"].to_numpy() * expected)
    return pd.Series(prob, index=pd.Index(truth["user_id"], name="user_id"), name="true_prob")


def expected_sessions(truth: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Integral of each user's session intensity over ``[start, end)`` (sessions)."""
    a = _days_since(truth["active_from"], start)  # active_from - start, days (<= 0 when active)
    t0 = np.maximum(0.0, a)  # activity begins at this offset from start
    t1 = (end - start) / pd.Timedelta(days=1)
    rate = truth["base_rate"].to_numpy(dtype=float)
    lapse = _days_since(truth["lapse_start"], start)  # NaN when the user never lapses
    tau = truth["lapse_tau_days"].to_numpy(dtype=float)
    has_lapse = ~np.isnan(lapse)
    lapse_at = np.where(has_lapse, lapse, np.inf)
    # steady part: [t0, min(t1, lapse_at))
    steady = np.clip(np.minimum(t1, lapse_at) - t0, 0.0, None)
    # decaying part: [max(t0, lapse_at), t1) of exp(-(t - lapse_at) / tau)
    lo = np.maximum(t0, lapse_at)
    with np.errstate(invalid="ignore", over="ignore"):
        decay = np.where(
            has_lapse & (lo < t1),
            tau * (np.exp(-(lo - lapse_at) / tau) - np.exp(-(t1 - lapse_at) / tau)),
            0.0,
        )
    return rate * (np.where(t0 < t1, steady, 0.0) + np.nan_to_num(decay))


def _days_since(column: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    values = pd.to_datetime(column, utc=True)
    return ((values - origin) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _make_items(config: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = config.n_items
    cat_weights = rng.dirichlet(np.full(len(CATEGORIES), 4.0))
    category = np.sort(rng.choice(len(CATEGORIES), size=n, p=cat_weights))
    cat_price = np.exp(rng.uniform(np.log(8), np.log(250), size=len(CATEGORIES)))
    price = np.round(cat_price[category] * np.exp(rng.normal(0, 0.6, size=n)), 2) + 0.99
    popularity = 1.0 / (rng.permutation(n) + 1.0) ** 1.05  # Zipf over a random rank
    return pd.DataFrame(
        {
            "item_id": [f"i{k:05d}" for k in range(n)],
            "category_code": category,
            "category": np.asarray(CATEGORIES)[category],
            "price": price,
            "popularity": popularity / popularity.sum(),
        }
    )


@dataclass
class _Taste:
    """Per-type item distributions over items sorted by category (for restricted sampling)."""

    cdf: np.ndarray  # (types, items) cumulative item probabilities
    cat_lo: np.ndarray  # (types, categories) cdf value where each category starts
    cat_mass: np.ndarray  # (types, categories) probability mass of each category
    cat_pref: np.ndarray  # (types, categories)
    affinity: np.ndarray  # (types, items) log item affinity, drives ratings


def _make_taste(items: pd.DataFrame, rng: np.random.Generator) -> _Taste:
    n_types, n_cats = len(USER_TYPES), len(CATEGORIES)
    cat_pref = rng.dirichlet(np.full(n_cats, 0.6), size=n_types)
    cat = items["category_code"].to_numpy()
    price = items["price"].to_numpy()
    median = items.groupby("category_code")["price"].transform("median").to_numpy()
    affinity = rng.normal(0.0, 1.0, size=(n_types, len(items)))
    probs = np.empty((n_types, len(items)))
    for t, utype in enumerate(USER_TYPES):
        weight = items["popularity"].to_numpy() * np.exp(affinity[t])
        weight *= (price / median) ** (-utype.price_sensitivity)
        within = weight / np.bincount(cat, weights=weight, minlength=n_cats)[cat]
        probs[t] = cat_pref[t, cat] * within
    probs /= probs.sum(axis=1, keepdims=True)
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    mass = np.stack([np.bincount(cat, weights=p, minlength=n_cats) for p in probs])
    lo = np.cumsum(mass, axis=1) - mass
    return _Taste(cdf=cdf, cat_lo=lo, cat_mass=mass, cat_pref=cat_pref, affinity=affinity)


def _make_users(config: SynthConfig, rng: np.random.Generator, taste: _Taste) -> dict:
    n = config.n_users
    shares = np.array([t.share for t in USER_TYPES])
    utype = rng.choice(len(USER_TYPES), size=n, p=shares / shares.sum())
    z = rng.normal(size=n)
    base_rate = np.array([t.sessions_per_day for t in USER_TYPES])[utype]
    base_rate = base_rate * np.exp(rng.normal(-0.01, 0.15, size=n))
    purchase_logit = np.array([t.purchase_logit for t in USER_TYPES])[utype]
    purchase_prob = _sigmoid(purchase_logit + INTENT_SLOPE * z)
    lifecycle = np.array([t.lifecycle for t in USER_TYPES])[utype]
    days = config.n_days
    active_from = np.where(lifecycle == "new", rng.uniform(0.25, 0.9, size=n) * days, 0.0)
    lapse_start = np.where(lifecycle == "lapsing", rng.uniform(0.1, 0.6, size=n) * days, np.nan)
    lapse_tau = np.where(lifecycle == "lapsing", rng.uniform(4.0, 12.0, size=n), np.nan)
    # each user's favourite category, drawn from their type's taste
    u = rng.random(n)
    fav_cat = (u[:, None] > np.cumsum(taste.cat_pref[utype], axis=1)).sum(axis=1)
    fav_cat = np.minimum(fav_cat, len(CATEGORIES) - 1)
    mobile = np.array([t.mobile_share for t in USER_TYPES])[utype]
    device_u = rng.random(n)
    device = np.where(device_u < mobile, 0, np.where(device_u < mobile + (1 - mobile) * 0.8, 1, 2))
    start = config.start_ts
    user_id = np.array([f"u{k:06d}" for k in range(n)], dtype=object)
    truth = pd.DataFrame(
        {
            "user_id": user_id,
            "user_type": np.array([t.name for t in USER_TYPES])[utype],
            "is_bot": False,
            "intent_z": z,
            "base_rate": base_rate,
            "purchase_prob": purchase_prob,
            "active_from": start + pd.to_timedelta(active_from, unit="D"),
            "lapse_start": start + pd.to_timedelta(lapse_start, unit="D"),
            "lapse_tau_days": lapse_tau,
            "favourite_category": np.asarray(CATEGORIES)[fav_cat],
        }
    )
    return {
        "truth": truth,
        "type": utype,
        "z": z,
        "rate": base_rate,
        "purchase_prob": purchase_prob,
        "active_from": active_from,
        "lapse_start": lapse_start,
        "lapse_tau": lapse_tau,
        "fav_cat": fav_cat,
        "device": device,
        "user_id": user_id,
    }


def _make_sessions(config: SynthConfig, users: dict, rng: np.random.Generator) -> dict:
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
    utype = users["type"][owner]
    z = users["z"][owner]
    purchased = rng.random(n) < users["purchase_prob"][owner]
    cart_logit = np.array([ut.cart_logit for ut in USER_TYPES])[utype] + 0.8 * z
    abandoned = ~purchased & (rng.random(n) < _sigmoid(cart_logit - 1.0))
    views_mean = np.array([ut.views_per_session for ut in USER_TYPES])[utype]
    n_views = 1 + rng.poisson(np.maximum(views_mean - 1.0, 0.1) * np.exp(0.15 * z))
    n_views = np.where(purchased, np.maximum(n_views, 2), n_views)
    focus = np.where(rng.random(n) < 0.5, users["fav_cat"][owner], -1)
    return {
        "owner": owner,
        "start_s": t * _DAY,
        "purchased": purchased,
        "abandoned": abandoned,
        "n_views": n_views,
        "focus": focus,
        "channel": rng.choice(len(CHANNELS), size=n, p=[0.35, 0.3, 0.15, 0.1, 0.1]),
    }


def _sample_items(
    utype: np.ndarray, category: np.ndarray, taste: _Taste, rng: np.random.Generator
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


def _make_events(
    config: SynthConfig,
    users: dict,
    sessions: dict,
    items: pd.DataFrame,
    taste: _Taste,
    rng: np.random.Generator,
) -> pd.DataFrame:
    owner = sessions["owner"]
    n_views = sessions["n_views"]
    n_sessions = owner.size
    # --- views -------------------------------------------------------------------------------
    v_sess = np.repeat(np.arange(n_sessions), n_views)
    v_user = owner[v_sess]
    v_type = users["type"][v_user]
    v_z = users["z"][v_user]
    stray = rng.random(v_sess.size) < 0.2
    v_cat = np.where(stray, -1, sessions["focus"][v_sess])
    v_item = _sample_items(v_type, v_cat, taste, rng)
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
    price = items["price"].to_numpy()
    last_view = first_view + n_views - 1

    parts: list[dict] = []

    def add(kind, sess, time, item=None, **extra):
        parts.append({"kind": kind, "sess": sess, "time": time, "item": item, **extra})

    add("view", v_sess, v_time, v_item, dwell=dwell)
    add(
        "click",
        v_sess[clicked],
        v_time[clicked] + np.minimum(dwell[clicked], 20.0) * rng.random(clicked.sum()),
        v_item[clicked],
    )
    add(
        "scroll",
        v_sess[scrolled],
        v_time[scrolled] + dwell[scrolled] * rng.random(scrolled.sum()),
        v_item[scrolled],
        depth=depth[scrolled],
    )
    # --- searches at the start of some sessions -------------------------------------------------
    searched = np.flatnonzero(rng.random(n_sessions) < 0.3)
    add(
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
    # --- purchases: cart the last viewed item (sometimes two), then buy ---------------------------
    bought = np.flatnonzero(sessions["purchased"])
    end_of_browse = v_time[last_view[bought]] + dwell[last_view[bought]]
    cart_t = end_of_browse + rng.uniform(2, 20, bought.size)
    add("add_to_cart", bought, cart_t, v_item[last_view[bought]])
    second = bought[rng.random(bought.size) < 0.25]
    sec_view = last_view[second] - 1
    sec_t = v_time[last_view[second]] + rng.uniform(1, 10, second.size)
    add("add_to_cart", second, sec_t, v_item[sec_view])
    pay_t = cart_t + rng.uniform(30, 300, bought.size)
    qty = 1 + rng.poisson(0.3, bought.size)
    add("purchase", bought, pay_t, v_item[last_view[bought]], quantity=qty)
    sec_pay = pay_t[np.searchsorted(bought, second)] + 1.0
    add("purchase", second, sec_pay, v_item[sec_view], quantity=np.ones(second.size, dtype=int))
    # ratings for some purchases, higher for items the user's type likes
    rated = rng.random(bought.size) < config.rating_prob
    r_sess, r_item = bought[rated], v_item[last_view[bought[rated]]]
    r_aff = taste.affinity[users["type"][owner[r_sess]], r_item]
    rating = np.clip(np.round(3.2 + 0.9 * r_aff + rng.normal(0, 0.6, r_sess.size)), 1, 5)
    add("rate", r_sess, pay_t[rated] + rng.uniform(60, 900, r_sess.size), r_item, rating=rating)
    # --- abandoned carts: an item viewed in the session goes to the cart, no purchase ------------
    aband = np.flatnonzero(sessions["abandoned"])
    pick = first_view[aband] + (rng.random(aband.size) * n_views[aband]).astype(int)
    ab_t = v_time[pick] + dwell[pick] * rng.random(aband.size)
    add("add_to_cart", aband, ab_t, v_item[pick])
    removed = rng.random(aband.size) < 0.3
    add(
        "remove_from_cart",
        aband[removed],
        ab_t[removed] + rng.uniform(10, 120, removed.sum()),
        v_item[pick[removed]],
    )

    sess = np.concatenate([p["sess"] for p in parts])
    n = sess.size
    kind = np.concatenate([np.full(p["sess"].size, p["kind"], dtype=object) for p in parts])
    time_s = np.concatenate([p["time"] for p in parts])
    item = np.concatenate(
        [p["item"] if p["item"] is not None else np.full(p["sess"].size, -1) for p in parts]
    )

    def column(name, fill=np.nan):
        return np.concatenate(
            [
                np.asarray(p.get(name), dtype=float) if name in p else np.full(p["sess"].size, fill)
                for p in parts
            ]
        )

    has_item = item >= 0
    item_idx = np.where(has_item, item, 0)
    cat_code = np.where(has_item, items["category_code"].to_numpy()[item_idx], np.nan)
    search_cat = column("category")
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
            "price": np.where(has_item, price[item_idx], np.nan),
            "quantity": column("quantity"),
            "rating": column("rating"),
            "dwell_seconds": column("dwell"),
            "scroll_depth": column("depth"),
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


def _make_bots(
    config: SynthConfig, items: pd.DataFrame, rng: np.random.Generator, first_user: int
) -> dict:
    n = config.bot_users
    ids = np.array([f"u{first_user + k:06d}" for k in range(n)], dtype=object)
    bursts = rng.integers(2, 6, size=n)
    b_owner = np.repeat(np.arange(n), bursts)
    b_start = rng.uniform(0, config.n_days * _DAY - 3 * 3600, size=b_owner.size)
    b_len = rng.integers(150, 900, size=b_owner.size)
    e_burst = np.repeat(np.arange(b_owner.size), b_len)
    gaps = rng.uniform(0.3, 1.5, size=e_burst.size)
    first = np.cumsum(b_len) - b_len
    offset = np.cumsum(gaps) - gaps
    offset = offset - offset[first][e_burst]
    item = rng.integers(0, len(items), size=e_burst.size)
    events = pd.DataFrame(
        {
            "user_id": ids[b_owner[e_burst]],
            "timestamp_s": b_start[e_burst] + offset,
            "event_type": np.where(rng.random(e_burst.size) < 0.9, "view", "click").astype(object),
            "item_id": items["item_id"].to_numpy()[item],
            "category": items["category"].to_numpy()[item],
            "price": items["price"].to_numpy()[item],
            "quantity": np.nan,
            "rating": np.nan,
            "dwell_seconds": 0.0,
            "scroll_depth": np.nan,
            "device": "desktop",
            "channel": "direct",
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": ids,
            "user_type": "bot",
            "is_bot": True,
            "intent_z": np.nan,
            "base_rate": 0.0,
            "purchase_prob": 0.0,
            "active_from": config.start_ts,
            "lapse_start": pd.NaT,
            "lapse_tau_days": np.nan,
            "favourite_category": None,
        }
    )
    truth["lapse_start"] = pd.to_datetime(truth["lapse_start"], utc=True)
    return {"events": events, "truth": truth}


def _add_dirt(
    config: SynthConfig, events: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Order by arrival, re-send duplicates, deliver some late, corrupt some rows; format as raw."""
    n = len(events)
    arrival = events["timestamp_s"].to_numpy() + rng.uniform(0.0, 30.0, n)
    late = rng.random(n) < config.late_rate
    arrival = np.where(late, arrival + rng.uniform(2 * 3600, 48 * 3600, n), arrival)
    event_id = np.array([f"e{k:08d}" for k in range(n)], dtype=object)
    # re-sent duplicates: the same event (same id) arrives again a little later
    dup = np.flatnonzero(rng.random(n) < config.duplicate_rate)
    idx = np.concatenate([np.arange(n), dup])
    arrival = np.concatenate([arrival, arrival[dup] + rng.uniform(1.0, 600.0, dup.size)])
    raw = events.iloc[idx].reset_index(drop=True)
    raw.insert(0, "event_id", event_id[idx])
    order = np.argsort(arrival, kind="stable")
    raw = raw.iloc[order].reset_index(drop=True)
    start = config.start_ts.value // 1000  # microseconds
    micros = start + np.round(raw["timestamp_s"].to_numpy() * 1e6).astype(np.int64)
    stamps = np.datetime_as_string(micros.astype("datetime64[us]"), unit="ms") + "Z"
    raw = raw.drop(columns="timestamp_s")
    raw.insert(2, "timestamp", stamps.astype(object))
    # malformed rows, each broken in one of four ways
    bad = np.flatnonzero(rng.random(len(raw)) < config.malformed_rate)
    kinds = rng.integers(0, len(MALFORMED_KINDS), bad.size)
    ts = raw["timestamp"].to_numpy(dtype=object, copy=True)
    et = raw["event_type"].to_numpy(dtype=object, copy=True)
    uid = raw["user_id"].to_numpy(dtype=object, copy=True)
    pr = raw["price"].to_numpy(dtype=float, copy=True)
    rows = bad[kinds == 0]
    ts[rows] = np.where(rng.random(rows.size) < 0.5, "not-a-date", "2026-02-30T25:61:00Z")
    et[bad[kinds == 1]] = "hover"
    rows = bad[kinds == 2]
    pr[rows] = -np.where(np.isnan(pr[rows]), 9.99, np.abs(pr[rows]))
    uid[bad[kinds == 3]] = None
    raw["timestamp"], raw["event_type"], raw["user_id"], raw["price"] = ts, et, uid, pr
    counts = {
        "rows": len(raw),
        "duplicates": int(dup.size),
        "late_delivered": int(late.sum()),
        **{f"malformed_{k}": int((kinds == i).sum()) for i, k in enumerate(MALFORMED_KINDS)},
    }
    return raw, counts


def write_log(events: pd.DataFrame, path: Path | str, rename: dict[str, str] | None = None) -> Path:
    """Write a raw log as CSV, Parquet or JSON lines (by extension), renaming columns on the way."""
    from personalab.core.storage import atomic_path

    path = Path(path)
    frame = events.rename(columns=rename or {})
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif path.suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        elif path.suffix in (".jsonl", ".json"):
            frame.to_json(tmp, orient="records", lines=True)
        else:
            raise ValueError(f"{path}: unknown extension; use .csv, .parquet or .jsonl")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m personalab.ingest.synth OUT [--users N] [--rename old=new ...]``: write a sample raw log."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m personalab.ingest.synth", description=main.__doc__
    )
    parser.add_argument("out", help="output file: .csv, .parquet or .jsonl")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--truth", help="also write the ground truth (Parquet) here")
    parser.add_argument(
        "--rename",
        nargs="*",
        default=[],
        metavar="OLD=NEW",
        help="rename columns, e.g. user_id=visitor",
    )
    args = parser.parse_args(argv)
    try:
        rename = dict(item.split("=", 1) for item in args.rename)
    except ValueError:
        parser.error("--rename takes OLD=NEW pairs")
    config = SynthConfig(
        n_users=args.users,
        n_items=args.items,
        n_days=args.days,
        seed=args.seed,
        bot_users=max(1, args.users // 1000),
    )
    log = generate_log(config)
    write_log(log.events, args.out, rename)
    if args.truth:
        log.truth.to_parquet(args.truth, index=False)
    print(f"wrote {len(log.events)} events of {args.users} users to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
