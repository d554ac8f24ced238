"""The comparison on the test users: every algorithm and baseline side by side, and the champion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.evaluate import cross_validate_rating, evaluate_ranking
from personalab.recommend.holdout import Holdout
from personalab.recommend.params import BASELINES, RecommendParams
from personalab.recommend.tuning import TuningResult


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per algorithm and baseline
    champion: str
    metrics: dict[str, Any]


def compare(
    ratings: pd.DataFrame, holdout: Holdout, tuning: TuningResult, params: RecommendParams
) -> Comparison:
    """Every algorithm (with its chosen options) and baseline, fitted on the training part and
    ranked for the test users; Surprise's algorithms also cross-validated for RMSE and MAE.

    The champion is the Surprise algorithm with the best selection metric on
    *validation* (so the test figures stay unbiased), not the lowest RMSE.
    """
    metric = params.selection_metric
    rows = []
    for name in (*params.algorithms, *BASELINES):
        options = tuning.best_options[name]
        fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
        row = {
            "model": name,
            "kind": "baseline" if name in BASELINES else "surprise",
            f"validation_{metric}": tuning.validation[name],
            **evaluate_ranking(fitted, holdout, params.k),
            "fit_seconds": fitted.fit_seconds,
        }
        if name not in BASELINES:
            row.update(cross_validate_rating(name, options, ratings, params, holdout.explicit))
        row["options"] = json.dumps(options, sort_keys=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    surprise_rows = table[table["kind"] == "surprise"]
    champion = str(surprise_rows.loc[surprise_rows[f"validation_{metric}"].idxmax(), "model"])
    table.insert(2, "champion", table["model"] == champion)
    return Comparison(table, champion, comparison_metrics(table, champion, params))


def comparison_metrics(
    table: pd.DataFrame, champion: str, params: RecommendParams
) -> dict[str, Any]:
    """``<Algo>_rmse``, ``<Algo>_mae``, ``<Algo>_<metric>`` per algorithm; the champion's figures;
    ``popularity_<metric>`` and ``random_<metric>`` for the baselines (metric = ndcg at k)."""
    ndcg = f"ndcg_at_{params.k}"
    rows = table.set_index("model")
    out: dict[str, Any] = {}
    for name, row in rows.iterrows():
        if row["kind"] == "surprise":
            out[f"{name}_rmse"] = float(row["rmse"])
            out[f"{name}_mae"] = float(row["mae"])
        out[f"{name}_{ndcg}"] = float(row[ndcg])
    best = rows.loc[champion]
    out["algorithm"] = champion
    for key in ("rmse", "mae", *params.ranking_keys(), "coverage", "novelty"):
        out[key] = float(best[key])
    out["selection_metric"] = params.selection_metric
    return out
