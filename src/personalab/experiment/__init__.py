"""Stage ``experiment``: the A/B analysis of an experiment log.

An assignment table (user, variant, time) and the events give each user's outcomes after their
assignment; per treatment against the control, tea-tasting gives the uplift of conversion,
revenue per user and the click-through of recommended items with their confidence intervals
(delta method), CUPED with a pre-period column of the features table, a sample-ratio-mismatch
check, and the design's minimum detectable effect. On the synthetic data, without a table, the
stage simulates an experiment whose true uplift is known (personalised lists against trending
items) and says whether the interval covers it.

Modules: ``params``, ``simulate`` (the simulated experiment), ``analysis`` (outcomes and the
tests), ``stage`` (the tables and the run), ``io`` (reads, writes, the figure).
"""

from personalab.experiment.io import load_experiment, plot_uplift, save_experiment, save_skipped
from personalab.experiment.params import STAGE, ExperimentParams
from personalab.experiment.stage import run_experiment

__all__ = [
    "STAGE",
    "ExperimentParams",
    "load_experiment",
    "plot_uplift",
    "run_experiment",
    "save_experiment",
    "save_skipped",
]
