"""Unit tests of personalab.segments.history: re-classification over cut-offs.

Users of four blobs at three cut-offs, some of whom move between blobs (see helpers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.segments.history import assign_all_cutoffs, changed_share_by_cutoff, transitions
from tests.unit.segments.helpers import N_PER_BLOB, USERS, T


def test_assign_all_cutoffs_gives_a_segment_per_user_and_cutoff(history_result):
    table, params, r = history_result
    history = assign_all_cutoffs(table, r.pipeline, r.features)
    assert len(history) == 170 + 200 + 200
    assert history.columns.tolist() == ["user_id", "cutoff", "segment_id"]
    pd.testing.assert_frame_equal(history, r.history)
    latest = history[history["cutoff"] == T].reset_index(drop=True)
    np.testing.assert_array_equal(latest["segment_id"], r.assignments["segment_id"])


def test_transitions_between_the_last_two_cutoffs(history_result):
    _, _, r = history_result
    seg = r.assignments.set_index("user_id")["segment_id"]
    name_of_blob = {b: r.names[seg[USERS[b * N_PER_BLOB + 25]]] for b in range(4)}
    matrix, changed = transitions(r.history, r.names)
    assert changed == pytest.approx(10 / 200)
    assert r.metrics["changed_segment_share"] == pytest.approx(10 / 200)
    expected = pd.DataFrame(0.0, index=sorted(r.names.values()), columns=sorted(r.names.values()))
    for b in range(4):
        expected.loc[name_of_blob[b], name_of_blob[b]] = 1.0
    expected.loc[name_of_blob[1], name_of_blob[1]] = 0.8
    expected.loc[name_of_blob[1], name_of_blob[0]] = 0.2
    pd.testing.assert_frame_equal(
        matrix.sort_index().sort_index(axis=1), expected, check_names=False
    )
    pd.testing.assert_frame_equal(r.transition_matrix, matrix)


def test_changed_share_by_cutoff_has_one_row_per_consecutive_pair(history_result):
    _, _, r = history_result
    out = changed_share_by_cutoff(r.history)
    assert out.to_dict("records") == [
        {"cutoff": "2024-02-23", "users": 170, "changed_share": pytest.approx(20 / 170)},
        {"cutoff": "2024-03-01", "users": 200, "changed_share": pytest.approx(10 / 200)},
    ]


def test_transitions_with_one_cutoff_are_empty():
    history = pd.DataFrame({"user_id": ["a", "b"], "cutoff": T, "segment_id": [0, 1]})
    matrix, changed = transitions(history, {0: "x", 1: "y"})
    assert matrix.empty and np.isnan(changed)
    assert changed_share_by_cutoff(history).empty


def test_changed_share_of_hourly_cutoffs_names_the_hour():
    hours = [T + pd.Timedelta(hours=h) for h in (1, 2, 3)]
    history = pd.DataFrame(
        {
            "user_id": ["a", "b"] * 3,
            "cutoff": np.repeat(hours, 2),
            "segment_id": [0, 1, 0, 0, 1, 0],
        }
    )
    out = changed_share_by_cutoff(history)
    assert out["cutoff"].tolist() == ["2024-03-01 02:00", "2024-03-01 03:00"]
    assert out["changed_share"].tolist() == [0.5, 0.5]
