"""The fitted segmenter's pipeline applied with NumPy alone, for served requests of a few rows.

scikit-learn checks its input at every step (types, finiteness, the frame library it came
from), which costs about half a millisecond for one row through the segmenter's four steps: more
than the arithmetic. :func:`fast_predict` applies the fitted steps the segments stage builds
(:func:`~personalab.segments.preprocess.make_preprocessor`: ``log1p``, median imputation, a
standard, robust or min-max scaler, optional PCA) from their fitted attributes, then the
clusterer's own ``predict``. Any other step, or a setting these formulas do not cover, sends
the rows through the pipeline's ``predict`` unchanged. Both give the same labels (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def fast_predict(pipeline: Any, X: np.ndarray) -> np.ndarray:
    """``pipeline.predict(X)``, its transforms applied with NumPy where each step allows."""
    steps = getattr(pipeline, "steps", None)
    transforms = None if steps is None else [_transform(step) for _, step in steps[:-1]]
    if transforms is None or any(t is None for t in transforms):
        return pipeline.predict(X)
    out = np.asarray(X, dtype=float)
    for transform in transforms:
        out = transform(out)
    return steps[-1][1].predict(out)


def _transform(step: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The step's fitted transform as a NumPy function, or None (not one of the known ones)."""
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
        MinMaxScaler,
        RobustScaler,
        StandardScaler,
    )

    kind = type(step)
    if kind is FunctionTransformer and step.func is not None and step.validate is False:
        return lambda X: step.func(X, **(step.kw_args or {}))
    if (
        kind is SimpleImputer
        and not step.add_indicator
        and not step.keep_empty_features
        and _is_nan(step.missing_values)
    ):
        return _imputer(step)
    if kind is StandardScaler:
        centre, scale = step.mean_ if step.with_mean else None, step.scale_
        return lambda X: _scaled(X, centre, scale)
    if kind is RobustScaler:
        centre = step.center_ if step.with_centering else None
        scale = step.scale_ if step.with_scaling else None
        return lambda X: _scaled(X, centre, scale)
    if kind is MinMaxScaler and not step.clip:
        return lambda X: X * step.scale_ + step.min_
    if kind is PCA:
        scale = np.sqrt(step.explained_variance_) if step.whiten else None
        return lambda X: _scaled((X - step.mean_) @ step.components_.T, None, scale)
    return None


def _imputer(step: Any) -> Callable[[np.ndarray], np.ndarray]:
    statistics = np.asarray(step.statistics_, dtype=float)
    keep = ~np.isnan(statistics)  # scikit-learn drops the columns it learned nothing of

    def impute(X: np.ndarray) -> np.ndarray:
        out = np.array(X[:, keep], dtype=float)
        missing = np.isnan(out)
        out[missing] = np.broadcast_to(statistics[keep], out.shape)[missing]
        return out

    return impute


def _scaled(X: np.ndarray, centre: np.ndarray | None, scale: np.ndarray | None) -> np.ndarray:
    out = X if centre is None else X - centre
    return out if scale is None else out / scale


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)
