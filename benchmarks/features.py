"""Benchmark: features for N canonical events (default 10 million) at 4 cut-offs.

Prepares the canonical events once in a child process (synthetic log -> ingest,
cached under the system temp folder) so that this process's peak memory is the
feature build's own. Prints one JSON object.
Usage: python benchmarks/features.py [--events 10000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _targets import exit_code, missed_targets

from personalab.features.build import build_features
from personalab.features.params import FeaturesParams

EVENTS_PER_USER = 90
TARGET_SECONDS, TARGET_PEAK_GIB = 90, 8


def prepare(n_events: int, seed: int, out: Path) -> None:
    from personalab.ingest.params import IngestParams
    from personalab.ingest.pipeline import process_events
    from personalab.ingest.sources import RawEvents
    from personalab.ingest.synth import SynthConfig, generate_log

    users = max(100, n_events // EVENTS_PER_USER)
    log = generate_log(SynthConfig(seed=seed, n_users=users, bot_users=max(1, users // 1000)))
    frame = log.events
    frame["_file"], frame["_row"] = "synthetic", range(len(frame))
    result = process_events(RawEvents(frame=frame, description="benchmark log"), IngestParams())
    result.events.to_parquet(out, index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.events, args.seed, args.prepare)
        return 0
    path = (
        Path(tempfile.gettempdir()) / f"personalab-bench-events-{args.events}-{args.seed}.parquet"
    )
    if not path.exists():
        cmd = [
            sys.executable,
            __file__,
            "--events",
            str(args.events),
            "--seed",
            str(args.seed),
            "--prepare",
            str(path),
        ]
        subprocess.run(cmd, check=True)
    start = time.perf_counter()
    events = pd.read_parquet(path)
    read_s = time.perf_counter() - start
    result = build_features(events, FeaturesParams())
    total = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    missed = missed_targets(
        [
            ("seconds_total", total, "<", TARGET_SECONDS),
            ("peak_rss_gib", peak_gib, "<", TARGET_PEAK_GIB),
        ]
    )
    out = {
        "benchmark": "features",
        "events": len(events),
        "cutoffs": result.metrics["cutoffs"],
        "rows": result.metrics["rows"],
        "features": result.metrics["feature_count"],
        "seconds_total": round(total, 2),
        "seconds_read": round(read_s, 2),
        "seconds_build": round(result.seconds, 2),
        "peak_rss_gib": round(peak_gib, 2),
        "target_seconds": TARGET_SECONDS,
        "target_peak_gib": TARGET_PEAK_GIB,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
