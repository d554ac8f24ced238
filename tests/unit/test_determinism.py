"""Same code, data and params, same bytes: what the stages write for DVC and git does not
change between two runs (issue 18). Each stage's save runs twice on the same inputs, as a
re-run would, and every file it wrote is compared; timings and noise below the kept digits
must not reach them. (The whole pipeline twice: tests/e2e/test_dvc_repro.py.) What reviews
those files: every plot dvc.yaml declares can be drawn from what its stage writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import yaml

from personalab.core.paths import ProjectPaths
from personalab.core.storage import pin_model_metadata, write_csv, write_metrics
from personalab.segments.io import save_segments
from tests.unit.segments.helpers import CUTOFFS, build, default_table, seg_params


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the MD5 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_floats_apart_by_summation_noise_write_the_same_bytes(tmp_path):
    value = 48210.123456789012
    noisy = value * (1 + 3e-15)  # what another summation order gives (GMM BIC, log loss)
    assert noisy != value
    for name, v in (("a", value), ("b", noisy)):
        write_metrics({"bic": v, "rows": 3, "name": "gmm"}, tmp_path / f"{name}.json")
        write_csv(pd.DataFrame({"k": [2], "bic": [v], "n": [1.0]}), tmp_path / f"{name}.csv")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text())["bic"] == 48210.12346
    assert (tmp_path / "a.csv").read_text() == "k,bic,n\n2,48210.12346,1.0\n"
    # a difference a reader could see is kept
    write_metrics({"bic": value * (1 + 1e-8)}, tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["bic"] != 48210.12346


def test_the_segments_stage_run_twice_writes_the_same_bytes_model_included(tmp_path):
    params = seg_params(features=None, log1p=None, algorithms=["kmeans", "gmm"], k_max=4)
    runs = []
    for name in ("first", "second"):
        result, status = build(default_table(n=60, cutoffs=CUTOFFS[1:]), params)
        save_segments(result, status, ProjectPaths(tmp_path / name))
        runs.append(digests(tmp_path / name))
    assert runs[0] == runs[1]
    assert "models/segmenter/MLmodel" in runs[0] and "models/segmenter/model.pkl" in runs[0]

    model = tmp_path / "first" / "models" / "segmenter"
    spec = yaml.safe_load((model / "MLmodel").read_text())
    assert "utc_time_created" not in spec  # when it was made is the MLflow run's
    assert len(spec["model_uuid"]) == 32 and spec["metadata"]["features"] == result.features


def test_a_pinned_model_id_follows_the_content_and_the_model_still_loads(tmp_path):
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
    uuids = {}
    for name, metadata in (("a", {"v": 1}), ("b", {"v": 1}), ("c", {"v": 2})):
        mlflow.sklearn.save_model(
            model,
            str(tmp_path / name),
            serialization_format="cloudpickle",
            pip_requirements=[],
            metadata=metadata,
        )
        pin_model_metadata(tmp_path / name)
        uuids[name] = yaml.safe_load((tmp_path / name / "MLmodel").read_text())["model_uuid"]
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert uuids["a"] == uuids["b"] != uuids["c"]  # the metadata is part of the model
    loaded = mlflow.sklearn.load_model(str(tmp_path / "a"))
    assert loaded.predict([[3.0]]).tolist() == [0]
    # an artifact's source is its place in the folder, not the temporary file it came from
    mlmodel = tmp_path / "a" / "MLmodel"
    spec = yaml.safe_load(mlmodel.read_text())
    spec["flavors"]["python_function"]["artifacts"] = {
        "booster": {"path": "artifacts/booster.ubj", "uri": "/tmp/tmpab12/booster.ubj"}
    }
    mlmodel.write_text(yaml.safe_dump(spec))
    pin_model_metadata(tmp_path / "a")
    artifact = yaml.safe_load(mlmodel.read_text())["flavors"]["python_function"]["artifacts"]
    assert artifact == {
        "booster": {"path": "artifacts/booster.ubj", "uri": "artifacts/booster.ubj"}
    }


def test_a_folder_without_mlmodel_is_left_as_it_is(tmp_path):
    (tmp_path / "SKIPPED.json").write_text("{}")
    assert pin_model_metadata(tmp_path) == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["SKIPPED.json"]


def write_every_plot_file(root: Path) -> None:
    """Each stage's plot data as it writes it (ingest on a small log; the others as a skipped
    stage writes them: the same columns, no rows)."""
    from personalab.core.paths import project_paths
    from personalab.core.status import StageStatus
    from personalab.experiment import save_skipped as experiment_skipped
    from personalab.features.build import build_features
    from personalab.features.io import save_skipped as features_skipped
    from personalab.ingest.io import save_ingest
    from personalab.intent.io import save_skipped as intent_skipped
    from personalab.monitor import MonitorParams, run_monitor, save_monitor
    from personalab.monitor.stage import MonitorInputs
    from personalab.recommend.io import save_skipped as recommend_skipped
    from personalab.recommend.params import RecommendParams
    from personalab.segments.io import save_skipped as segments_skipped
    from tests.unit.features.helpers import events_frame, params, t
    from tests.unit.ingest.bad_inputs import ingest, write
    from tests.unit.ingest.test_io import LOG

    (root / "dvc.yaml").touch()
    paths = project_paths(root)
    save_ingest(ingest(root, write(root, "log.csv", LOG)), paths)
    short = [("u", "s", t(s=k), "view", "i1") for k in (0, 59)]  # one minute: no cut-off fits
    features_skipped(build_features(events_frame(short), params(), None, StageStatus("x")), paths)
    for stage, save in (
        ("segments", segments_skipped),
        ("intent", intent_skipped),
        ("recommend", lambda s, p: recommend_skipped(s, p, RecommendParams.from_mapping({}))),
    ):
        status = StageStatus(stage)
        status.skip("nothing to learn")
        save(status, paths)
    status = StageStatus("experiment")
    status.skip("no experiment to analyse")
    experiment_skipped(status, paths)
    nothing = MonitorInputs(
        table=pd.DataFrame(columns=["user_id", "cutoff"]), label=None,
        recent=pd.DataFrame(columns=["user_id", "cutoff"]), window=None,
        events=pd.DataFrame(columns=["user_id", "item_id", "event_type", "timestamp"]),
    )  # fmt: skip
    save_monitor(run_monitor(nothing, MonitorParams(), StageStatus("monitor")), paths)


def test_every_declared_plot_names_columns_its_stage_writes_and_labels_its_axes(tmp_path):
    """What `dvc plots show` needs to draw each plot: its x and y columns in the file, both
    axes named, and a template DVC has or the project ships in .dvc/plots/."""
    from dvc.repo import Repo
    from dvc_render.vega_templates import TEMPLATES

    from tests.conftest import ROOT

    write_every_plot_file(tmp_path)
    builtin = {template.DEFAULT_NAME for template in TEMPLATES}
    declared = [
        (out.def_path, out.plot)
        for stage in Repo(str(ROOT)).index.stages
        for out in stage.outs
        if out.plot
    ]
    assert len(declared) == 23
    for path, plot in declared:
        header = (tmp_path / path).read_text().splitlines()[0].split(",")
        assert {plot["x"], plot["y"]} <= set(header), (path, plot, header)
        assert plot.get("x_label") and plot.get("y_label") and plot.get("title"), path
        template = plot.get("template", "linear")
        assert template in builtin or (ROOT / ".dvc/plots" / f"{template}.json").is_file(), path
        if template == "trials":  # the template colours by algorithm and draws the best so far
            assert {"algorithm", "state", "best"} <= set(header), path
    times = {path for path, plot in declared if plot.get("template") == "temporal"}
    assert times == {
        "reports/plots/ingest/daily_events.csv",
        "reports/plots/features/positive_rate.csv",
        "reports/plots/segments/changed_share.csv",
        "reports/plots/monitor/drift_over_time.csv",
        "reports/plots/monitor/backtest.csv",
    }
    labels = {Path(path).stem: plot["y_label"] for path, plot in declared}
    assert labels["tuning"] == "validation ndcg_at_10 (higher is better)"
    assert labels["optimisation_history"].startswith("validation logloss (lower is better")
