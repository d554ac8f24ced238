"""Unit tests of personalab.export.stage: the strategy mix and the stage's metrics, by hand."""

from types import SimpleNamespace

import pandas as pd
import pytest

from personalab.export.params import ExportParams
from personalab.export.stage import export_metrics, strategy_mix


class Rule:
    """A stand-in for the Personaliser: a fixed answer per user, one item each."""

    threshold = 0.25
    trending = ["i1", "i2", "i3"]

    def __init__(self, answers: dict[str, tuple[str, str]]):
        self.answers, self.asked = answers, []

    def personalise(self, table: pd.DataFrame, k: int) -> pd.DataFrame:
        self.asked.append((list(table["user_id"]), k))
        rows = [(u, *self.answers[u]) for u in table["user_id"]]
        return pd.DataFrame(rows, columns=["user_id", "segment", "strategy"])


TABLE = pd.DataFrame(
    {
        "user_id": ["old", "u1", "u2", "u3", "u4", "u5"],
        "cutoff": pd.to_datetime(["2026-01-01"] + ["2026-01-08"] * 5),
    }
)
ANSWERS = {
    "u1": ("buyers", "personalised"),
    "u2": ("buyers", "trending"),
    "u3": ("browsers", "trending"),
    "u4": ("browsers", "trending"),
    "u5": ("browsers", "personalised"),
}


def test_strategy_mix_counts_the_latest_cutoff_per_segment():
    rule = Rule(ANSWERS)
    mix = strategy_mix(rule, TABLE)
    assert rule.asked == [(["u1", "u2", "u3", "u4", "u5"], 1)]  # latest cut-off, one item each
    assert list(mix.columns) == ["personalised", "trending", "all"]  # nobody got "popular"
    assert mix.loc["buyers"].tolist() == [1, 1, 2]
    assert mix.loc["browsers"].tolist() == [1, 2, 3]
    assert mix.loc["all"].tolist() == [2, 3, 5]


def test_export_metrics_by_hand_with_a_strategy_nobody_got():
    rule = Rule(ANSWERS)
    mix = strategy_mix(rule, TABLE)
    checks = {"intent_parity": 0.0, "recommender_parity": 0.0, "personalise_parity": 1e-9}
    metrics = export_metrics(
        SimpleNamespace(version="3"),
        SimpleNamespace(version="7"),
        rule,
        mix,
        checks,
        ExportParams(),
    )
    assert metrics == {
        "intent_version": 3,
        "recommender_version": 7,
        "intent_parity": 0.0,
        "recommender_parity": 0.0,
        "personalise_parity": 1e-9,
        "high_intent_threshold": 0.25,
        "trending_window_days": ExportParams().personalise.trending_window_days,
        "trending_items": 3,
        "k": 10,
        "personalised_share": pytest.approx(2 / 5),
        "trending_share": pytest.approx(3 / 5),
        "popular_share": 0.0,  # present, so every run reports the same keys
    }
