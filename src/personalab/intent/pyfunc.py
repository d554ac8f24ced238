"""The serving model: an MLflow pyfunc adapter around :class:`IntentModel` (raw rows in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalab.intent.columns import FeatureEncoder
from personalab.intent.model import IntentModel


def _pyfunc_class():
    import mlflow.pyfunc

    class IntentPyfunc(mlflow.pyfunc.PythonModel):
        """Serves :class:`IntentModel`: raw feature rows in; probability and intent out."""

        def load_context(self, context):
            self.model = IntentModel.load(context.artifacts["booster"], context.artifacts["config"])

        def predict(self, context, model_input, params=None):
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            return self.model.predict(frame)

    return IntentPyfunc


def model_requirements() -> list[str]:
    """Exact pins the served model needs (personalab itself ships in the model's code/)."""
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
    """Write the model as an MLflow pyfunc folder (signature and input example included)."""
    from mlflow.models import infer_signature

    from personalab.core.registry import save_pyfunc

    example = model.encoder.example(raw_example)
    signature = infer_signature(example, model.predict(example))
    signature.inputs = input_schema(model.encoder)
    return save_pyfunc(
        folder, _pyfunc_class()(), model.save, signature, example, model_requirements()
    )
