"""Unit tests of personalab.features.params: defaults and errors naming the key."""

from __future__ import annotations

import pytest

from personalab.core.params import ParamsError
from personalab.features.params import FeaturesParams
from tests.unit.features.helpers import DEFAULT_PRIORITY


def test_defaults_are_valid():
    p = FeaturesParams.from_mapping({})
    assert p.windows_days == [1, 7, 30]
    assert p.segments.priority == DEFAULT_PRIORITY
    assert p.target_event == "purchase"
    assert (p.horizon_days, p.trend_days) == ("auto", "auto")
    assert (p.cutoffs.every_days, p.cutoffs.over_last_days) == ("auto", "auto")


def test_days_are_numbers_or_auto():
    p = FeaturesParams.from_mapping(
        {"horizon_days": 0.25, "trend_days": 3, "cutoffs": {"every_days": 7, "over_last_days": 0}}
    )
    assert (p.horizon_days, p.trend_days) == (0.25, 3.0)
    assert (p.cutoffs.every_days, p.cutoffs.over_last_days) == (7.0, 0.0)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"engagement_weights": {"sessions_30d": 1.0, "clickiness": 1.0}}, "clickiness"),
        ({"engagement_weights": {"sessions_14d": 1.0}}, "sessions_14d"),
        ({"windows_days": [1, -7, 30]}, "windows_days"),
        ({"segments": {"window_days": -1}}, "segments.window_days"),
        ({"trend_days": -7}, "trend_days"),
        ({"segments": {"priority": ["converter", "whale"]}}, "whale"),
        ({"segments": {"priority": ["converter", "whale"]}}, "segments.priority"),
        ({"segments": {"treshold": 3}}, "segments.treshold"),
        (
            {"horizon_days": "automatic"},
            "horizon_days: expected a positive number of days or 'auto'",
        ),
        ({"horizon_days": 0}, "horizon_days"),
        ({"trend_days": True}, "trend_days"),
        ({"cutoffs": {"every_days": -1}}, "cutoffs.every_days"),
        ({"cutoffs": {"over_last_days": -1}}, "non-negative number of days or 'auto'"),
        ({"target_event": "buy"}, "target_event: unknown event type 'buy'"),
    ],
)
def test_bad_params_raise_naming_the_key(values, named):
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        FeaturesParams.from_mapping(values)
