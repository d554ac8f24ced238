"""The online row's ranks against the stored population (personalab.online.reference): the
``days_since_*`` and window columns are counted by binary search, and must give the percentile
rank that counting everybody's value at ``T`` gives, ties, nulls and the user's own value
included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from personalab.features.query import DAY_NS
from personalab.online.reference import NONE_NS, Reference

S = 1_800_000_000 * 10**9


def brute_rank(ref: Reference, name: str, value: float, t_ns: int, negate: bool) -> float:
    """``rules_query.percentile_rank`` counted over everybody's value at ``t_ns``, the user's
    own stored value replaced by ``value``."""
    population = ref.population(name, t_ns).copy()
    if ref.position >= 0:
        population[ref.position] = np.nan
    if negate:
        population, value = -population, -value
    known = population[~np.isnan(population)]
    less, ties = int((known < value).sum()), int((known == value).sum()) + 1
    return (less + 1 + (ties - 1) / 2) / (known.size + 1)


def reference(seed: int, n: int = 400) -> Reference:
    rng = np.random.default_rng(seed)
    last = S - rng.integers(0, 40, n) * DAY_NS // 4  # quarter days: many ties
    purchase = np.where(rng.random(n) < 0.3, NONE_NS, last - rng.integers(0, 9, n) * DAY_NS)
    sessions = rng.integers(0, 6, n).astype(float)
    sessions[rng.random(n) < 0.05] = np.nan
    leaving_who = rng.integers(0, n, 120)  # sessions in the window at S, and their users
    leaving_times = np.sort(S - 30 * DAY_NS + rng.integers(0, 3 * DAY_NS, 120))
    return Reference(
        S,
        {"last_ns": last, "last_purchase_ns": purchase, "first_ns": last - 50 * DAY_NS},
        {"sessions_30d": sessions},
        {"sessions_30d": (leaving_times, leaving_who)},
        {},
        np.zeros(0, dtype=np.int64),
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("negate", [False, True])
@pytest.mark.parametrize("name", ["days_since_last_event", "days_since_last_purchase"])
def test_days_ranks_equal_counting_everybody(seed, negate, name):
    ref = reference(seed)
    rng = np.random.default_rng(seed + 10)
    for position in (-1, 0, 7, 399):
        mine = ref.for_user(position)
        for t_ns in (S, S + DAY_NS // 4, S + 3 * DAY_NS + 12345):
            stored = mine.population(name, t_ns)
            values = [0.0, 0.25, 1.0, 99.0, *rng.choice(stored[~np.isnan(stored)], 5)]
            for value in values:
                want = brute_rank(mine, name, value, t_ns, negate)
                assert mine.percentile(name, value, t_ns, negate) == want


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("negate", [False, True])
def test_window_ranks_equal_counting_everybody(seed, negate):
    ref = reference(seed)
    for position in (-1, 3, 50, 399):
        mine = ref.for_user(position)
        for hours in (0, 5, 30, 80):  # sessions leave the window as T moves on
            t_ns = S + hours * 3600 * 10**9
            for value in (0, 1, 2, 3, 5, 9):
                want = brute_rank(mine, "sessions_30d", value, t_ns, negate)
                assert mine.percentile("sessions_30d", value, t_ns, negate) == want
    assert math.isnan(ref.percentile("sessions_30d", math.nan, S))
