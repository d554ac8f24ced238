"""Stage ``ingest``: read a behavioural log, validate it, and write canonical events and sessions.

``run_ingest(params)`` reads the configured source and returns frames and metrics;
``run_keeping_quarantine`` is the same for the notebook, writing the quarantine file when too
many rows fail; ``save_ingest`` writes the outputs. Where each part lives:

- :mod:`.params`: ``IngestParams`` and ``SourceParams`` (``params/ingest.yaml``), ``STAGE``
- :mod:`.sources`: readers of files and well-known public formats into raw rows
- :mod:`.synth`: the embedded default data, a deterministic synthetic log generator
- :mod:`.events`: the canonical events table's vocabulary, and parsing raw rows into it
- :mod:`.spool`: the parsed rows, written batch by batch to a Parquet file the engine reads
- :mod:`.timestamps`: epochs (unit inferred), yyyymmdd numbers, formats and zones to UTC,
  never wrapping
- :mod:`.validation`: the rules a row must meet, late arrivals, quarantine reasons
- :mod:`.duplicates`: content event ids and re-sent duplicates
- :mod:`.bots`: per-user activity statistics and the bot rules
- :mod:`.sessions`: splitting events into sessions and summarising them
- :mod:`.profile`: what the log holds (``data/interim/profile.json``), read by later stages
- :mod:`.pipeline`: ``run_ingest`` / ``process_events``, the steps above in order
- :mod:`.report`: tables of the outcome (daily counts, funnel, session lengths, metrics)
- :mod:`.plots`: the overview figure
- :mod:`.io`: the stage's input files and ``save_ingest``
"""

from personalab.ingest.io import input_paths, run_keeping_quarantine, save_ingest
from personalab.ingest.params import STAGE, IngestParams
from personalab.ingest.plots import plot_overview
from personalab.ingest.profile import profile_table
from personalab.ingest.report import ingest_status, summary_table

__all__ = [
    "STAGE",
    "IngestParams",
    "ingest_status",
    "input_paths",
    "plot_overview",
    "profile_table",
    "run_keeping_quarantine",
    "save_ingest",
    "summary_table",
]
