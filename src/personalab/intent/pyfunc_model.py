"""The served intent model as MLflow builds it: a model from code.

:func:`personalab.intent.pyfunc.save_serving_model` saves this file as the model of an intent
folder, and MLflow runs it (``set_model``) whenever it loads the folder, with the folder's own
copy of personalab (``code/``) first on the path, so nothing is unpickled. Not imported by
personalab.

Raw feature rows in; ``purchase_probability`` and ``purchase_intent`` out. A request the model
cannot score (a null in a column without missing values in training) is an MLflow
``INVALID_PARAMETER_VALUE`` error (HTTP 400) naming the column.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model

from personalab.core.errors import InputError
from personalab.intent.model import IntentModel
from personalab.intent.pyfunc import serve_request


class IntentPyfunc(mlflow.pyfunc.PythonModel):
    """Serves :class:`IntentModel`: raw feature rows in; probability and intent out."""

    def load_context(self, context: Any) -> None:
        artifacts = context.artifacts
        self.model = IntentModel.load(artifacts["config"], artifacts.get("booster"))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        try:
            return serve_request(self.model, pd.DataFrame(model_input))
        except InputError as err:  # the request's fault: HTTP 400, one line
            raise MlflowException.invalid_parameter_value(str(err)) from None


set_model(IntentPyfunc())
