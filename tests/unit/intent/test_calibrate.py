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


def test_choose_calibration_scores_each_method_on_rows_its_calibrator_did_not_see():
    # 16 hand-made scores; the labels rise with the score but not monotonically
    p = np.round(np.linspace(0.05, 0.95, 16), 4)
    y = np.array([0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1])
    _, table = choose_calibration(p, y, "auto", seed=3)
    brier = table.set_index("method")["cross_fitted_brier"]

    # the same 2 stratified folds, each method fitted on one and scored on the other,
    # with scikit-learn's own estimators rather than Calibrator
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    logit = np.log(p / (1 - p))[:, None]
    isotonic, sigmoid = np.empty(len(p)), np.empty(len(p))
    folds = list(StratifiedKFold(2, shuffle=True, random_state=3).split(p, y))
    assert sorted(np.concatenate([rows for _, rows in folds])) == list(range(16))
    for fit_rows, eval_rows in folds:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
        isotonic[eval_rows] = iso.fit(p[fit_rows], y[fit_rows]).predict(p[eval_rows])
        platt = LogisticRegression(C=1e6).fit(logit[fit_rows], y[fit_rows])
        sigmoid[eval_rows] = platt.predict_proba(logit[eval_rows])[:, 1]
    assert brier["isotonic"] == pytest.approx(np.mean((isotonic - y) ** 2), abs=1e-12)
    assert brier["sigmoid"] == pytest.approx(np.mean((sigmoid - y) ** 2), abs=1e-9)
    assert brier["none"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)

    # fitted on all rows and scored on them, isotonic would look far better than it is
    in_sample = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y).predict(p)
    assert np.mean((in_sample - y) ** 2) < brier["isotonic"] - 0.05


def test_choose_calibration_keeps_scores_that_are_already_calibrated():
    # labels drawn at the scores' own rate: no calibrator can help on unseen rows. Isotonic
    # fitted on the rows it is scored on would chase the noise (in-sample Brier ~0.14) and win.
    rng = np.random.default_rng(0)
    p = rng.random(40)
    y = (rng.random(40) < p).astype(int)
    calibrator, table = choose_calibration(p, y, "auto", seed=0)
    brier = table.set_index("method")["cross_fitted_brier"]
    assert calibrator.method == "none"
    assert brier["none"] == pytest.approx(0.1812, abs=1e-4)
    assert brier["sigmoid"] == pytest.approx(0.1923, abs=1e-4)
    assert brier["isotonic"] == pytest.approx(0.2061, abs=1e-4)


@pytest.mark.parametrize("positives", [0, 1])
@pytest.mark.parametrize("method", ["auto", "none", "sigmoid", "isotonic"])
def test_choose_calibration_leaves_out_methods_that_cannot_run(method, positives):
    p, y = overconfident(200)
    y = np.zeros_like(y)
    y[np.argsort(-p)[:positives]] = 1
    calibrator, table = choose_calibration(p, y, method, seed=0)
    assert calibrator.method == "none"  # the only method that can run
    table = table.set_index("method")
    assert table.loc["none", "cross_fitted_brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert table.loc["none", "unavailable"] == ""
    for name in ("sigmoid", "isotonic"):
        assert np.isnan(table.loc[name, "cross_fitted_brier"])
        assert table.loc[name, "unavailable"] == (
            f"validation holds {positives} positive and {200 - positives} negative row(s); "
            f"{name} calibration needs at least 2 of each"
        )
    np.testing.assert_array_equal(calibrator.transform(p), p)


def test_choose_calibration_runs_every_method_from_two_of_each_class():
    p, y = overconfident(200)
    y = np.zeros_like(y)
    y[np.argsort(-p)[:2]] = 1
    _, table = choose_calibration(p, y, "auto", seed=0)
    assert np.isfinite(table["cross_fitted_brier"]).all()
    assert (table["unavailable"] == "").all()
