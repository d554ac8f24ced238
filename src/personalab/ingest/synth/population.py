"""Who is in a synthetic log: the item catalogue, each type's taste, and the users.

Users belong to a latent behavioural type (``USER_TYPES``). Types differ in visit
rate, session length, dwell time, scroll depth, click and cart propensity, price
sensitivity, lifecycle and category taste. Each user also has an individual
intent trait ``z ~ N(0, 1)`` that shows in every session (longer dwell, deeper
scrolls, more clicks and carts when ``z`` is high) and sets purchase propensity:

    purchase_prob[u] = sigmoid(type.purchase_logit + INTENT_SLOPE * z[u])   (per session)

Items have categories, log-normal prices and Zipf popularity; each type shares a
category taste and item affinities, so collaborative filtering has real signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.ingest.synth.config import (
    CATEGORIES,
    INTENT_SLOPE,
    USER_TYPES,
    SynthConfig,
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_items(config: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
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
class Taste:
    """Per-type item distributions over items sorted by category (for restricted sampling)."""

    cdf: np.ndarray  # (types, items) cumulative item probabilities
    cat_lo: np.ndarray  # (types, categories) cdf value where each category starts
    cat_mass: np.ndarray  # (types, categories) probability mass of each category
    cat_pref: np.ndarray  # (types, categories)
    affinity: np.ndarray  # (types, items) log item affinity, drives ratings


def make_taste(items: pd.DataFrame, rng: np.random.Generator) -> Taste:
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
    return Taste(cdf=cdf, cat_lo=lo, cat_mass=mass, cat_pref=cat_pref, affinity=affinity)


def make_users(config: SynthConfig, rng: np.random.Generator, taste: Taste) -> dict:
    n = config.n_users
    shares = np.array([t.share for t in USER_TYPES])
    utype = rng.choice(len(USER_TYPES), size=n, p=shares / shares.sum())
    z = rng.normal(size=n)
    base_rate = np.array([t.sessions_per_day for t in USER_TYPES])[utype]
    base_rate = base_rate * np.exp(rng.normal(-0.01, 0.15, size=n))
    purchase_logit = np.array([t.purchase_logit for t in USER_TYPES])[utype]
    purchase_prob = sigmoid(purchase_logit + INTENT_SLOPE * z)
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
