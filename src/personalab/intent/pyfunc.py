"""The serving model: an MLflow pyfunc folder of :class:`IntentModel` (raw rows in), its model
from code in ``pyfunc_model.py`` (a thin adapter around :func:`serve_request`).

A served request is checked first (:func:`check_required_values`): a null in a required column
(no missing value in training, and defined for every user) is refused (an MLflow ``INVALID_PARAMETER_VALUE`` error, HTTP 400,
naming the column) instead of being scored as missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.intent.columns import FeatureEncoder
from personalab.intent.model import IntentModel
from personalab.intent.params import IntentError


def check_required_values(frame: pd.DataFrame, encoder: FeatureEncoder) -> None:
    """Refuse nulls in a request's required columns (those without missing values in training,
    required in the signature): the model never learned what a missing value means there, so
    scoring one would silently change the score. The message names the columns and rows."""
    required = {spec.name for spec in encoder.columns_ if not spec.optional}
    at = [i for i, name in enumerate(frame.columns) if name in required]
    if not at or not len(frame):
        return
    null = frame.isna().to_numpy()[:, at]  # one pass over the frame: a request is often one row
    if not null.any():
        return
    where = "; ".join(
        f"{frame.columns[i]} (rows {np.flatnonzero(null[:, j])[:5].tolist()})"
        for j, i in enumerate(at)
        if null[:, j].any()
    )
    raise IntentError(
        f"null values in required column(s), rows counted from 0: {where}; these columns had "
        "no missing value in training, so the model cannot score a row without them"
    )


def serve_request(model: IntentModel, frame: pd.DataFrame) -> pd.DataFrame:
    """A served request: its required columns checked (:func:`check_required_values`), then
    the model's probability and decision per row."""
    check_required_values(frame, model.encoder)
    return model.predict(frame)


def model_requirements() -> list[str]:
    """Exact pins the served model needs (the personalab code it runs ships in the model's code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements(
        "xgboost-cpu", "numpy", "pandas", "scikit-learn", "scipy", "pydantic", "pyyaml"
    )


def input_schema(encoder: FeatureEncoder) -> Any:
    """The served model's input: each column with the type the training table gave it (long,
    double, boolean or string); optional columns (missing in training) may be left out."""
    from mlflow.types import ColSpec, Schema

    return Schema(
        [ColSpec(s.schema_type, s.name, required=not s.optional) for s in encoder.columns_]
    )


def save_serving_model(model: IntentModel, raw_example: pd.DataFrame, folder: Path | str) -> Path:
    """Write the model as an MLflow pyfunc folder, its model from code (``pyfunc_model.py``):
    the signature declared (not inferred from the example) and the input example included."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from personalab.core.registry import save_pyfunc

    outputs = Schema(
        [ColSpec("double", "purchase_probability"), ColSpec("boolean", "purchase_intent")]
    )
    return save_pyfunc(
        folder,
        str(Path(__file__).with_name("pyfunc_model.py")),
        model.save,
        ModelSignature(inputs=input_schema(model.encoder), outputs=outputs),
        model.encoder.example(raw_example),
        model_requirements(),
    )
