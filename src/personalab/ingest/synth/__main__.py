"""``python -m personalab.ingest.synth OUT [--users N | --events N] [--rename old=new ...]``: write a sample raw log.

``--drift at_day=20 type_share=0.3 ...`` plants drift (:mod:`.drift`). A log larger than one chunk (``--chunk-users``) is written by the chunked writer
(:func:`~personalab.ingest.synth.chunks.write_chunked_log`) in bounded memory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from personalab.ingest.synth.chunks import (
    DEFAULT_CHUNK_USERS,
    EVENTS_PER_USER,
    FORMATS,
    users_for_events,
    write_chunked_log,
)
from personalab.ingest.synth.config import SynthConfig
from personalab.ingest.synth.generate import generate_log
from personalab.ingest.synth.io import write_log


def main(argv: list[str] | None = None) -> int:
    """``python -m personalab.ingest.synth OUT [--users N | --events N] [--rename old=new ...]``: write a sample raw log."""
    parser = argparse.ArgumentParser(
        prog="python -m personalab.ingest.synth", description=main.__doc__
    )
    parser.add_argument("out", help="output file: .csv, .parquet or .jsonl")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--users", type=int, help="number of users (default 2000)")
    size.add_argument(
        "--events",
        type=int,
        help=f"about this many events (users = N / {EVENTS_PER_USER} over 90 days); "
        "items and days then default to the full config's (3000, 90)",
    )
    parser.add_argument(
        "--items", type=int, help="catalogue size (default 500; 3000 with --events)"
    )
    parser.add_argument(
        "--days", type=int, help="log length in days (default 30; 90 with --events)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--truth", help="also write the ground truth (Parquet) here")
    parser.add_argument(
        "--rename",
        nargs="*",
        default=[],
        metavar="OLD=NEW",
        help="rename columns, e.g. user_id=visitor",
    )
    parser.add_argument(
        "--chunk-users",
        type=int,
        default=DEFAULT_CHUNK_USERS,
        help="users generated at a time; a larger log is merged out of core by DuckDB",
    )
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit for the merge")
    parser.add_argument("--threads", type=int, help="DuckDB threads for the merge (default: all)")
    parser.add_argument(
        "--drift",
        nargs="+",
        metavar="KEY=VALUE",
        help="plant drift (SynthConfig.drift), e.g. at_day=20 type_share=0.3 price_factor=1.2 "
        "surge_category=garden surge_share=0.3",
    )
    args = parser.parse_args(argv)
    try:
        rename = dict(item.split("=", 1) for item in args.rename)
    except ValueError:
        parser.error("--rename takes OLD=NEW pairs")
    if args.chunk_users < 1:
        parser.error("--chunk-users must be at least 1")
    full = SynthConfig()
    items = args.items or (full.n_items if args.events else 500)
    days = args.days or (full.n_days if args.events else 30)
    users = users_for_events(args.events, days) if args.events else args.users or 2000
    try:
        drift = dict(item.split("=", 1) for item in args.drift) if args.drift else None
        config = SynthConfig(
            n_users=users,
            n_items=items,
            n_days=days,
            seed=args.seed,
            bot_users=max(1, users // 1000),
            drift=drift,
        )
    except ValueError as err:  # pydantic's names the key and why
        parser.error(f"--drift takes KEY=VALUE pairs of SynthConfig.drift: {err}")
    if users > args.chunk_users:
        if Path(args.out).suffix not in FORMATS:
            parser.error(f"{args.out}: unknown extension; use .parquet, .csv or .jsonl")
        result = write_chunked_log(
            config,
            args.out,
            chunk_users=args.chunk_users,
            memory_limit=args.memory_limit,
            threads=args.threads,
            truth_path=args.truth,
            rename=rename,
        )
        print(
            f"wrote {result['events']} events of {users} users to {args.out} "
            f"({result['chunks']} chunks, {result['seconds']} s, "
            f"peak RSS {result['peak_rss_gib']} GiB)"
        )
        print(json.dumps({k: v for k, v in result.items() if k != "counts"}))
        return 0
    log = generate_log(config)
    write_log(log.events, args.out, rename)
    if args.truth:
        log.truth.to_parquet(args.truth, index=False)
    print(f"wrote {len(log.events)} events of {users} users to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
