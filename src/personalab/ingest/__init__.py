"""Stage ``ingest``: read a behavioural log, validate it, and write canonical events and sessions.

``run_ingest(params)`` reads the configured source and returns frames and metrics;
``save_ingest`` writes them. Where each part lives:

- :mod:`.params`: ``IngestParams`` and ``SourceParams`` (``params/ingest.yaml``), ``STAGE``
- :mod:`.sources`: readers of files and well-known public formats into raw rows
- :mod:`.synth`: the embedded default data, a deterministic synthetic log generator
- :mod:`.events`: the canonical events table's vocabulary, and parsing raw rows into it
- :mod:`.validation`: the rules a row must meet, late arrivals, quarantine reasons
- :mod:`.duplicates`: content event ids and re-sent duplicates
- :mod:`.bots`: per-user activity statistics and the bot rules
- :mod:`.sessions`: splitting events into sessions and summarising them
- :mod:`.pipeline`: ``run_ingest`` / ``process_events``, the steps above in order
- :mod:`.report`: tables of the outcome (daily counts, funnel, session lengths, metrics)
- :mod:`.plots`: the overview figure
- :mod:`.io`: the stage's input files and ``save_ingest``
"""

from personalab.ingest.io import input_paths, save_ingest
from personalab.ingest.params import STAGE, IngestParams
from personalab.ingest.pipeline import run_ingest
from personalab.ingest.plots import plot_overview
from personalab.ingest.report import summary_table

__all__ = [
    "STAGE",
    "IngestParams",
    "input_paths",
    "plot_overview",
    "run_ingest",
    "save_ingest",
    "summary_table",
]
