"""Benchmark: top-10 for every user from each model, as served (arrays, user blocks).

Two seeded rating sets with latent structure (users and items in taste groups):
* small: 1,000 users x 1,700 items, 100,000 ratings (MovieLens-100k's shape); the
  vectorised top-10 for every user (target < 1 s) against scoring every unrated pair
  through Surprise's ``predict`` (timed in full);
* large: 100,000 users x 20,000 items, 2,000,000 ratings; the vectorised top-10 for
  every user in user blocks (target < 2 min, memory bounded by the block size; the
  peak of NumPy allocations while ranking is reported), against Surprise's loop timed
  on a sample of users and scaled up.
The large set also times every default model class on the same pairs (fit, top-10 for all
100,000 users, peak NumPy memory while ranking): ALS, BPR and item-item cosine from `implicit`
(target < 30 s each), SAR and EASE (reported).
Prints one JSON object and exits 1 (naming it on stderr) when a target is missed.
Usage: python benchmarks/recommend.py [--skip-large] [--block-size 1024]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd
from _targets import exit_code, missed_targets
from surprise import SVD

from personalab.recommend.from_surprise import model_arrays
from personalab.recommend.interactions import to_surprise
from personalab.recommend.served import ArrayModel

TARGET_SECONDS = {"small": 1.0, "large": 120.0}  # the vectorised top-10 for every user
#: the large set's models beside SVD: (name, class, options, target seconds for top-10 or None)
MODELS = (
    ("ALS", "AlternatingLeastSquares", {"factors": 32, "iterations": 15}, 30.0),
    ("BPR", "BayesianPersonalizedRanking", {"factors": 64, "iterations": 100}, 30.0),
    ("ItemKNN", "CosineRecommender", {"K": 50}, 30.0),
    ("SAR", "SAR", {"neighbours": 200}, None),
    ("EASE", "EASE", {"neighbours": 500, "max_items": 10_000}, None),
)


def ratings(n_users: int, n_items: int, n_ratings: int, seed: int) -> pd.DataFrame:
    """Ratings 1-5 driven by a user's and an item's taste group (8 groups), distinct pairs."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, int(n_ratings * 1.3))
    weight = 1.0 / (np.arange(n_items) + 10.0) ** 0.8  # a long tail of popularity
    items = rng.choice(n_items, users.size, p=weight / weight.sum())
    frame = pd.DataFrame({"u": users, "i": items}).drop_duplicates().head(n_ratings)
    match = (frame["u"] % 8) == (frame["i"] % 8)
    score = 2.5 + 1.5 * match + rng.normal(0, 0.8, len(frame))
    return pd.DataFrame(
        {
            "user_id": "u" + frame["u"].astype(str),
            "item_id": "i" + frame["i"].astype(str),
            "rating": score.clip(1, 5).round(),
        }
    )


def timed_top10(model: ArrayModel) -> tuple[pd.DataFrame, float, int]:
    """Every user's top-10, the seconds it took and the peak of NumPy allocations meanwhile."""
    tracemalloc.start()
    started = time.perf_counter()
    top = model.top_k(model.users, 10)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top, seconds, peak


def surprise_loop(algo, users: list[int], k: int) -> float:
    """Seconds to score every unrated item of ``users`` with ``predict`` and keep the top k."""
    trainset = algo.trainset
    items = [trainset.to_raw_iid(i) for i in range(trainset.n_items)]
    started = time.perf_counter()
    for inner in users:
        raw = trainset.to_raw_uid(inner)
        rated = {j for j, _ in trainset.ur[inner]}
        scored = [
            (algo.predict(raw, item).est, item) for j, item in enumerate(items) if j not in rated
        ]
        sorted(scored, key=lambda t: (-t[0], t[1]))[:k]
    return time.perf_counter() - started


def run(n_users, n_items, n_ratings, block_size, loop_users, seed, epochs):
    frame = ratings(n_users, n_items, n_ratings, seed)
    started = time.perf_counter()
    trainset = to_surprise(frame, (1.0, 5.0)).build_full_trainset()
    algo = SVD(n_factors=50, n_epochs=epochs, random_state=seed).fit(trainset)
    fit_seconds = time.perf_counter() - started
    model = ArrayModel(model_arrays(algo), block_size=block_size)  # built once, as served
    top, seconds, peak = timed_top10(model)
    sample = list(range(min(loop_users, trainset.n_users)))
    loop = surprise_loop(algo, sample, 10) * trainset.n_users / len(sample)
    return {
        "users": trainset.n_users,
        "items": trainset.n_items,
        "ratings": trainset.n_ratings,
        "fit_seconds": round(fit_seconds, 1),
        "top10_seconds": round(seconds, 2),
        "top10_rows": len(top),
        "peak_mib_while_ranking": round(peak / 2**20, 1),
        "block_size": block_size,
        "surprise_loop_seconds": round(loop, 1),
        "surprise_loop_users_timed": len(sample),
        "speedup": round(loop / seconds, 1),
    }


def ranking_models(n_users, n_items, n_ratings, block_size, seed) -> dict:
    """Fit each of :data:`MODELS` on the same pairs and time its top-10 for every user."""
    from personalab.recommend.algorithms import fit_arrays
    from personalab.recommend.params import RecommendParams

    frame = ratings(n_users, n_items, n_ratings, seed)
    pairs = frame.assign(strength=frame["rating"], timestamp=pd.Timestamp("2026-01-01", tz="UTC"))
    out = {}
    for name, cls, options, target in MODELS:
        entry = {"class": cls, **options}
        params = RecommendParams.from_mapping(
            {"algorithms": {name: entry}, "tuning": {"n_trials": 0, "space": {}}}
        )
        started = time.perf_counter()
        arrays = fit_arrays(name, entry, pairs, params)
        fit_seconds = time.perf_counter() - started
        top, seconds, peak = timed_top10(ArrayModel(arrays, block_size=block_size))
        out[name] = {
            "class": cls,
            "fit_seconds": round(fit_seconds, 1),
            "top10_seconds": round(seconds, 2),
            "top10_rows": len(top),
            "peak_mib_while_ranking": round(peak / 2**20, 1),
            "target_seconds": target,
        }
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    report = {
        "small": run(1_000, 1_700, 100_000, args.block_size, 1_000, args.seed, 20),
        "small_target_seconds": TARGET_SECONDS["small"],
    }
    if not args.skip_large:
        report["large"] = run(100_000, 20_000, 2_000_000, args.block_size, 50, args.seed, 5)
        report["large_target_seconds"] = TARGET_SECONDS["large"]
        report["large_models"] = ranking_models(
            100_000, 20_000, 2_000_000, args.block_size, args.seed
        )
    checks = [
        (f"{size}.top10_seconds", report[size]["top10_seconds"], "<", target)
        for size, target in TARGET_SECONDS.items()
        if size in report
    ]
    checks += [
        (f"large_models.{name}.top10_seconds", row["top10_seconds"], "<", row["target_seconds"])
        for name, row in report.get("large_models", {}).items()
        if row["target_seconds"] is not None
    ]
    missed = missed_targets(checks)
    report["meets_target"] = not missed
    json.dump(report, sys.stdout, indent=2)
    print()
    return exit_code(missed)


if __name__ == "__main__":
    raise SystemExit(main())
