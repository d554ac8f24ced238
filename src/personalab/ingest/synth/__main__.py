"""``python -m personalab.ingest.synth OUT [--users N] [--rename old=new ...]``: write a sample raw log."""

from __future__ import annotations

import argparse

from personalab.ingest.synth.config import SynthConfig
from personalab.ingest.synth.generate import generate_log
from personalab.ingest.synth.io import write_log


def main(argv: list[str] | None = None) -> int:
    """``python -m personalab.ingest.synth OUT [--users N] [--rename old=new ...]``: write a sample raw log."""
    parser = argparse.ArgumentParser(
        prog="python -m personalab.ingest.synth", description=main.__doc__
    )
    parser.add_argument("out", help="output file: .csv, .parquet or .jsonl")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--truth", help="also write the ground truth (Parquet) here")
    parser.add_argument(
        "--rename",
        nargs="*",
        default=[],
        metavar="OLD=NEW",
        help="rename columns, e.g. user_id=visitor",
    )
    args = parser.parse_args(argv)
    try:
        rename = dict(item.split("=", 1) for item in args.rename)
    except ValueError:
        parser.error("--rename takes OLD=NEW pairs")
    config = SynthConfig(
        n_users=args.users,
        n_items=args.items,
        n_days=args.days,
        seed=args.seed,
        bot_users=max(1, args.users // 1000),
    )
    log = generate_log(config)
    write_log(log.events, args.out, rename)
    if args.truth:
        log.truth.to_parquet(args.truth, index=False)
    print(f"wrote {len(log.events)} events of {args.users} users to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
