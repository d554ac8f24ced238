"""Check: the online row equals the features stage's row on the default data (issue 20, parity).

Reads the events the pipeline ingested (``data/interim/events.parquet``, written by
``make repro``) and the features params. A store is built as of S (the 80% quantile of the
event times, to the second, plus 1 ms); for users sampled among those with events in
[S, S + 30 h) and one visitor the store never saw, the row folded from the store and those
events as live events is compared with the features stage's row at T = S + 30 h, every
column (floats to 1e-9): :func:`personalab.online.parity.parity_gaps`, as the tests do on
the fixtures and on the tiny log.

Prints one JSON object; exits 1 if any column of any user differs.
Usage: python benchmarks/parity.py [--users 40] [--hours 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd
from _targets import exit_code, missed_targets

from personalab.core.paths import project_paths
from personalab.features.params import FeaturesParams
from personalab.features.plan import plan_features
from personalab.online.parity import parity_gaps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--hours", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    paths = project_paths()
    started = time.perf_counter()
    events = pd.read_parquet(paths.interim / "events.parquet")
    times = events["timestamp"]
    as_of = times.quantile(0.8).floor("s") + pd.Timedelta(milliseconds=1)
    at = as_of + pd.Timedelta(hours=args.hours)
    params = FeaturesParams.from_yaml(paths.root / "params/features.yaml")
    plan = plan_features(events[times < as_of], params)
    live = events[(times >= as_of) & (times < at)]
    active = live["user_id"].drop_duplicates()
    users = active.sample(min(args.users, len(active)), random_state=args.seed).tolist()
    gaps = parity_gaps(events, plan, as_of, at, [*users, "a visitor the store never saw"])
    result = {
        "benchmark": "parity",
        "events": len(events),
        "users_in_log": int(events["user_id"].nunique()),
        "store_as_of": str(as_of),
        "row_at": str(at),
        "users_with_live_events": len(active),
        "users_checked": len(users) + 1,
        "columns_that_differ": len(gaps),
        "seconds": round(time.perf_counter() - started, 1),
    }
    missed = missed_targets([("columns_that_differ", len(gaps), "==", 0)])
    result["meets_targets"] = not missed
    print(json.dumps(result, indent=2))
    if len(gaps):
        print(gaps.head(20).to_string(), file=sys.stderr)
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
