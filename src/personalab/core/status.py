"""What a stage did, what it adapted, left out or skipped, and why.

Every stage keeps one :class:`StageStatus` while it runs. Each call prints one line (so the
executed notebook says it where it happens); at the end the record goes into the stage's
metrics (:meth:`StageStatus.metrics`: ``status``, ``skip_reason``, ``notes``), onto its MLflow
run (tags ``status`` and ``skip_reason``, the notes as ``status.md``) and into
``reports/summary.md``. ``python -m personalab.core.status`` prints every stage's status from
``reports/metrics`` (``make repro`` ends with it).

Statuses:

- ``complete``: everything the stage does was done (adaptations to the log are notes);
- ``partial``: some part could not be done for this log (:meth:`StageStatus.leave_out`);
- ``skipped``: nothing could be learned or built (:meth:`StageStatus.skip`). A skipped stage
  still writes its declared outputs, empty and marked (:func:`write_skip_marker`), so DVC and
  the later stages run.

``python -m personalab.core.status`` also reports ``failed`` for a stage whose notebook stopped
on an error (with the error), and ``stale`` for a stage whose metrics remain from an earlier run
while a stage before it failed (:func:`stage_statuses`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("complete", "partial", "skipped")
#: the file that marks an output folder of a skipped part (a model folder without a model)
SKIP_MARKER = "SKIPPED.json"
KINDS = {"adapted": "adapted", "left_out": "left out", "warning": "warning", "skipped": "skipped"}


@dataclass
class StageStatus:
    """The running record of one stage's decisions (see the module docstring)."""

    stage: str
    notes: list[dict[str, str]] = field(default_factory=list)
    skip_reason: str | None = None

    def adapted(self, message: str) -> None:
        """A default was fitted to this log (e.g. hourly cut-offs for a day-long log)."""
        self._add("adapted", message)

    def leave_out(self, what: str, why: str) -> None:
        """A part of the stage was not done for this log: the stage becomes ``partial``."""
        self._add("left_out", f"{what}: {why}")

    def warn(self, message: str) -> None:
        """Something a reviewer must see (e.g. a label with very few positives)."""
        self._add("warning", message)

    def skip(self, reason: str) -> None:
        """Nothing can be learned here: the stage writes empty, marked outputs and ends."""
        self.skip_reason = reason
        self._add("skipped", reason)

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if any(note["kind"] == "left_out" for note in self.notes):
            return "partial"
        return "complete"

    def lines(self) -> list[str]:
        return [f"{KINDS[note['kind']]}: {note['message']}" for note in self.notes]

    def metrics(self) -> dict[str, Any]:
        """``status``, ``skip_reason`` (only when skipped) and ``notes`` for the metrics file."""
        out: dict[str, Any] = {"status": self.status}
        if self.skipped:
            out["skip_reason"] = self.skip_reason
        out["notes"] = self.lines()
        return out

    def markdown(self) -> str:
        head = f"**{self.stage}: {self.status}**"
        if self.skipped:
            head += f": {self.skip_reason}"
        return "\n".join([head, "", *(f"- {line}" for line in self.lines())]).rstrip()

    def show(self) -> Any:
        """The record as Markdown in a notebook (plain text elsewhere)."""
        try:
            from IPython.display import Markdown
        except ImportError:  # pragma: no cover - IPython ships with the kernel
            return self.markdown()
        return Markdown(self.markdown())

    def log(self) -> None:
        """Tag the active MLflow run with the status (and skip reason) and attach the notes."""
        import mlflow

        tags = {"status": self.status}
        if self.skipped:
            tags["skip_reason"] = self.skip_reason[:5000]
        mlflow.set_tags(tags)
        mlflow.log_text(self.markdown() + "\n", "status.md")

    def stop_notebook(self) -> None:
        """After a skip: the notebook's later cells run as nothing (their code stays visible, with
        no output), so papermill completes and the skipped stage exits 0. Call it last in the cell
        that wrote the skipped outputs and ended the run. A kernel restart undoes it."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        shell = get_ipython()
        if shell is None:
            return
        transformers = shell.input_transformers_post
        transformers[:] = [t for t in transformers if not getattr(t, "_personalab_stop", False)]

        def not_run(lines: list[str]) -> list[str]:
            return ["pass\n"]

        not_run._personalab_stop = True  # type: ignore[attr-defined]
        transformers.append(not_run)
        print(
            f"[{self.stage}] the rest of this notebook does not run ({self.skip_reason}); "
            "restart the kernel to run it again"
        )

    def _add(self, kind: str, message: str) -> None:
        message = " ".join(str(message).split())
        self.notes.append({"kind": kind, "message": message})
        print(f"[{self.stage}] {KINDS[kind]}: {message}")


def write_skip_marker(folder: Path, status: StageStatus) -> Path:
    """Make ``folder`` an empty output that says why it holds nothing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    marker = folder / SKIP_MARKER
    body = {"stage": status.stage, "status": "skipped", "reason": status.skip_reason}
    marker.write_text(json.dumps(body, indent=2) + "\n")
    return marker


def skip_reason_of(folder: Path) -> str | None:
    """The reason a folder was left empty by a skipped stage, or None when it is not marked."""
    marker = Path(folder) / SKIP_MARKER
    if not marker.is_file():
        return None
    return json.loads(marker.read_text()).get("reason") or "skipped"


def notebook_error(notebook: Path) -> str | None:
    """The error an executed notebook stopped on, in one line with the cell it was raised in
    (papermill saves the notebook when a cell raises); None when it holds none or is missing."""
    try:
        cells = json.loads(Path(notebook).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = (output.get("evalue") or "").strip().splitlines()[:1]
                shown = os.path.relpath(notebook)  # from where the user is
                where = f"cell [{cell.get('execution_count')}] of {shown}"
                return f"{output.get('ename', 'Error')}: {''.join(first)} ({where})"
    return None


def stage_statuses(
    metrics_dir: Path,
    stages: Sequence[str],
    upstream: dict[str, set[str]] | None = None,
    executed: dict[str, Path] | None = None,
) -> list[dict[str, Any]]:
    """Each stage's ``status``, ``skip_reason`` and ``notes`` from its metrics file.

    A stage without metrics whose executed notebook (``executed``: stage -> path) holds an
    error ``failed``, with the error as its reason (:func:`notebook_error`); else it has
    ``not run``. With ``upstream`` (:func:`upstream_stages`), a stage whose metrics are there
    while a stage it reads from has none (it failed, or has not run, since DVC removes a
    stage's outputs before running it) is ``stale``: its record is from an earlier run on
    other inputs (the embedded synthetic log's, in a fresh clone), and says so."""
    out = []
    for stage in stages:
        path = Path(metrics_dir) / f"{stage}.json"
        record: dict[str, Any] = {"stage": stage, "status": "not run", "notes": []}
        if path.is_file():
            metrics = json.loads(path.read_text())
            record.update(
                status=metrics.get("status", "complete"),
                skip_reason=metrics.get("skip_reason"),
                notes=list(metrics.get("notes", [])),
            )
        elif executed and stage in executed and (error := notebook_error(executed[stage])):
            record.update(status="failed", skip_reason=error)
        out.append(record)
    runs = {r["stage"]: r for r in out}
    causes: dict[str, set[str]] = {}  # per stale stage: the stages not run behind it
    absent = ("not run", "failed")
    for record in out:  # in pipeline order: a stage's upstream stages are decided first
        before = (upstream or {}).get(record["stage"], set()) & set(runs)
        behind = {s for s in before if runs[s]["status"] in absent}
        behind |= {c for s in before for c in causes.get(s, ())}
        if behind and record["status"] not in absent:
            causes[record["stage"]] = behind
            names = sorted(behind)
            listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
            failed = listed + (" has" if len(names) == 1 else " have")
            record.update(
                status="stale",
                skip_reason=f"these results are from an earlier run: {failed} not completed "
                "since (see the error); `dvc repro` reruns this stage after it",
                notes=[],
            )
    return out


def upstream_stages(dvc_yaml: Path) -> dict[str, set[str]]:
    """Per stage of ``dvc_yaml``, the stages whose outputs it depends on."""
    import yaml

    stages = yaml.safe_load(Path(dvc_yaml).read_text())["stages"]

    def paths(entries: list) -> list[str]:
        return [e if isinstance(e, str) else next(iter(e)) for e in entries or []]

    outs = {
        name: paths([*s.get("outs", []), *s.get("metrics", []), *s.get("plots", [])])
        for name, s in stages.items()
    }

    def under(dep: str, out: str) -> bool:
        return dep == out or dep.startswith(out.rstrip("/") + "/")

    return {
        name: {
            other
            for dep in paths(stage.get("deps", []))
            for other, made in outs.items()
            if other != name and any(under(dep, out) for out in made)
        }
        for name, stage in stages.items()
    }


def summary_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """One line per stage, then its notes indented (what ``make repro`` prints at the end)."""
    lines = []
    for record in records:
        head = f"{record['stage']:<10} {record['status']}"
        if record.get("skip_reason"):
            head += f": {record['skip_reason']}"
        lines.append(head)
        lines += [f"    {note}" for note in record["notes"] if not note.startswith("skipped:")]
    return lines


def why_missing(folder: Path) -> str:
    """Why a model folder holds no model: the skip reason, or that the pipeline has not run."""
    reason = skip_reason_of(folder)
    if reason is not None:
        return f"{folder} holds no model: {reason}"
    return f"{folder} not found: run make repro first"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m personalab.core.status``: every stage's status; ``--why FOLDER``: why a model
    folder holds no model (``make serve`` prints it). The export stage's own call prints nothing
    under ``make repro`` (``PERSONALAB_SUMMARY=after``), which prints the summary once, after
    ``dvc repro``, whether or not the export stage ran."""
    from personalab.core.paths import STAGES, project_paths

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--why"] and len(args) == 2:
        print(why_missing(Path(args[1])))
        return 0
    if args == ["--in-pipeline"] and os.environ.get("PERSONALAB_SUMMARY") == "after":
        return 0
    paths = project_paths()
    print("personalab: what each stage did (reports/metrics/<stage>.json)")
    upstream = upstream_stages(paths.root / "dvc.yaml")
    executed = {stage: paths.executed_notebook(stage) for stage in STAGES}
    records = stage_statuses(paths.reports / "metrics", list(STAGES), upstream, executed)
    for line in summary_lines(records):
        print(line)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
