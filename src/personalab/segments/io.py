"""Reading the stage's inputs, logging candidates to MLflow and writing every output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.segments.build import SegmentsResult
from personalab.segments.history import changed_share_by_cutoff
from personalab.segments.params import STAGE, SegmentsError


def load_inputs(paths: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The features table and, when the source had one, the ground truth (else None)."""
    path = upstream(paths.processed / "features.parquet", "features", SegmentsError)
    truth_path = paths.interim / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    return pd.read_parquet(path), (truth if truth is not None and len(truth) else None)


def log_candidate_runs(comparison: pd.DataFrame) -> list[str]:
    """One nested MLflow run per candidate with its parameters and scores."""
    from personalab.core.tracking import log_child_run

    ids = []
    for row in comparison.to_dict("records"):
        params = {"algorithm": row["algorithm"], "k": row["k"] if pd.notna(row["k"]) else "auto"}
        metrics = {
            k: v for k, v in row.items() if k not in ("candidate", "algorithm", "k") and pd.notna(v)
        }
        ids.append(log_child_run(row["candidate"], params, metrics))
    return ids


def model_requirements() -> list[str]:
    """Exact pins of what the saved segmenter needs to load (personalab itself ships in code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements(
        "scikit-learn", "scipy", "numpy", "pandas", "cloudpickle", "pydantic", "pyyaml"
    )


def save_segments(result: SegmentsResult, paths: Any) -> dict[str, Any]:
    """Write assignments, history, profiles, plot data, the model and metrics atomically."""
    import mlflow.sklearn

    from personalab.core.storage import atomic_dir, write_csv, write_metrics, write_parquet

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
        # without timings, so the versioned file changes only when the results do
        "comparison": write_csv(
            result.comparison.drop(columns="seconds"), paths.reports / "segments" / "candidates.csv"
        ),
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "changed": write_csv(changed_share_by_cutoff(result.history), plots / "changed_share.csv"),
    }
    for algorithm, part in result.comparison[result.comparison["k"].notna()].groupby("algorithm"):
        columns = [
            "k",
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "stability_ari",
            "min_cluster_share",
        ]
        out[f"sweep_{algorithm}"] = write_csv(
            part[columns].astype({"k": int}), plots / f"sweep_{algorithm}.csv"
        )
    model_dir = paths.models / "segmenter"
    with atomic_dir(model_dir) as tmp:
        mlflow.sklearn.save_model(
            result.pipeline,
            str(tmp),
            serialization_format="cloudpickle",
            # the model unpickles personalab classes: ship the whole personalab package
            code_paths=[str(Path(__file__).parents[1])],
            pip_requirements=model_requirements(),
            # what a caller needs to use it: the input columns in order, and the segment names
            metadata={
                "features": result.features,
                "segment_names": {str(key): name for key, name in result.names.items()},
            },
        )
    out["model"] = model_dir
    return out
