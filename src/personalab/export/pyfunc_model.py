"""``models/personalise`` as MLflow builds it: a model from code.

:func:`personalab.export.pyfunc.save_personalise` saves this file as the model of the folder,
and MLflow runs it (``set_model``) whenever it loads the folder, with the folder's own copy of
personalab (``code/``) first on the path, so nothing is unpickled. Not imported by personalab.

A user id with its feature row in (request param ``k``); the labelled answer of
:class:`~personalab.export.personalise.Personaliser` out. A request it cannot serve (a null user
id or required feature, ``k`` out of range) is an MLflow ``INVALID_PARAMETER_VALUE`` error
(HTTP 400) with one line saying why.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model

from personalab.core.errors import InputError
from personalab.export.personalise import Personaliser
from personalab.export.pyfunc import serve_request


class PersonalisePyfunc(mlflow.pyfunc.PythonModel):
    """Serves :class:`Personaliser`: user id + feature row in; segment, strategy, k items out."""

    def load_context(self, context: Any) -> None:
        self.personaliser = Personaliser.load(context.artifacts)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        try:
            return serve_request(self.personaliser, pd.DataFrame(model_input), params)
        except InputError as err:
            raise MlflowException.invalid_parameter_value(str(err)) from None


set_model(PersonalisePyfunc())
