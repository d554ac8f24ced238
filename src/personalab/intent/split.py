"""Splitting the table into training, validation and test rows, and the prepared data.

A table with the time column (``cutoff``) is split in time: test = the
last cut-off, validation = the one before, training = the earlier ones, and a
cut-off whose label window (``embargo_days``, default the features stage's
horizon) would reach into the next part's is dropped. A table without time is
split at random, stratified on the label: ``test_share`` for test, then
``validation_share`` of the rest for validation. With ``kind: auto`` a table whose
cut-offs are too few for a temporal split is split this way too, and ``Split.note``
says why. Test rows are scored once, at
the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from personalab.intent.columns import FeatureEncoder, select_features
from personalab.intent.params import IntentError, IntentParams, TooFewCutoffsError
from personalab.intent.values import _plain, parse_label


@dataclass
class Split:
    """Row positions of each part, and how they were made."""

    kind: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    summary: pd.DataFrame  # part, rows, positives, positive_rate, (cutoffs)
    dropped: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    note: str = ""  # why the split is not the one asked for, if it is not

    @property
    def train_valid(self) -> np.ndarray:
        return np.concatenate([self.train, self.valid])


def split_temporal(times: pd.Series, y: np.ndarray, embargo_days: float = 0.0) -> Split:
    """Test = the last time, validation = the latest earlier time whose label window ends by the
    test time, training = the times before that whose label window ends by the validation time."""
    stamps = pd.to_datetime(times, utc=True, errors="coerce")
    if stamps.isna().any():
        row = times.index[stamps.isna().to_numpy()][0]
        raise IntentError(
            f"time column {times.name!r}: missing or unreadable value at row {row} "
            f"({_plain(times[row])!r})"
        )
    unique = sorted(stamps.unique())
    embargo = pd.Timedelta(days=embargo_days)
    t_test = unique[-1]
    valid_times = [t for t in unique[:-1] if t + embargo <= t_test]
    if not valid_times:
        raise TooFewCutoffsError(
            f"time column {times.name!r}: a temporal split needs at least 3 cut-offs spaced by at "
            f"least the {embargo_days:g}-day label window; found {len(unique)}"
        )
    t_valid = valid_times[-1]
    train_times = [t for t in unique if t + embargo <= t_valid and t < t_valid]
    if not train_times:
        raise TooFewCutoffsError(
            f"time column {times.name!r}: no cut-off before {t_valid} leaves its {embargo_days:g}-day "
            f"label window before it; found cut-offs {[str(t) for t in unique]}"
        )
    values = stamps.to_numpy()
    part_of = {"train": np.isin(values, train_times), "valid": values == t_valid}
    part_of["test"] = values == t_test
    positions = {name: np.flatnonzero(mask) for name, mask in part_of.items()}
    dropped = np.flatnonzero(~(part_of["train"] | part_of["valid"] | part_of["test"]))
    cutoffs = {
        "train": ", ".join(str(t.date()) for t in train_times),
        "valid": str(t_valid.date()),
        "test": str(t_test.date()),
    }
    return Split("temporal", **positions, summary=_summary(positions, y, cutoffs), dropped=dropped)


def split_stratified(y: np.ndarray, test_share: float, validation_share: float, seed: int) -> Split:
    """Random split stratified on the label: test first, then validation from the rest."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y, minlength=2)
    if counts.min() < 4:
        raise IntentError(
            f"label has {counts[1]} positive and {counts[0]} negative rows: a stratified split "
            "needs at least 4 of each"
        )
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(
        rest, test_size=validation_share, stratify=y[rest], random_state=seed
    )
    positions = {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}
    return Split("stratified", **positions, summary=_summary(positions, y))


def _summary(
    positions: Mapping[str, np.ndarray], y: np.ndarray, cutoffs: Mapping[str, str] | None = None
) -> pd.DataFrame:
    rows = []
    for part, index in positions.items():
        positives = int(y[index].sum())
        row = {
            "part": part,
            "rows": len(index),
            "positives": positives,
            "positive_rate": positives / len(index) if len(index) else np.nan,
        }
        if cutoffs:
            row["cutoffs"] = cutoffs[part]
        rows.append(row)
    return pd.DataFrame(rows)


# --- the prepared data --------------------------------------------------------------------------


@dataclass
class IntentData:
    """The raw feature frame, its encoding, the label and the split."""

    raw: pd.DataFrame  # feature columns as read
    X: pd.DataFrame  # encoded
    y: np.ndarray
    split: Split
    encoder: FeatureEncoder
    skipped: dict[str, str]
    keys: pd.DataFrame  # id and time columns of every row (for explanations and the oracle)

    def part(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        index = getattr(self.split, name)
        return self.X.iloc[index], self.y[index]


def prepare_data(
    table: pd.DataFrame, params: IntentParams, embargo_days: float = 0.0
) -> IntentData:
    """Parse the label, pick and encode the features, split (the encoder is fitted on training)."""
    if params.label_column not in table.columns:
        raise IntentError(
            f"label column {params.label_column!r} not in the table; columns: {list(table.columns)}"
        )
    if len(table) < 20:
        raise IntentError(f"the table has {len(table)} rows; the intent stage needs at least 20")
    table = table.reset_index(drop=True)
    y = parse_label(table[params.label_column], params.label_column)
    if y.min() == y.max():
        raise IntentError(f"label column {params.label_column!r} holds a single class ({y[0]})")
    names, skipped = select_features(table, params)
    has_time = params.time_column in table.columns
    kind = params.split.kind
    if kind == "temporal" and not has_time:
        raise IntentError(f"a temporal split needs the time column {params.time_column!r}")
    split, note = None, ""
    if kind == "temporal" or (kind == "auto" and has_time):
        try:
            split = split_temporal(table[params.time_column], y, embargo_days)
        except TooFewCutoffsError as err:
            if kind == "temporal":
                raise
            note = f"stratified because a temporal split is impossible: {err}"
    if split is None:
        split = split_stratified(
            y, params.split.test_share, params.split.validation_share, params.seed
        )
        split.note = note
    raw = table[names]
    encoder = FeatureEncoder(params.categorical).fit(raw.iloc[split.train])
    keys = table[[c for c in (*params.id_columns, params.time_column) if c in table.columns]]
    return IntentData(
        raw=raw,
        X=encoder.transform(raw),
        y=y,
        split=split,
        encoder=encoder,
        skipped=skipped,
        keys=keys,
    )


def columns_report(data: IntentData) -> pd.DataFrame:
    """Every column: used as numeric/bool/categorical (with its category count) or why not."""
    rows = [
        {"column": s.name, "use": s.kind, "categories": len(s.categories) or None}
        for s in data.encoder.columns_
    ]
    rows += [
        {"column": c, "use": f"not a feature: {why}", "categories": None}
        for c, why in data.skipped.items()
    ]
    return pd.DataFrame(rows)
