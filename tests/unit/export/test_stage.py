"""Unit tests of personalab.export.stage: the strategy mix, the stage's metrics and the trending
note, by hand."""

from types import SimpleNamespace

import pandas as pd
import pytest

from personalab.core.status import StageStatus
from personalab.export.params import ExportParams
from personalab.export.stage import export_metrics, note_trending, strategy_mix


class Rule:
    """A stand-in for the Personaliser: a fixed answer per user, one item each."""

    threshold = 0.25
    trending = ["i1", "i2", "i3"]
    strategies = ("personalised", "trending", "popular")
    online = None

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
    both = SimpleNamespace(
        intent=SimpleNamespace(version="3"), recommender=SimpleNamespace(version="7")
    )
    metrics = export_metrics(both, rule, mix, checks, ExportParams())
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


def test_strategy_mix_without_segments_counts_one_row_and_the_rules_own_strategies():
    rule = Rule({u: (None, "personalised_no_intent") for u in ANSWERS} | {"u3": (None, "popular")})
    rule.strategies = ("personalised_no_intent", "popular")
    mix = strategy_mix(rule, TABLE)
    assert list(mix.columns) == ["personalised_no_intent", "popular", "all"]
    assert mix.index.tolist() == ["(no segments)", "all"]
    assert mix.loc["all"].tolist() == [4, 1, 5]


def test_export_metrics_of_a_rule_without_an_intent_model_name_only_what_exists():
    rule = Rule({u: ("s", "personalised_no_intent") for u in ANSWERS} | {"u3": ("s", "popular")})
    rule.strategies, rule.threshold = ("personalised_no_intent", "popular"), None
    mix = strategy_mix(rule, TABLE)
    only = SimpleNamespace(intent=None, recommender=SimpleNamespace(version="7"))
    checks = {"recommender_parity": 0.0, "personalise_parity": 0.0}
    metrics = export_metrics(only, rule, mix, checks, ExportParams())
    assert metrics == {
        "recommender_version": 7,
        "recommender_parity": 0.0,
        "personalise_parity": 0.0,
        "trending_window_days": ExportParams().personalise.trending_window_days,
        "trending_items": 3,
        "k": 10,
        "personalised_no_intent_share": pytest.approx(4 / 5),
        "popular_share": pytest.approx(1 / 5),
    }


def events_over(days: float, items=("i1", "i2")) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "item_id": [items[0], items[1], None],
            "timestamp": [start, start + pd.Timedelta(days=days), start + pd.Timedelta(days=99)],
        }
    )


def test_note_trending_warns_when_the_window_covers_the_log_of_item_events():
    status = StageStatus("export")
    note_trending(events_over(0.25), 7.0, status)  # the event without an item does not count
    assert status.lines() == [
        "warning: personalise.trending_window_days 7 covers the whole log (0.25 days of item "
        "events): the trending items are the most touched over the log; set a shorter window in "
        "params/export.yaml for recent ones"
    ]
    longer = StageStatus("export")
    note_trending(events_over(7.5), 7.0, longer)
    assert longer.notes == [] and longer.status == "complete"
    timeless = StageStatus("export")  # a log given one time: no window can help
    note_trending(events_over(0.0), 7.0, timeless)
    assert timeless.lines() == [
        "adapted: every item event has the same time: the trending items are the most touched "
        "over the log (no window can pick recent ones)"
    ]


def test_note_trending_warns_when_no_event_has_an_item():
    status = StageStatus("export")
    note_trending(events_over(3.0, items=(None, None)), 7.0, status)
    assert status.lines() == ["warning: no event has an item id: the trending list is empty"]
