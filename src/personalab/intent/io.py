"""Every file the stage reads or writes: the input table, the study's storage, the outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.core.profile import LogProfile, ProfileError, load_profile
from personalab.intent.evaluate import HoldoutEvaluation
from personalab.intent.final import FinalModel
from personalab.intent.params import STAGE, IntentError, IntentParams
from personalab.intent.pyfunc import save_serving_model
from personalab.intent.split import IntentData
from personalab.intent.target import DEFAULT_EVENT, Target, resolve_target
from personalab.intent.tune import TuningResult

if TYPE_CHECKING:
    from personalab.core.status import StageStatus


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet feature table."""
    path = Path(path)
    if not path.is_file():
        raise IntentError(f"{path}: feature table not found")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, low_memory=False)
        return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise IntentError(f"{path}: cannot read the table: {err}") from None


def study_storage(params: IntentParams, paths: Any) -> Any:
    """The study's storage: ``tuning.storage``, else the project's ``studies/intent.journal``."""
    return open_storage(params.tuning.storage, paths.root / "studies" / f"{STAGE}.journal")


def open_storage(url: str | None, default_path: Path) -> Any:
    """An Optuna storage: the journal file ``default_path``, a journal URL/file, or an RDB URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if url is None or url.startswith("journal://") or url.endswith((".journal", ".log")):
        path = Path(url.removeprefix("journal://")) if url else default_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.storages.RDBStorage(url)


def features_horizon(paths: Any) -> float | None:
    """The label horizon set in the features stage's params (params/features.yaml), for a
    features table without attrs (None when it is fitted to the log: ``auto``)."""
    from personalab.features.params import FeaturesParams

    horizon = FeaturesParams.from_yaml(paths.params_file("features")).horizon_days
    return float(horizon) if isinstance(horizon, int | float) else None  # not "auto"


@dataclass
class IntentInputs:
    """What the stage reads: the table, its target, the split's embargo, the log's profile and
    (synthetic log, purchase target) the generator's truth."""

    table: pd.DataFrame
    target: Target
    embargo_days: float
    source: Path
    truth: pd.DataFrame | None = None
    profile: LogProfile | None = None

    def describe(self) -> str:
        """Rows, columns, source and what is predicted, on one line."""
        rows, columns = self.table.shape
        return f"{rows:,} rows x {columns} columns from {self.source}; {self.target.describe()}"


def load_inputs(paths: Any, params: IntentParams) -> IntentInputs:
    """The table to model (``table_path``, else the features stage's), its target (see
    :func:`~personalab.intent.target.resolve_target`) and the embargo between the parts of a
    temporal split (``split.embargo_days``, else the horizon of the label)."""
    if params.table_path is not None:
        path = Path(params.table_path)
        path = path if path.is_absolute() else paths.root / path
        table = read_table(path)
        target = resolve_target(table, params)
        embargo = _embargo(params, table.attrs.get("horizon_days"))
        return IntentInputs(table, target, embargo, path)
    path = upstream(paths.processed / "features.parquet", "features", IntentError)
    table = pd.read_parquet(path)
    horizon = table.attrs.get("horizon_days")
    horizon = float(horizon) if horizon is not None else features_horizon(paths)
    target = resolve_target(table, params, horizon)
    truth_path = paths.interim / "truth.parquet"
    truth = None
    if target.target_event == DEFAULT_EVENT and truth_path.is_file():
        truth = pd.read_parquet(truth_path)  # the generator's purchase probabilities
    return IntentInputs(
        table,
        target,
        _embargo(params, horizon),
        path,
        truth=truth if truth is not None and len(truth) else None,
        profile=_profile(paths),
    )


def _embargo(params: IntentParams, horizon_days: float | None) -> float:
    if params.split.embargo_days is not None:
        return params.split.embargo_days
    return float(horizon_days or 0.0)


def _profile(paths: Any) -> LogProfile | None:
    """The log's profile (data/interim/profile.json), None when ingest wrote none."""
    try:
        return load_profile(paths)
    except ProfileError:
        return None


#: each plot file of the stage and its columns (a skipped stage writes the header only)
PLOT_FILES = {
    "roc": ("roc.csv", ["fpr", "tpr"]),
    "pr": ("precision_recall.csv", ["recall", "precision"]),
    "calibration": ("calibration.csv", ["bin", "rows", "mean_predicted", "positive_rate"]),
    "gains": ("gains.csv", ["top_share", "gain", "lift"]),
    "history": ("optimisation_history.csv", ["algorithm", "trial", "state", "value", "best"]),
    "param_importance": ("param_importance.csv", ["parameter", "importance"]),
    "shap": ("shap_importance.csv", ["feature", "mean_abs_shap"]),
}
#: features in the SHAP plot data: the largest mean |SHAP| (a bar chart stays readable)
TOP_FEATURES = 15
COMPARISON_COLUMNS = ["model", "served", "roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision",
                      "recall", "ece", "lift_at_top", "gains_at_top"]  # fmt: skip


def save_intent(
    final: FinalModel,
    evaluation: HoldoutEvaluation,
    tuning: TuningResult,
    importance: pd.DataFrame,
    shap_importance: pd.DataFrame,
    data: IntentData,
    paths: Any,
    status: StageStatus | None = None,
) -> dict[str, Path]:
    """Write the serving model, metrics (with the stage's ``status`` and notes) and plot data
    (atomically; the :data:`TOP_FEATURES` features with the largest mean |SHAP|)."""
    from personalab.core.storage import write_csv, write_metrics

    plots = paths.plots_dir(STAGE)
    history = tuning.trials[["number", "state", "value"]].assign(
        algorithm="xgboost",
        trial=tuning.trials["number"],
        best=_best_so_far(tuning.trials, tuning.study.direction.name == "MINIMIZE"),
    )
    frames = evaluation.curves | {
        "history": history,
        "param_importance": importance,
        "shap": shap_importance.sort_values("mean_abs_shap", ascending=False, kind="stable").head(
            TOP_FEATURES
        ),
    }
    metrics = evaluation.metrics | (status.metrics() if status is not None else {})
    out = {
        "model": save_serving_model(
            final.model, data.raw.iloc[data.split.test[:5]], paths.candidates / STAGE
        ),
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
    }
    for name, (file, columns) in PLOT_FILES.items():
        out[name] = write_csv(frames[name].reindex(columns=columns), plots / file)
    out["comparison"] = write_csv(evaluation.comparison, paths.reports / STAGE / "comparison.csv")
    return out


def save_skipped(status: StageStatus, paths: Any, target: Target | None = None) -> dict[str, Path]:
    """The declared outputs of a skipped stage, empty and marked: the model folder with
    SKIPPED.json, an empty figures folder, every plot file and the comparison with their
    header only, and the metrics (the target, ``status``, ``skip_reason``, ``notes``)."""
    from personalab.core.status import write_skip_marker
    from personalab.core.storage import write_csv, write_metrics

    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    out = {"model": write_skip_marker(paths.candidates / STAGE, status)}
    metrics = (target.metrics() if target is not None else {}) | status.metrics()
    out["metrics"] = write_metrics(metrics, paths.metrics_file(STAGE))
    for name, (file, columns) in PLOT_FILES.items():
        out[name] = write_csv(pd.DataFrame(columns=columns), paths.plots_dir(STAGE) / file)
    comparison = pd.DataFrame(columns=COMPARISON_COLUMNS)
    out["comparison"] = write_csv(comparison, paths.reports / STAGE / "comparison.csv")
    out["figures"] = figures
    return out


def _best_so_far(trials: pd.DataFrame, minimize: bool) -> pd.Series:
    values = trials["value"].where(trials["state"] == "COMPLETE")
    return (values.cummin() if minimize else values.cummax()).ffill()
