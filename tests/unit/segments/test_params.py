"""Unit tests of personalab.segments.params: validation of the stage's parameters."""

from __future__ import annotations

import pytest

from personalab.core.params import ParamsError
from personalab.segments.params import SegmentsParams


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"k_min": 5, "k_max": 3}, "k_min (5) must not exceed k_max (3)"),
        ({"features": ["a", "b"], "log1p": ["a", "c"]}, "log1p names column(s) ['c']"),
        ({"algorithms": ["kmeans", "dbscan"]}, "algorithms.1"),
        ({"k_min": 1}, "k_min"),
        ({"features": ["a"]}, "features"),
        ({"choice": {"metric": "accuracy"}}, "choice.metric"),
    ],
)
def test_bad_params_raise_params_error_naming_the_problem(values, named):
    with pytest.raises(ParamsError) as err:
        SegmentsParams.from_mapping(values)
    assert named in str(err.value)


def test_default_params_are_valid():
    p = SegmentsParams.from_mapping({})
    assert set(p.log1p) <= set(p.features)
    assert p.algorithms == ["kmeans", "gmm", "agglomerative", "hdbscan"]
