"""The population an online row is compared with, as the store saw it (instant ``S``).

The features stage ranks each user within the users of the same cut-off (RFM scores, engagement
score), takes price sensitivity against the catalogue's category medians and times click bursts
from the first click of anybody in the window. Online, one user's row moves on to ``T`` with
their live events, and everybody else is as the store saw them at ``S``, moved on to ``T``
without new events:

- ``days_since_*`` are recomputed at ``T`` from each user's stored event times;
- window counts (``sessions_<W>d``, ``events_<W>d``, ``purchases_<W>d``) lose what left the
  window between ``S`` and ``T`` (the times of the sessions and events in the windows at ``S``
  are kept);
- ``activity_trend`` and ``cart_abandonment_rate``, when ``engagement_weights`` names them,
  slide on to ``T`` (:mod:`personalab.online.moving`); other ranked values are all-history
  values, which do not change without events;
- the category medians take the user's live prices (:mod:`personalab.online.catalogue`);
- the first click of the ``high_clicker`` window is the first stored click in it, or the user's
  own when earlier.

So an online row equals the features stage's row at ``T`` on the log before ``S`` plus this
user's events in ``[S, T)``, every column.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from personalab.features.query import DAY_NS
from personalab.online.catalogue import Catalogue
from personalab.online.moving import CARTS, TREND, moving_population
from personalab.online.row import exact_sum, ratio

#: the ranked all-history columns that move without events (:mod:`personalab.online.moving`)
MOVED = (TREND, CARTS)
#: the stored times of the ``days_since_*`` columns
DAYS = {
    "days_since_last_event": "last_ns",
    "days_since_last_purchase": "last_purchase_ns",
    "days_since_first_event": "first_ns",
}
WINDOW = re.compile(r"(sessions|events|purchases)_(\d+)d")
NONE_NS = np.iinfo(np.int64).min  # a stored time that never happened (no purchase)


@dataclass(frozen=True)
class Reference:
    as_of_ns: int  # S
    times: dict[str, np.ndarray]  # last_ns, first_ns, last_purchase_ns: per stored user (int64)
    values: dict[str, np.ndarray]  # ranked column -> every stored user's value at S (NaN: null)
    leaving: dict[str, tuple[np.ndarray, np.ndarray]]  # window column -> (sorted times, user)
    medians: dict[str | None, float]  # category (None: no category) -> catalogue median at S
    clicks: np.ndarray  # sorted click times of everybody in the segment window before S
    catalogue: Catalogue | None = None  # the priced items at S (None: a store without them)
    moving: dict[str, np.ndarray] = field(default_factory=dict)  # online.moving's arrays
    position: int = -1  # this user's position among the stored users (-1: not stored)
    sorted_values: dict[str, np.ndarray] = field(default_factory=dict, compare=False)  # cache

    def for_user(self, position: int, live: Any = None) -> Reference:
        """This reference for the stored user at ``position`` (-1: a visitor not stored) and
        their live events (a :class:`~personalab.online.history.History`, after ``S``): the
        category medians take the live prices (:meth:`Catalogue.medians_after`)."""
        medians = self.medians
        if live is not None and self.catalogue is not None:
            medians = self.catalogue.medians_after(live)
        return replace(self, position=position, medians=medians)

    def population(self, name: str, t_ns: int) -> np.ndarray:
        """Every stored user's value of ``name`` at ``t_ns`` (no events after ``S``)."""
        if name in DAYS:
            at = self.times[DAYS[name]]
            days = np.asarray(t_ns - at, dtype=float) / DAY_NS
            return np.where(at == NONE_NS, np.nan, days)
        values = self.values[name]
        if name in MOVED and self.moving:
            return moving_population(name, self.moving, values, t_ns)
        if name in self.leaving:
            times, who = self.leaving[name]
            width = int(WINDOW.fullmatch(name).group(2)) * DAY_NS
            gone = who[: int(np.searchsorted(times, t_ns - width, side="left"))]
            return values - np.bincount(gone, minlength=values.size)
        return values

    def ordered(self, name: str) -> np.ndarray:
        """Everybody's value of a column that does not move after ``S``, sorted, nulls out."""
        if name not in self.sorted_values:
            values = self.values[name]
            self.sorted_values[name] = np.sort(values[~np.isnan(values)])
        return self.sorted_values[name]

    def percentile(self, name: str, value: float, t_ns: int, negate: bool = False) -> float:
        """``rules_query.percentile_rank`` of the user's ``value`` among everybody at ``t_ns``
        (``negate``: of ``-value`` among ``-population``, as recency is ranked)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if name in DAYS:
            less, ties, count, own, value = self._days_counts(name, value, t_ns, negate)
        elif name in self.leaving:
            less, ties, count, own, value = self._window_counts(name, value, t_ns, negate)
        elif name in MOVED:  # counted in everybody's values at t_ns
            population = self.population(name, t_ns)
            if negate:
                population, value = -population, -value
            less = int(np.count_nonzero(population < value))
            ties = int(np.count_nonzero(population == value)) + 1
            count = population.size - int(np.count_nonzero(np.isnan(population))) + 1
            own = population[self.position] if self.position >= 0 else math.nan
        else:  # as at S: counted in the sorted values
            ordered = self.ordered(name)
            low = int(np.searchsorted(ordered, value, "left"))
            high = int(np.searchsorted(ordered, value, "right"))
            less = ordered.size - high if negate else low
            ties, count = high - low + 1, ordered.size + 1
            own = self.values[name][self.position] if self.position >= 0 else math.nan
            if negate:
                own, value = -own, -value
        if own == own:  # the user's own stored value makes way for the new one
            less, ties, count = less - (own < value), ties - (own == value), count - 1
        average = float(less + 1) + (float(ties) - 1.0) / 2.0
        return average / float(count)

    def _days_counts(self, name: str, value: float, t_ns: int, negate: bool) -> tuple:
        """:meth:`percentile`'s counts for a ``days_since_*`` column at ``t_ns`` (less, ties and
        count with the user, their own stored value, ``value``; negated with ``negate``),
        found by binary search in the stored times: the days fall as the time rises."""
        column = DAYS[name]
        key = f"times/{column}"
        if key not in self.sorted_values:
            at = self.times[column]
            self.sorted_values[key] = np.sort(at[at != NONE_NS]).tolist()
        times: list[int] = self.sorted_values[key]  # type: ignore[assignment]

        def days(i: int) -> float:  # as :meth:`population`: the difference, then a float
            return float(t_ns - times[i]) / DAY_NS

        n = len(times)
        above = bisect.bisect_left(range(n), True, key=lambda i: days(i) <= value)
        from_ = bisect.bisect_left(range(n), True, key=lambda i: days(i) < value)
        less = above if negate else n - from_  # -days < -value: days > value
        at = self.times[column][self.position] if self.position >= 0 else NONE_NS
        own = float(t_ns - int(at)) / DAY_NS if at != NONE_NS else math.nan
        sign = -1.0 if negate else 1.0
        return less, from_ - above + 1, n + 1, sign * own, sign * value

    def _window_counts(self, name: str, value: float, t_ns: int, negate: bool) -> tuple:
        """:meth:`percentile`'s counts for a window column (``sessions_<W>d``, ...) at
        ``t_ns``: counted among the values at ``S`` (sorted), then corrected for the few users
        whose sessions or events left the window since."""
        values, ordered = self.values[name], self.ordered(name)
        times, who = self.leaving[name]
        width = int(WINDOW.fullmatch(name).group(2)) * DAY_NS
        gone = who[: int(np.searchsorted(times, t_ns - width, side="left"))]
        users, fewer = np.unique(gone, return_counts=True)
        was = values[users]
        now = was - fewer
        low = int(np.searchsorted(ordered, value, "left"))
        high = int(np.searchsorted(ordered, value, "right"))
        if negate:  # -x < -value: x > value
            less = ordered.size - high
            less += int(np.count_nonzero(now > value)) - int(np.count_nonzero(was > value))
        else:
            less = low + int(np.count_nonzero(now < value)) - int(np.count_nonzero(was < value))
        ties = high - low + int(np.count_nonzero(now == value) - np.count_nonzero(was == value))
        own = math.nan
        if self.position >= 0:
            own = values[self.position] - int(np.count_nonzero(gone == self.position))
        sign = -1.0 if negate else 1.0
        return less, ties + 1, ordered.size + 1, sign * own, sign * value

    def quintile(self, name: str, value: float, t_ns: int, negate: bool = False) -> int:
        """``rules_query.quintile_score``: 1-5 by percentile rank."""
        rank = self.percentile(name, value, t_ns, negate)
        return int(min(max(math.ceil(rank * 5.0), 1), 5))

    def engagement(self, row: dict[str, Any], t_ns: int, weights: dict[str, float]) -> float:
        """``rules_query.engagement_score``: the weighted mean of the percentile ranks (a
        missing value ranks 0)."""
        score = 0.0
        for name, weight in weights.items():
            rank = self.percentile(name, row[name], t_ns)
            score = score + float(weight) * (0.0 if math.isnan(rank) else rank)
        return score / float(sum(weights.values()))

    def price_sensitivity(self, h: Any) -> float:
        """Mean viewed price / the catalogue median of the view's category (NaN: none)."""
        views = h.of_type("view")
        if not views.any():
            return math.nan
        medians = np.array([self.medians.get(c, math.nan) for c in h.category[views]])
        prices = h.price[views]
        ok = ~np.isnan(prices) & ~np.isnan(medians) & (medians != 0)
        return ratio(exact_sum(prices[ok] / medians[ok]), int(ok.sum())) if ok.any() else math.nan

    def first_click(self, start_ns: int, t_ns: int, own_first: int) -> int:
        """The first click of anybody in ``[start_ns, t_ns)``: stored or the user's own."""
        at = int(np.searchsorted(self.clicks, start_ns, side="left"))
        if at < self.clicks.size and self.clicks[at] < t_ns:
            return min(int(self.clicks[at]), own_first)
        return own_first


def ranked_columns(longest: int, monetary: bool, weights: dict[str, float]) -> list[str]:
    """The columns an online row ranks against the population."""
    names = ["days_since_last_event", f"sessions_{longest}d"]
    names += ["revenue_total"] if monetary else []
    return list(dict.fromkeys([*names, *weights]))
