"""A simulated A/B test on the synthetic data, whose true uplift is known.

The users of the generator's truth table are randomised between two policies (by default the
exported personalised lists against the trending items), and their next ``days`` after the log
are drawn from their latent state: each user has ``expected_sessions`` sessions in the period
(:func:`personalab.ingest.synth.truth.expected_sessions`, lapses and late starts included), and
every session shows the user's list of ``k`` items. How well a list matches the user's latent
type is its **match** ``m``: the mean, over its items, of the type's probability of choosing the
item relative to an average item (``P[type, item] * n_items``). A session then

- clicks each shown item with probability ``min(0.5, click_rate * P[type, item] * n_items)``;
- ends in a purchase with probability ``min(1, purchase_prob * m ** influence)`` (the user's own
  propensity, scaled by the match with the elasticity ``influence``: a list that matches the
  user's type as well as an average item, m = 1, changes nothing; with 0.25, a list twice as good
  raises it by 19%), the item bought drawn from the list by its click probabilities.

Sessions are Poisson, so each user's probability of converting in the period is
``1 - exp(-sessions * session_purchase)`` under either policy: the true conversion of each arm
over these users, and the true uplift, are exact, with no draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.ingest.synth.truth import expected_sessions


@dataclass
class Simulated:
    """An experiment log: who got which policy, what they did, and what was true."""

    assignments: pd.DataFrame  # user_id, variant, timestamp
    events: pd.DataFrame  # user_id, timestamp, event_type (click, purchase), item_id, price
    impressions: pd.DataFrame  # user_id, item_id, impressions (times shown over the period)
    truth: dict[str, dict[str, float]]  # variant -> conversion, revenue_per_user, ctr (expected)

    def true_uplift(self, metric: str, control: str, treatment: str) -> float:
        return self.truth[treatment][metric] / self.truth[control][metric] - 1.0


@dataclass
class UserArms:
    """Per user and policy: sessions, the per-session purchase probability, and the list's
    item ids, click probabilities and prices (each ``(users, k)``)."""

    user_id: np.ndarray
    sessions: np.ndarray
    purchase: dict[str, np.ndarray]
    items: dict[str, np.ndarray]
    clicks: dict[str, np.ndarray]
    prices: dict[str, np.ndarray]


def type_probabilities(taste_cdf: np.ndarray) -> np.ndarray:
    """Each type's probability of choosing each item, from the generator's cumulative table."""
    return np.diff(np.concatenate([np.zeros((taste_cdf.shape[0], 1)), taste_cdf], axis=1), axis=1)


def user_arms(
    truth: pd.DataFrame,
    items: pd.DataFrame,
    probs: np.ndarray,
    type_names: list[str],
    lists: dict[str, pd.DataFrame],
    start: pd.Timestamp,
    days: float,
    influence: float = 0.25,
    click_rate: float = 0.02,
) -> UserArms:
    """What each policy's list would do for each human user of ``truth``. ``lists``: policy ->
    (user_id, rank, item_id), every user the same number of items; a user without a list of a
    policy gets that policy's most common list (its fallback)."""
    people = truth[~truth["is_bot"].astype(bool)].reset_index(drop=True)
    kind = pd.Categorical(people["user_type"], categories=type_names).codes
    index = pd.Index(items["item_id"])
    lift = probs * probs.shape[1]  # 1 = an average item
    sessions = expected_sessions(people, start, start + pd.Timedelta(days=days))
    purchase, shown, clicks, prices = {}, {}, {}, {}
    for policy, table in lists.items():
        matrix = _list_matrix(table, people["user_id"], index)
        item_lift = lift[kind[:, None], matrix]
        match = item_lift.mean(axis=1)
        purchase[policy] = np.minimum(1.0, people["purchase_prob"].to_numpy() * match**influence)
        clicks[policy] = np.minimum(0.5, click_rate * item_lift)
        prices[policy] = items["price"].to_numpy()[matrix]
        shown[policy] = index.to_numpy()[matrix]
    return UserArms(people["user_id"].to_numpy(), sessions, purchase, shown, clicks, prices)


def _list_matrix(table: pd.DataFrame, users: pd.Series, index: pd.Index) -> np.ndarray:
    ordered = table.sort_values(["user_id", "rank"], kind="stable")
    k = int(ordered.groupby("user_id", observed=True).size().max())
    by_user = ordered.groupby("user_id", observed=True)["item_id"].agg(tuple)
    common = by_user.value_counts().index[0]
    rows = [by_user.get(u, common) for u in users]
    rows = [row if len(row) == k else common for row in rows]
    positions = index.get_indexer(np.asarray(rows, dtype=object).ravel())
    if (positions < 0).any():
        raise ValueError("a list names an item the generator's catalogue does not have")
    return positions.reshape(len(rows), k)


def expected(arms: UserArms, policy: str, users: np.ndarray | None = None) -> dict[str, float]:
    """The true conversion, revenue per user and click-through of ``policy`` over ``users``
    (a boolean mask; None: all)."""
    take = slice(None) if users is None else users
    lam, s = arms.sessions[take], arms.purchase[policy][take]
    c, price = arms.clicks[policy][take], arms.prices[policy][take]
    bought_price = (c * price).sum(axis=1) / c.sum(axis=1)
    shown = lam * c.shape[1]
    return {
        "conversion": float(np.mean(1 - np.exp(-lam * s))),
        "revenue_per_user": float(np.mean(lam * s * bought_price)),
        "ctr": float((lam * c.sum(axis=1)).sum() / shown.sum()),
    }


def simulate(
    arms: UserArms,
    control: str,
    treatment: str,
    start: pd.Timestamp,
    days: float,
    treatment_share: float = 0.5,
    seed: int = 0,
) -> Simulated:
    """One randomised experiment: each user to ``treatment`` with ``treatment_share``, their
    sessions, clicks and purchases drawn."""
    rng = np.random.default_rng(seed)
    n = len(arms.user_id)
    treated = rng.random(n) < treatment_share
    variant = np.where(treated, treatment, control)
    n_sessions = rng.poisson(arms.sessions)
    rows, seen = [], []
    for policy, mask in ((control, ~treated), (treatment, treated)):
        users, counts = np.flatnonzero(mask), n_sessions[mask]
        c, price = arms.clicks[policy][mask], arms.prices[policy][mask]
        k = c.shape[1]
        clicked = rng.binomial(counts[:, None], c)  # per user and list position
        bought = rng.binomial(counts, arms.purchase[policy][mask])
        shown = arms.items[policy][mask]
        rows.append(_events(users, clicked, None, shown, price, arms, start, days, rng))
        rows.append(_events(users, None, bought, shown, price, arms, start, days, rng, c))
        seen.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(arms.user_id[users], k),
                    "item_id": shown.ravel(),
                    "impressions": np.repeat(counts, k),
                }  # fmt: skip
            )
        )
    events = pd.concat(rows, ignore_index=True).sort_values("timestamp", kind="stable")
    assignments = pd.DataFrame({"user_id": arms.user_id, "variant": variant, "timestamp": start})
    impressions = pd.concat(seen, ignore_index=True)
    impressions = impressions[impressions["impressions"] > 0].reset_index(drop=True)
    truth = {p: expected(arms, p) for p in (control, treatment)}
    return Simulated(assignments, events.reset_index(drop=True), impressions, truth)


def _events(users, clicked, bought, shown, price, arms, start, days, rng, c=None) -> pd.DataFrame:
    """Click events (``clicked``: counts per user and list position) or purchase events
    (``bought``: counts per user, the items drawn from the list by the click probabilities
    ``c``), at uniform times in the period."""
    if bought is None:
        who, position = np.nonzero(clicked)
        repeat = clicked[who, position]
        who, position = np.repeat(who, repeat), np.repeat(position, repeat)
        kind, paid = "click", np.full(len(who), np.nan)
    else:
        who = np.repeat(np.arange(len(bought)), bought)
        cdf = np.cumsum(c / c.sum(axis=1, keepdims=True), axis=1)[who]
        position = np.minimum((rng.random(len(who))[:, None] > cdf).sum(axis=1), c.shape[1] - 1)
        kind, paid = "purchase", price[who, position]
    seconds = rng.uniform(0, days * 86400, len(who))
    return pd.DataFrame(
        {
            "user_id": arms.user_id[users[who]],
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "event_type": kind,
            "item_id": shown[who, position],
            "price": paid,
        }
    )
