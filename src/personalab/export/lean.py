"""``POST /personalise``: the real-time request of ``models/personalise`` without MLflow's
dataframe protocol, served by ``make serve`` beside ``/invocations``.

The body is one request object, or a list of them::

    {"user_id": "u42", "events": [{"timestamp": "...", "event_type": "view", ...}],
     "at": "2026-04-01T12:00:00Z", "k": 5}

``events`` (the current visit's events, :mod:`personalab.online.live`), ``at`` and ``k`` are
optional; a list shares the first object's ``k``. The answer is ``{"predictions": [...]}``, the
rows ``/invocations`` answers for the same request (:func:`personalab.export.pyfunc.serve_request`),
so a client may switch between them. What this path skips is MLflow's work per request: parsing
the body into a DataFrame and checking it against the signature, column by column (the live
events are checked by :mod:`personalab.online.live` instead), which is most of a request's time
through ``/invocations``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError

PATH = "/personalise"
KEYS = ("user_id", "events", "at", "k")


class LeanRequestError(InputError, ValueError):
    """A body ``/personalise`` cannot read."""


def requests_of(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The body's request objects (each with a ``user_id``, and only :data:`KEYS`) and the
    params (``k``, from the first)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise LeanRequestError("the body is not valid JSON: send a request object") from None
    many = data if isinstance(data, list) else [data]
    if not many or not all(isinstance(one, dict) for one in many):
        raise LeanRequestError(
            'send {"user_id": ..., "events": [...]} or a non-empty list of such objects'
        )
    for i, one in enumerate(many):
        unknown = sorted(set(one) - set(KEYS))
        if unknown:
            raise LeanRequestError(f"request {i} has unknown key(s) {unknown}; known: {KEYS}")
        if one.get("user_id") is None:
            raise LeanRequestError(f"request {i} has no user_id")
    k = many[0].get("k")
    return many, (None if k is None else {"k": k})


def answer(personaliser: Any, body: bytes) -> tuple[int, bytes]:
    """The HTTP status and JSON body of a ``/personalise`` request (a request the rule cannot
    serve: 400 with one line saying why)."""
    from personalab.export.pyfunc import answer_by_id, serve_request
    from personalab.recommend.served import requested_k

    try:
        many, params = requests_of(body)
        users = [one["user_id"] for one in many]
        events, ats = [one.get("events") for one in many], [one.get("at") for one in many]
        if personaliser.online is None:  # the rule refuses events, or reads no feature
            frame = pd.DataFrame({"user_id": users, "events": events, "at": ats})
            columns = serve_request(personaliser, frame, params).to_dict(orient="list")
        else:
            k = requested_k(params, personaliser.k, personaliser.max_k)
            columns = answer_by_id(personaliser, users, events, ats, k)
    except InputError as err:
        message = " ".join(str(err).split())
        return 400, json.dumps({"error_code": "BAD_REQUEST", "message": message}).encode()
    return 200, json.dumps({"predictions": records(columns)}).encode()


def records(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """Columns as JSON records (NaN as null)."""
    names = list(columns)
    values = [
        [None if isinstance(v, float) and math.isnan(v) else v for v in np.asarray(c).tolist()]
        for c in columns.values()
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
