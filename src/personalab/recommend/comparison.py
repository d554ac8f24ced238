"""The comparison on the test users: every algorithm and baseline side by side, and the champion."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalab.core.status import StageStatus
from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.arrays import POPULARITY
from personalab.recommend.evaluate import (
    cross_validate_rating,
    cross_validation_gap,
    evaluate_ranking,
)
from personalab.recommend.holdout import Holdout
from personalab.recommend.params import BASELINES, RecommendParams
from personalab.recommend.tuning import TuningResult

#: the candidate served when no collaborative filter is learned (see :func:`choose_champion`)
FALLBACK_CHAMPION = POPULARITY
SERVED_POPULARITY = (
    "the served recommender is popularity: the most popular items for everyone, each user's "
    "seen items excluded (registered with algorithm `popularity`)"
)


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per algorithm and baseline
    champion: str
    metrics: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)  # the champion's options


def compare(
    ratings: pd.DataFrame,
    holdout: Holdout | None,
    tuning: TuningResult,
    params: RecommendParams,
    status: StageStatus | None = None,
) -> Comparison:
    """Every algorithm tuning kept (with its chosen options) and both baselines, fitted on the
    training part and ranked for the test users; Surprise's algorithms also cross-validated for
    RMSE and MAE (left out, noted in ``status``, when the pairs cannot make the folds).

    The champion is the Surprise algorithm with the best selection metric on *validation*
    (so the test figures stay unbiased), not the lowest RMSE; popularity when none was
    learned (:func:`choose_champion`). Without a ``holdout`` the table is empty.
    """
    metric = params.selection_metric
    rows = []
    names = [*tuning.best_options] if holdout is not None else []
    names += [name for name in BASELINES if holdout is not None and name not in names]
    cv_gap = cross_validation_gap(ratings, params, holdout.explicit) if holdout else None
    if cv_gap is not None and status is not None and set(names) - set(BASELINES):
        status.leave_out("cross-validation (RMSE, MAE)", cv_gap)
    for name in names:
        options = tuning.best_options.get(name, {})
        fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
        row = {
            "model": name,
            "kind": "baseline" if name in BASELINES else "surprise",
            f"validation_{metric}": tuning.validation.get(name, float("nan")),
            **evaluate_ranking(fitted, holdout, params.k),
            "fit_seconds": fitted.fit_seconds,
        }
        if name not in BASELINES and (cv_gap is None or status is None):
            row.update(cross_validate_rating(name, options, ratings, params, holdout.explicit))
        row["options"] = json.dumps(options, sort_keys=True)
        rows.append(row)
    table = pd.DataFrame(rows) if rows else empty_table(params)
    champion = choose_champion(table, metric)
    if champion == FALLBACK_CHAMPION and status is not None:
        status.adapted(SERVED_POPULARITY)
    table.insert(2, "champion", table["model"] == champion)
    options = tuning.best_options.get(champion, {})
    return Comparison(table, champion, comparison_metrics(table, champion, params), options)


def choose_champion(table: pd.DataFrame, metric: str) -> str:
    """The learned (Surprise) algorithm with the best ``validation_<metric>``; popularity when
    the table has none (no collaborative filter could be learned on this log)."""
    learned = table[(table["kind"] == "surprise") & table[f"validation_{metric}"].notna()]
    if learned.empty:
        return FALLBACK_CHAMPION
    return str(learned.loc[learned[f"validation_{metric}"].idxmax(), "model"])


def empty_table(params: RecommendParams) -> pd.DataFrame:
    """The comparison's columns without rows (nothing could be held out to compare on)."""
    metric = params.selection_metric
    columns = ["model", "kind", f"validation_{metric}", *params.ranking_keys()]
    columns += ["coverage", "novelty", "predict_seconds", "fit_seconds", "options"]
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def comparison_metrics(
    table: pd.DataFrame, champion: str, params: RecommendParams
) -> dict[str, Any]:
    """``<Algo>_rmse``, ``<Algo>_mae``, ``<Algo>_<metric>`` per algorithm; the champion's figures;
    ``popularity_<metric>`` and ``random_<metric>`` for the baselines (metric = ndcg at k).
    Figures that could not be computed (no test split, no cross-validation) are NaN."""
    ndcg = f"ndcg_at_{params.k}"
    rows = table.set_index("model")
    out: dict[str, Any] = {}
    for name, row in rows.iterrows():
        if row["kind"] == "surprise":
            out[f"{name}_rmse"] = _figure(row, "rmse")
            out[f"{name}_mae"] = _figure(row, "mae")
        out[f"{name}_{ndcg}"] = float(row[ndcg])
    for name in BASELINES:
        out.setdefault(f"{name}_{ndcg}", float("nan"))
    best = rows.loc[champion] if champion in rows.index else pd.Series(dtype=float)
    out["algorithm"] = champion
    for key in ("rmse", "mae", *params.ranking_keys(), "coverage", "novelty"):
        out[key] = _figure(best, key)
    out["selection_metric"] = params.selection_metric
    return out


def champion_summary(comparison: Comparison, params: RecommendParams) -> str:
    """One line: the champion's test NDCG against the baselines' (or why there is none)."""
    best, ndcg = comparison.metrics, f"ndcg_at_{params.k}"
    if comparison.table.empty:
        return f"champion {comparison.champion}: not evaluated (no test split)"
    return (
        f"champion {comparison.champion}: test {ndcg} {best[ndcg]:.4f} against popularity's "
        f"{best[f'popularity_{ndcg}']:.4f} and random's {best[f'random_{ndcg}']:.4f}"
    )


def _figure(row: pd.Series, key: str) -> float:
    value = row.get(key, float("nan"))
    return float("nan") if value is None or pd.isna(value) else float(value)
