"""``reports/summary.md``: the champions, their metrics, the git and data versions and MLflow
runs they came from, and each stage's time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.export.champions import Champion


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _champion_section(champion: Champion, keys: Sequence[str]) -> list[str]:
    metrics = {k: champion.metrics[k] for k in keys if k in champion.metrics}
    commit = champion.tags.get("git_commit", "unknown")
    dirty = " (with uncommitted changes)" if champion.tags.get("git_dirty") == "true" else ""
    lines = [
        f"### {champion.name} v{champion.version} (alias `{champion.alias}`)",
        "",
        f"- MLflow run: `{champion.run_id}` ({champion.tags.get('mlflow.runName', '')}), "
        f"registered {champion.created}",
        f"- git commit: `{commit}`{dirty}",
        f"- data lineage: {champion.lineage}",
    ]
    if champion.primary_metric:
        value = champion.version_tags.get(champion.primary_metric, "")
        lines.append(f"- primary metric: `{champion.primary_metric}` = {value}")
    if decision := champion.version_tags.get("decision"):
        lines.append(f"- registry decision: {decision}")
    for name, digest in champion.data_versions.items():
        lines.append(f"- data: `{name}` md5 `{digest}`")
    if metrics:
        frame = pd.DataFrame(
            {"metric": list(metrics), "value": [f"{v:.4g}" for v in metrics.values()]}
        )
        lines += ["", _table(frame)]
    return [*lines, ""]


INTENT_KEYS = (
    "test_roc_auc", "test_pr_auc", "test_logloss", "test_brier", "test_ece", "test_f1",
    "test_precision", "test_recall", "threshold", "oracle_roc_auc",
)  # fmt: skip
RECOMMENDER_KEYS = (
    "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10", "coverage",
    "novelty", "rmse", "mae", "popularity_ndcg_at_10", "fallback_share",
)  # fmt: skip


def summary_markdown(
    intent: Champion,
    recommender: Champion,
    exported: Mapping[str, Path],
    times: pd.DataFrame,
    metrics: Mapping[str, Any],
    root: Path,
    algorithm: str = "",
) -> str:
    """``reports/summary.md``: what is served, where it came from, and how long the pipeline took."""
    served = pd.DataFrame(
        {
            "folder": [f"`{Path(p).relative_to(root).as_posix()}`" for p in exported.values()],
            "serves": [
                f"{intent.name} v{intent.version}",
                f"{recommender.name} v{recommender.version}",
                f"intent v{intent.version} + recommender v{recommender.version} + segmenter",
            ],
            "check": [
                f"max abs diff {metrics['intent_parity']:.2g} vs the registry model",
                f"max abs diff {metrics['recommender_parity']:.2g} vs the registry model",
                f"max abs diff {metrics['personalise_parity']:.2g} vs the rule in memory",
            ],
        }
    )
    total = float(times["seconds"].sum()) if len(times) else 0.0
    times = times.assign(run_id=[f"`{r}`" for r in times["run_id"]])
    lines = [
        "# personalab: the served models",
        "",
        f"Written by the `export` stage on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. "
        "Serve one with `make serve MODEL=<name>` (see the README).",
        "",
        "## Exported models",
        "",
        _table(served),
        "",
        f"High-intent threshold of `personalise`: {metrics['high_intent_threshold']:.4f} "
        f"(trending window {metrics['trending_window_days']:g} days).",
        "",
        "## Champions",
        "",
        *_champion_section(intent, INTENT_KEYS),
        *_champion_section(recommender, RECOMMENDER_KEYS),
        "## Pipeline stages (latest notebook run of each, timed by papermill)",
        "",
        _table(times),
        "",
        f"Total: {total:.0f} s of notebook execution (each stage adds a few seconds to start "
        "its kernel and attach the executed notebook to its MLflow run).",
        "",
    ]
    if algorithm:
        at = lines.index("## Champions") + 2
        lines[at:at] = [f"The recommender champion is {algorithm}.", ""]
    return "\n".join(lines)
