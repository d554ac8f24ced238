"""What a stage did, left out or skipped (:mod:`personalab.core.status`)."""

from __future__ import annotations

import json

import pytest

from personalab.core.status import (
    SKIP_MARKER,
    StageStatus,
    skip_reason_of,
    stage_statuses,
    summary_lines,
    upstream_stages,
    write_skip_marker,
)
from personalab.core.storage import write_metrics


def test_the_status_follows_the_notes(capsys):
    status = StageStatus("features")
    assert status.status == "complete" and status.metrics() == {"status": "complete", "notes": []}
    status.adapted("the log spans  6 hours:\nhourly cut-offs")
    status.warn("3 positives at the last cut-off")
    assert status.status == "complete"
    status.leave_out("dwell_mean", "the log has no dwell_seconds")
    assert status.status == "partial"
    assert capsys.readouterr().out.splitlines() == [
        "[features] adapted: the log spans 6 hours: hourly cut-offs",
        "[features] warning: 3 positives at the last cut-off",
        "[features] left out: dwell_mean: the log has no dwell_seconds",
    ]
    status.skip("no cut-off fits")
    metrics = status.metrics()
    assert metrics["status"] == "skipped" and metrics["skip_reason"] == "no cut-off fits"
    assert metrics["notes"][-1] == "skipped: no cut-off fits"
    assert status.markdown().startswith("**features: skipped**: no cut-off fits\n\n- adapted:")


def test_a_skip_marker_empties_the_folder_and_names_the_reason(tmp_path):
    folder = tmp_path / "models" / "candidates" / "intent"
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("old model")
    assert skip_reason_of(folder) is None
    status = StageStatus("intent")
    status.skip("the label has one class")
    write_skip_marker(folder, status)
    assert sorted(p.name for p in folder.iterdir()) == [SKIP_MARKER]
    assert skip_reason_of(folder) == "the label has one class"
    assert json.loads((folder / SKIP_MARKER).read_text())["stage"] == "intent"


def test_the_summary_reads_every_stage_from_its_metrics(tmp_path):
    ran, skipped = StageStatus("ingest"), StageStatus("intent")
    ran.adapted("identity: sessions stand for users")
    skipped.skip("the log has no purchase events")
    write_metrics({"rows": 3, **ran.metrics()}, tmp_path / "ingest.json")
    write_metrics({**skipped.metrics()}, tmp_path / "intent.json")
    write_metrics({"rows": 3}, tmp_path / "features.json")  # written before statuses existed
    records = stage_statuses(tmp_path, ["ingest", "features", "intent", "export"])
    assert [r["status"] for r in records] == ["complete", "complete", "skipped", "not run"]
    assert summary_lines(records) == [
        "ingest     complete",
        "    adapted: identity: sessions stand for users",
        "features   complete",
        "intent     skipped: the log has no purchase events",
        "export     not run",
    ]


def test_results_left_from_an_earlier_run_behind_a_failed_stage_are_stale(tmp_path):
    """A fresh clone holds the synthetic run's metrics; when ingest stops on the user's log,
    the later stages' records were reported as theirs ("complete")."""
    from personalab.core.paths import STAGES, project_paths

    upstream = upstream_stages(project_paths().root / "dvc.yaml")
    done = StageStatus("x").metrics()
    for stage in ("features", "segments", "recommend", "export"):
        write_metrics({"rows": 3, **done}, tmp_path / f"{stage}.json")
    records = {r["stage"]: r for r in stage_statuses(tmp_path, list(STAGES), upstream)}
    assert records["ingest"]["status"] == "not run"
    for stage in ("features", "segments", "recommend", "export"):
        assert records[stage]["status"] == "stale", stage
        assert records[stage]["skip_reason"].startswith("these results are from an earlier run")
    assert "earlier run: ingest has not completed since" in records["features"]["skip_reason"]
    assert "experiment, ingest, intent and monitor have not" in records["export"]["skip_reason"]
    assert records["intent"]["status"] == "not run"
    # once ingest has run, what follows it is its own again (intent: not run, so export stale)
    write_metrics({"rows": 3, **done}, tmp_path / "ingest.json")
    records = {r["stage"]: r for r in stage_statuses(tmp_path, list(STAGES), upstream)}
    assert [records[s]["status"] for s in ("ingest", "features", "segments", "recommend")] == [
        "complete"
    ] * 4
    assert records["export"]["status"] == "stale" and "intent" in records["export"]["skip_reason"]


def test_a_stage_whose_notebook_stopped_on_an_error_has_failed_and_says_the_error(tmp_path):
    """A misspelt column stopped ingest; the summary said "ingest not run", and the error was
    only above it in papermill's traceback."""
    from personalab.core.paths import STAGES, project_paths

    error = {
        "output_type": "error",
        "ename": "SourceError",
        "evalue": "data/raw: source.columns maps column(s) 'InvoiceDat' that the file lacks\nmore",
        "traceback": [],
    }
    cells = [
        {"cell_type": "code", "execution_count": 4, "outputs": [], "source": ""},
        {"cell_type": "code", "execution_count": 5, "outputs": [error], "source": ""},
    ]
    stopped, clean = tmp_path / "01_ingest.ipynb", tmp_path / "02_features.ipynb"
    stopped.write_text(json.dumps({"cells": cells}))
    clean.write_text(json.dumps({"cells": cells[:1]}))
    executed = {"ingest": stopped, "features": clean, "segments": tmp_path / "missing.ipynb"}
    write_metrics({"rows": 3, **StageStatus("x").metrics()}, tmp_path / "segments.json")
    upstream = upstream_stages(project_paths().root / "dvc.yaml")
    records = {r["stage"]: r for r in stage_statuses(tmp_path, list(STAGES), upstream, executed)}
    assert records["ingest"]["status"] == "failed"
    reason = records["ingest"]["skip_reason"]
    assert reason.startswith("SourceError: data/raw: source.columns maps column(s) 'InvoiceDat'")
    assert "more" not in reason and "cell [5] of " in reason and reason.endswith("01_ingest.ipynb)")
    assert records["features"]["status"] == "not run"  # its notebook holds no error
    assert records["segments"]["status"] == "stale"
    assert "features and ingest have not completed" in records["segments"]["skip_reason"]
    # metrics written by a later run are the stage's record, whatever its notebook held
    write_metrics({"rows": 3, **StageStatus("x").metrics()}, tmp_path / "ingest.json")
    records = stage_statuses(tmp_path, ["ingest"], upstream, executed)
    assert records[0]["status"] == "complete"


def test_the_stages_each_stage_reads_from_come_from_dvc_yaml():
    from personalab.core.paths import project_paths

    upstream = upstream_stages(project_paths().root / "dvc.yaml")
    assert upstream["ingest"] == set() and upstream["features"] == {"ingest"}
    assert upstream["recommend"] == {"ingest"}
    assert {"monitor", "experiment", "recommend", "segments"} <= upstream["export"]


def test_after_a_skip_the_later_cells_of_a_notebook_run_as_nothing(capsys):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from personalab.core.status import StageStatus\nran = []")
        shell.run_cell("s = StageStatus('intent'); s.skip('nothing to learn'); s.stop_notebook()")
        result = shell.run_cell("ran.append(1)\nraise RuntimeError('must not run')")
        assert result.success and shell.user_ns["ran"] == []
        assert "restart the kernel" in capsys.readouterr().out
        # a second stop (a re-run cell) keeps one transformer
        shell.user_ns["s"].stop_notebook()
        stops = [t for t in shell.input_transformers_post if getattr(t, "_personalab_stop", 0)]
        assert len(stops) == 1
    finally:
        shell.input_transformers_post[:] = [
            t for t in shell.input_transformers_post if not getattr(t, "_personalab_stop", 0)
        ]
        InteractiveShell.clear_instance()


def test_why_a_model_folder_holds_no_model(tmp_path):
    from personalab.core.status import why_missing

    folder = tmp_path / "intent"
    assert why_missing(folder) == f"{folder} not found: run make repro first"
    status = StageStatus("export")
    status.skip("intent was skipped: the log has no purchase events")
    write_skip_marker(folder, status)
    assert why_missing(folder) == (
        f"{folder} holds no model: intent was skipped: the log has no purchase events"
    )


def test_the_summary_is_printed_once_under_make_repro(tmp_path, monkeypatch, capsys):
    """The export stage prints the summary at the end of `dvc repro`; under `make repro`, which
    prints it after dvc whatever ran, the stage's own call prints nothing."""
    from personalab.core.status import main

    (tmp_path / "params").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERSONALAB_ROOT", raising=False)
    monkeypatch.delenv("PERSONALAB_SUMMARY", raising=False)
    assert main(["--in-pipeline"]) == 0
    assert "ingest     not run" in capsys.readouterr().out
    monkeypatch.setenv("PERSONALAB_SUMMARY", "after")
    assert main(["--in-pipeline"]) == 0
    assert capsys.readouterr().out == ""
    assert main([]) == 0  # make's own call
    assert "ingest     not run" in capsys.readouterr().out
