"""Unit tests of personalab.segments.preprocess: log1p, imputation, scaling and PCA."""

from __future__ import annotations

import numpy as np
import pytest

from personalab.segments.params import SegmentsError, SegmentsParams
from personalab.segments.preprocess import make_preprocessor
from tests.unit.segments.helpers import NAN, seg_params

E = np.e
RAW = np.array([[0.0, 0.0, 1.0], [E - 1, 3.0, 2.0], [E**2 - 1, 8.0, NAN], [E**4 - 1, NAN, 4.0]])


def pre_params(**values) -> SegmentsParams:
    return seg_params(**{"features": ["a", "b", "c"], "log1p": ["a"], **values})


def test_log1p_only_on_the_listed_columns():
    pipe = make_preprocessor(pre_params()).fit(RAW)
    logged = pipe.named_steps["log1p"].transform(RAW)
    np.testing.assert_allclose(logged[:, 0], [0.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(logged[:, 1:], RAW[:, 1:])


def test_log1p_of_two_columns_by_name_not_position():
    pipe = make_preprocessor(pre_params(log1p=["c", "a"])).fit(RAW)
    logged = pipe.named_steps["log1p"].transform(RAW)
    np.testing.assert_allclose(logged[:, 0], [0.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(logged[:, 2], np.log1p(RAW[:, 2]))
    np.testing.assert_array_equal(logged[:, 1], RAW[:, 1])


def test_nan_is_imputed_with_the_column_median():
    pipe = make_preprocessor(pre_params(scaler="minmax")).fit(RAW)
    out = pipe[:2].transform(RAW)  # log1p + impute
    assert out[3, 1] == 3.0  # median of 0, 3, 8
    assert out[2, 2] == 2.0  # median of 1, 2, 4


def test_minmax_scaler_after_log1p_and_imputation():
    out = make_preprocessor(pre_params(scaler="minmax")).fit_transform(RAW)
    np.testing.assert_allclose(out[:, 0], [0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(out[:, 1], [0.0, 3 / 8, 1.0, 3 / 8])
    np.testing.assert_allclose(out[:, 2], [0.0, 1 / 3, 1 / 3, 1.0])


def test_standard_scaler_gives_zero_mean_unit_variance():
    out = make_preprocessor(pre_params(scaler="standard")).fit_transform(RAW)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0)


def test_robust_scaler_centres_on_the_median_and_scales_by_the_iqr():
    out = make_preprocessor(pre_params(scaler="robust")).fit_transform(RAW)
    # column a after log1p: 0, 1, 2, 4 -> median 1.5, IQR 2.5 - 0.75 = 1.75
    np.testing.assert_allclose(out[:, 0], (np.array([0.0, 1, 2, 4]) - 1.5) / 1.75)
    np.testing.assert_allclose(np.median(out, axis=0), 0.0, atol=1e-12)


def test_pca_variance_reduces_collinear_features():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 2))
    X = np.column_stack([base[:, 0], 2 * base[:, 0], base[:, 1], base[:, 0] - base[:, 1]])
    params = seg_params(features=["a", "b", "c", "d"], log1p=[], pca_variance=0.99)
    pipe = make_preprocessor(params)
    out = pipe.fit_transform(X)
    assert out.shape == (200, 2)
    assert pipe.named_steps["pca"].explained_variance_ratio_.sum() == pytest.approx(1.0)
    assert make_preprocessor(params.model_copy(update={"pca_variance": None})).fit_transform(
        X
    ).shape == (200, 4)


def test_negative_values_are_clipped_to_zero_before_log1p():
    X = np.array([[-5.0, 1.0], [0.0, 2.0], [E - 1, 3.0]])
    params = seg_params(features=["a", "b"], log1p=["a"], k_max=2)
    logged = make_preprocessor(params).fit(X).named_steps["log1p"].transform(X)
    np.testing.assert_allclose(logged[:, 0], [0.0, 0.0, 1.0])


def test_the_features_and_log1p_given_win_over_the_params():
    pipe = make_preprocessor(pre_params(), features=["x", "a", "y"], log1p=["y"]).fit(RAW)
    logged = pipe.named_steps["log1p"].transform(RAW)
    np.testing.assert_allclose(logged[:, 2], np.log1p(RAW[:, 2]))
    np.testing.assert_array_equal(logged[:, :2], RAW[:, :2])


def test_log1p_null_takes_the_heavy_tailed_defaults_among_the_features():
    params = SegmentsParams.from_mapping({"features": ["dwell_mean", "clicks_per_view"]})
    pipe = make_preprocessor(params).fit(RAW[:, :2])
    assert pipe.named_steps["log1p"].kw_args == {"columns": (0,)}  # dwell_mean only


def test_make_preprocessor_names_what_it_lacks():
    with pytest.raises(SegmentsError, match="params 'features' is null"):
        make_preprocessor(SegmentsParams.from_mapping({}))
    with pytest.raises(SegmentsError, match=r"log1p column\(s\) \['z'\] are not among"):
        make_preprocessor(pre_params(), features=["a", "b"], log1p=["z"])


def test_a_constant_column_is_scaled_to_zero():
    X = np.column_stack([np.arange(6.0), np.full(6, 3.0)])
    for scaler in ("standard", "robust", "minmax"):
        out = make_preprocessor(pre_params(scaler=scaler), ["a", "b"], []).fit_transform(X)
        np.testing.assert_array_equal(out[:, 1], np.zeros(6))
