"""Benchmark: generate the default synthetic log (about 20,000 users, 1-2 million events).

Prints one JSON object; the target is under 30 s on the project machine (2 cores).
Usage: python benchmarks/synth.py [--users 20000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from _targets import exit_code, missed_targets

from personalab.ingest.synth import SynthConfig, generate_log

TARGET_SECONDS = 30
TARGET_EVENTS = (1_000_000, 2_000_000)  # what the default config's log should hold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=SynthConfig().n_users)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    config = SynthConfig(n_users=args.users)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        log = generate_log(config)
        times.append(time.perf_counter() - start)
    missed = missed_targets(
        [
            ("seconds_worst", max(times), "<", TARGET_SECONDS),
            ("events", len(log.events), ">=", TARGET_EVENTS[0]),
            ("events", len(log.events), "<=", TARGET_EVENTS[1]),
        ]
    )
    out = {
        "benchmark": "synth",
        "users": args.users,
        "events": len(log.events),
        "seconds_best": round(min(times), 2),
        "seconds_worst": round(max(times), 2),
        "events_per_second": round(len(log.events) / min(times)),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "target_seconds": TARGET_SECONDS,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
