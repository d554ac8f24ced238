"""What the stage records in MLflow besides its own run: one nested run per tuning trial with
the champion's marked, and the registered recommender with the champion rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from personalab.core.params import flatten
from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.evaluate import evaluate_ranking
from personalab.recommend.holdout import Holdout
from personalab.recommend.params import RecommendError, RecommendParams
from personalab.recommend.served import load_recommender

if TYPE_CHECKING:
    from personalab.core.registry import Lineage
    from personalab.recommend.comparison import Comparison
    from personalab.recommend.tuning import TuningResult


def log_trial_runs(
    tuning: TuningResult, comparison: Comparison, params: RecommendParams
) -> list[str]:
    """One nested MLflow run per tuning trial (and per algorithm evaluated once on validation),
    from its start to its end, and the stage's choice: ``chosen.algorithm`` (the champion) with
    its ``chosen.trial`` and ``chosen.options`` on the stage run, the champion's trial run
    tagged ``chosen=true``. Returns the nested runs' ids."""
    from personalab.core.nested_runs import log_child_run, log_choice

    metric, champion = params.selection_metric, comparison.champion
    best = tuning.best_trials.get(champion)
    ids, chosen = [], None
    for row in tuning.trials.itertuples(index=False):
        options = json.loads(row.options)
        label = f"{row.algorithm} trial {row.number}" if row.tuned else f"{row.algorithm} (fixed)"
        metrics = {} if pd.isna(row.value) else {f"validation_{metric}": float(row.value)}
        metrics["seconds"] = float(row.seconds)
        run_id = log_child_run(
            label,
            {"algorithm": row.algorithm, "state": row.state, **flatten(options)},
            metrics,
            tags={"algorithm": row.algorithm, "trial": row.number},
            started=None if pd.isna(row.started) else float(row.started),
            ended=None if pd.isna(row.ended) else float(row.ended),
            status="FAILED" if row.state == "FAIL" else "FINISHED",
        )
        ids.append(run_id)
        if row.algorithm == champion and row.number == best:
            chosen = run_id
    choice: dict[str, Any] = {"algorithm": champion}
    if best is not None:
        choice |= {"trial": best, "options": comparison.options}
    log_choice(choice, chosen)
    return ids


def register_and_decide(
    folder: Path | str,
    holdout: Holdout | None,
    value: float,
    params: RecommendParams,
    lineage: Lineage | None = None,
) -> Any:
    """Register the saved recommender (tagged with its ``algorithm``, ``popularity`` for the
    popularity recommender); ``champion`` moves to it only if it beats the current
    champion's recipe (algorithm and options) refitted on this training part and ranked for
    these test users (a served model has seen every interaction, so it cannot be re-scored).
    The champion is that of the data lineage (default: the project's, :func:`current_lineage`):
    one trained on other users is neither refitted here nor blocks this version. Without a
    ``holdout`` (nothing could be held out; ``value`` is NaN) the first version of a lineage
    is its champion and later ones are challengers."""
    import mlflow

    from personalab.core.registry import current_lineage, promote_if_better, register_model

    lineage = lineage or current_lineage()

    def score_champion(uri: str) -> float:
        if holdout is None:
            raise RecommendError("no pair of this log could be held out to compare on")
        champion = mlflow.pyfunc.load_model(uri).unwrap_python_model().recommender.config
        fitted = fit_candidate(
            champion["algorithm"], champion["options"], holdout.train, params, holdout.explicit
        )
        return evaluate_ranking(fitted, holdout, params.k)[params.selection_metric]

    client, version = register_model(folder, params.registry.model_name)
    algorithm = load_recommender(folder).config["algorithm"]  # `popularity`: popularity only
    client.set_model_version_tag(params.registry.model_name, version, "algorithm", algorithm)
    mlflow.set_tag("algorithm", algorithm)
    decision = promote_if_better(
        client,
        params.registry.model_name,
        version,
        params.selection_metric,
        value,
        score_champion,
        lineage=lineage,
    )
    mlflow.set_tags(decision.as_tags())
    return decision
