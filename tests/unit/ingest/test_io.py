"""Unit tests of personalab.ingest.io: what save_ingest writes, and that the profile is stable."""

from __future__ import annotations

import json

from personalab.core.paths import ProjectPaths
from personalab.ingest.io import PROFILE_FILE, TIMING_METRICS, save_ingest
from tests.unit.ingest.bad_inputs import ingest, write

LOG = (
    "session_id,timestamp,event_type,item_id,price\n"
    "s1,2024-01-01T10:00:00Z,view,i1,5\n"
    "s1,2024-01-01T10:01:00Z,purchase,i1,5\n"
    "s2,2024-01-02T09:00:00Z,view,i2,\n"
)


def test_save_ingest_writes_the_profile_and_its_numbers(tmp_path):
    result = ingest(tmp_path, write(tmp_path, "log.csv", LOG))
    paths = ProjectPaths(root=tmp_path)
    written = save_ingest(result, paths)

    assert written["profile"] == tmp_path / "data" / "interim" / "profile.json"
    assert PROFILE_FILE == "profile.json"
    profile = json.loads(written["profile"].read_text())
    assert profile == result.profile
    assert (profile["identity"], profile["users"], profile["sessions"]) == ("session", 2, 2)
    assert profile["has_purchases"] is True and profile["granularity"] == "minute"
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["profile_identity_session"] == 1
    assert metrics["populated_price"] == profile["populated"]["price"] == round(2 / 3, 6)


def test_a_rerun_on_the_same_input_writes_the_same_bytes(tmp_path):
    path = write(tmp_path, "log.csv", LOG)
    first = save_ingest(ingest(tmp_path, path), ProjectPaths(root=tmp_path))
    before = {name: out.read_bytes() for name, out in first.items()}
    again = ingest(tmp_path, path)
    again.metrics["events_per_second"] *= 3  # the same work, timed on a busier machine
    second = save_ingest(again, ProjectPaths(root=tmp_path))
    assert {name: out.read_bytes() for name, out in second.items()} == before  # DVC: no change
    metrics = json.loads(second["metrics"].read_text())
    assert not set(TIMING_METRICS) & set(metrics) and set(TIMING_METRICS) <= set(again.metrics)
