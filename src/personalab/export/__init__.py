"""Stage ``export``: the registry's champions as self-contained MLflow models for serving.

The stage takes the versions of ``personalab-intent`` and ``personalab-recommender``
that hold the alias ``champion`` of the current data lineage (not simply the newest: a re-run
that lost stays a challenger) and writes three MLflow pyfunc folders, each with a signature,
an input example (``serving_input_example.json``), pinned requirements and this package's
code. It exports what exists: a model whose stage skipped on this log (its candidate folder's
SKIPPED.json) or that has no champion for this data is left out (its folder holds SKIPPED.json
with the reason), and ``personalise`` serves with the parts it has; the stage skips only when
neither model exists.

``models/intent``
    feature rows as the features stage writes them in; ``purchase_probability`` and
    ``purchase_intent`` (at the model's decision threshold) out. Columns that had
    missing values in training, or that are missing by definition for some users (a last
    purchase, a dwell time, a cart ratio: ``features.schema.may_be_missing``), are optional;
    a missing required column is refused.
``models/recommender``
    rows with ``user_id`` in (request param ``k``); ranked ``item_id`` with ``score``
    and a ``fallback`` flag (popular items for unknown users) out, scored from the
    exported arrays (:mod:`personalab.recommend.served`).
``models/personalise``
    the decision rule: a user id with its feature row in; the intent score, the
    behavioural segment, the ``strategy`` and ``k`` items out. High-intent users
    (score at or above the threshold) get their personalised recommendations, casual
    browsers the trending items they have not seen, unknown users the popular items.
    Without an intent model every known user gets personalised recommendations
    (``personalised_no_intent``); without a recommender everyone gets the trending items
    (``trending_no_recommender``); without segments the segment is null.

Every answer row of ``recommender`` and ``personalise`` says what its ``score`` is
(``score_kind``: ``predicted_rating``, ``trending_share`` or ``popularity_share``,
:data:`~personalab.export.params.SCORE_KINDS`) and why the user got these items (``reason``).
A request may ask for ``k`` from 1 to ``max_k``; a null ``user_id``, or a null in a column the
intent model had no missing value for, is refused with the column named (HTTP 400). The models
are saved "from code" (``pyfunc_model.py``): nothing is unpickled when they load. ``make serve``
runs :mod:`.serving`: MLflow's scoring app with a request body limit (413) and one-line error
answers.

``reports/summary.md`` records what every stage did (status, and why anything was skipped or
left out), which models were exported, the champions, their metrics, the git and data
versions and MLflow runs they came from, and each stage's time.

Modules, in the order notebooks/08_export.ipynb uses them:

- ``params``: :class:`ExportParams` (params/export.yaml), ``STAGE``, ``ExportError``, the
  personalise answer's columns and strategies, the parity tolerance.
- ``champions``: :class:`Champion`, a registry's champion version downloaded with its run's
  metrics and tags, and the intent model and recommender inside.
- ``parts``: :class:`ExportParts`, what there is to export (champions of the current lineage,
  the segmenter) and why a part is left out, noted in the stage's status.
- ``personalise``: the trending items and :class:`Personaliser`, the decision rule (and its
  files).
- ``pyfunc``: ``models/personalise`` as an MLflow pyfunc folder: a served request's checks,
  signature, example (``pyfunc_model``: the model from code MLflow runs, a thin adapter).
- ``stage``: the rule built from the parts, its strategy mix, the three folders written (or
  marked not exported), the stage's metrics.
- ``parity``: each folder loaded back must predict what the model it exports predicts.
- ``summary``: the markdown of ``reports/summary.md``.
- ``io``: the features table and the segmenter's metadata read, the stages' times and
  statuses, the metrics and summary written (also of a skipped export).
"""

from personalab.export.io import load_features, save_outputs, save_skipped
from personalab.export.params import STAGE, ExportParams
from personalab.export.parity import check_exports
from personalab.export.parts import gather_parts, parts_table
from personalab.export.stage import build_personaliser, export_metrics, export_models, strategy_mix

__all__ = [
    "STAGE",
    "ExportParams",
    "build_personaliser",
    "check_exports",
    "export_metrics",
    "export_models",
    "gather_parts",
    "load_features",
    "parts_table",
    "save_outputs",
    "save_skipped",
    "strategy_mix",
]
