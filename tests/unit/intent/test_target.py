"""What the stage predicts and when it skips (personalab.intent.target, io.load_inputs,
split.prepare_stage, io.save_skipped)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from personalab.core.paths import project_paths
from personalab.core.profile import LogProfile
from personalab.core.status import StageStatus, skip_reason_of
from personalab.features.schema import LABEL
from personalab.intent.columns import select_features
from personalab.intent.io import IntentInputs, load_inputs, save_skipped
from personalab.intent.split import prepare_stage
from personalab.intent.target import Target, format_horizon, resolve_target
from tests.unit.intent.helpers import few_positives_table, params

RATE = "rate_within_horizon"


def inputs_of(
    table: pd.DataFrame, profile: LogProfile | None = None, embargo_days: float = 7.0
) -> IntentInputs:
    target = resolve_target(table, params(), 7.0)
    return IntentInputs(table, target, embargo_days, source="features.parquet", profile=profile)


def profile_of(**event_types: int) -> LogProfile:
    return LogProfile({"event_types": event_types, "rows": sum(event_types.values())})


# --- the target -------------------------------------------------------------------------------


def test_the_label_comes_from_the_tables_attrs_and_says_what_is_predicted():
    table = few_positives_table(label=RATE, target_event="rate", horizon_days=3.0)
    table[LABEL] = False  # another target's label in the same table
    target = resolve_target(table, params(), horizon_days=7.0)
    assert target == Target(RATE, "rate", 3.0)  # the table's horizon wins over the params'
    assert target.describe() == "predicting rate within 3 days (label rate_within_horizon)"
    assert target.metrics() == {"label": RATE, "target_event": "rate", "horizon_days": 3.0}
    names, skipped = select_features(table, params(), target.label)
    assert names == ["signal", "noise", "channel", "member"]
    assert skipped[RATE] == "label"
    assert skipped[LABEL] == "label of another target (it looks into the horizon)"
    returning = few_positives_table(label="returned_within_horizon", target_event="return")
    assert resolve_target(returning, params()).describe() == (
        "predicting a return (any event) within 7 days (label returned_within_horizon)"
    )


def test_label_column_overrides_the_attrs_and_a_table_without_attrs_falls_back():
    table = few_positives_table(target_event=None)
    assert table.attrs == {}
    assert resolve_target(table, params(), 5.0) == Target(LABEL, "purchase", 5.0)
    own = resolve_target(table.rename(columns={LABEL: "Revenue"}), params(label_column="Revenue"))
    assert own == Target("Revenue", None, None)
    assert own.describe() == "predicting the label 'Revenue'"
    assert own.metrics() == {"label": "Revenue"}
    with_attrs = few_positives_table(label=RATE, target_event="rate")
    assert resolve_target(with_attrs, params(label_column="member")) == Target("member")


@pytest.mark.parametrize(
    ("days", "text"),
    [(7, "7 days"), (1, "1 day"), (1.5, "1.5 days"), (0.25, "6 hours"), (1 / 24, "1 hour"),
     (1 / 48, "30 minutes")],
)  # fmt: skip
def test_format_horizon(days, text):
    assert format_horizon(days) == text


# --- the inputs -------------------------------------------------------------------------------


def project(tmp_path, table: pd.DataFrame, profile: dict | None = None, features_params=None):
    paths = project_paths(tmp_path)
    paths.processed.mkdir(parents=True)
    paths.interim.mkdir(parents=True)
    table.to_parquet(paths.processed / "features.parquet")
    pd.DataFrame({"user_id": ["u1"], "p": [0.5]}).to_parquet(paths.interim / "truth.parquet")
    if profile is not None:
        (paths.interim / "profile.json").write_text(json.dumps(profile))
    if features_params is not None:
        (tmp_path / "params").mkdir()
        paths.params_file("features").write_text(yaml.safe_dump(features_params))
    return paths


def test_load_inputs_takes_the_target_and_embargo_from_the_attrs(tmp_path):
    table = few_positives_table(label=RATE, target_event="rate", horizon_days=3.0)
    # no params/features.yaml: with attrs it is not read
    paths = project(tmp_path, table, profile={"event_types": {"rate": 400}, "rows": 400})
    inputs = load_inputs(paths, params())
    assert inputs.target == Target(RATE, "rate", 3.0)
    assert inputs.embargo_days == 3.0
    assert inputs.truth is None  # the generator's truth is of purchases only
    assert inputs.profile.has("rate") and not inputs.profile.has("purchase")
    assert inputs.describe().endswith("predicting rate within 3 days (label rate_within_horizon)")
    assert load_inputs(paths, params(split={"embargo_days": 1.0})).embargo_days == 1.0


def test_load_inputs_without_attrs_takes_the_features_params_horizon(tmp_path):
    table = few_positives_table(target_event=None)
    paths = project(tmp_path, table, features_params={"horizon_days": 5.0})
    inputs = load_inputs(paths, params())
    assert inputs.target == Target(LABEL, "purchase", 5.0)
    assert inputs.embargo_days == 5.0
    assert inputs.truth is not None and inputs.profile is None  # no profile.json: no hints


# --- the skips --------------------------------------------------------------------------------

NO_CUTOFF = "no cut-off fits a 0.01-day log"


def skipped_features() -> pd.DataFrame:
    table = few_positives_table().iloc[:0][["user_id", "cutoff", LABEL]]
    table.attrs = {"label": LABEL, "status": "skipped", "skip_reason": NO_CUTOFF}
    return table


def all_negative(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(**{LABEL: False})


@pytest.mark.parametrize(
    ("table", "profile", "reason"),
    [
        (
            skipped_features(),
            None,
            f"the features stage skipped ({NO_CUTOFF}), so there is no table to learn from",
        ),
        (few_positives_table(target_event=None).iloc[:0], None, "the table has no rows"),
        (
            all_negative(few_positives_table()),
            profile_of(rate=900, view=50),
            "the log has no purchase events; set target_event in params/features.yaml "
            "(e.g. rate, view, return)",
        ),
        (
            all_negative(few_positives_table()),
            profile_of(view=900, purchase=3),
            f"label column '{LABEL}' holds a single class (0): no purchase within 7 days of a "
            "cut-off in 400 rows",
        ),
        (
            few_positives_table({"train": 4, "valid": 0, "test": 2}),
            None,
            "the validation part of the temporal split (cut-off 2024-03-18) has no positive row "
            "(0 positive of 100): nothing to tune, calibrate or score",
        ),
        (
            few_positives_table({"train": 4, "valid": 3, "test": 0}),
            None,
            "the test part of the temporal split (cut-off 2024-03-25) has no positive row",
        ),
        (
            few_positives_table({"train": 0, "valid": 3, "test": 2}),
            None,
            "the training part of the temporal split (cut-offs 2024-03-04, 2024-03-11) has no "
            "positive row (0 positive of 200): nothing to train on",
        ),
        (
            few_positives_table({"train": 4, "valid": 100, "test": 2}),
            None,
            "the validation part of the temporal split (cut-off 2024-03-18) has no negative row",
        ),
        (
            few_positives_table(target_event=None).head(19),
            None,
            "the table has 19 rows; the intent stage needs at least 20",
        ),
    ],
    ids=["features-skipped", "no-rows", "event-absent", "no-positive", "valid-no-positive",
         "test-no-positive", "train-no-positive", "valid-no-negative", "19-rows"],
)  # fmt: skip
def test_no_learnable_target_skips_with_the_reason(table, profile, reason):
    status = StageStatus("intent")
    data = prepare_stage(inputs_of(table, profile), params(), status)
    assert data is None
    assert status.skipped and status.status == "skipped"
    assert status.skip_reason.startswith(reason), status.skip_reason
    assert status.metrics()["skip_reason"] == status.skip_reason


def test_a_stratified_split_without_positives_in_a_part_skips():
    table = few_positives_table({"train": 1, "valid": 1, "test": 0}).drop(columns="cutoff")
    status = StageStatus("intent")
    assert prepare_stage(inputs_of(table), params(), status) is None
    assert status.skip_reason == (
        "label has 2 positive and 398 negative rows: a stratified split needs at least 3 of "
        "each (one per part)"
    )


def test_few_positives_are_learnable_with_warnings():
    status = StageStatus("intent")
    data = prepare_stage(inputs_of(few_positives_table()), params(), status)
    assert data is not None and not status.skipped
    assert data.target == Target(LABEL, "purchase", 7.0)
    assert data.split.summary["positives"].tolist() == [6, 3, 2]
    assert status.status == "complete"  # warnings do not make the stage partial
    assert status.lines() == [
        "warning: the validation part has 3 positive row(s) of 100: its scores and metrics are "
        "noisy",
        "warning: the test part has 2 positive row(s) of 100: its scores and metrics are noisy",
    ]


def test_too_few_cutoffs_split_at_random_is_noted_as_adapted():
    table = few_positives_table({"train": 10, "valid": 10, "test": 10})
    status = StageStatus("intent")
    data = prepare_stage(inputs_of(table, embargo_days=14.0), params(), status)
    assert data.split.kind == "stratified"
    assert status.lines()[0].startswith(
        "adapted: stratified because a temporal split is impossible"
    )


def test_save_skipped_writes_every_declared_output_empty_and_marked(tmp_path):
    paths = project_paths(tmp_path)
    old_model = paths.candidates / "intent" / "MLmodel"
    old_model.parent.mkdir(parents=True)
    old_model.write_text("an earlier model")
    old_figure = paths.figures_dir("intent") / "tuning.png"
    old_figure.parent.mkdir(parents=True)
    old_figure.write_bytes(b"png")
    status = StageStatus("intent")
    status.skip("the log has no purchase events")
    written = save_skipped(status, paths, Target(RATE, "rate", 3.0))

    stage = yaml.safe_load((project_paths().root / "dvc.yaml").read_text())["stages"]["intent"]
    declared = [*stage["outs"], *stage["metrics"], *stage["plots"]]
    for entry in declared:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        assert (tmp_path / name).exists(), name
    for entry in stage["plots"]:
        name, spec = next(iter(entry.items()))
        header = pd.read_csv(tmp_path / name)
        assert header.empty and {spec["x"], spec["y"]} <= set(header.columns), name
    assert skip_reason_of(paths.candidates / "intent") == "the log has no purchase events"
    assert not old_model.exists() and not old_figure.exists()
    assert list(paths.figures_dir("intent").iterdir()) == []
    metrics = json.loads(written["metrics"].read_text())
    assert metrics == {
        "status": "skipped",
        "skip_reason": "the log has no purchase events",
        "notes": ["skipped: the log has no purchase events"],
        "label": RATE,
        "target_event": "rate",
        "horizon_days": 3.0,
    }
    comparison = pd.read_csv(paths.reports / "intent" / "comparison.csv")
    assert comparison.empty and comparison.columns[0] == "model"


def test_a_log_keyed_by_session_says_why_no_visit_is_positive():
    table = few_positives_table({"train": 4, "valid": 0, "test": 2})
    sessions = LogProfile({"event_types": {"view": 10, "purchase": 6}, "rows": 16,
                           "identity": "session"})  # fmt: skip
    status = StageStatus("intent")
    assert prepare_stage(inputs_of(table, sessions), params(), status) is None
    assert "has no positive row" in status.skip_reason
    assert status.skip_reason.endswith(
        "; the log is keyed by session (identity: session), so a row's label asks whether the "
        "same visit has the target event after the cut-off, which a visit that has ended "
        "cannot: intent needs user ids that return across visits"
    )
    users = LogProfile({"event_types": {"view": 10, "purchase": 6}, "rows": 16})
    status = StageStatus("intent")
    assert prepare_stage(inputs_of(table, users), params(), status) is None
    assert "keyed by session" not in status.skip_reason
