"""The log profile as later stages read it (:mod:`personalab.core.profile`)."""

from __future__ import annotations

import json

import pytest

from personalab.core.profile import ProfileError, full_profile, read_profile


def test_a_profile_answers_what_the_log_holds(tmp_path):
    path = tmp_path / "profile.json"
    body = {
        "event_types": {"rate": 30, "view": 0, "purchase": 0},
        "populated": {"rating": 1.0, "price": 0.0},
        "identity": "user", "users": 3, "items": 5, "rows": 30,
        "span_days": 0.25, "granularity": "minute", "granularity_seconds": 60.0,
    }  # fmt: skip
    path.write_text(json.dumps(body))
    profile = read_profile(path)
    assert profile.has("rate") and not profile.has("purchase") and not profile.has("click")
    assert profile.populated("rating") == 1.0 and profile.populated("dwell_seconds") == 0.0
    assert profile.event_types == ["rate"]
    assert profile.span_days == 0.25 and profile.granularity_seconds == 60.0
    assert profile.describe() == (
        "30 events of 3 users on 5 items over 0.25 days (timestamps to the minute): rate 30"
    )
    assert full_profile().has("purchase") and full_profile().populated("dwell_seconds") == 1.0


def test_a_missing_or_bad_profile_names_the_file(tmp_path):
    path = tmp_path / "profile.json"
    with pytest.raises(ProfileError, match=r"profile.json: not found; run the ingest stage"):
        read_profile(path)
    path.write_text("{not json")
    with pytest.raises(ProfileError, match=r"profile.json: not valid JSON"):
        read_profile(path)
    path.write_text("[]")
    with pytest.raises(ProfileError, match="not a personalab log profile"):
        read_profile(path)
