"""The segmenter's pipeline applied with NumPy gives the labels scikit-learn's predict gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from personalab.segments.fast import fast_predict
from personalab.segments.params import SegmentsParams
from personalab.segments.preprocess import make_preprocessor


def rows(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.lognormal(size=(n, 5))
    X[:, 4] = rng.normal(size=n)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[:, 3] = np.nan  # a column the imputer learns nothing of: scikit-learn drops it
    return X


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("scaler", ["standard", "robust", "minmax"])
@pytest.mark.parametrize("pca", [None, 0.9])
def test_the_numpy_path_gives_the_pipelines_labels_and_transform(scaler, pca):
    params = SegmentsParams(scaler=scaler, pca_variance=pca)
    steps = make_preprocessor(params, ["a", "b", "c", "d", "e"], log1p=["a", "b"]).steps
    pipeline = Pipeline([*steps, ("cluster", KMeans(4, n_init=2, random_state=0))])
    pipeline.fit(rows(0, 400))
    new = rows(1, 300)
    np.testing.assert_array_equal(fast_predict(pipeline, new), pipeline.predict(new))
    one = new[:1]
    assert fast_predict(pipeline, one).tolist() == pipeline.predict(one).tolist()
    from personalab.segments import fast

    numpy_steps = [fast._transform(step) for _, step in pipeline.steps[:-1]]
    out = new
    for transform in numpy_steps:
        out = transform(out)
    np.testing.assert_allclose(out, pipeline[:-1].transform(new), rtol=1e-12, atol=1e-12)


def test_an_unknown_step_sends_the_rows_through_the_pipeline():
    calls = []

    def double(X):
        calls.append(len(X))
        return X * 2

    pipeline = Pipeline(
        [("double", FunctionTransformer(double, validate=True)), ("k", KMeans(2, n_init=1))]
    )
    X = np.random.default_rng(0).normal(size=(50, 2))
    pipeline.fit(X)
    calls.clear()
    np.testing.assert_array_equal(fast_predict(pipeline, X), pipeline.predict(X))
    assert calls == [50, 50]  # validate=True is not one the NumPy path covers: both via sklearn
