"""Stage ``recommend``: collaborative filtering with Surprise, judged by its top-k lists.

Interactions come from the event log; each user's pairs are split into training and
held-out test pairs (and the training part again for validation). Surprise's algorithms
are tuned on validation, compared with the popularity and random baselines on the test
users, and the champion (best ranking metric on validation) is refitted on every
interaction and served from plain arrays with a popularity fallback.

Not every log can teach a collaborative filter: :mod:`.learnable` names the cause (one item,
too few interactions left by the minimum counts, no pair to hold out, explicit feedback without
ratings) and the champion is then the popularity recommender, served from the same arrays
(algorithm ``popularity``). A log without an item id skips the stage, its outputs empty and
marked.

Modules, in the order the stage uses them:

* :mod:`.params`: the stage's name, algorithms and metrics, :class:`RecommendParams`,
  ``RecommendError``;
* :mod:`.interactions`: explicit ratings or implicit strengths per user-item pair, and
  Surprise datasets of them;
* :mod:`.holdout`: the per-user held-out split;
* :mod:`.learnable`: what this log lets the stage learn, and the cause when it cannot;
* :mod:`.negatives`: sampled negatives for implicit feedback (what Surprise is fitted to);
* :mod:`.baselines`: popularity (or trending) and random rankings, and the popularity
  recommender as arrays;
* :mod:`.algorithms`: Surprise's algorithms built, memory-checked and fitted as candidates;
* :mod:`.arrays`: ``ModelArrays``, a fitted model as plain arrays (the served format);
* :mod:`.from_surprise`: a fitted Surprise algorithm as arrays, its vectorised scores and top-k;
* :mod:`.scorers`: every item's score for blocks of users from the arrays, per model family;
* :mod:`.served`: ``ArrayModel`` and ``Recommender`` (top-N with the fallback), the MLflow
  pyfunc wrapper, ``save_serving_model`` and ``load_recommender``;
* :mod:`.evaluate`: ranking metrics on the held-out users, RMSE and MAE by cross-validation;
* :mod:`.tuning`: Optuna studies on the validation split;
* :mod:`.comparison`: every model on the test users, and the champion;
* :mod:`.stage`: ``prepare``, the champion refitted for every user, the stage's metrics;
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
]
