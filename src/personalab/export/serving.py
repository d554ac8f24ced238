"""The model server ``make serve`` runs: MLflow's own scoring app for an exported folder (the
same ``/invocations``, ``/ping``, ``/health``, ``/version`` and request protocol) behind one
ASGI middleware that refuses a request body over a size limit (HTTP 413, before reading a body
whose Content-Length is over it) and answers every error of ``/invocations`` with one line of
cause: no stack trace, no path, no echo of the request's data or of MLflow's schema.

    python -m personalab.export.serving models/personalise --port 5001 --max-body-mb 8

``mlflow models serve -m models/<name> --env-manager local`` serves the same folders, without
the limit and with MLflow's own error answers. For ``models/personalise`` the server also answers
``POST /personalise``, a request by user id without MLflow's dataframe protocol
(:mod:`personalab.export.lean`).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import socket
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from personalab.export import lean

MODEL_ENV = "PERSONALAB_SERVE_MODEL"  # what main() tells each uvicorn worker
MAX_BODY_ENV = "PERSONALAB_SERVE_MAX_BODY_BYTES"
MAX_MESSAGE_CHARS = 500
LIST_ITEMS_SHOWN = 10
INVOCATIONS = "/invocations"
CONTENT_TYPES = "application/json, text/csv or application/vnd.apache.parquet"

_log = logging.getLogger(__name__)

_PREDICT_WRAPPER = re.compile(r"Failed to predict data '.*?'\. \nError: ", re.DOTALL)
_SCHEMA_WRAPPER = re.compile(
    r"Failed to enforce schema of data '.*?' with schema '.*?'\. Error: ", re.DOTALL
)
_PROTOCOL_NOTE = re.compile(r"\s*IMPORTANT: The MLflow Model scoring protocol.*", re.DOTALL)
_ECHOED_INPUT = re.compile(r"\s*\nInput: \n.*", re.DOTALL)
_PATH = re.compile(r"(?:\bfile://|(?<![\w.:/~]))/(?:[^\s/'\"`]+/)+([^\s/'\"`]*)")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"`]+\\)+([^\s\\'\"`]*)")
_LONG_LIST = re.compile(rf"\[('[^']*'(?:, '[^']*'){{{LIST_ITEMS_SHOWN},}})\]")


def _shorten_list(found: re.Match[str]) -> str:
    items = re.findall(r"'[^']*'", found.group(1))
    return f"[{', '.join(items[:LIST_ITEMS_SHOWN])}, … {len(items)} in all]"


def clean_message(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """One line of cause from an MLflow error message: the model's own message out of
    "Failed to predict data '<frame>'" and "Failed to enforce schema of data '<frame>' with
    schema '<schema>'", without the protocol-change paragraph or the echoed input; absolute
    paths reduced to their file name, long lists to their first items, at most ``limit``
    characters (a longer message ends in "…")."""
    for wrapper in (_PREDICT_WRAPPER, _SCHEMA_WRAPPER):
        if found := wrapper.search(message):
            message = message[found.end() :]
    message = _PROTOCOL_NOTE.sub("", _ECHOED_INPUT.sub("", message))
    message = _WINDOWS_PATH.sub(r"\1", _PATH.sub(r"\1", message))
    message = " ".join(_LONG_LIST.sub(_shorten_list, message).split())
    return message if len(message) <= limit else message[: limit - 1].rstrip() + "…"


def error_answer(status: int, body: bytes) -> dict[str, Any]:
    """The one-line JSON answer for an error response of MLflow's app: its ``error_code`` (or the
    HTTP status's name for a plain-text answer) and a cleaned ``message``; ``stack_trace`` is
    dropped, its last line kept as the cause when the message has none."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {"message": body.decode("utf-8", errors="replace")}
    detail = answer.pop("detail", "")  # FastAPI's own answers (405, 422)
    message = str(answer.pop("message", detail))
    trace = str(answer.pop("stack_trace", None) or "").strip()
    cause = trace.splitlines()[-1].strip() if trace else ""
    if cause and (cause.partition(": ")[2] or cause) not in message:
        message = f"{message} Cause: {cause}"
    code = answer.pop("error_code", None) or _status_name(status)
    message = clean_message(message) or f"HTTP {status}"
    return {"error_code": code, "message": message, **answer}


def too_large_answer(size: int | None, limit: int) -> dict[str, str]:
    """The 413 answer: ``size`` is the declared Content-Length, None for a chunked body that
    went over the limit while it was read."""
    told = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return {
        "error_code": "REQUEST_TOO_LARGE",
        "message": f"the request body is {told}; this server takes at most {limit} bytes "
        f"(--max-body-mb {limit / 2**20:.3g})",
    }


def _status_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    values = [value for key, value in scope["headers"] if key.lower() == name]
    return values[0].decode("latin-1") if values else None


class _ClientLeft(Exception):
    """The client disconnected before its request body ended."""


class GuardedApp:
    """ASGI middleware around MLflow's scoring app: a request body limit on every request, one
    line of cause in every error answer of ``/invocations`` (successful answers pass through
    as they are sent; only error answers are buffered), one log line per refused request."""

    def __init__(self, app: Any, max_body_bytes: int, personaliser: Any = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.personaliser = personaliser  # models/personalise: POST /personalise answers too

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            answer = too_large_answer(int(declared), self.max_body_bytes)
            return await self._answer(scope, send, 413, answer)
        try:
            body = await self._read_body(receive)
        except _ClientLeft:
            return None
        if body is None:
            return await self._answer(scope, send, 413, too_large_answer(None, self.max_body_bytes))
        if scope["path"] == lean.PATH and self.personaliser is not None:
            return await self._lean(scope, send, body)
        invocations = scope["path"] == INVOCATIONS
        if invocations and scope["method"] == "POST" and not _header(scope, b"content-type"):
            message = f"the request has no Content-Type header: send {CONTENT_TYPES}"
            return await self._answer(scope, send, 415, error_answer(415, message.encode()))

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        started: list[dict[str, Any]] = []  # an error answer's start, held until its body ends
        chunks: list[bytes] = []

        async def send_one_line(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                started.append(message)
            elif not started:
                await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    status = started[0]["status"]
                    await self._answer(scope, send, status, error_answer(status, b"".join(chunks)))

        try:
            await self.app(scope, replay, send_one_line if invocations else send)
        except Exception as error:  # noqa: BLE001 - answered (500 by Starlette) and logged
            cause = clean_message(f"{type(error).__name__}: {error}")
            _log.error("%s %s failed: %s", scope["method"], scope["path"], cause)

    async def _lean(self, scope: dict[str, Any], send: Any, body: bytes) -> None:
        """``POST /personalise`` (:mod:`personalab.export.lean`), answered in this worker."""
        if scope["method"] != "POST":
            answer = {"error_code": "METHOD_NOT_ALLOWED", "message": f"POST to {lean.PATH}"}
            return await self._answer(scope, send, 405, answer)
        status, data = lean.answer(self.personaliser, body)
        if status != 200:
            _log.warning("refused %d POST %s: %s", status, lean.PATH, json.loads(data)["message"])
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _read_body(self, receive: Any) -> bytes | None:
        """The whole request body, or None as soon as it is over the limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientLeft
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, scope: dict[str, Any], send: Any, status: int, answer: dict) -> None:
        method, path, message = scope["method"], scope["path"], answer["message"]
        _log.warning("refused %d %s %s: %s", status, method, path, message)
        body = json.dumps(answer, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if status == 413:  # the rest of the body is not read: the connection cannot be reused
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def build_app(folder: Path | str, max_body_bytes: int) -> GuardedApp:
    """MLflow's scoring app for the model in ``folder``, guarded; for ``models/personalise``,
    with ``POST /personalise`` beside it."""
    from mlflow.pyfunc import load_model
    from mlflow.pyfunc.scoring_server import init

    model = load_model(str(folder))
    try:
        personaliser = getattr(model.unwrap_python_model(), "personaliser", None)
    except MlflowException:  # not a Python model (the intent and recommender folders)
        personaliser = None
    return GuardedApp(init(model), max_body_bytes, personaliser)


def create_app() -> GuardedApp:
    """The app each uvicorn worker runs (``factory=True``): folder and limit from the
    environment :func:`main` sets; refused requests are logged to stderr."""
    if not _log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:  %(message)s"))
        _log.addHandler(handler)
        _log.propagate = False
    # MLflow's note on `instances` inputs comes with every schema error, whatever the input key
    logging.getLogger("mlflow.pyfunc.scoring_server").setLevel(logging.ERROR)
    app = build_app(os.environ[MODEL_ENV], int(os.environ[MAX_BODY_ENV]))
    # the model's objects live as long as the worker: out of the collector's way, so a request
    # does not pay for a full collection over them
    gc.freeze()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalab.export.serving", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folder", type=Path, help="an MLflow model folder, e.g. models/intent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-body-mb", type=float, default=8.0, help="MiB (2**20 bytes)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per request (504)")
    args = parser.parse_args(argv)
    if not (args.folder / "MLmodel").is_file():
        parser.error(f"{args.folder} holds no MLmodel (not an MLflow model folder)")
    import uvicorn
    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT

    os.environ[MODEL_ENV] = str(args.folder.resolve())
    os.environ[MAX_BODY_ENV] = str(int(args.max_body_mb * 2**20))
    os.environ[MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.name] = str(args.timeout)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    app = "personalab.export.serving:create_app"
    if args.workers == 1:
        uvicorn.run(app, factory=True, host=args.host, port=args.port)
        return 0
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        app,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # uvicorn kills a worker that does not answer its supervisor's ping in time (5 s by
        # default) and starts another: on a busy machine a worker still loading the model
        # misses it, and the restarts never end (seen with the test suite beside a pipeline)
        timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
    )
    Multiprocess(config, sockets=[tcp_socket(config.bind_socket())]).run()
    return 0


#: seconds a worker has to answer its supervisor's health check before uvicorn replaces it
HEALTHCHECK_SECONDS = 60


def tcp_socket(sock: socket.socket) -> socket.socket:
    """``sock`` (a listening socket uvicorn bound for its worker processes) marked as TCP.

    uvicorn binds it with ``proto`` 0, accepted connections inherit that, and asyncio sets
    ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP: with Nagle's algorithm left on, each
    answer on a kept-alive connection waits for the client's delayed ACK, about 40 ms on Linux
    (measured here: ``/ping`` 0.7 ms with one worker, 44 ms with two; uvicorn issue #3149).
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto == socket.IPPROTO_TCP:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)  # the worker processes inherit it
    return tcp


if __name__ == "__main__":
    raise SystemExit(main())
