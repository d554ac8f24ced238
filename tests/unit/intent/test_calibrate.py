"""Calibration of the booster's probabilities (personalab.intent.calibrate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from personalab.intent.calibrate import Calibrator, choose_calibration


def overconfident(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores spread over [0, 1] for labels whose true rate is only p / 3."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p / 3).astype(int)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "none"])
def test_calibrator_round_trips_through_json(method):
    p, y = overconfident()
    calibrator = Calibrator(method).fit(p, y)
    copy = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    grid = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(copy.transform(grid), calibrator.transform(grid))
    if method == "none":
        np.testing.assert_array_equal(calibrator.transform(grid), grid)
    else:
        # the labels' rate is a third of the score: calibration pulls the top down
        assert calibrator.transform(np.array([0.9]))[0] < 0.6


def test_isotonic_calibration_is_monotone_and_within_0_1():
    p, y = overconfident()
    out = Calibrator("isotonic").fit(p, y).transform(np.linspace(-0.5, 1.5, 401))
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= 0 and out.max() <= 1


def test_sigmoid_calibration_is_increasing():
    p, y = overconfident()
    out = Calibrator("sigmoid").fit(p, y).transform(np.linspace(0.01, 0.99, 50))
    assert np.all(np.diff(out) > 0)


def test_choose_calibration_auto_picks_the_lowest_cross_fitted_brier():
    p, y = overconfident()
    calibrator, table = choose_calibration(p, y, "auto", seed=0)
    assert table["method"].tolist() == ["none", "sigmoid", "isotonic"]
    assert table["chosen"].sum() == 1
    best = table.loc[table["cross_fitted_brier"].idxmin(), "method"]
    assert calibrator.method == best
    assert table.loc[table["chosen"], "method"].item() == best
    assert best != "none"  # the raw scores are far too high
    assert table.set_index("method").loc["none", "cross_fitted_brier"] == pytest.approx(
        np.mean((p - y) ** 2)
    )


def test_choose_calibration_with_a_fixed_method_uses_it():
    p, y = overconfident()
    calibrator, table = choose_calibration(p, y, "none")
    assert calibrator.method == "none"
    np.testing.assert_array_equal(calibrator.transform(p), p)
    assert table.loc[table["chosen"], "method"].item() == "none"
    calibrator, table = choose_calibration(p, y, "isotonic")
    assert calibrator.method == "isotonic"
    assert table.loc[table["chosen"], "method"].item() == "isotonic"
