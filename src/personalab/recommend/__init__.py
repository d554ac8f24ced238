"""Stage ``recommend``: recommenders judged by their top-k lists, ranking first.

Interactions come from the event log: every user-item pair gets an implicit strength (a rating
is an interaction), and, for Surprise's rating predictors, a rating (the user's own with
``feedback: explicit``, else an implicit target). Each user's pairs are split into training
and held-out test pairs (and the training part again for validation). The candidates, named
entries of a model class (the ``implicit`` library's ALS, BPR and item-item models, SAR, EASE,
Surprise's predictors), are tuned on validation and compared with the popularity and random
baselines; the champion is the best on validation, popularity included, refitted on every
interaction and served from plain arrays with a popularity fallback. A next-item model learned
from the sessions answers requests of items ("what comes next").

Not every log can teach a recommender: :mod:`.learnable` names the cause and the champion is
then the popularity recommender, served from the same arrays (algorithm ``popularity``). A log
without an item id skips the stage, its outputs empty and marked.

Modules, in the order the stage uses them:

* :mod:`.params`: the stage's name, classes and metrics, :class:`RecommendParams`,
  ``RecommendError``;
* :mod:`.interactions`: strengths and ratings per user-item pair, and Surprise datasets;
* :mod:`.holdout`: the per-user held-out split (by a seeded hash, by time, or the last pairs);
* :mod:`.learnable`: what this log lets the stage learn, and the cause when it cannot;
* :mod:`.negatives`: sampled negatives for Surprise's implicit targets;
* :mod:`.baselines`: popularity (or trending) and random rankings, and the popularity
  recommender as arrays;
* :mod:`.algorithms`: every candidate built, memory-checked and fitted as arrays;
* :mod:`.implicit_models`, :mod:`.cooccurrence` (SAR), :mod:`.ease`, :mod:`.from_surprise`:
  each family's fit as :class:`~.arrays.ModelArrays`, the served format;
* :mod:`.scorers`: every item's score for blocks of users from the arrays, per model family;
* :mod:`.array_model`: ``ArrayModel``, each known user's top-k unseen items from the arrays;
* :mod:`.served`: ``Recommender`` (top-N with the fallback), the MLflow pyfunc wrapper,
  ``save_serving_model`` and ``load_recommender``; :mod:`.item_requests`: served requests of
  items;
* :mod:`.sessions` and :mod:`.next_item_eval`: the next-item model and its evaluation;
* :mod:`.evaluate`: ranking metrics on the held-out users, rating RMSE and MAE by
  cross-validation;
* :mod:`.tuning`: Optuna studies on the validation split;
* :mod:`.comparison`: every candidate on the test users, and the champion;
* :mod:`.stage`: ``prepare``, the next-item model, the champion refitted for every user, the
  stage's metrics;
* :mod:`.plots`: the comparison and tuning figures;
* :mod:`.io` and :mod:`.registry`: the files read and written (empty and marked when the
  stage skips), and what goes to MLflow.

This package exposes what ``notebooks/05_recommend.ipynb`` calls.
"""

from personalab.recommend.comparison import champion_summary, compare
from personalab.recommend.io import load_events, save_recommend, save_skipped
from personalab.recommend.params import STAGE, RecommendParams
from personalab.recommend.plots import plot_comparison, plot_tuning
from personalab.recommend.registry import log_trial_runs, register_and_decide
from personalab.recommend.served import save_serving_model
from personalab.recommend.stage import (
    describe_next_item,
    describe_recommendations,
    describe_split,
    fit_recommender,
    learn_next_item,
    prepare,
    recommend_everyone,
    stage_metrics,
    warn_on_fallback,
)
from personalab.recommend.tuning import tune

__all__ = [
    "STAGE",
    "RecommendParams",
    "champion_summary",
    "compare",
    "describe_next_item",
    "describe_recommendations",
    "describe_split",
    "fit_recommender",
    "learn_next_item",
    "load_events",
    "log_trial_runs",
    "plot_comparison",
    "plot_tuning",
    "prepare",
    "recommend_everyone",
    "register_and_decide",
    "save_recommend",
    "save_serving_model",
    "save_skipped",
    "stage_metrics",
    "tune",
    "warn_on_fallback",
]
