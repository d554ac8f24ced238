"""Stage ``features``: point-in-time user features, labels and rule segments.

For each cut-off ``T`` every feature uses only events with ``timestamp < T``, and the label
(``purchased_within_horizon`` by default; ``target_event`` in the params) is 1 when the user
has that event in ``[T, T + horizon)``; the result is one row per (user, cut-off), which the
segments and intent stages read. The stage does what the log supports: ``auto`` cut-offs fit
the log's span and granularity, features the log cannot have are left out (with the reason),
and a log where no cut-off fits gives an empty table marked skipped.

Modules:

- ``schema``: the table's contract (keys, label, rule segments, feature names, attrs);
- ``params``: the stage's parameters (``params/features.yaml``);
- ``cutoffs``: where the cut-offs go (``auto`` fitted to the log), the label at each, the
  categories with a share column;
- ``support``: the features and rule segments a log's profile supports;
- ``plan``: every decision before computing, said on the stage's status;
- ``query``: the events on the engine the params name (DuckDB or Spark, through Ibis), and the
  whole-log figures the plan reads;
- ``families_query``: the feature families as Ibis expressions, and the table documenting every
  feature (``taste_query``: category mix and price sensitivity);
- ``rules_query``: RFM scores and segments, the rule segments, engagement score, dominant
  segment and the label, as Ibis expressions;
- ``build``: the wiring (``features_at`` for one cut-off, ``build_features`` for all: one query
  per cut-off, fetched together);
- ``report``: the feature documentation table and the summaries the notebook shows;
- ``plots``: the figures;
- ``io``: opening the ingest stage's events on the engine and writing the stage's outputs.
"""

from personalab.features.build import build_features
from personalab.features.io import STAGE, open_events, save_features, save_skipped
from personalab.features.params import FeaturesParams
from personalab.features.plots import plot_distributions, plot_segments
from personalab.features.report import (
    feature_table_doc,
    null_shares,
    positive_rate_by_cutoff,
    segment_sizes,
)

__all__ = [
    "STAGE",
    "FeaturesParams",
    "build_features",
    "feature_table_doc",
    "open_events",
    "null_shares",
    "plot_distributions",
    "plot_segments",
    "positive_rate_by_cutoff",
    "save_features",
    "save_skipped",
    "segment_sizes",
]
