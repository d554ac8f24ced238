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
    ],
)
def test_bad_params_raise_naming_the_key(values, named):
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        FeaturesParams.from_mapping(values)
