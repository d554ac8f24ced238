"""Preprocessing: the feature matrix of the users and the pipeline that prepares it.

The users of the latest cut-off of the features table are preprocessed (feature
subset, ``log1p`` of heavy-tailed counts, median imputation, scaling, optional PCA
to a share of variance) before they are clustered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler

from personalab.segments.params import DEFAULT_LOG1P, SegmentsError, SegmentsParams


def _log1p_columns(X: np.ndarray, columns: tuple[int, ...] = ()) -> np.ndarray:
    out = np.array(X, dtype=float, copy=True)
    idx = list(columns)
    out[:, idx] = np.log1p(np.clip(out[:, idx], 0.0, None))
    return out


def make_preprocessor(
    params: SegmentsParams, features: list[str] | None = None, log1p: list[str] | None = None
) -> Pipeline:
    """log1p of the ``log1p`` columns of ``features``, median imputation, scaling, optional PCA.

    ``features`` and ``log1p`` default to the params' explicit lists (``log1p: null``: the
    heavy-tailed defaults among the features). Columns constant for these users (no
    variance) stay, scaled to zero."""
    if features is None:
        if params.features is None:
            raise SegmentsError(
                "make_preprocessor needs the features: params 'features' is null "
                "(the stage chooses them from the table: personalab.segments.columns)"
            )
        features = list(params.features)
    if log1p is None:
        wanted = DEFAULT_LOG1P if params.log1p is None else params.log1p
        log1p = [name for name in wanted if name in features]
    stray = [name for name in log1p if name not in features]
    if stray:
        raise SegmentsError(f"log1p column(s) {stray} are not among the features {features}")
    columns = tuple(features.index(name) for name in log1p)
    scaler = {"standard": StandardScaler(), "robust": RobustScaler(), "minmax": MinMaxScaler()}[
        params.scaler
    ]
    steps = [
        ("log1p", FunctionTransformer(_log1p_columns, kw_args={"columns": columns})),
        ("impute", SimpleImputer(strategy="median")),
        ("scale", scaler),
    ]
    if params.pca_variance is not None:
        steps.append(
            (
                "pca",
                PCA(n_components=params.pca_variance, svd_solver="full", random_state=params.seed),
            )
        )
    return Pipeline(steps)


def feature_matrix(table: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The chosen feature columns as floats; a clear error for missing or non-numeric ones."""
    missing = [name for name in features if name not in table]
    if missing:
        raise SegmentsError(f"features table lacks column(s) {missing} named in params 'features'")
    frame = table[features]
    bad = [name for name in features if not pd.api.types.is_numeric_dtype(frame[name])]
    if bad:
        raise SegmentsError(f"params 'features' names non-numeric column(s) {bad}")
    values = frame.to_numpy(dtype=float)
    empty = [
        name for name, column in zip(features, values.T, strict=True) if np.isnan(column).all()
    ]
    if empty:
        raise SegmentsError(
            f"feature column(s) {empty} have no values at all; drop them from params 'features' "
            "(or set features: null to cluster on the default features the table has)"
        )
    return values


def latest_cutoff(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["cutoff"] == table["cutoff"].max()].reset_index(drop=True)
