"""The served recommender as MLflow builds it: a model from code.

:func:`personalab.recommend.served.save_serving_model` saves this file as the model of a
recommender folder, and MLflow runs it (``set_model``) whenever it loads the folder, with the
folder's own copy of personalab (``code/``) first on the path, so nothing is unpickled. Not
imported by personalab.

Rows with ``user_id`` in, or ``items`` (a list of item ids, oldest first: what comes next
after them, from the sessions' next-item model); request param ``k`` from 1 to the model's
``max_k`` (default its ``top_n``); each request's top-k rows out, labelled with ``score_kind``
and ``reason``. A request
the recommender cannot serve (no or a null user id, ``k`` out of range) is an MLflow
``INVALID_PARAMETER_VALUE`` error (HTTP 400) with one line saying why.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model

from personalab.core.errors import InputError
from personalab.recommend.served import Recommender, serve_recommendations


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    """Serves :class:`Recommender`: rows with ``user_id`` or ``items`` in; labelled top-k out."""

    def load_context(self, context: Any) -> None:
        artifacts = context.artifacts
        self.recommender = Recommender.load(
            artifacts["model"], artifacts["config"], artifacts.get("next_item")
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        try:
            return serve_recommendations(self.recommender, pd.DataFrame(model_input), params)
        except InputError as err:
            raise MlflowException.invalid_parameter_value(str(err)) from None


set_model(RecommenderPyfunc())
