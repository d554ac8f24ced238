"""Unit tests of personalab.segments.params: validation of the stage's parameters."""

from __future__ import annotations

import pytest

from personalab.core.params import ParamsError
from personalab.segments.params import DEFAULT_FEATURES, DEFAULT_LOG1P, SegmentsParams


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"k_min": 5, "k_max": 3}, "k_min (5) must not exceed k_max (3)"),
        ({"features": ["a", "b"], "log1p": ["a", "c"]}, "log1p names column(s) ['c']"),
        ({"algorithms": ["kmeans", "dbscan"]}, "algorithms.1"),
        ({"k_min": 1}, "k_min"),
        ({"features": ["a"]}, "features"),
        ({"choice": {"metric": "accuracy"}}, "choice.metric"),
        ({"features": []}, "features"),
        (
            {"log1p": ["dwell_mean", "visits"]},
            "log1p names column(s) ['visits'] that are not in the default features",
        ),
        (
            {"algorithms": ["kmeans"], "choice": {"metric": "bic"}},
            "choice.metric 'bic' needs 'gmm' in algorithms",
        ),
    ],
)
def test_bad_params_raise_params_error_naming_the_problem(values, named):
    with pytest.raises(ParamsError) as err:
        SegmentsParams.from_mapping(values)
    assert named in str(err.value)


def test_default_params_are_valid_and_leave_the_columns_to_the_table():
    p = SegmentsParams.from_mapping({})
    assert p.features is None and p.log1p is None
    assert p.algorithms == ["kmeans", "gmm", "agglomerative", "hdbscan"]
    assert set(DEFAULT_LOG1P) <= set(DEFAULT_FEATURES)


def test_explicit_lists_are_kept_as_given():
    p = SegmentsParams.from_mapping({"features": ["b", "a"], "log1p": ["a"]})
    assert p.features == ["b", "a"] and p.log1p == ["a"]
    # log1p may name defaults while features is null
    assert SegmentsParams.from_mapping({"log1p": ["dwell_mean"]}).log1p == ["dwell_mean"]
    # without log1p, an explicit features list is valid however few defaults it names
    assert SegmentsParams.from_mapping({"features": ["a", "b"]}).log1p is None
