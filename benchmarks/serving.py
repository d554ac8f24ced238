"""Benchmark: latency and throughput of the exported models, in process and over HTTP.

Reads the project's exported models (``models/intent``, ``models/recommender``,
``models/personalise``, written by ``make repro``) and real request rows from
``data/processed/features.parquet``. For each model:

* in process, through ``mlflow.pyfunc.load_model(...).predict`` (schema enforcement
  included): p50/p99 of single-user requests (target p99 < 5 ms), each built from one
  record as a caller (or the HTTP server, from JSON) builds it; and the same requests
  through the unwrapped model, which is the model's own share of that time;
* over HTTP, against ``mlflow models serve --env-manager local`` on 127.0.0.1
  (one request at a time on a kept-alive connection): p50/p99 of single-user
  requests (target p99 < 50 ms);
* batch throughput in process (intent target >= 100,000 rows/s) and over HTTP;
* under load, ``models/personalise`` only: the server ``make serve`` runs (guarded, ``--workers``
  uvicorn processes, default 2) answering 1, 4 and 8 clients at once, each sending one-user
  feature-row requests on a kept-alive connection of its own: requests/s, p50 and p99. The
  clients are threads of this process, on the same 2 cores as the server;
* ``personalise_by_id``: requests by user id with a live visit of ``--live-events`` events
  (default 20: views with dwell and price, clicks, scrolls, a cart, of the log's items, after
  the store's end), the row folded from the online store: the store's load time (target
  < 2 s), in process (through MLflow; the model alone, ``answer_by_id`` as ``POST /personalise``
  calls it, target p99 < 5 ms, in the first of three passes over the requests; each request's
  fastest of the three, which leaves out the bursts in which the whole machine is slower; and
  the model given a one-row frame, as ``/invocations`` calls it), and under load through ``/invocations`` and ``make serve``'s ``POST /personalise``
  (targets at 4 clients: p99 < 50 ms and >= 200 requests/s).

Prints one JSON object. Usage: python benchmarks/serving.py [--requests 1000] [--batch 100000]
[--workers 2] [--clients 1,4,8] [--load-requests 2000] [--live-events 20] [--only-by-id]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from _live import requests_by_id
from _targets import exit_code, missed_targets

from personalab.core.paths import project_paths
from personalab.tools.server import model_server

MODELS = ("intent", "recommender", "personalise")
TARGETS = {
    "inprocess_p99_ms": 5.0,
    "http_p99_ms": 50.0,
    "intent_rows_per_second": 100_000,
    "store_load_seconds": 2.0,
    "by_id_model_p99_ms": 5.0,
    "by_id_load_p99_ms": 50.0,
    "by_id_requests_per_second": 200.0,
}


def request_rows(folder: Path, table: pd.DataFrame) -> pd.DataFrame:
    """The latest cut-off's rows of the features table, with the model's input columns."""
    example = json.loads((folder / "serving_input_example.json").read_text())["dataframe_split"]
    latest = table[table["cutoff"] == table["cutoff"].max()]
    return latest[example["columns"]].reset_index(drop=True)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def in_process(folder: Path, rows: pd.DataFrame, n: int, batch: int) -> dict[str, float]:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(folder))
    records = rows.iloc[np.arange(n) % len(rows)].to_dict(orient="records")
    singles = [pd.DataFrame([record]) for record in records]
    times = single_requests(model.predict, singles)
    unwrapped = model.unwrap_python_model()
    own = single_requests(lambda frame: unwrapped.predict(None, frame), singles)
    # feature rows drawn with replacement; the user models get each user once, as real requests
    big = rows if "user_id" in rows else rows.sample(batch, replace=True, random_state=0)
    start = time.perf_counter()
    model.predict(big)
    seconds = time.perf_counter() - start
    return {
        **percentiles(times),
        "model_only": percentiles(own),
        "batch_rows": len(big),
        "rows_per_second": round(len(big) / seconds),
    }


def single_requests(send, requests: list) -> list[float]:
    """Seconds each one-user request takes, after a warm-up."""
    for request in requests[:20]:
        send(request)
    times = []
    for request in requests:
        start = time.perf_counter()
        send(request)
        times.append(time.perf_counter() - start)
    return times


def body(frame: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode()


HEADERS = {"Content-Type": "application/json"}


def poster(url: str, what: str, path: str = "/invocations"):
    """A function that POSTs a body to ``url``'s ``path`` on one kept-alive connection
    (raising on any answer but 200), and the connection."""
    address = urlparse(url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)

    def post(payload: bytes) -> None:
        try:
            conn.request("POST", path, payload, HEADERS)
            response = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()  # the server closed an idle kept-alive connection: open a new one
            conn.request("POST", path, payload, HEADERS)
            response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"{what}: HTTP {response.status}: {answer[:500]!r}")

    return post, conn


def under_load(
    folder: Path, rows: pd.DataFrame, clients: list[int], n: int, workers: int
) -> dict[str, dict[str, float]]:
    """The guarded server with ``workers`` processes, sent ``n`` one-user requests by each
    number of concurrent ``clients`` (:func:`load_level`)."""
    bodies = [body(rows.iloc[[i % len(rows)]]) for i in range(n)]
    with model_server(folder, guarded=True, workers=workers) as url:
        return {f"clients_{c}": load_level(url, folder.name, bodies, c) for c in clients}


def load_level(
    url: str, what: str, bodies: list[bytes], count: int, path: str = "/invocations"
) -> dict[str, float]:
    """``bodies`` sent to ``path`` by ``count`` clients at once (threads, a connection each, all
    starting together after 20 warm-up requests apiece): requests/s over the wall time of the
    timed requests, p50 and p99 of each request's time."""
    posts = [poster(url, what, path) for _ in range(count)]
    times: list[list[float]] = [[] for _ in range(count)]
    errors: list[BaseException] = []
    ready = threading.Barrier(count + 1)  # the timed requests start together

    def client(at: int) -> None:
        post = posts[at][0]
        try:
            for payload in bodies[:20]:
                post(payload)
        except BaseException as err:  # raised below, in the benchmark's thread
            errors.append(err)
        ready.wait()
        if errors:
            return
        try:
            for payload in bodies[at::count]:
                start = time.perf_counter()
                post(payload)
                times[at].append(time.perf_counter() - start)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=client, args=(at,)) for at in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    for _, conn in posts:
        conn.close()
    if errors:
        raise errors[0]
    done = [t for part in times for t in part]
    return {"requests_per_second": round(len(done) / wall, 1), **percentiles(done)}


def over_http(folder: Path, rows: pd.DataFrame, n: int, batch: int) -> dict[str, float]:
    bodies = [body(rows.iloc[[i % len(rows)]]) for i in range(n)]
    big = rows.sample(min(batch, len(rows)), random_state=0)
    started = time.perf_counter()
    with model_server(folder) as url:
        startup = time.perf_counter() - started
        post, conn = poster(url, folder.name)
        times = single_requests(post, bodies)
        seconds = single_requests(post, [body(big)])[0]  # (its warm-up: the same request)
        conn.close()
    return {
        **percentiles(times),
        "batch_rows": len(big),
        "rows_per_second": round(len(big) / seconds),
        "server_start_seconds": round(startup, 1),
    }


def by_id_figures(
    folder: Path, requests: list[dict], clients: list[int], n: int, workers: int
) -> dict[str, object]:
    """Requests by user id with live events: the store's load time, in process (through MLflow
    and the model alone), and under load through both routes of ``make serve``."""
    import mlflow.pyfunc

    from personalab.export.pyfunc import answer_by_id, serve_request
    from personalab.online.store import FILE, OnlineStore

    start = time.perf_counter()
    store = OnlineStore(folder / "artifacts" / FILE)
    store.user(requests[0]["user_id"])  # the first read opens the file
    load_seconds = time.perf_counter() - start
    model = mlflow.pyfunc.load_model(str(folder))
    rule = model.unwrap_python_model().personaliser
    frames = [pd.DataFrame({"user_id": [r["user_id"]], "events": [r["events"]]}) for r in requests]
    through_mlflow = single_requests(model.predict, frames)
    with_frame = single_requests(lambda frame: serve_request(rule, frame), frames)
    passes = [
        single_requests(
            lambda r: answer_by_id(rule, [r["user_id"]], [r["events"]], [None], rule.k), requests
        )
        for _ in range(3)
    ]
    own = passes[0]
    bodies = {
        "invocations": [
            json.dumps({"dataframe_records": [requests[i % len(requests)]]}).encode()
            for i in range(n)
        ],
        "personalise": [json.dumps(requests[i % len(requests)]).encode() for i in range(n)],
    }
    load = {}
    with model_server(folder, guarded=True, workers=workers) as url:
        for route, payloads in bodies.items():
            load[route] = {
                f"clients_{c}": load_level(url, folder.name, payloads, c, f"/{route}")
                for c in clients
            }
    return {
        "users": len(store),
        "live_events": len(requests[0]["events"]),
        "store_load_seconds": round(load_seconds, 3),
        "in_process": {
            **percentiles(through_mlflow),
            "model_only": percentiles(own),
            # each request's fastest of three passes: the code's own spread, without the
            # bursts in which the whole machine runs slower (a shared VM's)
            "model_only_fastest_of_3": percentiles(np.min(passes, axis=0).tolist()),
            "model_with_frame": percentiles(with_frame),
        },
        "load": {"workers": workers, **load},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--http-batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="the loaded server's processes")
    parser.add_argument("--clients", default="1,4,8", help="concurrent clients, comma-separated")
    parser.add_argument("--load-requests", type=int, default=2000, help="per number of clients")
    parser.add_argument("--live-events", type=int, default=20, help="per request by user id")
    parser.add_argument(
        "--only-by-id", action="store_true", help="only the requests by user id (issue 20)"
    )
    args = parser.parse_args(argv)
    paths = project_paths()
    missing = [name for name in MODELS if not (paths.models / name / "MLmodel").is_file()]
    if missing:
        print(
            f"models {missing} not found under {paths.models}: run `make repro` first",
            file=sys.stderr,
        )
        return 2
    table = pd.read_parquet(paths.processed / "features.parquet")
    out: dict[str, object] = {"benchmark": "serving", "requests": args.requests}
    checks = []
    clients = [int(c) for c in args.clients.split(",")]
    for name in () if args.only_by_id else MODELS:
        folder = paths.models / name
        rows = request_rows(folder, table)
        local = in_process(folder, rows, args.requests, args.batch)
        remote = over_http(folder, rows, args.requests, args.http_batch)
        out[name] = {"in_process": local, "http": remote}
        if name == "personalise":
            load = under_load(folder, rows, clients, args.load_requests, args.workers)
            out[name]["load"] = {"workers": args.workers, **load}
        checks += [
            (f"{name}.in_process.p99_ms", local["p99_ms"], "<", TARGETS["inprocess_p99_ms"]),
            (f"{name}.http.p99_ms", remote["p99_ms"], "<", TARGETS["http_p99_ms"]),
        ]
    by_id = requests_by_id(paths, args.requests, args.live_events)
    out["personalise_by_id"] = result = by_id_figures(
        paths.models / "personalise", by_id, clients, args.load_requests, args.workers
    )
    lean = result["load"]["personalise"].get("clients_4")
    checks += [
        ("personalise_by_id.store_load_seconds", result["store_load_seconds"], "<",
         TARGETS["store_load_seconds"]),
        ("personalise_by_id.model_only.p99_ms", result["in_process"]["model_only"]["p99_ms"],
         "<", TARGETS["by_id_model_p99_ms"]),
    ]  # fmt: skip
    if lean is not None:
        checks += [
            ("personalise_by_id.load.personalise.clients_4.p99_ms", lean["p99_ms"], "<",
             TARGETS["by_id_load_p99_ms"]),
            ("personalise_by_id.load.personalise.clients_4.requests_per_second",
             lean["requests_per_second"], ">=", TARGETS["by_id_requests_per_second"]),
        ]  # fmt: skip
    if not args.only_by_id:
        rate = out["intent"]["in_process"]["rows_per_second"]
        checks.append(("intent.rows_per_second", rate, ">=", TARGETS["intent_rows_per_second"]))
    missed = missed_targets(checks)
    out["targets"] = TARGETS
    out["meets_targets"] = not missed
    print(json.dumps(out))
    return exit_code(missed)


if __name__ == "__main__":
    sys.exit(main())
