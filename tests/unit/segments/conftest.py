"""Fixtures shared by the segments tests."""

from __future__ import annotations

import pytest

from personalab.core.status import StageStatus
from personalab.segments.build import build_segments
from personalab.segments.params import STAGE
from tests.unit.segments.helpers import history_table, seg_params


@pytest.fixture(scope="module")
def history_result():
    table = history_table()
    params = seg_params(k_min=4, k_max=4)
    return table, params, build_segments(table, params, StageStatus(STAGE))
