"""Stage ``features``: point-in-time user features, labels and rule segments.

For each cut-off ``T`` every feature uses only events with ``timestamp < T``, and
the label ``purchased_within_horizon`` is 1 when the user buys in ``[T, T + horizon)``;
the result is one row per (user, cut-off), which the segments and intent stages read.

Modules:

- ``schema``: the table's contract (keys, label, rule segments, feature names);
- ``params``: the stage's parameters (``params/features.yaml``);
- ``cutoffs``: where the cut-offs go, the label at each, the categories with a share column;
- ``history``: the events before one cut-off as arrays, and per-user counts, means and maxima;
- ``families``: one function per feature family, and the table documenting every feature;
- ``rules``: RFM scores and segments, the rule segments, engagement score, dominant segment;
- ``build``: the wiring (``features_at`` for one cut-off, ``build_features`` for all);
- ``report``: the feature documentation table and the summaries the notebook shows;
- ``plots``: the figures;
- ``io``: reading the ingest stage's events and writing the stage's outputs.
"""

from personalab.features.build import build_features
from personalab.features.io import STAGE, load_events, save_features
from personalab.features.params import FeaturesParams
from personalab.features.plots import plot_distributions, plot_segments
from personalab.features.report import (
    feature_table_doc,
    null_shares,
    positive_rate_by_cutoff,
    segment_sizes,
)
from personalab.features.schema import LABEL

__all__ = [
    "LABEL",
    "STAGE",
    "FeaturesParams",
    "build_features",
    "feature_table_doc",
    "load_events",
    "null_shares",
    "plot_distributions",
    "plot_segments",
    "positive_rate_by_cutoff",
    "save_features",
    "segment_sizes",
]
