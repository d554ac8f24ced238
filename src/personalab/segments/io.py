"""Reading the stage's inputs and writing every output, also
when the stage skipped (every declared output, empty and marked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.core.status import StageStatus
from personalab.segments.build import SegmentsResult
from personalab.segments.history import changed_share_by_cutoff
from personalab.segments.params import ALGORITHMS, STAGE, SegmentsError


def load_inputs(paths: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The features table and, when the source had one, the ground truth (else None)."""
    path = upstream(paths.processed / "features.parquet", "features", SegmentsError)
    truth_path = paths.interim / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    return pd.read_parquet(path), (truth if truth is not None and len(truth) else None)


def describe_inputs(table: pd.DataFrame, truth: pd.DataFrame | None) -> str:
    """One line: the users at the latest cut-off (or why there are none) and the ground truth."""
    has_truth = "yes" if truth is not None else "no"
    if table.empty:
        why = table.attrs.get("skip_reason")
        return f"the features table has no rows{f' (features skipped: {why})' if why else ''}"
    latest = table["cutoff"].max()
    users = int((table["cutoff"] == latest).sum())
    return (
        f"{users:,} users at the latest cut-off {latest:%Y-%m-%d %H:%M} "
        f"({table['cutoff'].nunique()} cut-off(s)); ground truth: {has_truth}"
    )


#: the modules whose classes and functions the segmenter's pickle holds (``SampledClusterer``,
#: the ``log1p`` step's function): the model folder bundles the subpackages they import
#: (personalab.core.code), and dvc.yaml's segments stage depends on it
MODEL_MODULES = ("personalab.segments.model", "personalab.segments.preprocess")


def model_requirements() -> list[str]:
    """Exact pins of what the saved segmenter needs to load (the personalab code it runs ships in
    code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements(
        "scikit-learn", "scipy", "numpy", "pandas", "cloudpickle", "pydantic", "pyyaml"
    )


#: the columns of the stage's tables and plot data (a skipped stage writes them with no rows)
ASSIGNMENT_COLUMNS = {
    "user_id": "object",
    "cutoff": "datetime64[ns, UTC]",
    "segment_id": "int64",
    "segment": "object",
    "distance": "float64",
    "probability": "float64",
}
HISTORY_COLUMNS = ("user_id", "cutoff", "segment_id", "segment")
SWEEP_COLUMNS = (
    "k",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "stability_ari",
    "min_cluster_share",
)
#: the swept algorithms, each with its plot file in dvc.yaml (HDBSCAN finds its own k)
SWEPT = tuple(algorithm for algorithm in ALGORITHMS if algorithm != "hdbscan")
CHANGED_COLUMNS = ("cutoff", "users", "changed_share")
PROFILE_COLUMNS = ("segment_id", "segment", "users", "share")
CANDIDATE_COLUMNS = ("candidate", "algorithm", "k", "n_clusters", "min_cluster_share")


def save_segments(result: SegmentsResult, status: StageStatus, paths: Any) -> dict[str, Any]:
    """Write assignments, history, profiles, plot data, the model and metrics (with the stage's
    status) atomically."""
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    out = {
        "segments": write_parquet(result.assignments, paths.processed / "segments.parquet"),
        "history": write_parquet(
            result.history.assign(
                segment=result.history["segment_id"].map(result.names).astype("str")
            ),
            paths.processed / "segment_history.parquet",
        ),
        "profiles": write_csv(
            result.profiles.reset_index(), paths.reports / "segments" / "profiles.csv"
        ),
        "features": write_csv(
            result.feature_summary(), paths.reports / "segments" / "features.csv"
        ),
        # without timings, so the versioned file changes only when the results do
        "comparison": write_csv(
            result.comparison.drop(columns="seconds"), paths.reports / "segments" / "candidates.csv"
        ),
        "metrics": write_metrics({**result.metrics, **status.metrics()}, paths.metrics_file(STAGE)),
        "changed": write_csv(changed_share_by_cutoff(result.history), plots / "changed_share.csv"),
    }
    swept = result.comparison[result.comparison["k"].notna()]
    for algorithm in SWEPT:
        part = swept[swept["algorithm"] == algorithm]
        frame = part[list(SWEEP_COLUMNS)].astype({"k": int}) if len(part) else header(SWEEP_COLUMNS)
        out[f"sweep_{algorithm}"] = write_csv(frame, plots / f"sweep_{algorithm}.csv")
    paths.figures_dir(STAGE).mkdir(parents=True, exist_ok=True)
    out["model"] = save_model(result, paths.models / "segmenter")
    return out


def save_model(result: SegmentsResult, model_dir: Path) -> Path:
    """The preprocessing + clustering pipeline as an MLflow model, with the input columns in
    order and the segment names in its metadata; the same pipeline gives the same bytes
    (:func:`~personalab.core.storage.pin_model_metadata`).

    Cloudpickle, not MLflow's default skops: a skops file is a zip whose entries carry the time
    of the save and names made of memory addresses (never the same bytes twice), and it would
    have to be told to trust each personalab class. MLflow's warning about loading pickles,
    logged on every save of one, is kept out of the notebook: this model is the project's own.

    The folder's ``code/personalab`` holds the subpackages :data:`MODEL_MODULES` import only;
    a pipeline whose pickle refers to a personalab module outside it is refused (add the
    module there, and its files to the stage's dvc.yaml deps).
    """
    import logging

    import cloudpickle
    import mlflow.sklearn

    from personalab.core.code import bundle_files, bundled_package, module_name, pickled_modules
    from personalab.core.storage import atomic_dir, pin_model_metadata

    bundled = {module_name(path) for path in bundle_files(MODEL_MODULES)}
    outside = pickled_modules(cloudpickle.dumps(result.pipeline)) - bundled
    if outside:
        raise SegmentsError(
            f"the segmenter pipeline refers to personalab module(s) {sorted(outside)} that its "
            f"model folder would not bundle: add them to {__name__}.MODEL_MODULES"
        )
    logger = logging.getLogger("mlflow.sklearn")
    level = logger.level
    logger.setLevel(logging.ERROR)
    with bundled_package(MODEL_MODULES) as code, atomic_dir(model_dir) as tmp:
        try:
            mlflow.sklearn.save_model(
                result.pipeline,
                str(tmp),
                serialization_format="cloudpickle",
                # the model unpickles personalab classes: ship the code they run
                code_paths=[str(code)],
                pip_requirements=model_requirements(),
                # what a caller needs to use it: the input columns in order, and the segment names
                metadata={
                    "features": result.features,
                    "segment_names": {str(key): name for key, name in result.names.items()},
                },
            )
        finally:
            logger.setLevel(level)
        pin_model_metadata(tmp)
    return model_dir


def save_skipped(status: StageStatus, paths: Any) -> dict[str, Path]:
    """Every declared output of a skipped stage, empty and marked: the tables with no rows and
    their columns, the plot data with its header, ``models/segmenter/SKIPPED.json``, the report
    and figure folders, and the metrics with the status and the reason."""
    from personalab.core.status import write_skip_marker
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    assignments = pd.DataFrame(
        {name: pd.Series(dtype=dtype) for name, dtype in ASSIGNMENT_COLUMNS.items()}
    )
    out = {
        "segments": write_parquet(assignments, paths.processed / "segments.parquet"),
        "history": write_parquet(
            assignments[list(HISTORY_COLUMNS)], paths.processed / "segment_history.parquet"
        ),
        "profiles": write_csv(header(PROFILE_COLUMNS), paths.reports / "segments" / "profiles.csv"),
        "comparison": write_csv(
            header(CANDIDATE_COLUMNS), paths.reports / "segments" / "candidates.csv"
        ),
        "changed": write_csv(header(CHANGED_COLUMNS), plots / "changed_share.csv"),
        **{
            f"sweep_{algorithm}": write_csv(header(SWEEP_COLUMNS), plots / f"sweep_{algorithm}.csv")
            for algorithm in SWEPT
        },
        "model": write_skip_marker(paths.models / "segmenter", status).parent,
        "metrics": write_metrics(status.metrics(), paths.metrics_file(STAGE)),
    }
    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()  # figures of an earlier run would describe segments that are gone
    return out


def header(columns: tuple[str, ...]) -> pd.DataFrame:
    """A table with these columns and no rows (a CSV of its header line)."""
    return pd.DataFrame(columns=list(columns))
