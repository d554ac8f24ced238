"""The intent model: encoder + scorer (XGBoost, or a linear baseline) + calibrator + threshold,
saved without pickle."""

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
from personalab.intent.linear import LinearScorer

#: an intent model's files (:meth:`IntentModel.save`)
CONFIG_FILE, BOOSTER_FILE = "intent.json", "booster.ubj"


class IntentModel:
    """Encoder + scorer + calibrator + threshold: raw feature rows in, probabilities out.

    The scorer is the tuned XGBoost booster, or a baseline the stage served instead
    (:mod:`personalab.intent.choice`): default XGBoost, or a logistic regression
    (:class:`~personalab.intent.linear.LinearScorer`). Saved as ``intent.json`` (encoder,
    calibrator, threshold; a linear scorer's numbers) and, for a booster, ``booster.ubj``
    (XGBoost's own format): no pickle.
    """

    def __init__(
        self, encoder: FeatureEncoder, scorer: Any, calibrator: Calibrator, threshold: float
    ):
        self.encoder = encoder
        self.scorer = scorer
        self.calibrator = calibrator
        self.threshold = threshold

    @property
    def linear(self) -> bool:
        return isinstance(self.scorer, LinearScorer)

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
        return self.scorer if self.linear else dense_predictor(self.scorer)

    def single_threaded(self) -> IntentModel:
        """Score on one thread (a served request is a row or a few: XGBoost then neither pays
        for starting its other threads nor waits for a core other server workers hold)."""
        if not self.linear:
            self.scorer.set_param({"nthread": 1})
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``purchase_probability`` and ``purchase_intent`` (probability >= threshold) per row."""
        p = self.predict_proba(frame)
        return pd.DataFrame(
            {"purchase_probability": p, "purchase_intent": p >= self.threshold}, index=frame.index
        )

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per feature, its share of the log-odds before calibration, plus ``bias``: XGBoost's
        SHAP values, or a linear scorer's coefficient times value."""
        if self.linear:
            values = self.scorer.contributions(self.encoder.matrix(frame))
        else:
            values = self.scorer.predict(self.dmatrix(frame), pred_contribs=True)
        return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=frame.index)

    def save(self, folder: Path | str) -> dict[str, Path]:
        """``config`` (intent.json) and, for a booster, ``booster`` (booster.ubj)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "encoder": self.encoder.to_dict(),
            "calibrator": self.calibrator.to_dict(),
            "threshold": self.threshold,
        }
        files = {"config": folder / CONFIG_FILE}
        if self.linear:
            config["linear"] = self.scorer.to_dict()
        else:
            files["booster"] = folder / BOOSTER_FILE
            self.scorer.save_model(str(files["booster"]))
        files["config"].write_text(json.dumps(config, indent=1))
        return files

    @classmethod
    def load(cls, config_path: Path | str, booster_path: Path | str | None = None) -> IntentModel:
        """The model :meth:`save` wrote: its ``intent.json``, and the booster beside it (or at
        ``booster_path``) unless the scorer is linear."""
        import xgboost as xgb

        config_path = Path(config_path)
        config = json.loads(config_path.read_text())
        if "linear" in config:
            scorer: Any = LinearScorer.from_dict(config["linear"])
        else:
            booster = Path(booster_path or config_path.with_name(BOOSTER_FILE))
            if not booster.is_file():
                raise FileNotFoundError(
                    2,
                    f"the XGBoost booster {config_path.name} was saved with is missing",
                    str(booster),
                )
            scorer = xgb.Booster()
            scorer.load_model(str(booster))
        return cls(
            FeatureEncoder.from_dict(config["encoder"]),
            scorer,
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
