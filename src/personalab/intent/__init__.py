"""Stage ``intent``: a classifier of the features table's target (purchase intent by default),
XGBoost tuned by Optuna.

Input is the features stage's table (one row per user and cut-off; its attrs name the label, e.g.
``purchased_within_horizon``, the target event and the horizon) or any CSV/Parquet table named by
``table_path`` with a label column of booleans, 0/1 or TRUE/FALSE strings. When no target is
learnable the stage skips, saying why, and writes its outputs empty and marked.

The steps, in the order notebooks/04_intent.ipynb calls them, and the module of each:

- ``params``: :class:`IntentParams` (params/intent.yaml), ``STAGE``, the stage's errors.
- ``io``: the inputs (:func:`load_inputs`), the study's storage (:func:`study_storage`)
  and every output file (:func:`save_intent`, :func:`save_skipped`); the only module that
  touches files.
- ``target``: what is predicted (label, target event, horizon) and why nothing can be learned.
- ``values``: reading raw values (the label, numbers, booleans) and each column's kind.
- ``columns``: which columns are features, and :class:`FeatureEncoder`, their encoding.
- ``split``: temporal or stratified train/validation/test rows; :func:`prepare_stage`.
- ``study``: the Optuna study, named from the data so an interrupted run resumes; its trials
  planned in batches, so one worker or several run the same trials.
- ``tune``: :func:`tune_xgboost` (pruned, early-stopped trials), importance, trial runs.
- ``workers``: the processes that share the study's trials (``tuning.n_workers``, and
  ``python -m personalab.intent.workers`` on other hosts).
- ``calibrate``: none, sigmoid or isotonic calibration, chosen on validation.
- ``model``: :class:`IntentModel`, encoder + scorer (a booster, or a linear model) +
  calibrator + threshold.
- ``final``: :func:`fit_final_model`, calibrated and thresholded on validation, refitted.
- ``baselines``: class prior, logistic regression (``linear``), default XGBoost.
- ``evaluate``: the test rows scored once (:func:`evaluate_on_test`), the oracle.
- ``choice``: :func:`choose_served`, the tuned model unless a baseline beats it on the test
  rows beyond noise, then that baseline.
- ``explain``: SHAP importance and the reasons behind the highest scores.
- ``plots``: figures of the tuning, the test curves and the SHAP values.
- ``pyfunc``: the MLflow serving model (raw feature rows in).
- ``registry``: registration, and the champion/challenger alias decided on the test rows.
"""

from personalab.intent.baselines import fit_baselines
from personalab.intent.choice import choose_served
from personalab.intent.evaluate import (
    evaluate_on_test,
    oracle_probabilities,
    warn_miscalibrated,
)
from personalab.intent.explain import explain_rows, mean_abs_shap
from personalab.intent.final import fit_final_model
from personalab.intent.io import load_inputs, save_intent, save_skipped, study_storage
from personalab.intent.params import STAGE, IntentParams
from personalab.intent.plots import plot_evaluation, plot_shap_summary, plot_tuning
from personalab.intent.registry import register_and_decide
from personalab.intent.split import columns_report, prepare_stage
from personalab.intent.study import create_study
from personalab.intent.tune import log_tuning, parameter_importance, tune_xgboost

__all__ = [
    "STAGE",
    "IntentParams",
    "choose_served",
    "columns_report",
    "create_study",
    "evaluate_on_test",
    "explain_rows",
    "fit_baselines",
    "fit_final_model",
    "load_inputs",
    "log_tuning",
    "mean_abs_shap",
    "oracle_probabilities",
    "parameter_importance",
    "plot_evaluation",
    "plot_shap_summary",
    "plot_tuning",
    "prepare_stage",
    "register_and_decide",
    "save_intent",
    "save_skipped",
    "study_storage",
    "tune_xgboost",
    "warn_miscalibrated",
]
