"""Few users and constant columns never crash: every algorithm and preprocessing on tables of
a handful of users, with a column that does not vary, ends in segments or a skip with the
reason (and the figures draw)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from personalab.segments.params import ALGORITHMS
from personalab.segments.plots import plot_profile_heatmap, plot_projection, plot_sweep
from tests.unit.segments.helpers import build, default_table, feature_table, seg_params

#: (users, preprocessing): each preprocessing once, on 4 to 12 users
CASES = [
    (4, {}),
    (5, {"scaler": "robust"}),
    (7, {"scaler": "minmax"}),
    (4, {"pca_variance": 0.9}),
    (6, {"gmm_covariance": "full"}),
    (12, {}),
]


def tiny_table(n: int, seed: int = 0):
    """``n`` users on f1..f3: f2 is the same for everyone, half of the users share f3."""
    X = np.random.default_rng(seed).normal(size=(n, 3))
    X[:, 1] = 5.0
    X[: n // 2, 2] = 1.0
    return feature_table(X)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of tiny fits
        yield


@pytest.mark.parametrize(("n", "extra"), CASES)
def test_every_algorithm_on_a_handful_of_users_gives_segments(n, extra):
    params = seg_params(algorithms=list(ALGORITHMS), k_min=2, k_max=8, **extra)
    result, status = build(tiny_table(n), params)
    assert result is not None, status.skip_reason
    assert 2 <= result.metrics["n_clusters"] <= n - 1
    assert len(result.assignments) == n
    assert result.assignments["segment"].notna().all()
    # k is swept only up to n - 1, and the constant column is named
    assert result.comparison["k"].max() == min(8, n - 1)
    assert any(
        "f2 named in params 'features' have the same value" in line for line in status.lines()
    )
    if n <= 8:
        assert f"adapted: k swept from 2 to {n - 1} only: {n} users (k_max 8)" in status.lines()
    # the lift of the constant column is undefined and never names a segment
    assert result.lift["f2"].isna().all()
    assert not any("f2" in name for name in result.names.values())


def test_hdbscan_alone_on_four_users_skips_with_the_reason():
    result, status = build(tiny_table(4), seg_params(algorithms=["hdbscan"]))
    assert result is None
    assert "no candidate clustering (1 tried) found two or more segments" in status.skip_reason


def test_the_default_features_on_few_users_give_segments_and_figures():
    table = default_table(n=6, zero=("orders_total", "revenue_total"))
    params = seg_params(features=None, log1p=None, algorithms=list(ALGORITHMS), pca_variance=0.5)
    result, status = build(table, params)
    assert result is not None and status.status == "partial"
    assert "orders_total" not in result.features and len(result.features) == 13
    # a single principal component is left: the projection draws the users on one axis
    assert result.X.shape[1] == 1
    for fig in (
        plot_sweep(result.comparison),
        plot_profile_heatmap(result.lift, result.names),
        plot_projection(result.X, result.assignments["segment_id"].to_numpy(), result.names),
    ):
        assert fig.axes
