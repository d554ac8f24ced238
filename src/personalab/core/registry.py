"""The model registry's one rule, shared by every stage that registers a model.

A new version gets the alias ``champion`` only when it strictly beats the
current champion on the stage's primary metric, with the champion re-scored on
the same evaluation data; otherwise it becomes the ``challenger``. The decision
and its reason are written to the version's tags and the run's ``registry.*`` tags.

Champions are kept per data lineage (:class:`Lineage`): the source a model was trained on
and its id space, from ``params/ingest.yaml`` (:func:`current_lineage`). A version competes
only with the champion of its own lineage, held by the alias ``champion-<lineage key>``
(``challenger-<lineage key>`` for one that lost); a version of another lineage never blocks it
nor is re-scored. The plain aliases ``champion`` and ``challenger`` follow the lineage
registered last, so ``models:/<name>@champion`` is the champion of the data the pipeline ran on
last. Switching the source and back finds the old lineage's champion under its alias again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from personalab.core.paths import ProjectPaths

#: the keys of ``params/ingest.yaml``'s ``source`` that decide which rows and which user and
#: item ids the data holds, with their defaults (those of
#: ``personalab.ingest.sources.params.SourceParams``; a test checks they agree). How timestamps
#: are read (unit, format, time zone, arrival order) does not change the lineage.
SOURCE_LINEAGE_KEYS: dict[str, Any] = {
    "format": "synthetic", "path": "data/raw", "sep": None, "header": True, "names": None,
    "encoding": "utf-8", "query": None, "columns": {}, "constants": {}, "event_types": {},
    "identity": "auto",
}  # fmt: skip
#: the generator config's defaults (``personalab.ingest.synth.config.SynthConfig``; tested):
#: for the synthetic source, the whole config is its lineage
SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "seed": 42, "n_users": 20_000, "n_items": 3_000, "n_days": 90, "start": "2026-01-01",
    "duplicate_rate": 0.01, "late_rate": 0.005, "malformed_rate": 0.002, "bot_users": 20,
    "rating_prob": 0.2, "drift": None,
}  # fmt: skip


class LineageError(ValueError):
    """The data lineage cannot be worked out (params/ingest.yaml missing or unreadable)."""


#: the features stage's default label (a purchase within the horizon; features/schema.py)
DEFAULT_LABEL = "purchased_within_horizon"


@dataclass(frozen=True)
class Lineage:
    """Which data a model was trained on, as far as champions go: a short stable ``key`` of the
    source and its id space, and a readable ``source`` description."""

    key: str
    source: str

    def alias(self, role: str) -> str:
        """The registry alias of ``role`` (``champion``, ``challenger``) in this lineage."""
        return f"{role}-{self.key}"

    def as_tags(self) -> dict[str, str]:
        return {"lineage": self.key, "lineage.source": self.source}

    def for_target(self, label: str | None) -> Lineage:
        """The lineage of models of the label ``label`` on this data: an intent model of another
        target (``rate_within_horizon``) never competes with one of purchases. The default
        purchase label keeps the data's own lineage (its champions stay where they were)."""
        if not label or label == DEFAULT_LABEL:
            return self
        digest = hashlib.sha256(f"{self.key} {label}".encode()).hexdigest()[:12]
        return Lineage(digest, f"{self.source}; target {label}")


def lineage_of(source: Mapping[str, Any], synthetic: Mapping[str, Any] | None = None) -> Lineage:
    """The lineage of ``params/ingest.yaml``'s ``source`` (and ``synthetic``) sections.

    The key hashes the source's format, path and mapping (:data:`SOURCE_LINEAGE_KEYS`); for
    the synthetic source, the generator config instead. It is not a hash of the data: a re-run
    on grown data of the same source is the same lineage and competes with its champion.
    Omitted keys take their defaults, so equal settings give equal keys however written.
    """
    values = {key: source.get(key, default) for key, default in SOURCE_LINEAGE_KEYS.items()}
    if values["format"] == "synthetic":
        config = {**SYNTHETIC_DEFAULTS, **(synthetic or {})}
        drift = config.pop("drift")  # no drift: the lineage it had before drift existed
        if drift is not None:
            config["drift"] = drift
        identity: dict[str, Any] = {"format": "synthetic", "synthetic": config}
        readable = (
            f"synthetic (seed {config['seed']}, {config['n_users']} users, "
            f"{config['n_items']} items, {config['n_days']} days from {config['start']}"
            + (f", drift from day {drift.get('at_day')})" if drift is not None else ")")
        )
    else:
        values["path"] = PurePosixPath(str(values["path"]).replace("\\", "/")).as_posix()
        if isinstance(values["query"], str):
            values["query"] = values["query"].strip()
        identity = values
        readable = f"{values['format']} {values['path']}"
        if values["identity"] != "auto":
            readable += f" (identity {values['identity']})"
    text = json.dumps(identity, sort_keys=True, default=str)
    return Lineage(hashlib.sha256(text.encode()).hexdigest()[:12], readable)


def current_lineage(paths: ProjectPaths | None = None) -> Lineage:
    """The lineage of the data the pipeline runs on: from the project's ``params/ingest.yaml``
    (read as YAML, so that a training stage does not run the ingest code)."""
    import yaml

    from personalab.core.paths import project_paths

    path = (paths or project_paths()).params_file("ingest")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise LineageError(
            f"{path}: cannot read the ingest source, which names the data lineage that "
            f"champions are kept per ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(values, dict):
        raise LineageError(f"{path}: expected a mapping with a `source` section")
    return lineage_of(values.get("source") or {}, values.get("synthetic") or {})


@dataclass
class RegistryDecision:
    version: str
    alias: Literal["champion", "challenger"]
    metric: str
    value: float
    champion_version: str | None
    champion_value: float | None
    reason: str
    lineage: str | None = None  # the lineage key the decision was made in

    def as_tags(self) -> dict[str, str]:
        tags = {
            "registry.version": self.version,
            "registry.alias": self.alias,
            "registry.reason": self.reason,
        }
        if self.lineage is not None:
            tags["registry.lineage"] = self.lineage
        return tags


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
    lineage: Lineage | None = None,
) -> RegistryDecision:
    """Give ``version`` the alias ``champion`` if it beats the current champion, else ``challenger``.

    ``score_champion(model_uri)`` re-scores the current champion on the same
    evaluation data; if it cannot (another schema), the new version is a challenger.
    With a ``lineage``, the current champion is the one of that lineage
    (``champion-<key>``), the version gets ``champion-<key>`` or ``challenger-<key>``
    and the tags ``lineage`` and ``lineage.source``, and the plain ``champion`` alias
    moves to that lineage's champion (``challenger`` to the version when it lost);
    without, there is one lineage and only the plain aliases.
    """
    current = version_with_alias(
        client, name, "champion" if lineage is None else lineage.alias("champion")
    )
    champion_value = None
    if current is None:
        alias = "champion"
        reason = "no champion yet"
        if lineage is not None:
            reason += f" for data lineage {lineage.key} ({lineage.source})"
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
    if lineage is not None:
        for key, tag in lineage.as_tags().items():
            client.set_model_version_tag(name, version, key, tag)
        client.set_registered_model_alias(name, lineage.alias(alias), version)
    client.set_registered_model_alias(name, alias, version)
    if lineage is not None and alias == "challenger":  # @champion serves the current data
        client.set_registered_model_alias(name, "champion", str(current.version))
    decision = RegistryDecision(
        version=str(version),
        alias=alias,
        metric=metric,
        value=float(value),
        champion_version=None if current is None else str(current.version),
        champion_value=champion_value,
        reason=reason,
        lineage=None if lineage is None else lineage.key,
    )
    client.set_model_version_tag(name, version, "primary_metric", metric)
    client.set_model_version_tag(name, version, metric, f"{value:.6f}")
    client.set_model_version_tag(name, version, "decision", reason)
    return decision


def register_model(folder: Path | str, model_name: str) -> tuple[Any, str]:
    """Log the saved model folder to the active run and register it; return (client, version).

    The version's source is the run's ``model`` folder, as ``mlflow.register_model`` records
    it, but through the client, which prints nothing (the fluent API prints its progress to
    stderr, a warning-like block in the executed notebook)."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_model needs an active MLflow run (start_stage_run)")
    mlflow.log_artifacts(str(folder), artifact_path="model")
    client = MlflowClient()
    try:
        client.create_registered_model(model_name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    source = f"{run.info.artifact_uri.rstrip('/')}/model"
    version = client.create_model_version(model_name, source, run_id=run.info.run_id)
    return client, str(version.version)


def save_pyfunc(
    folder: Path | str,
    python_model: Any,
    save_files: Callable[[Path], dict[str, Path]],
    signature: Any,
    input_example: Any,
    requirements: list[str],
    modules: Sequence[str] = (),
) -> Path:
    """Write an MLflow pyfunc folder atomically, bundling the personalab code the model runs.

    ``python_model`` is a model from code (the path of a file such as ``pyfunc_model.py``) or a
    ``PythonModel``. ``save_files(scratch)`` writes the model's own files into a scratch folder
    and returns them by artifact name; the pyfunc's ``load_context`` reads them back.

    The folder's ``code/personalab`` holds the subpackages
    (:func:`personalab.core.code.bundle_files`) that the model's module (the file's, or the
    instance's class's when it is personalab's) and ``modules`` (what else loading the model
    imports, such as the modules a pickled artifact refers to) import. Only those, so a change
    elsewhere in the package leaves the folder's bytes as they were. A model of no personalab
    module and no ``modules`` gets the whole package (its code is unknown; the pipeline's
    models never are).
    """
    import tempfile
    from contextlib import nullcontext

    import mlflow.pyfunc

    from personalab.core.code import PACKAGE, SRC, bundled_package, is_ours, module_name
    from personalab.core.storage import atomic_dir, pin_model_metadata

    if isinstance(python_model, str | Path):
        own = module_name(python_model)
    else:
        own = type(python_model).__module__
    entries = sorted({*modules, *([own] if own and is_ours(own) else [])})
    folder = Path(folder)
    code = bundled_package(entries) if entries else nullcontext(SRC / PACKAGE)
    with tempfile.TemporaryDirectory() as scratch, code as package, atomic_dir(folder) as tmp:
        files = save_files(Path(scratch))
        mlflow.pyfunc.save_model(
            str(tmp),
            python_model=python_model,
            artifacts={name: str(path) for name, path in files.items()},
            code_paths=[str(package)],
            signature=signature,
            input_example=input_example,
            pip_requirements=requirements,
        )
        pin_model_metadata(tmp)  # the same model gives the same bytes (no time, id or tmp path)
    return folder
