"""Where everything lives. Every path the library reads or writes comes from here.

The project root is found from ``$PERSONALAB_ROOT`` or by walking up from the
current directory to the first folder holding ``dvc.yaml`` and ``params/``, so a
copy of the project (a DVC experiment's temp workspace, a test's tmp dir) uses
its own files even though the package is installed from elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from personalab.core.errors import InputError

#: stage name -> notebook stem; the order is the pipeline's.
STAGES: dict[str, str] = {
    "ingest": "01_ingest",
    "features": "02_features",
    "segments": "03_segments",
    "intent": "04_intent",
    "recommend": "05_recommend",
    "monitor": "06_monitor",
    "experiment": "07_experiment",
    "export": "08_export",
}


class ProjectNotFoundError(InputError, RuntimeError):
    """Raised when no personalab project root can be found."""


def find_project_root(start: Path | str | None = None) -> Path:
    """Return the project root: ``$PERSONALAB_ROOT``, else the nearest parent with dvc.yaml and params/."""
    env = os.environ.get("PERSONALAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").is_file() and (candidate / "params").is_dir():
            return candidate
    raise ProjectNotFoundError(
        f"no personalab project found at or above {here}: expected a folder with dvc.yaml "
        "and params/ (run from the project, or set PERSONALAB_ROOT)"
    )


@dataclass(frozen=True)
class ProjectPaths:
    """The project's layout, rooted at ``root``."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def interim(self) -> Path:
        return self.data / "interim"

    @property
    def processed(self) -> Path:
        return self.data / "processed"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def candidates(self) -> Path:
        """Each training stage's newest model (registered; the export stage serves the champions)."""
        return self.models / "candidates"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def executed(self) -> Path:
        return self.reports / "executed"

    @property
    def runs(self) -> Path:
        """Pointers from a stage to its latest MLflow run (not versioned)."""
        return self.reports / "runs"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def tracking_root(self) -> Path:
        """Where mlflow.db lives: the project, also when DVC runs a queued experiment in a
        temporary copy of it (``<project>/.dvc/tmp/exps/<tmp>/``), so those runs and
        registered versions land in the project's own store, not one deleted afterwards."""
        parts = self.root.parts
        for i in range(len(parts) - 2):
            if parts[i : i + 3] == (".dvc", "tmp", "exps"):
                return Path(*parts[:i])
        return self.root

    @property
    def mlflow_db(self) -> Path:
        return self.tracking_root / "mlflow.db"

    @property
    def mlartifacts(self) -> Path:
        return self.tracking_root / "mlartifacts"

    def params_file(self, stage: str) -> Path:
        return self.root / "params" / f"{_check_stage(stage)}.yaml"

    def notebook(self, stage: str) -> Path:
        return self.notebooks / f"{STAGES[_check_stage(stage)]}.ipynb"

    def executed_notebook(self, stage: str) -> Path:
        return self.executed / f"{STAGES[_check_stage(stage)]}.ipynb"

    def metrics_file(self, stage: str) -> Path:
        return self.reports / "metrics" / f"{_check_stage(stage)}.json"

    def plots_dir(self, stage: str) -> Path:
        return self.reports / "plots" / _check_stage(stage)

    def figures_dir(self, stage: str) -> Path:
        return self.reports / "figures" / _check_stage(stage)


def upstream(path: Path, stage: str, error: type[InputError] = InputError) -> Path:
    """``path``, which ``stage`` writes; when it is missing, ``error`` names it and the stage."""
    if not path.exists():
        raise error(f"{path}: not found; run the {stage} stage first (dvc repro {stage})")
    return path


def _check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; known stages: {', '.join(STAGES)}")
    return stage


def project_paths(root: Path | str | None = None) -> ProjectPaths:
    """The layout of the project at ``root`` (found from the working directory when omitted)."""
    return ProjectPaths(Path(root).resolve() if root else find_project_root())
