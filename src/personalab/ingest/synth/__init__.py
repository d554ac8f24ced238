"""Embedded default data: a deterministic generator of realistic behavioural event logs.

``generate_log(SynthConfig(...))`` returns the raw event log (as a source would
deliver it, dirt included), the ground truth per user and the item catalogue.
The same config and seed always give the same log.

Users of latent behavioural types, each with an individual intent trait, visit in
sessions that arrive as a Poisson process and run through a view -> click ->
add_to_cart -> purchase funnel; bots and dirt are added on top; the truth table
holds each user's hazard, so :func:`purchase_probability` is exact.

Modules, in the order the generator uses them:

- :mod:`.config`: ``SynthConfig`` (sizes, seed, dirt rates), ``USER_TYPES``, vocabularies
- :mod:`.population`: items, each type's taste, users (types, intent, lifecycle)
- :mod:`.behaviour`: sessions in time and the events of each session's funnel
- :mod:`.dirt`: bot users, duplicates, late arrivals, malformed rows
- :mod:`.generate`: ``generate_log``, the one call that runs the steps above
- :mod:`.truth`: ``purchase_probability`` and ``expected_sessions`` from the truth table
- :mod:`.io`: ``write_log`` (CSV, Parquet or JSON lines); ``__main__`` is the command line:
  ``python -m personalab.ingest.synth OUT [--users N | --events N] [--rename old=new ...]``
- :mod:`.chunks`: ``write_chunked_log``, logs of 10-100 M events in bounded memory (users in
  chunks, merged into one arrival-ordered file by DuckDB)
"""

from personalab.ingest.synth.chunks import write_chunked_log
from personalab.ingest.synth.config import USER_TYPES, SynthConfig
from personalab.ingest.synth.generate import SyntheticLog, generate_log
from personalab.ingest.synth.io import write_log
from personalab.ingest.synth.truth import expected_sessions, purchase_probability

__all__ = [
    "USER_TYPES",
    "SynthConfig",
    "SyntheticLog",
    "expected_sessions",
    "generate_log",
    "purchase_probability",
    "write_chunked_log",
    "write_log",
]
