"""The intent model: encoder + XGBoost booster + calibrator + threshold, saved without pickle."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.intent.calibrate import Calibrator
from personalab.intent.columns import FeatureEncoder


class IntentModel:
    """Encoder + XGBoost booster + calibrator + threshold: raw feature rows in, probabilities out.

    Saved as ``booster.ubj`` (XGBoost's own format) and ``intent.json`` (the rest).
    """

    def __init__(
        self, encoder: FeatureEncoder, booster: Any, calibrator: Calibrator, threshold: float
    ):
        self.encoder = encoder
        self.booster = booster
        self.calibrator = calibrator
        self.threshold = threshold

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.feature_names_

    def dmatrix(self, frame: pd.DataFrame):
        import xgboost as xgb

        return xgb.DMatrix(self.encoder.transform(frame), enable_categorical=True)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated purchase probability of every row of a raw feature frame."""
        if len(frame) == 0:
            return np.zeros(0)
        return self.proba_of(self.encoder.matrix(frame))

    def proba_of(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated purchase probability of rows encoded by ``encoder.matrix``."""
        return self.calibrator.transform(self._predict(matrix))

    @cached_property
    def _predict(self) -> Callable[[np.ndarray], np.ndarray]:
        return dense_predictor(self.booster)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``purchase_probability`` and ``purchase_intent`` (probability >= threshold) per row."""
        p = self.predict_proba(frame)
        return pd.DataFrame(
            {"purchase_probability": p, "purchase_intent": p >= self.threshold}, index=frame.index
        )

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """SHAP values (log-odds, before calibration) per feature, plus ``bias``."""
        values = self.booster.predict(self.dmatrix(frame), pred_contribs=True)
        return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=frame.index)

    def save(self, folder: Path | str) -> dict[str, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        booster, config = folder / "booster.ubj", folder / "intent.json"
        self.booster.save_model(str(booster))
        config.write_text(
            json.dumps(
                {
                    "encoder": self.encoder.to_dict(),
                    "calibrator": self.calibrator.to_dict(),
                    "threshold": self.threshold,
                },
                indent=1,
            )
        )
        return {"booster": booster, "config": config}

    @classmethod
    def load(cls, booster_path: Path | str, config_path: Path | str) -> IntentModel:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(booster_path))
        config = json.loads(Path(config_path).read_text())
        return cls(
            FeatureEncoder.from_dict(config["encoder"]),
            booster,
            Calibrator.from_dict(config["calibrator"]),
            float(config["threshold"]),
        )


def dense_predictor(booster: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``booster.inplace_predict`` for a dense matrix, through the C entry point it calls for
    one (``XGBoosterPredictFromDense``) with the arguments encoded once.

    ``inplace_predict`` checks the input's type against a dozen formats and encodes its
    arguments as JSON on every call: more time than predicting a served request's one row. The
    answer is the same call's (tested to the bit). A matrix of the wrong width, or an XGBoost
    without this entry point, goes to ``inplace_predict`` itself.
    """
    try:
        import ctypes

        from xgboost._data_utils import array_interface
        from xgboost.core import _LIB, _check_call, c_bst_ulong, make_jcargs
    except ImportError:  # another XGBoost: its own wrapper
        return booster.inplace_predict
    args = make_jcargs(
        type=0,
        training=False,
        iteration_begin=0,
        iteration_end=0,
        missing=math.nan,
        strict_shape=False,
        cache_id=0,
    )
    width = booster.num_features()

    def predict(matrix: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != width or not data.shape[0]:
            return booster.inplace_predict(matrix)  # and its checks
        shape, dims = ctypes.POINTER(c_bst_ulong)(), c_bst_ulong()
        preds = ctypes.POINTER(ctypes.c_float)()
        _check_call(
            _LIB.XGBoosterPredictFromDense(
                booster.handle,
                array_interface(data),
                args,
                ctypes.c_void_p(),
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(preds),
            )
        )
        sizes = tuple(int(shape[i]) for i in range(dims.value))
        return np.ctypeslib.as_array(preds, (math.prod(sizes),)).reshape(sizes).copy()

    return predict
