"""The intent model: encoder + XGBoost booster + calibrator + threshold, saved without pickle."""

from __future__ import annotations

import json
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
        return self.calibrator.transform(self.booster.inplace_predict(matrix))

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
