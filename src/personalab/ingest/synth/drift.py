"""Drift planted in a synthetic log (``SynthConfig.drift``), for monitoring to find.

From ``at_day`` on:

- **types**: a share (``type_share``) of the users behave as another latent type, drawn
  uniformly from the others: their sessions' purchase propensity, cart propensity, views,
  dwell, scrolls, clicks and item taste are the new type's (their visit rate, lifecycle and
  intent trait stay theirs). The truth table gains ``user_type_after``,
  ``purchase_prob_after`` and ``drift_at``, so :func:`.truth.purchase_probability` stays
  exact across the change;
- **prices**: every item's price is multiplied by ``price_factor`` (to the cent);
- **a category surge**: a share (``surge_share``) of the sessions turn to ``surge_category``
  (their views, and their cart and purchase, come from it).

A session is before or after the drift by its start. A log without drift draws nothing here,
so it is the log it was before drift existed; a drifted log draws its drift from the same
generator, after the draws it shares with the undrifted one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.ingest.synth.config import CATEGORIES, INTENT_SLOPE, USER_TYPES, SynthConfig
from personalab.ingest.synth.population import sigmoid


def drift_users(config: SynthConfig, users: dict, rng: np.random.Generator) -> None:
    """The users' types after the drift (``users["type_after"]``, ``"purchase_prob_after"``),
    and the truth table's columns for them. Nothing without drift."""
    drift = config.drift
    if drift is None:
        return
    kind = users["type"]
    moved = rng.random(kind.size) < drift.type_share
    other = (kind + rng.integers(1, len(USER_TYPES), kind.size)) % len(USER_TYPES)
    after = np.where(moved, other, kind)
    logit = np.array([t.purchase_logit for t in USER_TYPES])[after]
    users["type_after"] = after
    users["purchase_prob_after"] = sigmoid(logit + INTENT_SLOPE * users["z"])
    users["truth"] = users["truth"].assign(
        user_type_after=np.array([t.name for t in USER_TYPES])[after],
        purchase_prob_after=users["purchase_prob_after"],
        drift_at=config.start_ts + pd.Timedelta(days=drift.at_day),
    )


def session_types(
    config: SynthConfig, users: dict, owner: np.ndarray, start_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each session's latent type and purchase probability: its user's, or their type's after
    the drift for a session that starts after it."""
    kind, prob = users["type"][owner], users["purchase_prob"][owner]
    if config.drift is None:
        return kind, prob
    late = start_days >= config.drift.at_day
    return (
        np.where(late, users["type_after"][owner], kind),
        np.where(late, users["purchase_prob_after"][owner], prob),
    )


def surge_focus(
    config: SynthConfig, focus: np.ndarray, start_days: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The sessions' focus category (-1: none), a share of those after the drift turned to the
    surging category."""
    drift = config.drift
    if drift is None or drift.surge_category is None or not drift.surge_share:
        return focus
    turned = (start_days >= drift.at_day) & (rng.random(focus.size) < drift.surge_share)
    return np.where(turned, CATEGORIES.index(drift.surge_category), focus)


def shifted_prices(config: SynthConfig, prices: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """Event prices, moved by ``price_factor`` (to the cent) from the drift on."""
    drift = config.drift
    if drift is None or drift.price_factor == 1.0:
        return prices
    moved = np.round(prices * drift.price_factor, 2)
    return np.where(time_s >= drift.starts_s, moved, prices)
