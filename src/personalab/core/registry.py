"""The model registry's one rule, shared by every stage that registers a model.

A new version gets the alias ``champion`` only when it strictly beats the
current champion on the stage's primary metric, with the champion re-scored on
the same evaluation data; otherwise it becomes the ``challenger``. The decision
and its reason are written to the version's tags and the run's ``registry.*`` tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal


@dataclass
class RegistryDecision:
    version: str
    alias: Literal["champion", "challenger"]
    metric: str
    value: float
    champion_version: str | None
    champion_value: float | None
    reason: str

    def as_tags(self) -> dict[str, str]:
        return {
            "registry.version": self.version,
            "registry.alias": self.alias,
            "registry.reason": self.reason,
        }


def version_with_alias(client: Any, name: str, alias: str = "champion") -> Any | None:
    """The version of ``name`` holding ``alias``, or None if there is none yet.

    Only "no such registered model" (``RESOURCE_DOES_NOT_EXIST``) and "alias not set"
    (``INVALID_PARAMETER_VALUE``, "Registered model alias champion not found.") mean no
    such version; any other error (an unreachable or broken tracking database, no permission)
    propagates, so that a version is never made champion because the registry could not answer.
    """
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST" or (
            err.error_code == "INVALID_PARAMETER_VALUE"
            and "alias" in err.message
            and "not found" in err.message
        ):
            return None
        raise


def promote_if_better(
    client: Any,
    name: str,
    version: str,
    metric: str,
    value: float,
    score_champion: Callable[[str], float],
    higher_is_better: bool = True,
) -> RegistryDecision:
    """Give ``version`` the alias ``champion`` if it beats the current champion, else ``challenger``.

    ``score_champion(model_uri)`` re-scores the current champion on the same
    evaluation data; if it cannot (another schema), the new version is a challenger.
    """
    current = version_with_alias(client, name)
    champion_value = None
    if current is None:
        alias, reason = "champion", "no champion yet"
    elif str(current.version) == str(version):
        alias, reason = "champion", "already the champion"
    else:
        try:
            champion_value = float(score_champion(f"models:/{name}/{current.version}"))
        except Exception as err:  # noqa: BLE001 - any failure to score means not comparable
            alias = "challenger"
            reason = f"champion v{current.version} could not score this test data ({type(err).__name__}: {err})"
        else:
            better = value > champion_value if higher_is_better else value < champion_value
            alias = "champion" if better else "challenger"
            verb = "beats" if better else "does not beat"
            reason = (
                f"{metric} {value:.4f} {verb} champion v{current.version}'s {champion_value:.4f} "
                "on the same test data"
            )
    client.set_registered_model_alias(name, alias, version)
    decision = RegistryDecision(
        version=str(version),
        alias=alias,
        metric=metric,
        value=float(value),
        champion_version=None if current is None else str(current.version),
        champion_value=champion_value,
        reason=reason,
    )
    client.set_model_version_tag(name, version, "primary_metric", metric)
    client.set_model_version_tag(name, version, metric, f"{value:.6f}")
    client.set_model_version_tag(name, version, "decision", reason)
    return decision


def register_model(folder: Path | str, model_name: str) -> tuple[Any, str]:
    """Log the saved model folder to the active run and register it; return (client, version)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_model needs an active MLflow run (start_stage_run)")
    mlflow.log_artifacts(str(folder), artifact_path="model")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name)
    return MlflowClient(), str(version.version)


def save_pyfunc(
    folder: Path | str,
    python_model: Any,
    save_files: Callable[[Path], dict[str, Path]],
    signature: Any,
    input_example: Any,
    requirements: list[str],
) -> Path:
    """Write an MLflow pyfunc folder atomically, bundling this package's code.

    ``save_files(scratch)`` writes the model's own files into a scratch folder and
    returns them by artifact name; the pyfunc's ``load_context`` reads them back.
    """
    import tempfile

    import mlflow.pyfunc

    from personalab.core.storage import atomic_dir

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as scratch, atomic_dir(folder) as tmp:
        files = save_files(Path(scratch))
        mlflow.pyfunc.save_model(
            str(tmp),
            python_model=python_model,
            artifacts={name: str(path) for name, path in files.items()},
            code_paths=[str(Path(__file__).parents[1])],  # the whole personalab package
            signature=signature,
            input_example=input_example,
            pip_requirements=requirements,
        )
    return folder
