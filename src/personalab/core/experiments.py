"""Where tracking goes: the project's SQLite store, its experiments and their artifact folders.

Tracking goes to ``sqlite:///<project>/mlflow.db`` with artifacts under
``<project>/mlartifacts/<stage>/`` unless ``MLFLOW_TRACKING_URI`` points elsewhere.

MLflow stores absolute artifact locations: an experiment's (resolved against the working
directory when given relative), and each run's and each registered version's, copied from
it. A project copied or moved with its ``mlflow.db`` would therefore log into, and read
from, the original's ``mlartifacts/``. :func:`relocate_artifacts` keeps the project's store
pointing into the project: at the start of every stage run it moves experiment locations
found under another project's ``mlartifacts/`` to this one's, and the artifact URIs of runs
and registered versions with them (a copy made without ``mlartifacts/`` keeps reading the
artifacts it finds only in the original).

:func:`quiet_mlflow` keeps MLflow's chatter out of the executed notebooks: no artifact
progress bars (frozen widgets in a saved notebook) and no INFO log lines; warnings stay.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from personalab.core.paths import STAGES, ProjectPaths, project_paths

#: MLflow 3's UI opens an experiment in its GenAI view unless told it holds model training runs
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
#: the columns of MLflow's SQLite schema that hold artifact URIs: (table, column)
ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


#: project stores :func:`configure_mlflow` pointed MLflow at; ``mlflow.set_tracking_uri`` copies
#: each into ``$MLFLOW_TRACKING_URI`` (for subprocesses), where it is not the user's choice
_set_here: set[str] = set()


def tracking_uri(paths: ProjectPaths) -> str:
    """``$MLFLOW_TRACKING_URI`` if the user set it, else the project's SQLite file."""
    chosen = os.environ.get("MLFLOW_TRACKING_URI")
    if chosen and chosen not in _set_here:
        return chosen
    return project_store_uri(paths)


def project_store_uri(paths: ProjectPaths) -> str:
    """The project's own (embedded) tracking store."""
    return f"sqlite:///{paths.mlflow_db}"


def quiet_mlflow() -> None:
    """No artifact progress bars and no INFO lines from MLflow (its warnings still show);
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` or ``MLFLOW_LOGGING_LEVEL`` set by the user win."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when MLflow (re)configures
    logging.getLogger("mlflow").setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())


def configure_mlflow(paths: ProjectPaths | None = None) -> str:
    """Point MLflow at the project's tracking store (quietly, :func:`quiet_mlflow`); return the
    URI."""
    import mlflow

    quiet_mlflow()
    paths = paths or project_paths()
    uri = tracking_uri(paths)
    if uri == project_store_uri(paths):
        _set_here.add(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def ensure_experiment(name: str, paths: ProjectPaths) -> str:
    """Return the id of experiment ``name``, creating it with artifacts under mlartifacts/
    (and tagged as model training, so the UI opens on its runs)."""
    import mlflow

    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        if not existing.tags.get("mlflow.experimentKind"):  # made before the tag was set
            _tag_kind(existing)
        return existing.experiment_id
    location = None
    if mlflow.get_tracking_uri() == project_store_uri(paths):  # the embedded default
        location = (paths.mlartifacts / name).as_uri()
    return mlflow.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)


def _tag_kind(experiment: Any) -> None:
    from mlflow.tracking import MlflowClient

    for key, value in EXPERIMENT_KIND.items():
        MlflowClient().set_experiment_tag(experiment.experiment_id, key, value)


def relocate_artifacts(paths: ProjectPaths) -> dict[str, int]:
    """Point the project's store at the project's own ``mlartifacts/`` after a copy or move;
    return how many URIs of each ``table.column`` were rewritten (empty: nothing to do).

    Only the embedded store (no ``MLFLOW_TRACKING_URI``) of an existing ``mlflow.db`` is
    touched. The old project is found from the location of a stage experiment
    (``file://<old>/mlartifacts/<stage>``). Experiment locations always move (new runs must
    land here); a run's or registered version's URI moves too, unless its files exist only at
    the old place (a copy made without ``mlartifacts/``: it keeps reading them there).
    """
    if tracking_uri(paths) != project_store_uri(paths) or not paths.mlflow_db.is_file():
        return {}
    here = paths.mlartifacts
    with closing(sqlite3.connect(paths.mlflow_db, timeout=60)) as db, db:
        olds = {old for old in _stage_artifact_roots(db) if old != here}
        changed: dict[str, int] = {}
        for table, column in ARTIFACT_COLUMNS:
            if not olds or not _has_column(db, table, column):
                continue
            rows = db.execute(f"SELECT rowid, {column} FROM {table}").fetchall()
            for rowid, uri in rows:
                moved = _moved_uri(uri, olds, here, keep_found=table != "experiments")
                if moved is not None:
                    db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (moved, rowid))
                    changed[f"{table}.{column}"] = changed.get(f"{table}.{column}", 0) + 1
    return changed


def _stage_artifact_roots(db: sqlite3.Connection) -> set[Path]:
    """The ``mlartifacts`` folders the stage experiments' locations are in."""
    if not _has_column(db, "experiments", "artifact_location"):
        return set()
    marks = ",".join("?" * len(STAGES))
    rows = db.execute(
        f"SELECT name, artifact_location FROM experiments WHERE name IN ({marks})",
        tuple(STAGES),
    ).fetchall()
    roots = set()
    for name, location in rows:
        path = _local_path(location)
        if path is not None and path.name == name and path.parent.name == "mlartifacts":
            roots.add(path.parent)
    return roots


def _moved_uri(uri: Any, olds: set[Path], here: Path, keep_found: bool) -> str | None:
    """``uri`` with its ``<old>/mlartifacts`` prefix replaced by ``here``; None when it is not
    under one of ``olds`` (or, with ``keep_found``, its files are there and not here)."""
    path = _local_path(uri)
    if path is None:
        return None
    for old in olds:
        if path == old or old in path.parents:
            new = here / path.relative_to(old)
            if keep_found and path.exists() and not new.exists():
                return None
            return new.as_uri() if str(uri).startswith("file:") else str(new)
    return None


def _local_path(uri: Any) -> Path | None:
    """The absolute local path of a ``file:`` URI or an absolute path; None for anything else."""
    if not isinstance(uri, str) or not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        path = Path(unquote(parsed.path))
    elif parsed.scheme:
        return None  # another scheme (models:/, runs:/, s3://, ...)
    else:
        path = Path(uri)
    return path if path.is_absolute() else None


def _has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))
