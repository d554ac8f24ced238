"""Benchmark: generate the default synthetic log (about 20,000 users, 1-2 million events).

Prints one JSON object; the target is under 30 s on the project machine (2 cores).
With ``--events N`` it times the chunked writer instead: about N events written to one
arrival-ordered Parquet file (``--out``, else a temporary file removed afterwards), with
its peak memory, which must stay bounded whatever N (target under 6 GiB).
Usage: python benchmarks/synth.py [--users 20000] | --events 10000000 [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from _targets import exit_code, missed_targets

from personalab.ingest.synth import SynthConfig, generate_log, write_chunked_log
from personalab.ingest.synth.chunks import DEFAULT_CHUNK_USERS, users_for_events

TARGET_SECONDS = 30
TARGET_EVENTS = (1_000_000, 2_000_000)  # what the default config's log should hold
TARGET_CHUNKED_PEAK_GIB = 6  # the chunked writer's memory, at any size
TARGET_CHUNKED_EVENTS_PER_SECOND = 50_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=SynthConfig().n_users)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, help="time the chunked writer on about N events")
    parser.add_argument("--out", help="with --events: keep the log here (Parquet)")
    parser.add_argument("--chunk-users", type=int, default=DEFAULT_CHUNK_USERS)
    parser.add_argument("--memory-limit", default="4GB")
    args = parser.parse_args(argv)
    if args.events:
        return chunked(args)
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


def chunked(args: argparse.Namespace) -> int:
    """The chunked writer on about ``args.events`` events (default config sizes otherwise)."""
    users = users_for_events(args.events)
    config = SynthConfig(n_users=users, bot_users=max(1, users // 1000))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.out) if args.out else Path(folder) / "log.parquet"
        result = write_chunked_log(
            config, path, chunk_users=args.chunk_users, memory_limit=args.memory_limit
        )
        size_gib = path.stat().st_size / 1024**3
    rate = result["events"] / result["seconds"]
    missed = missed_targets(
        [
            ("peak_rss_gib", result["peak_rss_gib"], "<", TARGET_CHUNKED_PEAK_GIB),
            ("events_per_second", rate, ">=", TARGET_CHUNKED_EVENTS_PER_SECOND),
        ]
    )
    out = {
        "benchmark": "synth_chunked",
        **{k: v for k, v in result.items() if k != "counts"},
        "path": str(path) if args.out else None,
        "file_gib": round(size_gib, 2),
        "events_per_second": round(rate),
        "chunk_users": args.chunk_users,
        "memory_limit": args.memory_limit,
        "target_peak_gib": TARGET_CHUNKED_PEAK_GIB,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
