"""Benchmark: features for N events (default 10 million) at 4 cut-offs, on an engine.

The events are the ingest stage's output for the synthetic log of the ingest benchmark (written
by the chunked generator, ``personalab.ingest.synth --events N``): a child process ingests it
once into a cache folder under the system temp folder (``data/interim/events.parquet`` and
``profile.json``, as the stage writes them). This process then does what the features stage
does: the engine reads the events file where it lies (DuckDB: out of core, within
``--memory-limit``), and every feature, rule segment and label is computed there, one query per
cut-off; only the per-user table comes back to pandas. Peak memory (max RSS) is this process's.

Prints one JSON object. Targets (issue 19): 10 M events within 90 s and 8 GiB; 100 M within
10 minutes and 10 GiB (with ``memory_limit: 8GB``).
Usage: python benchmarks/features.py [--events 10000000] [--engine duckdb] [--memory-limit 8GB]
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

from _targets import exit_code, missed_targets
from ingest import ensure_input

SMALL, LARGE = 10_000_000, 100_000_000
TARGETS = {SMALL: (90, 8.0), LARGE: (600, 10.0)}  # events: (seconds, peak GiB)


def prepare(n_events: int, seed: int, root: Path) -> None:
    """The ingest stage's outputs for the benchmark log, under ``root/data/interim``.

    A log over 10 M events is ingested in parts of whole users (``hash(user_id)``, each part in
    arrival order, each in its own process: the in-memory ingest would not hold 100 M), and the
    parts' events are put in one file (the features do not depend on its row order). Sessions,
    duplicates and bots are per user or per event id, so the merged events are the whole log's;
    only the late-arrival flag, which compares each event with all earlier arrivals, sees one
    part at a time.
    """
    import duckdb

    path = ensure_input(n_events, seed)
    interim = root / "data" / "interim"
    interim.mkdir(parents=True, exist_ok=True)
    parts = -(-n_events // SMALL)
    con = duckdb.connect(config={"memory_limit": "8GB", "temp_directory": str(root / "spill")})
    for part in range(parts):
        folder = root / "parts" / str(part)
        log = folder / "log.parquet"
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{path}', "
            f"file_row_number = true) WHERE hash(user_id) % {parts} = {part} "
            f"ORDER BY file_row_number) TO '{log}' (FORMAT parquet)"
        )
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from features import ingest_part; ingest_part({str(log)!r}, {str(folder)!r})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        log.unlink()
    events = root / "parts" / "*" / "data" / "interim" / "events.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{events}')) TO '{interim / 'events.parquet'}' "
        "(FORMAT parquet)"
    )
    con.close()
    _write_profile(root)


def ingest_part(log: str, folder: str) -> None:
    """The ingest stage on one part of the log, its outputs under ``folder/data/interim``."""
    from personalab.core.paths import project_paths
    from personalab.ingest.io import save_ingest
    from personalab.ingest.params import IngestParams, SourceParams
    from personalab.ingest.pipeline import run_ingest

    params = IngestParams(source=SourceParams(format="parquet", path=log, arrival_ordered=True))
    save_ingest(run_ingest(params, Path(folder)), project_paths(folder))


def _write_profile(root: Path) -> None:
    """The profile the features stage reads, of the merged events (engine aggregates)."""
    from personalab.core.paths import project_paths
    from personalab.features import open_events
    from personalab.features.support import profile_of

    events = open_events(project_paths(root))
    try:
        profile = profile_of(events)
    finally:
        events.engine.close()
    (root / "data" / "interim" / "profile.json").write_text(json.dumps(profile.data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=SMALL)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB's memory_limit")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.events, args.seed, args.prepare)
        return 0
    root = Path(tempfile.gettempdir()) / f"personalab-bench-ingested-{args.events}-{args.seed}"
    if not (root / "data" / "interim" / "profile.json").exists():
        cmd = [sys.executable, __file__, "--events", str(args.events), "--seed", str(args.seed)]
        subprocess.run([*cmd, "--prepare", str(root)], check=True)

    from personalab.core.paths import project_paths
    from personalab.core.profile import load_profile
    from personalab.features import build_features, open_events
    from personalab.features.params import FeaturesParams

    params = FeaturesParams(engine=args.engine, duckdb={"memory_limit": args.memory_limit})
    paths = project_paths(root)
    start = time.perf_counter()
    events = open_events(paths, params.engine_params())
    engine = events.engine.describe()
    try:
        result = build_features(events, params, load_profile(paths))
    finally:
        events.engine.close()
    total = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    seconds, gib = TARGETS[SMALL if args.events <= SMALL else LARGE]
    missed = missed_targets(
        [("seconds_total", total, "<", seconds), ("peak_rss_gib", peak_gib, "<", gib)]
    )
    out = {
        "benchmark": "features",
        "engine": engine,
        "events": load_profile(paths).data["rows"],
        "cutoffs": result.metrics.get("cutoffs", 0),
        "rows": result.metrics["rows"],
        "features": result.metrics.get("feature_count", 0),
        "seconds_total": round(total, 2),
        "peak_rss_gib": round(peak_gib, 2),
        "target_seconds": seconds,
        "target_peak_gib": gib,
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
