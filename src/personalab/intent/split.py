"""Splitting the table into training, validation and test rows, and the prepared data.

A table with the time column (``cutoff``) is split in time: test = the
last cut-off, validation = the one before, training = the earlier ones, and a
cut-off whose label window (``embargo_days``, default the features stage's
horizon) would reach into the next part's is dropped. A table without time is
split at random, stratified on the label: ``test_share`` for test, then
``validation_share`` of the rest for validation. With ``kind: auto`` a table whose
cut-offs are too few for a temporal split is split this way too, and ``Split.note``
says why; a class of fewer than 10 rows is dealt out so each part gets one. Test rows are
scored once, at the end.

Every part must hold positive and negative rows (:func:`check_parts`); a table without
rows, under 20 rows or with a label of one class cannot be learned either.
:func:`prepare_stage` turns each of these into the stage's skip, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL, may_be_missing
from personalab.intent.columns import FeatureEncoder, select_features
from personalab.intent.params import IntentError, IntentParams, TooFewCutoffsError
from personalab.intent.target import (
    Target,
    UnlearnableTargetError,
    empty_table_reason,
    one_class_reason,
    resolve_target,
    warn_few_positives,
)
from personalab.intent.values import _plain, parse_label

if TYPE_CHECKING:
    from personalab.core.status import StageStatus
    from personalab.intent.io import IntentInputs

#: the intent stage needs at least this many rows
MIN_ROWS = 20
#: below this many rows of a class, a stratified split deals them out itself (one per part first)
_FEW_OF_A_CLASS = 10
PART_NAMES = {"train": "training", "valid": "validation", "test": "test"}


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
    timed = any(t != t.normalize() for t in unique)  # hourly cut-offs show their time
    cutoffs = {
        "train": ", ".join(_stamp(t, timed) for t in train_times),
        "valid": _stamp(t_valid, timed),
        "test": _stamp(t_test, timed),
    }
    return Split("temporal", **positions, summary=_summary(positions, y, cutoffs), dropped=dropped)


def _stamp(time: pd.Timestamp, timed: bool) -> str:
    return time.strftime("%Y-%m-%d %H:%M") if timed else str(time.date())


def split_stratified(y: np.ndarray, test_share: float, validation_share: float, seed: int) -> Split:
    """Random split stratified on the label: test first, then validation from the rest. A class
    of fewer than 10 rows is dealt out so that every part holds at least one of it."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y, minlength=2)
    if counts.min() < 3:
        raise UnlearnableTargetError(
            f"label has {counts[1]} positive and {counts[0]} negative rows: a stratified split "
            "needs at least 3 of each (one per part)"
        )
    if counts.min() < _FEW_OF_A_CLASS:
        positions = _deal_out(y, test_share, validation_share, seed)
    else:
        rows = np.arange(len(y))
        rest, test = train_test_split(rows, test_size=test_share, stratify=y, random_state=seed)
        train, valid = train_test_split(
            rest, test_size=validation_share, stratify=y[rest], random_state=seed
        )
        positions = {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}
    return Split("stratified", **positions, summary=_summary(positions, y))


def _deal_out(
    y: np.ndarray, test_share: float, validation_share: float, seed: int
) -> dict[str, np.ndarray]:
    """Each class shuffled and cut by the shares, with at least one row in every part."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_test = min(max(round(test_share * len(rows)), 1), len(rows) - 2)
        n_valid = min(
            max(round(validation_share * (len(rows) - n_test)), 1), len(rows) - n_test - 1
        )
        parts["test"].append(rows[:n_test])
        parts["valid"].append(rows[n_test : n_test + n_valid])
        parts["train"].append(rows[n_test + n_valid :])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def check_parts(split: Split) -> None:
    """Every part must hold positive and negative rows: a part without one class cannot train,
    tune, calibrate or be scored."""
    for row in split.summary.to_dict("records"):
        positives, negatives = row["positives"], row["rows"] - row["positives"]
        if positives and negatives:
            continue
        part = PART_NAMES[row["part"]]
        cutoffs = row.get("cutoffs") or ""
        where = f" (cut-off{'s' if ',' in cutoffs else ''} {cutoffs})" if cutoffs else ""
        missing = "positive" if not positives else "negative"
        use = "train on" if row["part"] == "train" else "tune, calibrate or score"
        raise UnlearnableTargetError(
            f"the {part} part of the {split.kind} split{where} has no {missing} row "
            f"({positives} positive of {row['rows']:,}): nothing to {use}"
        )


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
    target: Target = field(default_factory=lambda: Target(LABEL))

    def part(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        index = getattr(self.split, name)
        return self.X.iloc[index], self.y[index]


def prepare_data(
    table: pd.DataFrame,
    params: IntentParams,
    embargo_days: float = 0.0,
    target: Target | None = None,
    profile: Any = None,
) -> IntentData:
    """Parse the label, pick and encode the features, split (the encoder is fitted on training).

    A table without rows, with fewer than 20, with a label of one class or a part of the split
    without one of the classes raises :class:`UnlearnableTargetError` (the ``profile`` of the
    log, when given, names a missing event in the message)."""
    target = target or resolve_target(table, params)
    reason = empty_table_reason(table)
    if reason:
        raise UnlearnableTargetError(reason)
    label = target.label
    if label not in table.columns:
        raise IntentError(
            f"label column {label!r} not in the table; columns: {list(table.columns)}"
        )
    if len(table) < MIN_ROWS:
        raise UnlearnableTargetError(
            f"the table has {len(table)} rows; the intent stage needs at least {MIN_ROWS}"
        )
    table = table.reset_index(drop=True)
    y = parse_label(table[label], label)
    if y.min() == y.max():
        raise UnlearnableTargetError(one_class_reason(target, int(y.sum()), len(y), profile))
    names, skipped = select_features(table, params, label)
    split = choose_split(table, y, params, embargo_days)
    check_parts(split)
    raw = table[names]
    nullable = tuple(name for name in names if may_be_missing(name))
    encoder = FeatureEncoder(params.categorical, nullable).fit(raw.iloc[split.train])
    keys = table[[c for c in (*params.id_columns, params.time_column) if c in table.columns]]
    return IntentData(
        raw=raw,
        X=encoder.transform(raw),
        y=y,
        split=split,
        encoder=encoder,
        skipped=skipped,
        keys=keys,
        target=target,
    )


def choose_split(
    table: pd.DataFrame, y: np.ndarray, params: IntentParams, embargo_days: float
) -> Split:
    """Temporal when asked or possible (``kind: auto`` with the time column), else stratified."""
    has_time = params.time_column in table.columns
    kind = params.split.kind
    if kind == "temporal" and not has_time:
        raise IntentError(f"a temporal split needs the time column {params.time_column!r}")
    note = ""
    if kind == "temporal" or (kind == "auto" and has_time):
        try:
            return split_temporal(table[params.time_column], y, embargo_days)
        except TooFewCutoffsError as err:
            if kind == "temporal":
                raise
            note = f"stratified because a temporal split is impossible: {err}"
    split = split_stratified(y, params.split.test_share, params.split.validation_share, params.seed)
    split.note = note
    return split


def prepare_stage(
    inputs: IntentInputs, params: IntentParams, status: StageStatus
) -> IntentData | None:
    """:func:`prepare_data` on the stage's inputs; when no target is learnable, ``status``
    records the skip and the reason, and the result is None. A split other than the one asked
    for is noted as adapted, a part with few positives as a warning."""
    try:
        data = prepare_data(
            inputs.table, params, inputs.embargo_days, inputs.target, inputs.profile
        )
    except UnlearnableTargetError as err:
        status.skip(str(err) + _session_cause(inputs.profile, str(err)))
        return None
    if data.split.note:
        status.adapted(f"{data.split.note}")
    warn_few_positives(data.split.summary, status)
    return data


def _session_cause(profile: Any, reason: str) -> str:
    """Why a log keyed by session has few or no positive rows: a row is a visit as of the
    cut-off, and its label asks for an event of the same visit after it."""
    if getattr(profile, "identity", None) != "session" or "positive" not in reason:
        return ""
    return (
        "; the log is keyed by session (identity: session), so a row's label asks whether the "
        "same visit has the target event after the cut-off, which a visit that has ended "
        "cannot: intent needs user ids that return across visits"
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
