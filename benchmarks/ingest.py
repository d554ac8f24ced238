"""Benchmark: ingest N canonical events (default 10 million) from a Parquet file.

Generates a synthetic log of about N rows once (cached under the system temp
folder), then times reading, validating, de-duplicating, bot filtering and
sessionising it, as the ingest stage does, and reports peak memory (max RSS).
Prints one JSON object. Usage: python benchmarks/ingest.py [--events 10000000]
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

from personalab.ingest.params import IngestParams, SourceParams
from personalab.ingest.pipeline import process_events
from personalab.ingest.sources import read_source
from personalab.ingest.synth import SynthConfig, generate_log

EVENTS_PER_USER = 90  # about what the default synthetic config yields
TARGET_SECONDS, TARGET_PEAK_GIB = 60, 6


def ensure_input(n_events: int, seed: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"personalab-bench-{n_events}-{seed}.parquet"
    if not path.exists():
        users = max(100, n_events // EVENTS_PER_USER)
        log = generate_log(SynthConfig(seed=seed, n_users=users, bot_users=max(1, users // 1000)))
        log.events.to_parquet(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    path = ensure_input(args.events, args.seed)
    params = IngestParams(source=SourceParams(format="parquet", path=str(path)))
    start = time.perf_counter()
    raw = read_source("parquet", path)
    read_s = time.perf_counter() - start
    result = process_events(raw, params)
    total = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    missed = missed_targets(
        [
            ("seconds_total", total, "<", TARGET_SECONDS),
            ("peak_rss_gib", peak_gib, "<", TARGET_PEAK_GIB),
        ]
    )
    out = {
        "benchmark": "ingest",
        "rows_read": result.metrics["rows_read"],
        "rows_valid": result.metrics["rows_valid"],
        "sessions": result.metrics["sessions"],
        "seconds_total": round(total, 2),
        "seconds_read": round(read_s, 2),
        **{f"seconds_{k}": round(v, 2) for k, v in result.timings.items()},
        "events_per_second": round(result.metrics["rows_read"] / total),
        "peak_rss_gib": round(peak_gib, 2),
        "target_seconds": TARGET_SECONDS,
        "target_peak_gib": TARGET_PEAK_GIB,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
