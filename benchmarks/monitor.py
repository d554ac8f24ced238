"""Benchmark: the monitor on synthetic logs, with and without planted drift (issue 21).

For every seed, the generator writes a log (``--users`` users, 90 days) and the ingest and
features stages run on it as ``dvc repro`` would (default params). The monitor then runs its
checks (:func:`personalab.monitor.run_monitor`, default ``params/monitor.yaml`` thresholds) with
stand-ins for the registry's champions, since no intent or recommend stage runs here: an
XGBoost classifier learned on the cut-offs before the last reference one, whose ROC-AUC on that
last reference cut-off is its "test" figure (as a champion registered before the latest data);
and the recommender recipe EASE (the default data's champion). Segment drift is not part of it
(it needs the segments stage's sweep).

- **Undrifted** (``--seeds`` seeds): the share of seeds with no retraining recommendation.
  Target: >= 95%.
- **Planted drift** (``--drift-seeds`` seeds of each kind): the same seed's log with the drift
  from the start of the latest cut-off's recent window. The drifted features are those whose
  recent window at the latest cut-off differs, by the monitor's own statistic and threshold,
  between the drifted log and its undrifted twin; the share of them the monitor flags (latest
  against reference, in the drifted log alone). Target: >= 90% over all drifted seeds.

Prints one JSON object. Usage: python benchmarks/monitor.py [--seeds 20] [--drift-seeds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _targets import exit_code, missed_targets

DRIFTS = {
    "all": {"type_share": 0.5, "price_factor": 1.5, "surge_category": "toys", "surge_share": 0.3},
    "prices": {"price_factor": 1.5},
    "surge": {"surge_category": "toys", "surge_share": 0.3},
    "types": {"type_share": 0.5},
}


def ingested(seed: int, users: int, drift: dict | None, work: Path):
    """The features table, its recent windows and the events of one synthetic log."""
    from personalab.core.paths import project_paths
    from personalab.core.profile import load_profile
    from personalab.features import build_features, open_events
    from personalab.features.params import FeaturesParams
    from personalab.ingest.io import save_ingest
    from personalab.ingest.params import IngestParams
    from personalab.ingest.pipeline import run_ingest
    from personalab.monitor.io import cutoff_spacing
    from personalab.monitor.recent import recent_features

    root = Path(tempfile.mkdtemp(dir=work))
    (root / "params").mkdir()
    (root / "dvc.yaml").write_text("")
    paths = project_paths(root)
    synthetic = {"seed": seed, "n_users": users, "drift": drift}
    save_ingest(run_ingest(IngestParams(synthetic=synthetic), root), paths)
    params = FeaturesParams()
    events = open_events(paths, params.engine_params())
    try:
        table = build_features(events, params, load_profile(paths)).table
        cutoffs = sorted(table["cutoff"].unique())
        window = cutoff_spacing(cutoffs)
        recent = recent_features(events, params, load_profile(paths), cutoffs, window)
    finally:
        events.engine.close()
    frame = pd.read_parquet(
        paths.interim / "events.parquet", columns=["user_id", "item_id", "event_type", "timestamp"]
    )
    return table, recent, window, frame


def stand_in_intent(table: pd.DataFrame, label: str):
    """XGBoost on the cut-offs before the last reference one; its ROC-AUC on that one."""
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    cutoffs = sorted(table["cutoff"].unique())
    names = [c for c in table.columns if c not in ("user_id", "cutoff", label)]
    numeric = [c for c in names if pd.api.types.is_numeric_dtype(table[c])]
    learn, check = table["cutoff"] < cutoffs[-2], table["cutoff"] == cutoffs[-2]
    model = xgb.XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, n_jobs=2)
    model.fit(table.loc[learn, numeric], table.loc[learn, label].astype(int))

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(frame[numeric])[:, 1]

    auc = roc_auc_score(table.loc[check, label].astype(int), predict(table[check]))
    return predict, float(auc), numeric


def monitored(table, recent, window, events):
    from personalab.core.status import StageStatus
    from personalab.monitor import MonitorParams, run_monitor
    from personalab.monitor.stage import MonitorInputs
    from personalab.recommend.params import RecommendParams

    label = table.attrs["label"]
    predict, auc, names = stand_in_intent(table, label)
    recommend = RecommendParams()
    inputs = MonitorInputs(
        table=table, label=label, recent=recent, window=window, events=events, predict=predict,
        model_features=names, champion_roc_auc=auc, recommend_params=recommend,
        recipe={"algorithm": "EASE", "options": recommend.options("EASE")},
    )  # fmt: skip
    params = MonitorParams.from_yaml(Path(__file__).parents[1] / "params" / "monitor.yaml")
    return run_monitor(inputs, params, StageStatus("monitor")), params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--drift-seeds", type=int, default=3)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args(argv)
    from personalab.monitor.drift import feature_drift

    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="personalab-bench-monitor-"))
    undrifted, detections = [], []
    for seed in range(args.seeds):
        table, recent, window, events = ingested(seed, args.users, None, work)
        result, params = monitored(table, recent, window, events)
        undrifted.append({"seed": seed, "retrain": result.retrain, "reasons": result.reasons})
        print(json.dumps(undrifted[-1]), file=sys.stderr)
        if seed >= args.drift_seeds:
            continue
        latest = recent["cutoff"].max()
        at_day = (latest - window - pd.Timestamp("2026-01-01", tz="UTC")) / pd.Timedelta(days=1)
        twin = recent[recent["cutoff"] == latest]
        for kind, drift in DRIFTS.items():
            d_table, d_recent, d_window, d_events = ingested(
                seed, args.users, {"at_day": at_day, **drift}, work
            )
            d = params.drift
            features = [c for c in twin.columns if c not in ("user_id", "cutoff")]
            truth = feature_drift(
                twin, d_recent[d_recent["cutoff"] == latest], features, d.statistic,
                d.threshold, d.bins, d.missing_change,
            )  # fmt: skip
            truly = set(truth.loc[truth["drifted"], "feature"])
            found, _ = monitored(d_table, d_recent, d_window, d_events)
            flagged = set(found.drift.loc[found.drift["drifted"], "feature"])
            detections.append(
                {
                    "seed": seed,
                    "drift": kind,
                    "at_day": at_day,
                    "drifted": sorted(truly),
                    "found": sorted(truly & flagged),
                    "also_flagged": sorted(flagged - truly),
                    "retrain": found.retrain,
                }  # fmt: skip
            )
            print(json.dumps(detections[-1]), file=sys.stderr)
    quiet = float(np.mean([not u["retrain"] for u in undrifted]))
    n_true = sum(len(d["drifted"]) for d in detections)
    found_share = sum(len(d["found"]) for d in detections) / n_true if n_true else float("nan")
    missed = missed_targets(
        [
            ("undrifted_no_retrain_share", quiet, ">=", 0.95),
            ("drifted_features_found_share", found_share, ">=", 0.90),
        ]  # fmt: skip
    )
    print(
        json.dumps(
            {
                "benchmark": "monitor",
                "users": args.users,
                "undrifted_seeds": args.seeds,
                "undrifted_no_retrain_share": quiet,
                "false_alarms": [u for u in undrifted if u["retrain"]],
                "drifted_logs": len(detections),
                "drifted_features": n_true,
                "drifted_features_found_share": found_share,
                "drifted_logs_with_retrain": sum(d["retrain"] for d in detections),
                "detections": detections,
                "seconds": round(time.perf_counter() - start, 1),
                "meets_target": not missed,
            }
        )
    )
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
