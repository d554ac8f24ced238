"""Stage ``segments``: behavioural segments by clustering, chosen by validation.

The users of the latest cut-off of the features table are preprocessed and
clustered on the default features the table has values of (or an explicit list) by every
candidate (several algorithms, ``k`` swept over
``k_min..k_max``); each candidate is scored, the choice rule picks one, its
segments are profiled and named, and the chosen model re-assigns users at every
cut-off to measure how often users change segment. When nothing can be clustered (no
rows, fewer than two usable features, too few users, no candidate with two segments) the stage
skips with the reason and writes its outputs empty and marked.

Modules, in the order the stage runs them:

- ``params``: ``SegmentsParams`` and ``ChoiceRule`` (``params/segments.yaml``), ``STAGE``,
  ``ALGORITHMS``, ``DEFAULT_FEATURES``, ``DEFAULT_LOG1P`` and ``SegmentsError``.
- ``columns``: the features and log1p columns clustered on, fitted to the table.
- ``preprocess``: the feature matrix and the preprocessing pipeline (log1p, imputation,
  scaling, optional PCA); ``latest_cutoff``.
- ``model``: ``SampledClusterer``, the estimator every candidate is (fit on a sample, assign
  all), and centroid distances.
- ``scores``: silhouette, Davies-Bouldin, Calinski-Harabasz, bootstrap stability and the ARI
  against the generator's truth.
- ``candidates``: the sweep of candidates, their comparison table and the choice rule.
- ``profiles``: segment profiles, feature lift, names and the crosstab with the rule segments.
- ``history``: re-assignment at every cut-off, transitions and the share who changed segment.
- ``build``: ``build_segments``, the stage's wiring and its skip checks, and its
  ``SegmentsResult``.
- ``plots``: the sweep, the profile heatmap and the projection (Figures only).
- ``io``: reading the inputs, writing every output and the model, or the empty, marked
  outputs of a skipped stage.
- ``runs``: one MLflow nested run per candidate, and the choice on the stage run.
"""

from personalab.segments.build import build_segments
from personalab.segments.candidates import describe_rule
from personalab.segments.io import describe_inputs, load_inputs, save_segments, save_skipped
from personalab.segments.params import STAGE, SegmentsParams
from personalab.segments.plots import plot_profile_heatmap, plot_projection, plot_sweep
from personalab.segments.preprocess import latest_cutoff
from personalab.segments.profiles import rule_crosstab
from personalab.segments.runs import log_candidate_runs

__all__ = [
    "STAGE",
    "SegmentsParams",
    "build_segments",
    "describe_inputs",
    "describe_rule",
    "latest_cutoff",
    "load_inputs",
    "log_candidate_runs",
    "plot_profile_heatmap",
    "plot_projection",
    "plot_sweep",
    "rule_crosstab",
    "save_segments",
    "save_skipped",
]
