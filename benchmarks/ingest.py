"""Benchmark: ingest N synthetic events (default 10 million) from one Parquet file, next to bare
DuckDB doing the same core work in the same run.

The log is written once by the chunked generator (``personalab.ingest.synth --events N``, cached
under the system temp folder, arrival-ordered). Then, each in its own process so peak memory
(max RSS) is its own:

- ``ingest``: reading, parsing, validating, de-duplicating, removing bots and sessionising, as the
  stage does, on the engine named (``--engine duckdb|spark``);
- ``bare``: one DuckDB query doing the core of it on the same file: parse the timestamps, drop
  rows failing the simple rules, keep the first of each event id, split sessions at 30-minute
  gaps, write the events as Parquet (the reference the issue measures against).

Prints one JSON object. Targets (issue 19): at 10 M events ingest takes at most 1.3 x bare
DuckDB's time and peaks under 3 GiB; at 100 M it takes under 5 minutes and 10 GiB.
Usage: python benchmarks/ingest.py [--events 10000000] [--engine duckdb] [--memory-limit 8GB]
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

SMALL, LARGE = 10_000_000, 100_000_000
TARGETS = {  # events: (checks over the measured figures)
    SMALL: [("ratio_to_bare_duckdb", "<=", 1.3), ("peak_rss_gib", "<", 3.0)],
    LARGE: [("seconds_total", "<", 300), ("peak_rss_gib", "<", 10.0)],
}
BARE_SQL = """
COPY (
  WITH parsed AS (
    SELECT *, row_number() OVER () AS pos, try_cast(timestamp AS TIMESTAMPTZ) AS ts
    FROM read_parquet('{path}')
  ), valid AS (
    SELECT * FROM parsed
    WHERE user_id IS NOT NULL AND ts IS NOT NULL AND event_type IN
      ('view','click','scroll','search','add_to_cart','remove_from_cart','purchase','rate')
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY pos) = 1
  ), gaps AS (
    SELECT *, coalesce(ts - lag(ts) OVER w >= INTERVAL 30 MINUTE, true) AS starts
    FROM valid WINDOW w AS (PARTITION BY user_id ORDER BY ts, pos)
  )
  SELECT * EXCLUDE (starts), user_id || '-s' || sum(starts::INT) OVER
    (PARTITION BY user_id ORDER BY ts, pos ROWS UNBOUNDED PRECEDING) AS session_id
  FROM gaps ORDER BY user_id, ts, pos
) TO '{out}' (FORMAT parquet)
"""


def ensure_input(n_events: int, seed: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"personalab-bench-{n_events}-{seed}.parquet"
    if not path.exists():
        cmd = [sys.executable, "-m", "personalab.ingest.synth", str(path)]
        subprocess.run([*cmd, "--events", str(n_events), "--seed", str(seed)], check=True)
    return path


def run_ingest(path: Path, engine: str, memory_limit: str) -> dict:
    """The stage's work on ``path`` (in this process): timings, counts, peak RSS."""
    from personalab.ingest.params import IngestParams, SourceParams
    from personalab.ingest.pipeline import process_events
    from personalab.ingest.sources import read_source

    params = IngestParams(
        source=SourceParams(format="parquet", path=str(path), arrival_ordered=True),
        engine=engine,
        duckdb={"memory_limit": memory_limit},
    )
    start = time.perf_counter()
    raw = read_source("parquet", path)
    read_s = time.perf_counter() - start
    result = process_events(raw, params)
    return {
        "seconds_total": time.perf_counter() - start,
        "seconds_read": read_s,
        **{f"seconds_{k}": v for k, v in result.timings.items()},
        "rows_read": result.metrics["rows_read"],
        "rows_valid": result.metrics["rows_valid"],
        "sessions": result.metrics["sessions"],
        "peak_rss_gib": _peak_gib(),
    }


def run_bare(path: Path, memory_limit: str) -> dict:
    """The core work as one DuckDB query (in this process): seconds, peak RSS."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": tmp})
        start = time.perf_counter()
        con.execute(BARE_SQL.format(path=path, out=Path(tmp) / "events.parquet"))
        seconds = time.perf_counter() - start
        rows = con.execute(f"SELECT count(*) FROM '{Path(tmp) / 'events.parquet'}'").fetchone()[0]
    return {"seconds_total": seconds, "rows_valid": rows, "peak_rss_gib": _peak_gib()}


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _in_child(*args: str) -> dict:
    """This script's ``--child`` mode in a fresh process: its JSON answer."""
    out = subprocess.run(  # its stderr passes through: a failure says why
        [sys.executable, __file__, "--child", *args], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=SMALL)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB's, for both runs")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare DuckDB run")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, *rest = args.child
        answer = run_ingest(Path(path), *rest) if kind == "ingest" else run_bare(Path(path), *rest)
        print(json.dumps(answer))
        return 0
    path = ensure_input(args.events, args.seed)
    ingest = _in_child("ingest", str(path), args.engine, args.memory_limit)
    bare = None if args.no_bare else _in_child("bare", str(path), args.memory_limit)
    figures = {
        "seconds_total": ingest["seconds_total"],
        "peak_rss_gib": ingest["peak_rss_gib"],
        "ratio_to_bare_duckdb": ingest["seconds_total"] / bare["seconds_total"] if bare else None,
    }
    size = SMALL if args.events <= SMALL else LARGE
    checks = [
        (name, figures[name], op, target)
        for name, op, target in TARGETS[size]
        if figures[name] is not None
    ]
    missed = missed_targets(checks)
    out = {
        "benchmark": "ingest",
        "engine": args.engine,
        "events_requested": args.events,
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in ingest.items()},
        "events_per_second": round(ingest["rows_read"] / ingest["seconds_total"]),
        "bare_duckdb": None if bare is None else {k: round(v, 2) for k, v in bare.items()},
        "ratio_to_bare_duckdb": None if bare is None else round(figures["ratio_to_bare_duckdb"], 2),
        "targets": {name: f"{op} {target}" for name, op, target in TARGETS[size]},
        "meets_target": not missed,
    }
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
