"""Benchmark: the experiment stage's analysis on simulated A/B tests whose true uplift is known.

Run after ``make repro`` (it reads the default data's truth, events, features and the exported
personalised lists). The users are randomised between the personalised lists and the trending
items they have not seen, ``--experiments`` times with different seeds, their next 14 days drawn
from their latent types (:mod:`personalab.experiment.simulate`, the stage's default params); each
experiment is analysed as the stage analyses it (tea-tasting, CUPED with ``orders_total``).

- **Coverage**: the share of experiments whose 95% interval of the relative uplift covers the
  true uplift, per metric. Target: 93-97% for conversion.
- **CUPED**: the mean narrowing of the interval, per metric, with the stage's covariate and with
  an oracle covariate (each user's true conversion probability under the control: no pre-period
  column can predict the outcome better). Target: >= 20% where pre-period activity predicts the
  outcome.
- **The ceiling**: how much any covariate built from the pre-period features could narrow the
  conversion interval: XGBoost fitted to the oracle itself on half the users, from the features
  rows at the experiment's start (those CUPED reads), scored on the other half; the narrowing its correlation with the oracle
  implies, ``1 - sqrt(1 - corr^2 * R2)``, where R2 is the share of the conversion's variance the
  oracle explains.
- **SRM**: the share of experiments with a 52/48 split (designed 50/50) at 20,000 users flagged
  as a sample ratio mismatch (p < 0.001). Target: >= 95% (and the 50/50 ones: <= 1% flagged).

Prints one JSON object. Usage: python benchmarks/experiment.py [--experiments 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _targets import exit_code, missed_targets

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("conversion", "revenue_per_user", "ctr")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument(
        "--days", type=float, default=None, help="the experiment's length (default: the params')"
    )
    args = parser.parse_args(argv)
    from personalab.core.paths import project_paths
    from personalab.core.status import StageStatus
    from personalab.experiment import ExperimentParams, load_experiment
    from personalab.experiment.analysis import analyze, user_outcomes
    from personalab.experiment.covariates import covariate_columns
    from personalab.experiment.io import features_rows_at, simulation_arms
    from personalab.experiment.simulate import simulate
    from personalab.ingest.params import IngestParams

    start = time.perf_counter()
    paths = project_paths(ROOT)
    params = ExperimentParams.from_yaml(paths.params_file("experiment"))
    if args.days is not None:
        simulation = params.simulation.model_copy(update={"days": args.days})
        params = params.model_copy(update={"simulation": simulation})
    data = load_experiment(paths, params, StageStatus("experiment"))
    sim = params.simulation
    # the stage's arms (each user's sessions, lists and probabilities); only the draws differ
    synthetic = IngestParams.from_yaml(paths.params_file("ingest")).synthetic
    recommendations = pd.read_parquet(paths.processed / "recommendations.parquet")
    arms, t0 = simulation_arms(paths, params, synthetic, recommendations)
    oracle = pd.DataFrame(
        {"user_id": arms.user_id, "oracle": 1 - np.exp(-arms.sessions * arms.purchase[sim.control])}
    )
    covariates = data.covariates.table.merge(oracle, on="user_id", how="outer")
    columns = covariate_columns(params.covariates)
    rows, srm_skewed, srm_fair = [], [], []
    for seed in range(args.experiments):
        for share, flags in ((sim.treatment_share, srm_fair), (0.48, srm_skewed)):
            drawn = simulate(arms, sim.control, sim.treatment, t0, sim.days, share, seed)
            outcomes = user_outcomes(
                drawn.assignments, drawn.events, drawn.impressions, None, covariates
            )
            if share != sim.treatment_share:
                result = analyze(
                    outcomes, sim.control, {}, None, params.alpha, params.power, params.srm_alpha
                )
                flags.append(bool(result.srm["mismatch"].iloc[0]))
                continue
            result = analyze(
                outcomes,
                sim.control,
                columns,
                None,
                params.alpha,
                params.power,
                params.srm_alpha,
            )
            flags.append(bool(result.srm["mismatch"].iloc[0]))
            best = analyze(
                outcomes, sim.control, {"conversion": "oracle", "revenue_per_user": "oracle"}
            )
            table = result.results.set_index("metric")
            row = {"seed": seed}
            for metric in METRICS:
                true = drawn.true_uplift(metric, sim.control, sim.treatment)
                low, high = table.loc[metric, ["uplift_ci_lower", "uplift_ci_upper"]]
                row[f"{metric}_covered"] = bool(low <= true <= high)
                row[f"{metric}_true"] = true
                if f"{metric}_cuped" in table.index:
                    low, high = table.loc[f"{metric}_cuped", ["uplift_ci_lower", "uplift_ci_upper"]]
                    row[f"{metric}_cuped_covered"] = bool(low <= true <= high)
            for frame, tag in ((result.cuped, "cuped"), (best.cuped, "oracle")):
                for r in frame.itertuples():
                    row[f"{r.metric}_{tag}_narrowing"] = r.narrowing
            rows.append(row)
        if seed % 20 == 0:
            print(json.dumps(rows[-1]), file=sys.stderr)
    table = pd.DataFrame(rows)
    coverage = {
        c.removesuffix("_covered"): float(table[c].mean()) for c in table if c.endswith("_covered")
    }
    narrowing = {
        f"{m}_{tag}": float(table[f"{m}_{tag}_narrowing"].mean())
        for m in ("conversion", "revenue_per_user")
        for tag in ("cuped", "oracle")
    }
    skewed, fair = float(np.mean(srm_skewed)), float(np.mean(srm_fair))
    ceiling = features_ceiling(features_rows_at(paths, t0)[0], oracle)
    best_cuped = max(narrowing["conversion_cuped"], narrowing["revenue_per_user_cuped"])
    missed = missed_targets(
        [
            ("conversion_coverage", coverage["conversion"], ">=", 0.93),
            ("conversion_coverage", coverage["conversion"], "<=", 0.97),
            ("cuped_narrowing_best_metric", best_cuped, ">=", 0.20),
            ("srm_52_48_flagged_share", skewed, ">=", 0.95),
            ("srm_50_50_flagged_share", fair, "<=", 0.01),
        ]  # fmt: skip
    )
    print(
        json.dumps(
            {
                "benchmark": "experiment",
                "experiments": args.experiments,
                "days": sim.days,
                "users": len(arms.user_id),
                "true_uplift": {m: float(table[f"{m}_true"].iloc[0]) for m in METRICS},
                "coverage_95": coverage,
                "cuped_narrowing_mean": narrowing,
                "conversion_narrowing_ceiling": ceiling,
                "srm_52_48_flagged_share": skewed,
                "srm_50_50_flagged_share": fair,
                "seconds": round(time.perf_counter() - start, 1),
                "meets_target": not missed,
            }
        )
    )
    return exit_code(missed)


def features_ceiling(rows: pd.DataFrame, oracle: pd.DataFrame) -> dict[str, float]:
    """The conversion narrowing the features ``rows`` at the experiment's start could give at
    best (module docstring), with the oracle's own for comparison."""
    import xgboost as xgb

    data = oracle.merge(rows, on="user_id")
    columns = [c for c in rows.columns if c != "user_id" and pd.api.types.is_numeric_dtype(rows[c])]
    half = np.random.default_rng(0).random(len(data)) < 0.5
    model = xgb.XGBRegressor(n_estimators=300, max_depth=5, learning_rate=0.05, n_jobs=2)
    model.fit(data.loc[half, columns], data.loc[half, "oracle"])
    predicted = model.predict(data.loc[~half, columns])
    corr = float(np.corrcoef(predicted, data.loc[~half, "oracle"])[0, 1])
    p = oracle["oracle"].to_numpy()
    explained = float(p.var() / (p.mean() * (1 - p.mean())))
    return {
        "features_to_oracle_correlation": corr,
        "oracle_explained_variance": explained,
        "oracle": float(1 - np.sqrt(1 - explained)),
        "features_best": float(1 - np.sqrt(1 - corr**2 * explained)),
    }


if __name__ == "__main__":
    sys.exit(main())
