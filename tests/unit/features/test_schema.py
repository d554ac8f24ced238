"""Unit tests of personalab.features.schema: the label column of each target event."""

from __future__ import annotations

import pytest

from personalab.features.schema import LABEL, TARGET_EVENTS, label_name
from personalab.ingest.events import EVENT_TYPES


def test_target_events_are_the_canonical_event_types_and_return():
    assert (*EVENT_TYPES, "return") == TARGET_EVENTS


@pytest.mark.parametrize(
    ("target", "column"),
    [
        ("purchase", LABEL),
        ("return", "returned_within_horizon"),
        ("rate", "rate_within_horizon"),
        ("add_to_cart", "add_to_cart_within_horizon"),
    ],
)
def test_label_name(target, column):
    assert label_name(target) == column


def test_label_name_of_an_unknown_event_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown target event 'buy'; known: \['view'"):
        label_name("buy")
