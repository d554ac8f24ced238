"""Stage ``monitor``: does the latest data still look like what the champions learned, and do
they still work? It ends with a retraining recommendation and its reasons.

The latest cut-off of the features table is compared with the cut-offs before it (the
reference: the rows the intent stage learns and validates on):

- feature drift of the features computed over each cut-off's recent window (PSI, Jensen–Shannon
  and KS per feature, the share that drifted) and of the table itself (the champion's inputs);
- prediction drift of the intent champion's probabilities;
- a backtest of the intent champion at every labelled cut-off (ROC-AUC, PR-AUC, Brier,
  calibration);
- segment drift: the segments' sizes and the share of users who changed segment;
- the recommender's hit rate over successive windows after it stopped learning, beside
  popularity's.

Modules: ``params`` (``MonitorParams``), ``drift`` (the statistics), ``recent`` (the recent
windows), ``backtest``, ``segment_drift``, ``hit_rate``, ``stage`` (``run_monitor`` and the
recommendation), ``io`` (inputs and outputs), ``plots``.
"""

from personalab.monitor.io import load_inputs, save_monitor, tag_run
from personalab.monitor.params import STAGE, MonitorParams
from personalab.monitor.plots import plot_backtest, plot_drift, plot_hit_rate
from personalab.monitor.stage import run_monitor

__all__ = [
    "STAGE",
    "MonitorParams",
    "load_inputs",
    "plot_backtest",
    "plot_drift",
    "plot_hit_rate",
    "run_monitor",
    "save_monitor",
    "tag_run",
]
