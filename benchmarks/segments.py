"""Benchmark: the segments sweep (K-Means and Gaussian mixtures, k = 2..10) on 1 million users x 30 features.

The features are a seeded mixture of correlated Gaussian clusters with some
heavy-tailed columns, preprocessed as the stage does. Prints one JSON object;
the target is under 5 minutes on the project machine (2 cores).
Usage: python benchmarks/segments.py [--users 1000000] [--features 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from _targets import exit_code, missed_targets

from personalab.segments.candidates import choose_candidate, comparison_table, evaluate_candidates
from personalab.segments.params import SegmentsParams
from personalab.segments.preprocess import make_preprocessor

TARGET_SECONDS = 300


def synthetic_features(users: int, features: int, clusters: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(clusters, features))
    labels = rng.integers(0, clusters, size=users)
    mixing = rng.normal(0, 0.3, size=(features, features)) + np.eye(features)
    values = centers[labels] + rng.normal(size=(users, features)) @ mixing
    values[:, : features // 3] = np.expm1(np.abs(values[:, : features // 3]))  # heavy-tailed counts
    return pd.DataFrame(values, columns=[f"f{i:02d}" for i in range(features)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    table = synthetic_features(args.users, args.features, args.clusters, args.seed)
    names = list(table.columns)
    params = SegmentsParams(
        features=names,
        log1p=names[: args.features // 3],
        algorithms=["kmeans", "gmm"],
        k_min=2,
        k_max=10,
    )
    start = time.perf_counter()
    X = make_preprocessor(params).fit_transform(table.to_numpy())
    candidates = evaluate_candidates(X, params)
    comparison = comparison_table(candidates)
    best, _ = choose_candidate(comparison, params.choice)
    total = time.perf_counter() - start
    missed = missed_targets([("seconds_total", total, "<", TARGET_SECONDS)])
    out = {
        "benchmark": "segments",
        "users": args.users,
        "features": args.features,
        "candidates": len(candidates),
        "chosen": comparison.loc[best, "candidate"],
        "true_clusters": args.clusters,
        "seconds_total": round(total, 1),
        "seconds_kmeans": round(
            float(comparison.loc[comparison["algorithm"] == "kmeans", "seconds"].sum()), 1
        ),
        "seconds_gmm": round(
            float(comparison.loc[comparison["algorithm"] == "gmm", "seconds"].sum()), 1
        ),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "target_seconds": TARGET_SECONDS,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
