"""``models/personalise`` as an MLflow pyfunc folder: a served request checked and answered by
:class:`~personalab.export.personalise.Personaliser` (the model from code in ``pyfunc_model.py``
is a thin adapter around :func:`serve_request`), its signature (a user id with its feature row
in, the intent model's columns only when it has one; request param ``k``; the labelled answer
out), an input example showing each strategy, pinned requirements and this package's code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.export.params import PERSONALISE_COLUMNS, ExportError
from personalab.export.personalise import Personaliser
from personalab.online.features import REQUEST_COLUMNS
from personalab.online.live import FIELDS as LIVE_EVENT

#: the keys every live event must have
LIVE_KEYS = ("timestamp", "event_type")


def serve_request(
    personaliser: Personaliser, frame: pd.DataFrame, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """A served request: every row needs a user id; a row with feature values is a feature row
    (the intent model's required columns present and not null), a row without is a request by
    id, described from the online store and its live ``events`` (:mod:`personalab.online`);
    ``k`` is from 1 to the rule's ``max_k``. Then the rule's answer."""
    from personalab.recommend.served import requested_k, requested_users

    requested_users(frame)
    k = requested_k(params, personaliser.k, personaliser.max_k)
    if personaliser.online is not None and not described(frame, personaliser.feature_columns).any():
        n = len(frame)
        columns = answer_by_id(
            personaliser,
            frame["user_id"].to_numpy(dtype=object),
            frame["events"].to_numpy(dtype=object) if "events" in frame else [None] * n,
            frame["at"].to_numpy(dtype=object) if "at" in frame else [None] * n,
            k,
        )
        return pd.DataFrame(columns, columns=PERSONALISE_COLUMNS)
    return personaliser.personalise(request_rows(personaliser, frame), k)


def answer_by_id(
    personaliser: Personaliser,
    users: Sequence[Any],
    events: Sequence[Any],
    ats: Sequence[Any],
    k: int,
) -> dict[str, np.ndarray]:
    """The answer's columns to requests by id (user ids, each one's live events or None, and
    ``at`` or None), each row folded from the online store and read without a frame: the same
    answer as :meth:`Personaliser.personalise` gives the rows of :func:`request_rows`."""
    users = np.array([str(user) for user in users], dtype=object)
    rows, visits = personaliser.online.described(users, events, ats)
    matrix, block = personaliser.described(rows)
    live = np.empty(len(visits), dtype=object)
    live[:] = visits
    return personaliser.decide(users, matrix, block, live, k)


def request_rows(personaliser: Personaliser, frame: pd.DataFrame) -> pd.DataFrame:
    """The request with every row a feature row: the rows by id described online."""
    from personalab.intent.pyfunc import check_required_values

    frame = frame.reset_index(drop=True)
    given = described(frame, personaliser.feature_columns)
    live = np.zeros(len(frame), dtype=bool)
    for name in REQUEST_COLUMNS:
        if name in frame:
            live |= frame[name].notna().to_numpy()
    both = np.flatnonzero(given & live)
    if both.size:
        raise ExportError(
            f"row(s) {both[:5].tolist()} (counted from 0) send both feature values and events "
            "or at: send a feature row, or a user id with its live events, not both"
        )
    if personaliser.online is None:
        if live.any():
            raise ExportError(
                "this model has no online store (exported before it existed, or with "
                "personalise.online_store false): send each user's feature row, not events"
            )
        given[:] = True  # every row is a feature row (a rule without intent needs none)
    rows = frame[given]
    if len(rows) and personaliser.intent is not None:
        required = [s.name for s in personaliser.intent.encoder.columns_ if not s.optional]
        missing = [name for name in required if name not in rows]
        if missing:
            raise ExportError(
                f"feature rows lack required column(s) {missing[:10]} ({len(missing)} in all): "
                "send every column of the signature, or only user_id (and events) to be "
                "described from the online store"
            )
        check_required_values(rows, personaliser.intent.encoder)
    if given.all():
        return frame
    online = personaliser.online.frame(frame if not given.any() else frame[~given])
    if not given.any():
        return online
    out = pd.concat([rows.drop(columns=list(REQUEST_COLUMNS), errors="ignore"), online])
    return out.loc[frame.index]


#: the answer's columns as the signature declares them (type, name); ``segment`` may be null
OUTPUT_SCHEMA = [
    ("string", "user_id"),
    ("double", "intent_score"),
    ("string", "segment"),
    ("string", "strategy"),
    ("long", "rank"),
    ("string", "item_id"),
    ("double", "score"),
    ("string", "score_kind"),
    ("string", "reason"),
]


def personalise_signature(personaliser: Personaliser) -> Any:
    """user_id (string) and the intent model's columns as it defines them (optional ones may be
    left out; none without an intent model); segment columns the intent model does not use are
    optional (the segmenter imputes). With an online store, a row may instead carry only
    user_id, and optionally ``events`` (the live events, :data:`LIVE_EVENT`) and ``at``: every
    feature column is then optional (:func:`request_rows` refuses a feature row without a
    required one). Declared, not inferred from an example."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array, Object, Property

    from personalab.intent.pyfunc import input_schema
    from personalab.online.history import FLOATS

    intent = personaliser.intent
    intent_inputs = [] if intent is None else input_schema(intent.encoder).inputs
    online = personaliser.online is not None
    if online:
        intent_inputs = [ColSpec(c.type, c.name, required=False) for c in intent_inputs]
    names = {c.name for c in intent_inputs}
    extra = [
        ColSpec("double", name, required=False)
        for name in personaliser.segment_features
        if name not in names
    ]
    requests = []
    if online:
        fields = [
            Property(name, "double" if name in FLOATS else "string", required=name in LIVE_KEYS)
            for name in LIVE_EVENT
        ]
        requests = [
            ColSpec(Array(Object(fields)), "events", required=False),
            ColSpec("string", "at", required=False),
        ]
    outputs = [ColSpec(kind, name, required=name != "segment") for kind, name in OUTPUT_SCHEMA]
    return ModelSignature(
        inputs=Schema([ColSpec("string", "user_id"), *requests, *intent_inputs, *extra]),
        outputs=Schema(outputs),
        params=ParamSchema([ParamSpec("k", "long", personaliser.k)]),
    )


def latest_users(table: pd.DataFrame, personaliser: Personaliser) -> pd.DataFrame:
    """The feature rows of the latest cut-off; without any (the features stage skipped), the
    users the recommender knows, as user ids alone."""
    if len(table):
        return table[table["cutoff"] == table["cutoff"].max()] if "cutoff" in table else table
    if personaliser.recommender is None:
        return pd.DataFrame({"user_id": pd.Series([], dtype=str)})
    return pd.DataFrame({"user_id": personaliser.recommender.model.users.astype(str)})


def example_rows(table: pd.DataFrame, personaliser: Personaliser, n: int) -> pd.DataFrame:
    """``n`` feature rows of the latest cut-off as a client sends them: one per strategy when
    the table has them, so the example shows each branch of the rule, and none with a null in
    a column the intent model requires (a served request would be refused). The columns:
    user_id, the intent model's (as it encodes them), then the segmenter's other columns."""
    latest = latest_users(table, personaliser)
    if personaliser.intent is not None:
        specs = personaliser.intent.encoder.columns_
        required = [s.name for s in specs if not s.optional and s.name in latest]
        complete = latest[required].notna().all(axis=1)
        latest = latest[complete] if complete.any() else latest
    scored = personaliser.personalise(latest.head(2000), k=1)
    picks = scored.drop_duplicates("strategy")["user_id"].tolist()
    rest = latest.loc[~latest["user_id"].astype(str).isin(picks), "user_id"].astype(str)
    chosen = [*picks, *rest.head(max(n - len(picks), 0)).tolist()][:n]
    rows = latest[latest["user_id"].astype(str).isin(chosen)].drop_duplicates("user_id")
    if personaliser.intent is None:
        encoded = pd.DataFrame(index=rows.index)
    else:
        encoded = personaliser.intent.encoder.example(rows)
    extra = [c for c in personaliser.segment_features if c not in encoded]
    out = pd.concat(
        [rows[["user_id"]].astype(str), encoded, rows.reindex(columns=extra).astype(float)],
        axis=1,
    ).reset_index(drop=True)
    return out


def online_example(personaliser: Personaliser, people: pd.DataFrame) -> pd.DataFrame:
    """A request by id: the example's users and a visitor the store does not know, each with
    the same live visit (a view and a cart of the most trending item, just after the store's
    end)."""
    as_of = pd.Timestamp(personaliser.online.store.as_of_ns, tz="UTC")
    item = str(personaliser.trending.index[0]) if len(personaliser.trending) else None
    visit = [
        {"timestamp": (as_of + pd.Timedelta(minutes=m)).isoformat(), "event_type": kind}
        | ({"item_id": item} if item is not None else {})
        for m, kind in ((1, "view"), (2, "add_to_cart"))
    ]
    users = [*people["user_id"].astype(str), "visitor-example"]
    return pd.DataFrame({"user_id": users, "events": [visit] * len(users)})


def save_personalise(
    personaliser: Personaliser,
    example: pd.DataFrame,
    segmenter_folder: Path | str | None,
    folder: Path | str,
) -> Path:
    from personalab.core.registry import save_pyfunc
    from personalab.core.tracking import pinned_requirements
    from personalab.intent.pyfunc import model_requirements
    from personalab.segments.io import MODEL_MODULES

    # redis: read by a server told to take the online store from Redis (redis_store.STORE_ENV)
    requirements = sorted({*model_requirements(), *pinned_requirements("cloudpickle", "redis")})
    return save_pyfunc(
        folder,
        str(Path(__file__).with_name("pyfunc_model.py")),  # the model from code
        lambda scratch: personaliser.save(scratch, segmenter_folder),
        personalise_signature(personaliser),
        example,
        requirements,
        modules=MODEL_MODULES,  # the segmenter's pickle, unpickled with this folder's code
    )


def described(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Rows with a value in any of ``columns``."""
    wanted = set(columns)
    at = [i for i, name in enumerate(frame.columns.tolist()) if name in wanted]
    if not at:
        return np.zeros(len(frame), dtype=bool)
    return pd.notna(frame.iloc[:, at].to_numpy(dtype=object)).any(axis=1)
