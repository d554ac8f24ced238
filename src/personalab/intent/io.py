"""Every file the stage reads or writes: the input table, the study's storage, the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.intent.evaluate import HoldoutEvaluation
from personalab.intent.final import FinalModel
from personalab.intent.params import STAGE, IntentError, IntentParams
from personalab.intent.pyfunc import save_serving_model
from personalab.intent.split import IntentData
from personalab.intent.tune import TuningResult


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


def features_horizon(paths: Any) -> float:
    """The label horizon of the features stage (params/features.yaml)."""
    from personalab.features.params import FeaturesParams

    return FeaturesParams.from_yaml(paths.params_file("features")).horizon_days


def load_inputs(
    paths: Any, params: IntentParams
) -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
    """The table to model, the generator's truth when it applies (else None), the embargo in days."""
    if params.table_path is not None:
        path = Path(params.table_path)
        table = read_table(path if path.is_absolute() else paths.root / path)
        return table, None, params.split.embargo_days or 0.0
    path = upstream(paths.processed / "features.parquet", "features", IntentError)
    horizon = features_horizon(paths)
    truth_path = paths.interim / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    embargo = params.split.embargo_days if params.split.embargo_days is not None else horizon
    return pd.read_parquet(path), (truth if truth is not None and len(truth) else None), embargo


def save_intent(
    final: FinalModel,
    evaluation: HoldoutEvaluation,
    tuning: TuningResult,
    importance: pd.DataFrame,
    shap_importance: pd.DataFrame,
    data: IntentData,
    paths: Any,
) -> dict[str, Path]:
    """Write the serving model, metrics and plot data (atomically)."""
    from personalab.core.storage import write_csv, write_metrics

    plots = paths.plots_dir(STAGE)
    curves = evaluation.curves
    out = {
        "model": save_serving_model(
            final.model, data.raw.iloc[data.split.test[:5]], paths.candidates / STAGE
        ),
        "metrics": write_metrics(evaluation.metrics, paths.metrics_file(STAGE)),
        "roc": write_csv(curves["roc"], plots / "roc.csv"),
        "pr": write_csv(curves["pr"], plots / "precision_recall.csv"),
        "calibration": write_csv(curves["calibration"], plots / "calibration.csv"),
        "gains": write_csv(curves["gains"], plots / "gains.csv"),
        "history": write_csv(
            tuning.trials[["number", "state", "value"]].assign(
                best=_best_so_far(tuning.trials, tuning.study.direction.name == "MINIMIZE")
            ),
            plots / "optimisation_history.csv",
        ),
        "param_importance": write_csv(importance, plots / "param_importance.csv"),
        "shap": write_csv(shap_importance, plots / "shap_importance.csv"),
        "comparison": write_csv(evaluation.comparison, paths.reports / STAGE / "comparison.csv"),
    }
    return out


def _best_so_far(trials: pd.DataFrame, minimize: bool) -> pd.Series:
    values = trials["value"].where(trials["state"] == "COMPLETE")
    return (values.cummin() if minimize else values.cummax()).ffill()
