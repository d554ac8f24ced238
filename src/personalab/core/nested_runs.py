"""Nested runs under a stage run: one per candidate or trial, with its real duration, and the
stage's choice among them.

A stage that compares candidates (segments: clusterings; intent: Optuna trials; recommend:
algorithms and their trials) logs one nested run per candidate with :func:`log_child_run`,
started and ended when the candidate was (not when it was logged), and records what it chose
with :func:`log_choice`: tags and params ``chosen.<key>`` on the stage run, and the tag
``chosen=true`` on the nested run of the chosen candidate. A study resumed from earlier runs
finds the trials already logged with :func:`logged_child_runs` and logs only the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: the tag of the nested run a stage chose (value ``true``)
CHOSEN_TAG = "chosen"
#: the longest param value MLflow takes (longer ones are cut)
MAX_PARAM_LENGTH = 6000


def param_value(value: Any) -> str:
    """A param as MLflow stores it: strings as they are, anything else as JSON, cut to
    :data:`MAX_PARAM_LENGTH`."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_PARAM_LENGTH]


def numeric_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """The numeric entries of ``metrics`` (not booleans, not None) as floats."""
    return {
        key: float(value)
        for key, value in (metrics or {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def log_child_run(
    name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    tags: Mapping[str, Any] | None = None,
    started: datetime | float | None = None,
    ended: datetime | float | None = None,
    status: str = "FINISHED",
) -> str:
    """A nested run under the active stage run (one candidate, one trial); return its id.

    ``started`` and ``ended`` (datetimes, or seconds since the epoch) are when the candidate
    ran, so the run shows its real duration; each defaults to now. Numeric ``metrics`` only.
    """
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("log_child_run needs an active stage run (start_stage_run)")
    now = time.time()
    start_ms = _millis(now if started is None else started)
    end_ms = max(_millis(now if ended is None else ended), start_ms)
    run_tags = {"mlflow.parentRunId": parent.info.run_id}
    if user := parent.data.tags.get("mlflow.user"):
        run_tags["mlflow.user"] = user
    run_tags |= {key: str(value) for key, value in (tags or {}).items()}
    client = MlflowClient()
    run = client.create_run(
        parent.info.experiment_id, start_time=start_ms, tags=run_tags, run_name=name
    )
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, v, end_ms, 0) for k, v in numeric_metrics(metrics).items()],
        params=[Param(k, param_value(v)) for k, v in params.items()],
        tags=[RunTag(CHOSEN_TAG, "false")],
    )
    client.set_terminated(run.info.run_id, status=status, end_time=end_ms)
    return run.info.run_id


def logged_child_runs(key: str, **match: str) -> dict[str, str]:
    """Nested runs already in the active run's experiment (logged by this or any earlier stage
    run) whose tags equal ``match``: their tag ``key`` -> run id (the first logged, when
    several)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("logged_child_runs needs an active stage run (start_stage_run)")
    conditions = [f"tags.`{tag}` = {_quoted(value)}" for tag, value in match.items()]
    client, found, token = MlflowClient(), {}, None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=" and ".join(conditions),
            order_by=["attributes.start_time DESC"],
            max_results=1000,
            page_token=token,
        )
        for run in page:
            tags = run.data.tags
            if key in tags and all(tags.get(t) == v for t, v in match.items()):
                found[tags[key]] = run.info.run_id  # the earliest wins (latest first)
        token = page.token
        if not token:
            return found


def log_choice(choice: Mapping[str, Any], child_run_id: str | None = None) -> None:
    """Record a stage's choice: tags and params ``chosen.<key>`` on the active (stage) run, and
    ``chosen=true`` on the chosen nested run (named in the stage run's ``chosen.run_id``)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    values = {f"chosen.{key}": param_value(value) for key, value in choice.items()}
    mlflow.log_params(values)
    if child_run_id is not None:
        MlflowClient().set_tag(child_run_id, CHOSEN_TAG, "true")
        values["chosen.run_id"] = child_run_id
    mlflow.set_tags(values)


def _millis(moment: datetime | float) -> int:
    """Milliseconds since the epoch (a naive datetime is local time, as Optuna's are)."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    return int(round(seconds * 1000))


def _quoted(value: str) -> str:
    """A string literal for an MLflow filter (double-quoted when it holds a single quote)."""
    return f'"{value}"' if "'" in value else f"'{value}'"
