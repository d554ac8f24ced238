"""Which columns are features, and how each is encoded for the booster.

:class:`FeatureEncoder` learns each feature column's kind from the training data
(:func:`~personalab.intent.values.infer_kind`): numbers stay numbers, booleans and
TRUE/FALSE strings become 0/1, other strings become categoricals that XGBoost splits
natively (``enable_categorical``) with the categories fixed at fit time (an unseen
category is treated as missing). A string column with (almost) one value per row is
an identifier and is never a feature, nor are ``id_columns`` and the time column.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL
from personalab.intent.params import IntentError, IntentParams
from personalab.intent.values import _as_strings, infer_kind, to_bool, to_numeric

#: the features stage's label columns end so (``purchased_within_horizon``, ``rate_within_horizon``)
_LABEL_SUFFIX = "_within_horizon"
#: a string column is an identifier when it has at least this share of distinct values
_IDENTIFIER_SHARE = 0.5
#: ... and at least this many
_IDENTIFIER_MIN = 50


@dataclass(frozen=True)
class ColumnSpec:
    """How one feature column is read: ``numeric``, ``bool`` or ``categorical`` (with categories)."""

    name: str
    kind: Literal["numeric", "bool", "categorical"]
    categories: tuple[str, ...] = ()
    optional: bool = False  # missing in training rows, so a request may leave it out
    schema_type: str = "double"  # how a served request carries it: double, long, boolean, string


class FeatureEncoder:
    """Learns each feature column's kind and categories, then encodes frames the same way.

    ``fit`` takes the raw training frame; ``transform`` returns float columns and
    pandas categoricals with the learned categories, in the learned order.
    ``to_dict``/``from_dict`` round-trip through JSON, so the served model needs no pickle.
    A column with missing values in training, or named in ``nullable`` (missing by definition
    for some users, :func:`personalab.features.schema.may_be_missing`), is ``optional``: XGBoost
    sends a missing value down each split's default branch, so a request may leave the column
    null or out (read as missing). The others are required: a null there is refused.
    """

    def __init__(
        self, categorical: tuple[str, ...] | list[str] = (), nullable: tuple[str, ...] = ()
    ):
        self.categorical = tuple(categorical)
        self.nullable = frozenset(nullable)

    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        specs = []
        for name in frame.columns:
            kind = "categorical" if name in self.categorical else infer_kind(frame[name])
            categories: tuple[str, ...] = ()
            if kind == "categorical":
                labels = _as_strings(frame[name]).dropna().unique()
                categories = tuple(sorted(str(v) for v in labels))
            optional = name in self.nullable or bool(frame[name].isna().any())
            schema_type = _schema_type(frame[name])
            if optional and schema_type == "long":
                schema_type = "double"  # a request's null reaches the model (a long has none)
            specs.append(ColumnSpec(str(name), kind, categories, optional, schema_type))
        self.columns_ = specs
        return self

    @property
    def feature_names_(self) -> list[str]:
        return [spec.name for spec in self.columns_]

    def check_columns(self, frame: pd.DataFrame) -> None:
        missing = [s.name for s in self.columns_ if s.name not in frame and not s.optional]
        if missing:
            raise IntentError(f"input lacks required feature column(s) {missing}")

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows as the booster reads them: floats in the learned column order, categories as
        their codes (missing or unseen: NaN). The same values as :meth:`transform`, with the
        plain numeric columns read as one block (:func:`float_block`)."""
        self.check_columns(frame)
        out = np.full((len(frame), len(self.columns_)), np.nan)
        kinds = {
            name: dtype.kind
            for name, dtype in zip(frame.columns.tolist(), frame.dtypes.tolist(), strict=True)
        }
        numeric = [
            j
            for j, s in enumerate(self.columns_)
            if s.kind == "numeric" and s.name in kinds and kinds[s.name] in "iuf"
        ]
        if numeric:
            out[:, numeric] = float_block(frame, [self.columns_[j].name for j in numeric])
        done = set(numeric)
        for j, spec in enumerate(self.columns_):
            if j in done or spec.name not in kinds:
                continue
            if spec.kind == "categorical":
                out[:, j] = self._codes(spec, frame)
            else:
                out[:, j] = _encode(spec, frame).to_numpy(dtype=float, na_value=np.nan)
        return out

    def matrix_of_rows(self, rows: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
        """:meth:`matrix` of rows given as dicts of typed values, as the features stage writes
        them (numbers and booleans as numbers, categories as their labels, None or NaN:
        missing; a row None: all missing): the online store's rows, read without a frame."""
        out = np.full((len(rows), len(self.columns_)), np.nan)
        lookups = [
            _category_codes(s.categories) if s.kind == "categorical" else None
            for s in self.columns_
        ]
        for i, row in enumerate(rows):
            if row is None:
                continue
            for j, (spec, lookup) in enumerate(zip(self.columns_, lookups, strict=True)):
                value = row.get(spec.name)
                if value is None:
                    continue
                if lookup is None:
                    out[i, j] = float(value)
                elif isinstance(value, str):
                    out[i, j] = lookup.get(value, np.nan)
        return out

    @staticmethod
    def _codes(spec: ColumnSpec, frame: pd.DataFrame) -> np.ndarray:
        """Category codes (NaN: missing or unseen); exact labels by dict lookup, anything else
        (numbers, padded text) read as :meth:`transform` reads it."""
        raw = frame[spec.name].to_numpy(dtype=object)
        lookup = _category_codes(spec.categories)
        codes = np.array([lookup.get(v, -1.0) if isinstance(v, str) else -1.0 for v in raw])
        odd = (codes < 0) & pd.notna(raw)
        if odd.any():
            slow = np.asarray(_encode(spec, frame).codes, dtype=float)
            codes[odd] = slow[odd]
        codes[codes < 0] = np.nan
        return codes

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.check_columns(frame)
        out = {spec.name: _encode(spec, frame) for spec in self.columns_}
        return pd.DataFrame(out, index=frame.index)

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "categories": list(s.categories),
                    "optional": s.optional,
                    "schema_type": s.schema_type,
                }
                for s in self.columns_
            ]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        encoder = cls()
        encoder.columns_ = [
            ColumnSpec(
                c["name"],
                c["kind"],
                tuple(c["categories"]),
                bool(c.get("optional")),
                c.get("schema_type", "string" if c["kind"] == "categorical" else "double"),
            )
            for c in data["columns"]
        ]
        return encoder

    def example(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s feature columns as a client sends them: with the types of the training
        table (whole numbers as integers, fractions as floats, booleans, strings)."""
        types = {"long": "int64", "double": "float64", "boolean": "bool", "string": "str"}
        return pd.DataFrame(
            {s.name: frame[s.name].astype(types[s.schema_type]) for s in self.columns_},
            index=frame.index,
        )


def _schema_type(values: pd.Series) -> str:
    """The MLflow schema type that carries a raw column as the training table holds it."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "long"
    if pd.api.types.is_float_dtype(values):
        return "double"
    return "string"


_FEW_ROWS = 64  # up to this many rows, float_block reads the frame as one object array


def float_block(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The numeric columns ``names`` of ``frame`` as one float matrix (an absent column: NaN);
    a value that is not a number is an error naming its column.

    A few rows (one served request) are read through one object array, in about a sixth of
    the time pandas' block copy takes for them; more rows, or nullable dtypes, through pandas.
    """
    try:
        return _float_block(frame, names)
    except (TypeError, ValueError) as err:
        bad = next(n for n in names if n in frame and not _floats(frame[n]))
        raise IntentError(f"column {bad!r}: {err}") from None


def _float_block(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    columns = frame.columns.tolist()  # (iterating a pandas Index costs a microsecond a name)
    dtypes = dict(zip(columns, frame.dtypes.tolist(), strict=True))
    plain = all(isinstance(dtypes[n], np.dtype) for n in names if n in dtypes)
    if len(frame) > _FEW_ROWS or not plain:
        return frame.reindex(columns=names).to_numpy(dtype=float, na_value=np.nan)
    where = {name: i for i, name in enumerate(columns)}
    out = np.full((len(frame), len(names)), np.nan)
    present = [j for j, name in enumerate(names) if name in where]
    cells = frame.to_numpy(dtype=object)
    out[:, present] = cells[:, [where[names[j]] for j in present]].astype(float)
    return out


def _floats(values: pd.Series) -> bool:
    try:
        values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=64)
def _category_codes(categories: tuple[str, ...]) -> dict[str, float]:
    return {label: float(i) for i, label in enumerate(categories)}


def _encode(spec: ColumnSpec, frame: pd.DataFrame) -> pd.Series | pd.Categorical:
    """One feature column as the model reads it (a missing optional column: all missing)."""
    values = frame[spec.name] if spec.name in frame else pd.Series(np.nan, frame.index)
    if spec.kind == "numeric":
        return to_numeric(values, spec.name)
    if spec.kind == "bool":
        return to_bool(values, spec.name)
    text = _as_strings(values)
    known = text.isin(spec.categories)  # unseen categories are missing
    return pd.Categorical(text.where(known), categories=spec.categories)


def select_features(
    table: pd.DataFrame, params: IntentParams, label: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The feature columns, and every other column with the reason it is not a feature.

    ``label`` defaults to ``params.label_column`` (else ``purchased_within_horizon``); another
    label of the features table (``<event>_within_horizon``) looks into the horizon and is
    never a feature either."""
    label = label or params.label_column or LABEL
    reserved = {label: "label", params.time_column: "time column"}
    reserved |= {
        name: "label of another target (it looks into the horizon)"
        for name in table.columns
        if str(name).endswith(_LABEL_SUFFIX) and name != label
    }
    reserved |= {name: "identifier (id_columns)" for name in params.id_columns}
    reserved |= {name: "excluded (exclude)" for name in params.exclude}
    unknown = [c for c in [*(params.features or []), *params.categorical] if c not in table]
    if unknown:
        raise IntentError(f"feature column(s) {unknown} not in the table; it has {list(table)}")
    candidates = params.features or [c for c in table.columns if c not in reserved]
    skipped = {c: reason for c, reason in reserved.items() if c in table.columns}
    chosen = []
    for name in candidates:
        values = table[name]
        if name in reserved:
            raise IntentError(f"column {name!r} is the {reserved[name]} and cannot be a feature")
        if pd.api.types.is_datetime64_any_dtype(values):
            skipped[name] = "timestamp"
            continue
        is_text = not (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)
        )
        distinct = values.nunique()
        if (
            is_text
            and name not in params.categorical
            and distinct >= _IDENTIFIER_MIN
            and distinct >= _IDENTIFIER_SHARE * values.notna().sum()
            and infer_kind(values) == "categorical"
        ):
            skipped[name] = f"identifier-like ({distinct} distinct strings)"
            continue
        chosen.append(name)
    if not chosen:
        raise IntentError("no feature columns left after removing the label, time and identifiers")
    return chosen, skipped
