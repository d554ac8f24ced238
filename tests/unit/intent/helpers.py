"""Shared by the intent tests: weekly cut-off times, params from keyword values, month names."""

from __future__ import annotations

import pandas as pd

from personalab.intent.params import IntentParams

T0 = pd.Timestamp("2024-03-04", tz="UTC")


def week(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(weeks=k)


def params(**values) -> IntentParams:
    return IntentParams.from_mapping(values)


MONTHS = ["Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
