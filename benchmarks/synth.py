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

from personalab.ingest.synth import SynthConfig, generate_log


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
    out = {
        "benchmark": "synth",
        "users": args.users,
        "events": len(log.events),
        "seconds_best": round(min(times), 2),
        "seconds_worst": round(max(times), 2),
        "events_per_second": round(len(log.events) / min(times)),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "target_seconds": 30,
        "meets_target": max(times) < 30 and 1_000_000 <= len(log.events) <= 2_000_000,
    }
    print(json.dumps(out))
    return 0 if out["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
