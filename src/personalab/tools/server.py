"""Run a model server on a free loopback port: MLflow's own (``mlflow models serve``), or the
guarded one ``make serve`` runs (:mod:`personalab.export.serving`); what the end-to-end tests
and the serving benchmark use to send real HTTP requests to an exported model. And a team's
MLflow tracking server (:func:`tracking_server`, what ``make tracking-server`` runs), for
stages run with ``MLFLOW_TRACKING_URI`` set to its URL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class ModelServerError(RuntimeError):
    """The model server exited or did not answer while starting; the message ends with its log."""


class TrackingServerError(RuntimeError):
    """``mlflow server`` exited or did not answer while starting; the message ends with its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


#: the words a server's log holds when its port was taken before it could bind it
PORT_TAKEN = ("address already in use", "errno 98")
#: starts on a port of our choosing, each on a new port while the previous one was taken
PORT_ATTEMPTS = 3


@contextmanager
def _running(
    cmd: list[str],
    what: str,
    host: str,
    port: int | None,
    health: str,
    timeout: float,
    error: type[RuntimeError],
    **popen: Any,
) -> Iterator[str]:
    """Start ``cmd --port <port>`` in a process group of its own, wait until its ``health`` path
    answers 200 and yield its URL; stop the whole group on exit. A process that exits, or does
    not answer within ``timeout`` seconds, raises ``error`` ending with the end of its log.

    Without ``port``, a free one is chosen; it is free when chosen, but the server binds it
    seconds later, and another process can take it in between: a server that exits for that
    reason is started again on another port (up to :data:`PORT_ATTEMPTS` times)."""
    attempts = 1 if port else PORT_ATTEMPTS
    for attempt in range(attempts):
        chosen = port or free_port(host)
        url = f"http://{host}:{chosen}"
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                [*cmd, "--port", str(chosen)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen,
            )  # fmt: skip
            try:
                try:
                    _wait_until_answering(proc, log, what, f"{url}{health}", timeout, error)
                except error as exc:
                    taken = any(words in str(exc).lower() for words in PORT_TAKEN)
                    if taken and attempt < attempts - 1:
                        continue
                    raise
                yield url
                return
            finally:
                _stop(proc)


def _tail(log: Any) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def _wait_until_answering(
    proc: subprocess.Popen, log: Any, what: str, url: str, timeout: float, error: type[RuntimeError]
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise error(f"{what} exited:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise error(f"{what}: no answer in {timeout} s:\n{_tail(log)}")
        time.sleep(0.25)


def _stop(proc: subprocess.Popen) -> None:
    """Stop ``proc``'s whole process group: SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def model_server(
    folder: Path | str,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 180.0,
    guarded: bool = False,
    max_body_mb: float = 8.0,
    workers: int = 1,
) -> Iterator[str]:
    """Run ``mlflow models serve -m <folder> --env-manager local`` and yield its base URL; with
    ``guarded``, ``python -m personalab.export.serving <folder> --max-body-mb <max_body_mb>``
    (MLflow's app with a request body limit and one-line error answers). ``workers``: uvicorn
    processes, each with the model loaded, taking requests from one port.

    Waits until ``/ping`` answers; the server is stopped (its whole process group)
    on exit. A server that dies while starting raises with the end of its log.
    """
    import sys

    mlflow_cli = Path(sys.executable).with_name("mlflow")
    if guarded:
        what = f"python -m personalab.export.serving {folder}"
        cmd = [sys.executable, "-m", "personalab.export.serving", str(folder)]
        cmd += ["--max-body-mb", str(max_body_mb)]
    else:
        what = f"mlflow models serve -m {folder}"
        cmd = [str(mlflow_cli), "models", "serve", "-m", str(folder), "--env-manager", "local"]
    cmd += ["--host", host, "--workers", str(workers)]
    # the server execs `uvicorn` from PATH: this environment's, whatever the caller's PATH
    env = {**os.environ, "PATH": f"{mlflow_cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    with _running(cmd, what, host, port, "/ping", timeout, ModelServerError, env=env) as url:
        yield url


@contextmanager
def tracking_server(
    folder: Path | str,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120.0,
    workers: int = 1,
) -> Iterator[str]:
    """Run a team's MLflow tracking server on ``folder`` and yield its URL (what
    ``MLFLOW_TRACKING_URI`` is set to): ``mlflow server --backend-store-uri
    sqlite:///<folder>/mlflow.db --artifacts-destination <folder>/mlartifacts``.

    The server stores runs in the database and takes artifacts through itself
    (``--serve-artifacts``, MLflow's default): clients upload to ``mlflow-artifacts:/`` and need
    no access to ``folder``. Waits until ``/health`` answers; the server is stopped (its whole
    process group) on exit. A server that dies while starting raises with the end of its log.
    """
    import sys

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "mlartifacts"),
        "--host", host, "--workers", str(workers),
    ]  # fmt: skip
    what = f"mlflow server on {folder}"
    with _running(
        cmd, what, host, port, "/health", timeout, TrackingServerError, cwd=folder
    ) as url:
        yield url
