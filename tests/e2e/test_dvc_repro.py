"""`dvc repro` of the whole pipeline in a temporary copy of the project, on tiny data.

The shared tiny project's run (:mod:`tests.project`, which the notebook tests read too) feeds
the checks of the exported models (fresh-process predictions, signature enforcement, MLflow's
own server); the pipeline re-runs with nothing to do, and a fresh clone of the same files runs
it again on Spark to the same bytes. Logs of other shapes, and a user's own CSV: test_shapes.py.
"""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from personalab.tools.server import model_server
from tests.conftest import ROOT, SMALL_SPARK, TINY_SYNTH, run_tool, update_params
from tests.project import project_after_repro, tiny_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STAGES = (
    "ingest", "features", "segments", "intent", "recommend", "monitor", "experiment", "export",
)  # fmt: skip
#: the fresh clone's engine: PySpark in local mode on the machine's Java, set for small data
SPARK = {"engine": "spark", "spark": {"master": "local[2]", "config": SMALL_SPARK}}
EXPORTED = ("intent", "recommender", "personalise")


run = run_tool


def metrics_of(root):
    return {
        stage: json.loads((root / f"reports/metrics/{stage}.json").read_text()) for stage in STAGES
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, worker_id):
    """A copy of the shared tiny project after `dvc repro` (:mod:`tests.project`, built here
    when this worker is the first to ask) and a fresh clone of the same files set to
    `engine: spark`, whose `dvc repro` starts first and runs beside the build. Yields the
    project copy, its run's output, the clone and the clone's run (a future: it goes on while
    the project's checks run)."""
    base = tmp_path_factory.mktemp("e2e")
    clone = base / "clone"
    source = tiny_project(base / "source")
    run(["git", "clone", "-q", str(source), str(clone)], base)
    for stage in ("ingest", "features"):  # the clone's data stages run on Spark in local mode
        update_params(clone, stage, SPARK)
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(run, ["dvc", "repro"], clone)
        root, first = project_after_repro(tmp_path_factory, worker_id, base / "project")
        yield root, first, clone, second


@pytest.fixture(scope="module")
def repro(runs):
    """The project copy after its `dvc repro`, and that run's output."""
    return runs[0], runs[1]


def example(root, name):
    """A model's serving input example as a DataFrame (and as the JSON body it came from)."""
    body = json.loads((root / "models" / name / "serving_input_example.json").read_text())
    split = body["dataframe_split"]
    return pd.DataFrame(split["data"], columns=split["columns"]), body


def test_repro_runs_every_stage_and_exports_the_champions(repro):
    root, first = repro
    assert all(f"Running stage '{stage}'" in first for stage in STAGES)
    metrics = metrics_of(root)
    assert metrics["ingest"]["bot_users"] == TINY_SYNTH["bot_users"]
    assert metrics["features"]["cutoffs"] == 4 and metrics["features"]["rows"] > 0
    assert metrics["segments"]["users"] > 0 and "ari_vs_truth" in metrics["segments"]
    assert metrics["intent"]["n_trials"] == 3 and "oracle_roc_auc" in metrics["intent"]
    assert metrics["recommend"]["ndcg_at_10"] > metrics["recommend"]["random_ndcg_at_10"]
    # the synthetic log holds everything: no stage leaves anything out, but the monitor: on 21
    # days, the features' 30-day windows count the whole history at every cut-off, so segment
    # and prediction drift are reported but not retraining reasons
    whole = [s for s in STAGES if s != "monitor"]
    assert {s: metrics[s]["status"] for s in whole} == dict.fromkeys(whole, "complete")
    assert metrics["monitor"]["status"] == "partial"
    left_out = [n for n in metrics["monitor"]["notes"] if n.startswith("left out")]
    assert [n.split(": ")[1] for n in left_out] == [
        "segment drift as a retraining reason",
        "prediction drift as a retraining reason",
    ]
    for stage in whole:  # the status summary printed at the end of the export stage
        assert f"{stage:<10} complete" in first, stage
    assert f"{'monitor':<10} partial" in first
    recs = pd.read_parquet(root / "data/processed/recommendations.parquet")
    events = pd.read_parquet(root / "data/interim/events.parquet")
    assert set(recs["user_id"]) == set(events["user_id"])

    exported = metrics["export"]
    assert exported["intent_version"] == exported["recommender_version"] == 1
    assert exported["intent_parity"] == exported["recommender_parity"] == 0.0
    assert exported["personalise_parity"] == 0.0
    shares = [exported[f"{s}_share"] for s in ("personalised", "trending", "popular")]
    assert sum(shares) == pytest.approx(1.0)
    for name in (*EXPORTED, "candidates/intent", "candidates/recommender"):
        folder = root / "models" / name
        assert (folder / "MLmodel").is_file(), name
    for name in EXPORTED:
        folder = root / "models" / name
        assert (folder / "serving_input_example.json").is_file()
        requirements = (folder / "requirements.txt").read_text().split()
        assert requirements and all("==" in line for line in requirements if line != "mlflow")
    assert "scikit-surprise" not in (root / "models/recommender/requirements.txt").read_text()
    for name in EXPORTED:  # models from code: the wrapper is a source file, not a pickle
        assert not list((root / "models" / name).rglob("python_model.pkl")), name
        assert (root / "models" / name / "pyfunc_model.py").is_file(), name
    assert not list((root / "models/recommender").rglob("*.pkl"))  # its model is arrays + JSON

    summary = (root / "reports/summary.md").read_text()
    behind = (root / "reports/runs/summary.md").read_text()  # not versioned: runs and times
    commit = run(["git", "rev-parse", "HEAD"], root).strip()
    for text in ("personalab-intent v1", "personalab-recommender v1", "test_pr_auc"):
        assert text in summary, text
    assert commit in behind and commit not in summary
    runs = {s: json.loads((root / f"reports/runs/{s}.json").read_text()) for s in STAGES}
    for stage in STAGES:
        assert f"| {stage} | `{runs[stage]['run_id']}` |" in behind, stage
        assert runs[stage]["run_id"] not in summary
    assert "data/interim/events.parquet" in summary


def test_exported_models_predict_like_the_registry_models_in_a_fresh_process(repro):
    root, _ = repro
    check = """
import json, mlflow.pyfunc, numpy as np, pandas as pd
from mlflow.exceptions import MlflowException

def rows(name):
    body = json.load(open(f"models/{name}/serving_input_example.json"))["dataframe_split"]
    return pd.DataFrame(body["data"], columns=body["columns"])

table = pd.read_parquet("data/processed/features.parquet")
latest = table[table["cutoff"] == table["cutoff"].max()]
intent = mlflow.pyfunc.load_model("models/intent")
registered = mlflow.pyfunc.load_model("models:/personalab-intent@champion")
inputs = intent.metadata.get_input_schema().inputs
required = [c.name for c in inputs if c.required]
optional = [c.name for c in inputs if not c.required]
# a null in a column without missing values in training is refused (checked below)
latest = latest[latest[required].notna().all(axis=1)]
columns = rows("intent").columns
raw = latest[columns].head(200)  # rows as the features stage writes them
a, b = intent.predict(raw), registered.predict(raw)
assert a.equals(b), (a.head(), b.head())
assert a["purchase_intent"].dtype == bool and a["purchase_probability"].between(0, 1).all()

assert optional, "the features table has columns that may be missing"
assert len(intent.predict(raw.drop(columns=optional))) == len(raw)
try:
    intent.predict(raw.drop(columns=[required[0]]))
    raise SystemExit("a missing required column was accepted")
except MlflowException as err:
    assert required[0] in str(err), err
held = raw.head(3).copy()
held.iloc[1, held.columns.get_loc(required[0])] = np.nan
try:
    intent.predict(held)
    raise SystemExit("a null in a required column was accepted")
except MlflowException as err:
    assert f"{required[0]} (rows [1])" in str(err), err

users = pd.DataFrame({"user_id": [*latest["user_id"].head(50), "newcomer"]})
rec = mlflow.pyfunc.load_model("models/recommender")
ref = mlflow.pyfunc.load_model("models:/personalab-recommender@champion")
a, b = rec.predict(users, params={"k": 4}), ref.predict(users, params={"k": 4})
assert a.equals(b) and len(a) == 51 * 4
assert a.loc[a["user_id"] == "newcomer", "fallback"].all()

person = mlflow.pyfunc.load_model("models/personalise")
# the 100 users the intent model rates highest (personalised) and up to 200 of the lowest
score = registered.predict(latest[columns])["purchase_probability"].to_numpy()
order = np.argsort(-score, kind="stable")
pick = np.r_[order[:100], order[100:][-200:]]
request = latest[rows("personalise").columns].iloc[pick]
out = person.predict(request, params={"k": 3})
assert out.groupby("user_id").size().le(3).all() and set(out["user_id"]) == set(request["user_id"])
first = out.drop_duplicates("user_id").set_index("user_id")
p = registered.predict(request.set_index("user_id")[columns])["purchase_probability"]
assert np.allclose(first["intent_score"], p.loc[first.index].to_numpy())
seg = pd.read_parquet("data/processed/segments.parquet").set_index("user_id")["segment"]
assert (first["segment"] == seg.loc[first.index]).all()
served = first[first["strategy"] == "personalised"].index
assert len(served) > 0, first["strategy"].value_counts()
mine = out[out["user_id"].isin(served)]
theirs = ref.predict(pd.DataFrame({"user_id": served}), params={"k": 3})
assert not theirs["fallback"].any()
assert mine["user_id"].tolist() == theirs["user_id"].tolist()
assert mine["item_id"].tolist() == theirs["item_id"].tolist()
print("ok", sorted(set(first["strategy"])))
"""
    out = run(["python", "-c", check], root, MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    assert "ok" in out


def post(url, body: bytes):
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.mark.parametrize("name", EXPORTED)
def test_mlflow_serves_each_model_and_refuses_bad_requests(repro, name):
    root, _ = repro
    frame, body = example(root, name)
    column = "user_id" if name == "recommender" else "days_since_last_event"
    at = frame.columns.get_loc(column)
    missing = {
        "dataframe_split": {
            "columns": [c for c in frame.columns if c != column],
            "data": [row[:at] + row[at + 1 :] for row in body["dataframe_split"]["data"]],
        }
    }
    wrong = json.loads(json.dumps(body))
    if name == "recommender":
        wrong["params"] = {"k": "ten"}
    else:
        for row in wrong["dataframe_split"]["data"]:
            row[at] = "not a number"
    with model_server(root / "models" / name) as url:
        status, answer = post(url, json.dumps(body).encode())
        assert status == 200, answer
        predictions = pd.DataFrame(answer["predictions"])
        assert len(predictions) > 0
        status, answer = post(url, json.dumps(missing).encode())
        # the recommender's columns are each optional (user_id, or items): it names them
        # the recommender's columns are each optional (user_id, or items); so are the rule's
        # features (a request by id sends none), but a feature row needs each required one
        expected = {
            "recommender": "no user_id column",
            "intent": "missing inputs",
            "personalise": "lack required column(s)",
        }[name]
        assert status == 400 and expected in answer["message"], answer
        assert column in answer["message"].split(expected)[-1]
        if name == "recommender":  # a list of items gets what comes next after them
            items = predictions["item_id"].head(2).tolist()
            request = {"dataframe_records": [{"items": items}], "params": {"k": 4}}
            status, answer = post(url, json.dumps(request).encode())
            assert status == 200, answer
            after = pd.DataFrame(answer["predictions"])
            assert len(after) == 4 and not set(after["item_id"]) & set(items)
            assert set(after["score_kind"]) <= {"next_item_rules", "session_share"}
            assert (after["user_id"] == "request:0").all()
        status, answer = post(url, json.dumps(wrong).encode())
        assert status == 400, answer
        assert ("k" if name == "recommender" else column) in answer["message"]
        for bad in (b"", b"{not json"):
            status, answer = post(url, bad)
            assert status == 400 and "valid JSON" in answer["message"], answer
        status, answer = post(url, json.dumps(body).encode())  # still serving
        assert status == 200 and len(answer["predictions"]) == len(predictions)


def test_make_serve_answers_the_exported_rule_with_one_line_errors_and_a_body_limit(repro):
    """`make serve`'s server (MLflow's scoring app, guarded, two workers as `make serve` runs
    it): the same answers to clients at once, errors in one line without the request's data,
    the schema or a path, and a body over the limit refused."""
    root, _ = repro
    frame, body = example(root, "personalise")
    folder = root / "models/personalise"
    with model_server(folder, guarded=True, max_body_mb=0.05, workers=2) as url:
        status, answer = post(url, json.dumps(body).encode())
        assert status == 200 and len(answer["predictions"]) > 0, answer
        with ThreadPoolExecutor(4) as pool:  # four clients at once: every answer the same
            answers = list(pool.map(lambda _: post(url, json.dumps(body).encode()), range(12)))
        assert answers == [(200, answer)] * 12
        # a request by id: the user's row folded from the online store and the live visit
        visit = [{"timestamp": "2100-01-01T00:00:00", "event_type": "view"}]
        by_id = {"dataframe_records": [{"user_id": frame["user_id"][0], "events": visit}]}
        status, answer = post(url, json.dumps(by_id).encode())
        assert status == 200 and len(answer["predictions"]) > 0, answer
        assert all(row["intent_score"] is not None for row in answer["predictions"])
        # a visitor the recommender does not know, viewing two items: what follows them
        items = [row["item_id"] for row in answer["predictions"]][:2]
        views = [
            {"timestamp": "2100-01-01T00:00:00", "event_type": "view", "item_id": i} for i in items
        ]
        status, answer = post(
            url,
            json.dumps({"dataframe_records": [{"user_id": "visitor-x", "events": views}]}).encode(),
        )
        assert status == 200 and {r["strategy"] for r in answer["predictions"]} == {
            "session_items"
        }, answer
        early = json.loads(json.dumps(by_id))
        early["dataframe_records"][0]["events"][0]["timestamp"] = "1999-01-01T00:00:00"
        for request, cause in (
            (early, "event 0 at 1999-01-01T00:00:00 is before the store's end"),
            ({**body, "params": {"k": 0}}, "k must be from 1 to"),
        ):
            status, answer = post(url, json.dumps(request).encode())
            message = answer["message"]
            assert status == 400 and cause in message, answer
            assert "\n" not in message and "Failed to" not in message and "/" not in message
            assert "stack_trace" not in answer
        big = {
            "dataframe_split": {
                "columns": list(frame.columns),
                "data": body["dataframe_split"]["data"] * 200,
            }
        }
        status, answer = post(url, json.dumps(big).encode())
        assert status == 413 and "at most" in answer["message"], answer


def test_servers_reading_the_online_store_from_redis_answer_as_the_shipped_file(repro, monkeypatch):
    """`make redis`, the store loaded as `make redis-load` loads it, then a server with PERSONALAB_ONLINE_STORE set (what
    `make serve ONLINE_STORE=...` sets): the same answers to requests by id."""
    import redis

    from personalab.online.redis_store import STORE_ENV
    from personalab.tools.server import free_port

    root, _ = repro
    port = free_port("127.0.0.1")
    url = f"redis://127.0.0.1:{port}/0"
    run(["make", "-s", "redis", f"REDIS_PORT={port}"], ROOT)
    try:
        # what `make redis-load` runs (the copy has no environment of its own to run make in)
        run(["python", "-m", "personalab.online.redis_store", url], root)
        frame, _ = example(root, "personalise")
        visit = [{"timestamp": "2100-01-01T00:00:00", "event_type": "view"}]
        by_id = {"dataframe_records": [{"user_id": u, "events": visit} for u in frame["user_id"]]}
        answers = []
        for store in (None, url):
            if store:
                monkeypatch.setenv(STORE_ENV, store)
            with model_server(root / "models/personalise", guarded=True) as server:
                answers.append(post(server, json.dumps(by_id).encode()))
        assert answers[0][0] == 200 and answers[0] == answers[1], answers
    finally:
        redis.Redis.from_url(url).shutdown(nosave=True)


def test_online_rows_equal_the_features_stage_rows_on_a_sample_of_the_default_data(repro):
    """The pipeline's own events (the default synthetic log through the ingest stage) and its
    features params: a store at S, each sampled user's events in [S, T) as live events."""
    from personalab.features.params import FeaturesParams
    from personalab.features.plan import plan_features
    from personalab.online.parity import parity_gaps

    root, _ = repro
    events = pd.read_parquet(root / "data/interim/events.parquet")
    times = events["timestamp"]
    as_of = times.quantile(0.8).floor("s") + pd.Timedelta(milliseconds=1)
    at = as_of + pd.Timedelta(hours=30)
    params = FeaturesParams.from_yaml(root / "params/features.yaml")
    plan = plan_features(events[times < as_of], params)
    live = events[(times >= as_of) & (times < at)]
    users = live["user_id"].drop_duplicates().sample(12, random_state=0).tolist()
    gaps = parity_gaps(events, plan, as_of, at, [*users, "nobody"])
    assert gaps.empty, gaps.to_string()


def test_repro_is_idempotent_and_reruns_only_what_changed(repro):
    root, _ = repro
    metrics = metrics_of(root)
    lock = (root / "dvc.lock").read_text()
    second = run(["dvc", "repro"], root)
    assert all(f"Stage '{stage}' didn't change, skipping" in second for stage in STAGES)
    assert (root / "dvc.lock").read_text() == lock
    assert metrics_of(root) == metrics
    assert "up to date" in run(["dvc", "status"], root)

    # a change to the recommend package re-runs only recommend and export (which ships the package)
    module = root / "src/personalab/recommend/__init__.py"
    original = module.read_text()
    module.write_text(original + "\n# an edit\n")
    assert set(json.loads(run(["dvc", "status", "--json"], root))) == {"recommend", "export"}
    module.write_text(original)
    assert "up to date" in run(["dvc", "status"], root)


def test_every_figure_a_notebook_makes_is_in_its_executed_copy(repro):
    import re

    import nbformat

    from personalab.core.paths import STAGES as NOTEBOOKS

    root, _ = repro
    drawn = 0
    for stage, name in NOTEBOOKS.items():
        nb = nbformat.read(root / "reports/executed" / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or not re.search(
                r"^fig\w* = \w+\.plot_", cell.source, re.M
            ):
                continue
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert images, f"{stage}: no figure in the output of {cell.source[:60]!r}"
            drawn += 1
    assert drawn >= 10


def tracked_outputs(root) -> dict[str, str]:
    """Every output dvc.lock records (files, folders, metrics, plots, summary) and its MD5."""
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def test_a_fresh_clone_on_spark_reruns_the_pipeline_to_the_same_bytes(runs):
    """Same code, data and params but the engine: a second run, from a fresh clone (no runs,
    registry, studies or DVC cache) with its ingest and features on Spark, writes byte-identical
    tracked outputs, and dvc.lock differs only in the engine params (so `make repro` leaves git
    clean)."""
    import yaml

    root, _, clone, second = runs
    output = second.result()
    assert all(f"Running stage '{stage}'" in output for stage in STAGES)
    first, again = tracked_outputs(root), tracked_outputs(clone)
    assert set(first) == set(again) and len(first) > 30
    changed = sorted(path for path in first if first[path] != again[path])
    assert not changed, f"outputs that differ between DuckDB's and Spark's runs: {changed}"
    locks = [yaml.safe_load((r / "dvc.lock").read_text()) for r in (root, clone)]
    for stage in ("ingest", "features"):
        engines = [lock["stages"][stage]["params"][f"params/{stage}.yaml"] for lock in locks]
        assert (engines[0]["engine"], engines[1]["engine"]) == ("duckdb", "spark")
        for params in engines:
            for key in ("engine", "spark"):
                params.pop(key)
    assert locks[0] == locks[1]
    # the JVM's start-up messages go to its log file, not into the executed notebook
    executed = json.loads((clone / "reports/executed/01_ingest.ipynb").read_text())
    streams = [o for c in executed["cells"] for o in c.get("outputs", []) if "name" in o]
    assert not [o["text"] for o in streams if o["name"] == "stderr"]
    assert any("rules run on spark" in "".join(o["text"]) for o in streams)
    executed = json.loads((clone / "reports/executed/02_features.ipynb").read_text())
    streams = [o for c in executed["cells"] for o in c.get("outputs", []) if "name" in o]
    assert not [o["text"] for o in streams if o["name"] == "stderr"]
    assert any("computed on spark" in "".join(o["text"]) for o in streams)
