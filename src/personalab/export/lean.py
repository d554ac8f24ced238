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
from typing import Any

import pandas as pd

from personalab.core.errors import InputError

PATH = "/personalise"
KEYS = ("user_id", "events", "at", "k")


class LeanRequestError(InputError, ValueError):
    """A body ``/personalise`` cannot read."""


def requests_of(body: bytes) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The body as a request frame (``user_id``, ``events``, ``at``) and its params."""
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
    frame = pd.DataFrame(
        {
            "user_id": [str(one["user_id"]) for one in many],
            "events": [one.get("events") for one in many],
            "at": [one.get("at") for one in many],
        }
    )
    k = many[0].get("k")
    return frame, (None if k is None else {"k": k})


def answer(personaliser: Any, body: bytes) -> tuple[int, bytes]:
    """The HTTP status and JSON body of a ``/personalise`` request (a request the rule cannot
    serve: 400 with one line saying why)."""
    from personalab.export.pyfunc import serve_request

    try:
        frame, params = requests_of(body)
        rows = serve_request(personaliser, frame, params)
    except InputError as err:
        message = " ".join(str(err).split())
        return 400, json.dumps({"error_code": "BAD_REQUEST", "message": message}).encode()
    predictions = rows.to_json(orient="records", double_precision=15)
    return 200, b'{"predictions": ' + predictions.encode() + b"}"
