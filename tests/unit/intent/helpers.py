"""Shared by the intent tests: weekly cut-off times, params from keyword values, month names,
and a features-like table with a handful of positives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL
from personalab.intent.params import IntentParams

T0 = pd.Timestamp("2024-03-04", tz="UTC")


def week(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(weeks=k)


def params(**values) -> IntentParams:
    return IntentParams.from_mapping(values)


MONTHS = ["Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


#: positives per part of :func:`few_positives_table`'s temporal split
FEW = {"train": 6, "valid": 3, "test": 2}


def few_positives_table(
    positives: dict[str, int] = FEW,
    rows_per_cutoff: int = 100,
    label: str = LABEL,
    target_event: str | None = "purchase",
    horizon_days: float = 7.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A features-like table with a handful of positives: ``rows_per_cutoff`` users at four
    weekly cut-offs (train: weeks 0-1, validation: week 2, test: week 3 with a 7-day
    embargo), ``positives[part]`` of them positive in each part (training's spread over its
    two cut-offs). Positives have a higher ``signal``; ``noise``, ``channel`` and ``member``
    are noise. ``attrs`` name the target as the features stage does (none when
    ``target_event`` is None)."""
    rng = np.random.default_rng(seed)
    counts = [
        positives["train"] // 2,
        positives["train"] - positives["train"] // 2,
        positives["valid"],
        positives["test"],
    ]
    frames = []
    for k, n_pos in enumerate(counts):
        y = np.zeros(rows_per_cutoff, dtype=bool)
        y[rng.choice(rows_per_cutoff, n_pos, replace=False)] = True
        frames.append(
            pd.DataFrame(
                {
                    "user_id": [f"u{i}" for i in range(rows_per_cutoff)],
                    "cutoff": week(k),
                    "signal": rng.normal(size=rows_per_cutoff) + 2.5 * y,
                    "noise": rng.normal(size=rows_per_cutoff),
                    "channel": rng.choice(["app", "web"], rows_per_cutoff),
                    "member": rng.random(rows_per_cutoff) < 0.3,
                    label: y,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    if target_event is not None:
        table.attrs = {
            "label": label,
            "target_event": target_event,
            "horizon_days": horizon_days,
            "features": ["signal", "noise"],
            "left_out": {},
            "status": "complete",
        }
    return table
