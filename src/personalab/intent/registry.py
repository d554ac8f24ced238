"""Registering the model and deciding its alias (champion or challenger) on the test rows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.registry import (
    Lineage,
    RegistryDecision,
    current_lineage,
    promote_if_better,
    register_model,
)
from personalab.evaluation.classification import higher_is_better, metric_value
from personalab.intent.params import TUNED, RegistryParams
from personalab.intent.split import IntentData


def score_model_uri(uri: str, raw: pd.DataFrame, y: np.ndarray, metric: str) -> float:
    """``metric`` of a registered intent model on raw feature rows (read by its own encoder)."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    return metric_value(metric, y, model.predict_proba(raw))


def register_and_decide(
    folder: Path | str,
    data: IntentData,
    metrics: Mapping[str, Any],
    params: RegistryParams,
    lineage: Lineage | None = None,
) -> RegistryDecision:
    """Register the saved model (tagged with its target: ``label``, ``target_event``,
    ``horizon_days``) and move ``champion`` to it only if it wins on the test rows against the
    champion of its data lineage (default: the project's, :func:`current_lineage`) for this
    target (:meth:`Lineage.for_target`)."""
    import mlflow

    lineage = (lineage or current_lineage()).for_target(data.target.label)
    client, version = register_model(folder, params.model_name)
    served = {"served_model": metrics.get("served_model", TUNED)}  # tuned, or a baseline
    for key, value in (data.target.metrics() | served).items():  # what the version is
        client.set_model_version_tag(params.model_name, version, key, str(value))
    test = data.split.test
    decision = promote_if_better(
        client,
        params.model_name,
        version,
        params.primary_metric,
        float(metrics[params.primary_metric]),
        lambda uri: score_model_uri(uri, data.raw.iloc[test], data.y[test], params.primary_metric),
        higher_is_better=higher_is_better(params.primary_metric),
        lineage=lineage,
    )
    mlflow.set_tags(decision.as_tags())
    return decision
