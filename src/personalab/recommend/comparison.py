"""The comparison on the test users: every algorithm and baseline side by side, and the champion."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus
from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.arrays import POPULARITY
from personalab.recommend.evaluate import (
    cross_validate_rating,
    cross_validation_gap,
    evaluate_users,
)
from personalab.recommend.holdout import Holdout
from personalab.recommend.params import BASELINES, RecommendParams, class_of, family_of_class
from personalab.recommend.tuning import TuningResult

#: the candidate served when no collaborative filter is learned (see :func:`choose_champion`)
FALLBACK_CHAMPION = POPULARITY
POPULARITY_WON = (
    "popularity ranked best on validation, above every learned candidate, so it is the champion: "
    "the served recommender is the most popular items for everyone (registered with algorithm "
    "`popularity`)"
)
IMPLICIT_TARGETS = (
    "{names} fitted to implicit targets (interaction strengths mapped onto "
    "interactions.rating_scale, with sampled negatives), not to ratings: ranked like the "
    "others, no rating RMSE or MAE (set interactions.feedback: explicit for rating prediction)"
)
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
    #: the validation winner's lead over popularity on test (:func:`lead_over_popularity`,
    #: with its ``name``); None when popularity won validation or nothing was tested
    lead: dict[str, Any] | None = None


def compare(
    ratings: pd.DataFrame,
    holdout: Holdout | None,
    tuning: TuningResult,
    params: RecommendParams,
    status: StageStatus | None = None,
) -> Comparison:
    """Every candidate tuning kept (with its chosen options) and both baselines, fitted on the
    training part and ranked for the test users.

    With explicit feedback, Surprise's rating predictors are also cross-validated for rating
    RMSE and MAE (left out, noted in ``status``, when the pairs cannot make the folds); with
    implicit feedback they were fitted to implicit targets, so no rating error is reported.
    The champion is the candidate with the best selection metric on *validation* (so the test
    figures stay unbiased), popularity included (:func:`choose_champion`). Without a
    ``holdout`` the table is empty.
    """
    metric = params.selection_metric
    rows, users = [], {}
    names = [*tuning.best_options] if holdout is not None else []
    names += [name for name in BASELINES if holdout is not None and name not in names]
    explicit = holdout is not None and holdout.explicit
    rated = [n for n in names if n not in BASELINES and _kind(n, tuning.best_options) == "surprise"]
    cv_gap = cross_validation_gap(ratings, params, True) if explicit and rated else None
    if cv_gap is not None and status is not None:
        status.leave_out("cross-validation (rating RMSE, MAE)", cv_gap)
    if rated and not explicit and status is not None:
        status.adapted(IMPLICIT_TARGETS.format(names=", ".join(rated)))
    for name in names:
        options = tuning.best_options.get(name, {})
        fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
        kind = _kind(name, tuning.best_options)
        figures, users[name] = evaluate_users(fitted, holdout, params.k)
        row = {
            "model": name,
            "kind": kind,
            "target": _target(kind, explicit),
            f"validation_{metric}": tuning.validation.get(name, float("nan")),
            **figures,
            "fit_seconds": fitted.fit_seconds,
        }
        if name in rated and explicit and (cv_gap is None or status is None):
            scores = cross_validate_rating(name, options, ratings, params, True)
            row |= {"rating_rmse": scores["rmse"], "rating_mae": scores["mae"]}
            row |= {"cv_pairs": scores["cv_pairs"], "cv_seconds": scores["cv_seconds"]}
        row["options"] = json.dumps(options, sort_keys=True)
        rows.append(row)
    table = pd.DataFrame(rows) if rows else empty_table(params)
    champion = choose_champion(table, metric)
    if champion == FALLBACK_CHAMPION and status is not None:
        status.adapted(
            POPULARITY_WON if not table.empty and len(table) > len(BASELINES) else SERVED_POPULARITY
        )
    lead = lead_over_popularity(users, champion, metric, params.seed)
    if lead is not None and lead["high"] < 0:  # popularity better on test beyond noise
        if status is not None:
            status.warn(LOST_ON_TEST.format(**lead))
        champion = FALLBACK_CHAMPION
    elif lead is not None and lead["lead"] < 0 and status is not None:
        status.warn(BEHIND_ON_TEST.format(**lead))
    table.insert(2, "champion", table["model"] == champion)
    options = tuning.best_options.get(champion, {})
    metrics = comparison_metrics(table, champion, params)
    if lead is not None:
        metrics |= {f"test_lead_over_popularity{k}": lead[v] for k, v in LEAD_KEYS.items()}
    return Comparison(table, champion, metrics, options, lead)


LOST_ON_TEST = (
    "{name} ranked best on validation but below popularity on the test users beyond noise: "
    "{metric} {mine:.4f} against {theirs:.4f} (difference {lead:+.4f}, 95% bootstrap interval "
    "{low:+.4f} to {high:+.4f} over {users:,} test users), so popularity is served: the most "
    "popular items for everyone, each user's seen items excluded"
)
BEHIND_ON_TEST = (
    "{name} ranked best on validation but is below popularity on the test users, within noise: "
    "{metric} {mine:.4f} against {theirs:.4f} (difference {lead:+.4f}, 95% bootstrap interval "
    "{low:+.4f} to {high:+.4f} over {users:,} test users); it stays the champion"
)
#: metric suffix -> the key of :func:`lead_over_popularity`'s answer
LEAD_KEYS = {"": "lead", "_low": "low", "_high": "high"}


def lead_over_popularity(
    users: dict[str, pd.DataFrame], champion: str, metric: str, seed: int, resamples: int = 200
) -> dict[str, Any] | None:
    """The champion's lead over popularity in ``metric`` on the test users (paired: the same
    users' figures), with a 95% bootstrap interval over users; None when the champion is
    popularity or either was not evaluated."""
    from personalab.evaluation.ranking import PER_USER

    if champion == POPULARITY or champion not in users or POPULARITY not in users:
        return None
    column = PER_USER[metric.rsplit("_at_", 1)[0]]
    mine, theirs = users[champion][column], users[POPULARITY][column]
    both = mine.index.intersection(theirs.index)
    if both.empty:
        return None
    diff = (mine.loc[both] - theirs.loc[both]).to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    means = np.array([diff[rng.integers(0, diff.size, diff.size)].mean() for _ in range(resamples)])
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "name": champion,
        "metric": metric,
        "mine": float(mine.loc[both].mean()),
        "theirs": float(theirs.loc[both].mean()),
        "lead": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "users": int(both.size),
    }


def choose_champion(table: pd.DataFrame, metric: str) -> str:
    """The candidate with the best ``validation_<metric>``, popularity included (random never
    serves); ties go to the first listed, the baselines last. Popularity when nothing was
    evaluated on validation."""
    eligible = table[(table["model"] != "random") & table[f"validation_{metric}"].notna()]
    if eligible.empty:
        return FALLBACK_CHAMPION
    return str(eligible.loc[eligible[f"validation_{metric}"].astype(float).idxmax(), "model"])


def _kind(name: str, options: dict[str, dict[str, Any]]) -> str:
    """``baseline``, ``surprise``, ``implicit`` or ``cooccurrence``."""
    if name in BASELINES:
        return "baseline"
    return family_of_class(class_of(name, options.get(name)))


def _target(kind: str, explicit: bool) -> str:
    """What a candidate of ``kind`` was fitted to."""
    if kind == "surprise":
        return "ratings" if explicit else "implicit targets"
    return "interactions"


def empty_table(params: RecommendParams) -> pd.DataFrame:
    """The comparison's columns without rows (nothing could be held out to compare on)."""
    metric = params.selection_metric
    columns = ["model", "kind", "target", f"validation_{metric}", *params.ranking_keys()]
    columns += ["coverage", "novelty", "predict_seconds", "fit_seconds", "options"]
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def comparison_metrics(
    table: pd.DataFrame, champion: str, params: RecommendParams
) -> dict[str, Any]:
    """Every candidate's and baseline's ranking metrics on the test users (``<model>_<metric>``,
    e.g. ``popularity_precision_at_10``); ``<model>_rating_rmse`` and ``<model>_rating_mae``
    for rating predictors fitted to explicit ratings; the champion's figures unprefixed.
    Figures that could not be computed (no test split, no cross-validation) are NaN."""
    rows = table.set_index("model")
    keys = params.ranking_keys()
    out: dict[str, Any] = {}
    for name, row in rows.iterrows():
        for key in keys:
            out[f"{name}_{key}"] = float(row[key])
        if "rating_rmse" in row and pd.notna(row["rating_rmse"]):
            out[f"{name}_rating_rmse"] = float(row["rating_rmse"])
            out[f"{name}_rating_mae"] = float(row["rating_mae"])
    for name in BASELINES:
        for key in keys:
            out.setdefault(f"{name}_{key}", float("nan"))
    best = rows.loc[champion] if champion in rows.index else pd.Series(dtype=float)
    out["algorithm"] = champion
    out["champion_is_baseline"] = int(champion in BASELINES)
    for key in (*keys, "coverage", "novelty"):
        out[key] = _figure(best, key)
    if "rating_rmse" in best and pd.notna(best["rating_rmse"]):
        out["rating_rmse"], out["rating_mae"] = (
            _figure(best, "rating_rmse"),
            _figure(best, "rating_mae"),
        )
    out["selection_metric"] = params.selection_metric
    return out


def champion_summary(comparison: Comparison, params: RecommendParams) -> str:
    """One line: the champion's test NDCG against the baselines' (or why there is none)."""
    best, ndcg = comparison.metrics, f"ndcg_at_{params.k}"
    table, metric = comparison.table, params.selection_metric
    if table.empty:
        return f"champion {comparison.champion}: not evaluated (no test split)"
    learned = table[~table["model"].isin(BASELINES)].dropna(subset=[f"validation_{metric}"])
    lead = comparison.lead
    if comparison.champion == POPULARITY and lead is not None:
        return (
            f"champion popularity: {lead['name']} ranked best on validation, but on test its "
            f"{lead['metric']} {lead['mine']:.4f} is below popularity's {lead['theirs']:.4f} "
            f"beyond noise, so popularity is served"
        )
    if comparison.champion == POPULARITY and len(learned):
        runner = learned.loc[learned[f"validation_{metric}"].astype(float).idxmax()]
        return (
            f"champion popularity: on validation its {metric} "
            f"{table.loc[table['champion'], f'validation_{metric}'].iloc[0]:.4f} beats every "
            f"learned candidate (best: {runner['model']}, {runner[f'validation_{metric}']:.4f}), "
            f"so popularity is served; test {ndcg} {best[ndcg]:.4f}, random's "
            f"{best[f'random_{ndcg}']:.4f}"
        )
    line = (
        f"champion {comparison.champion}: test {ndcg} {best[ndcg]:.4f} against popularity's "
        f"{best[f'popularity_{ndcg}']:.4f} and random's {best[f'random_{ndcg}']:.4f}"
    )
    if lead is not None:
        line += (
            f"; its lead in {lead['metric']} {lead['lead']:+.4f} (95% interval "
            f"{lead['low']:+.4f} to {lead['high']:+.4f} over {lead['users']:,} test users)"
        )
    return line


def _figure(row: pd.Series, key: str) -> float:
    value = row.get(key, float("nan"))
    return float("nan") if value is None or pd.isna(value) else float(value)
