"""Unit tests of personalab.monitor.drift: PSI, Jensen-Shannon, KS and the drifted flag."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from personalab.monitor.drift import binned, column_drift, feature_drift, js_distance, psi


def test_psi_of_known_shares():
    # shares 0.5/0.5 against 0.8/0.2: (0.3 ln 1.6) + (-0.3 ln 0.4)
    expected = 0.3 * math.log(1.6) - 0.3 * math.log(0.4)
    assert psi(np.array([50, 50]), np.array([80, 20])) == pytest.approx(expected)
    assert psi(np.array([5, 5]), np.array([50, 50])) == 0.0


def test_an_empty_bin_gives_a_large_finite_psi_and_no_values_nan():
    value = psi(np.array([100, 0]), np.array([50, 50]))
    assert 1 < value < 10
    assert math.isnan(psi(np.array([0, 0]), np.array([1, 2])))


def test_bins_are_the_reference_quantiles_open_at_both_ends():
    ref = pd.Series(np.arange(100, dtype=float))
    cur = pd.Series([-1000.0, 1000.0, 50.0, np.nan])
    r, c = binned(ref, cur, bins=4)
    assert r.tolist() == [25, 25, 25, 25]
    assert c.tolist() == [1, 0, 1, 1]  # below the first edge, at the median, above the last


def test_categories_count_every_level_of_both_sides():
    r, c = binned(pd.Series(["a", "a", "b"]), pd.Series(["b", "c", None]), bins=10)
    assert r.tolist() == [2, 1, 0] and c.tolist() == [0, 1, 1]


def test_same_distribution_is_stable_and_a_shift_drifts():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=20_000), "y": rng.normal(size=20_000)})
    cur = pd.DataFrame({"x": rng.normal(size=20_000), "y": rng.normal(0.8, 1, size=20_000)})
    table = feature_drift(ref, cur, ["x", "y"], "psi", 0.2)
    by = table.set_index("feature")
    assert by.loc["x", "psi"] < 0.01 and not by.loc["x", "drifted"]
    assert by.loc["y", "psi"] > 0.2 and by.loc["y", "drifted"]
    assert table["feature"].tolist() == ["y", "x"]  # the most drifted first
    assert by.loc["y", "ks"] == pytest.approx(0.31, abs=0.03)
    assert 0 < by.loc["y", "js"] < 1


def test_a_moved_missing_share_drifts_though_the_values_do_not():
    ref = pd.Series([1.0, 2.0, 3.0, 4.0] * 250)
    cur = ref.copy()
    cur[: len(cur) // 2] = np.nan
    out = column_drift(ref, cur, bins=4)
    assert out["psi"] < 0.01 and out["missing_current"] == 0.5
    table = feature_drift(ref.to_frame("v"), cur.to_frame("v"), ["v"], missing_change=0.1)
    assert table["drifted"].item()


def test_js_distance_bounds():
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert js_distance(np.array([3, 3]), np.array([1, 1])) == pytest.approx(0.0)


def test_an_unknown_statistic_is_refused():
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown drift statistic 'wasserstein'"):
        feature_drift(frame, frame, ["x"], "wasserstein")


def test_on_a_few_users_a_large_psi_drifts_only_when_its_test_says_so():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=15), "c": rng.choice(["a", "b"], 15)})
    cur = pd.DataFrame({"x": rng.normal(size=5), "c": rng.choice(["a", "b"], 5)})
    loose = feature_drift(ref, cur, ["x", "c"], "psi", 0.2).set_index("feature")
    assert loose.loc["x", "psi"] > 0.2 and loose.loc["x", "drifted"]  # ten bins, twenty users
    tested = feature_drift(ref, cur, ["x", "c"], "psi", 0.2, significance=0.05).set_index("feature")
    assert tested.loc["x", "pvalue"] > 0.05 and not tested["drifted"].any()
    # a real shift of the same few users is still found
    cur["x"] += 4
    assert feature_drift(ref, cur, ["x"], "psi", 0.2, significance=0.05)["drifted"].item()


def test_categories_are_tested_by_chi_square_and_missing_shares_by_fisher():
    ref = pd.Series(["a"] * 500 + ["b"] * 500)
    cur = pd.Series(["a"] * 800 + ["b"] * 200)
    out = column_drift(ref, cur, bins=10)
    assert np.isnan(out["ks"]) and out["pvalue"] < 1e-10
    assert column_drift(ref, ref, bins=10)["pvalue"] == pytest.approx(1.0)
    few = pd.Series([1.0, 2.0, np.nan, 4.0])
    moved = column_drift(few, pd.Series([np.nan, np.nan, 3.0]), bins=4)
    assert moved["missing_current"] - moved["missing_reference"] > 0.1
    assert moved["missing_pvalue"] > 0.05
    table = feature_drift(few.to_frame("v"), pd.Series([np.nan, np.nan, 3.0]).to_frame("v"), ["v"],
                          significance=0.05)  # fmt: skip
    assert not table["drifted"].item()


def test_the_pvalues_of_one_comparison_are_adjusted_for_their_number():
    from personalab.monitor.drift import adjusted

    raw = pd.DataFrame(
        {"pvalue": [0.028, 0.16, 0.25, 0.5], "missing_pvalue": [1.0, 1.0, np.nan, 1]}
    )
    out = adjusted(raw)
    assert out.loc[0, "pvalue"] == pytest.approx(0.028 * 8)  # the smallest of 8 tests
    assert (out >= raw.fillna(1.0)).all().all()
