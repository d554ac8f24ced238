"""Fixtures of the features tests: the main log's features at ``T``."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.features.build import features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from tests.unit.features.helpers import DEVICES, LOG, T, events_frame


@pytest.fixture(scope="module")
def at_t() -> pd.DataFrame:
    return features_at(events_frame(LOG), T, full_plan(FeaturesParams(), DEVICES))
