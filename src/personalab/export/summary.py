"""``reports/summary.md``: what each stage did (its status, and why anything was skipped or left
out), which models were exported, and the champions with their metrics and data versions. It
holds nothing that changes from run to run, so a re-run on the same code, data and params writes
the same bytes (git stays clean). ``reports/runs/summary.md`` (not versioned) holds what does:
the MLflow runs, git commits and registration times behind the champions, and each stage's
time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.export.champions import Champion
from personalab.export.params import EXPORTED
from personalab.export.parts import ExportParts
from personalab.intent.params import TUNED


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _champion_section(champion: Champion, keys: Sequence[str]) -> list[str]:
    metrics = {k: champion.metrics[k] for k in keys if k in champion.metrics}
    lines = [
        f"### {champion.name} v{champion.version} (alias `{champion.alias}`)",
        "",
        f"- data lineage: {champion.lineage}",
    ]
    if champion.primary_metric:
        value = champion.version_tags.get(champion.primary_metric, "")
        lines.append(f"- primary metric: `{champion.primary_metric}` = {value}")
    if decision := champion.version_tags.get("decision"):
        lines.append(f"- registry decision: {decision}")
    for name, digest in champion.data_versions.items():
        lines.append(f"- data: `{name}` md5 `{digest}`")
    if metrics:
        frame = pd.DataFrame(
            {"metric": list(metrics), "value": [f"{v:.4g}" for v in metrics.values()]}
        )
        lines += ["", _table(frame)]
    return [*lines, ""]


INTENT_KEYS = (
    "test_roc_auc", "test_pr_auc", "test_logloss", "test_brier", "test_ece", "test_f1",
    "test_precision", "test_recall", "threshold", "oracle_roc_auc",
)  # fmt: skip
RECOMMENDER_KEYS = (
    "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10", "coverage",
    "novelty", "rating_rmse", "rating_mae", "popularity_ndcg_at_10", "popularity_precision_at_10",
    "fallback_share", "next_item_hit_rate_at_10", "next_item_mrr_at_10",
    "next_item_popularity_mrr_at_10",
)  # fmt: skip


def served_table(
    parts: ExportParts, exported: Mapping[str, Path], metrics: Mapping[str, Any], root: Path
) -> pd.DataFrame:
    """One row per model folder: what it serves and its parity check, or why it holds nothing."""
    intent, recommender = parts.intent, parts.recommender
    rule = [
        f"{short} v{c.version}"
        for short, c in (("intent", intent), ("recommender", recommender))
        if c is not None
    ]
    served = intent.version_tags.get("served_model", TUNED) if intent else TUNED
    # an intent model that is a baseline (it beat the tuned one on the test rows) says which
    kind = "" if served == TUNED else f" ({served} baseline)"
    serves = {
        "intent": f"{intent.name} v{intent.version}{kind}" if intent else "",
        "recommender": f"{recommender.name} v{recommender.version}" if recommender else "",
        "personalise": " + ".join([*rule, *(["segmenter"] if parts.segmenter else [])]),
    }
    rows = []
    for name in EXPORTED:
        row = {"folder": f"`models/{name}`"}
        if name not in exported:
            why = parts.left_out.get(name) or "neither model exists"
            rows.append({**row, "serves": f"not exported: {why}", "check": "-"})
            continue
        against = "the rule in memory" if name == "personalise" else "the registry model"
        row["folder"] = f"`{Path(exported[name]).relative_to(root).as_posix()}`"
        value = metrics[f"{name}_parity"]
        rows.append(
            {**row, "serves": serves[name], "check": f"max abs diff {value:.2g} vs {against}"}
        )
    return pd.DataFrame(rows)


def rule_lines(parts: ExportParts, metrics: Mapping[str, Any]) -> list[str]:
    """How ``personalise`` decides, given the parts it has."""
    window = f"trending window {metrics.get('trending_window_days', 0):g} days"
    if parts.intent is None and parts.recommender is None:
        return []
    if parts.intent is None or "high_intent_threshold" not in metrics:
        why = "has no intent model" if parts.intent is None else "does not gate on intent"
        text = (
            f"`personalise` {why}: every user the recommender knows gets its "
            "recommendations (strategy `personalised_no_intent`), others the popular items "
            f"({window})."
        )
    elif parts.recommender is None:
        text = (
            "`personalise` has no recommender: every user gets the trending items (strategy "
            f"`trending_no_recommender`) with their intent score ({window})."
        )
    else:
        text = (
            f"High-intent threshold of `personalise`: {metrics['high_intent_threshold']:.4f} "
            f"({window})."
        )
    lines = [text, ""]
    if parts.segmenter is None:
        lines += ["Without the segments stage's model, the `segment` of every answer is null.", ""]
    return lines


#: a skip reason at least this long is given once, in its stage's row; later text refers to it
LONG_REASON = 80


def abridger(statuses: Sequence[Mapping[str, Any]]):
    """``abridge(text, own)``: ``text`` with each long skip reason of a stage other than ``own``
    replaced by a pointer to that stage's row (a stage that skipped because an earlier one did
    repeats its reason, and so on down the pipeline: said once, the table stays readable).
    Longest first, so a reason that holds another becomes one pointer."""
    said = sorted(
        (
            (str(r["skip_reason"]), str(r["stage"]))
            for r in statuses
            if len(str(r.get("skip_reason") or "")) >= LONG_REASON
        ),
        key=lambda pair: -len(pair[0]),
    )

    def abridge(text: str, own: str | None = None) -> str:
        for reason, stage in said:
            if stage != own:
                text = text.replace(reason, f"see the {stage} row above")
        return text

    return abridge


def status_section(statuses: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each stage's status with the reason for a skip or each part left out, then its other
    notes (defaults adapted to the log, warnings). A long skip reason is given once
    (:func:`abridger`)."""
    abridge = abridger(statuses)
    rows, notes = [], []
    for record in statuses:
        reasons = [
            n.removeprefix("left out: ") for n in record["notes"] if n.startswith("left out: ")
        ]
        if record.get("skip_reason"):
            reasons.insert(0, f"skipped: {record['skip_reason']}")
        rows.append(
            {
                "stage": record["stage"],
                "status": record["status"],
                "skipped or left out, and why": abridge("; ".join(reasons), record["stage"]) or "-",
            }
        )
        notes += [
            f"- {record['stage']}: {abridge(n, record['stage'])}"
            for n in record["notes"]
            if n.startswith(("adapted: ", "warning: "))
        ]
    lines = ["## What each stage did", "", _table(pd.DataFrame(rows)), ""]
    return lines + ([*notes, ""] if notes else [])


def exported_line(exported: Mapping[str, Path]) -> str:
    """Which folders hold a model, and which do not."""
    names = [name for name in EXPORTED if name in exported]
    missing = [name for name in EXPORTED if name not in exported]
    line = f"Exported: {', '.join(names) or 'nothing'}"
    return line + (f"; not exported: {', '.join(missing)}." if missing else ".")


def monitoring_section(monitor: Mapping[str, Any] | None) -> list[str]:
    """The monitor stage's retraining recommendation, its reasons and the figures behind it."""
    lines = ["## Monitoring", ""]
    if not monitor or monitor.get("status") == "skipped" or "retrain" not in monitor:
        why = (monitor or {}).get("skip_reason") or "the monitor stage has not run"
        return [*lines, f"No retraining recommendation: {why}.", ""]
    reasons = monitor.get("retrain_reasons") or []
    if reasons:
        lines += ["**Retrain.** " + "; ".join(reasons) + ".", ""]
    else:
        unchecked = "; ".join(monitor.get("checks_left_out") or [])
        lines += [
            f"**No retraining needed** from the checks that ran (not checked: {unchecked}): none "
            "crossed its threshold (params/monitor.yaml)."
            if unchecked
            else "**No retraining needed**: no check crossed its threshold (params/monitor.yaml).",
            "",
        ]
    figures = {
        "drifted features (recent window, latest vs reference)": _of(
            monitor, "drifted_features", "{:d} of " + str(monitor.get("features_monitored", "?"))
        ),
        "prediction drift (PSI)": _of(monitor, "prediction_psi", "{:.3f}"),
        "intent ROC-AUC at the latest cut-off (champion's test)": _of(
            monitor, "latest_roc_auc", "{:.3f}"
        )
        + _of(monitor, "champion_test_roc_auc", " ({:.3f})"),
        "segment shares (PSI)": _of(monitor, "segment_psi", "{:.3f}"),
        "recommender hit rate, first to last window (popularity's last)": _of(
            monitor, "hit_rate_first", "{:.3f}"
        )
        + _of(monitor, "hit_rate_last", " to {:.3f}")
        + _of(monitor, "popularity_hit_rate_last", " ({:.3f})"),
    }
    rows = [{"check": k, "measured": v} for k, v in figures.items() if v]
    if rows:
        lines += [_table(pd.DataFrame(rows)), ""]
    return lines


def experiment_section(result: Mapping[str, Any] | None) -> list[str]:
    """The experiment stage's latest result: the uplifts with their intervals and the checks."""
    lines = ["## The latest experiment", ""]
    if not result or result.get("status") == "skipped" or "conversion_uplift" not in result:
        why = (result or {}).get("skip_reason") or "the experiment stage has not run"
        return [*lines, f"No experiment analysed: {why}.", ""]
    treatment, control = result.get("treatment", "?"), result.get("control", "?")
    lines += [
        f"{treatment} against {control}, {int(result.get('experiment_users', 0)):,} users "
        f"(95% intervals, delta method; CUPED with the pre-period covariate in params).",
        "",
    ]
    rows = []
    for name in (
        "conversion",
        "conversion_cuped",
        "revenue_per_user",
        "revenue_per_user_cuped",
        "ctr",
    ):
        if f"{name}_uplift" not in result:
            continue
        true = result.get(f"true_{name.removesuffix('_cuped')}_uplift")
        rows.append(
            {
                "metric": name,
                "uplift": f"{result[f'{name}_uplift']:+.1%}",
                "interval": f"{result[f'{name}_uplift_ci_lower']:+.1%} to {result[f'{name}_uplift_ci_upper']:+.1%}",
                "p-value": f"{result[f'{name}_pvalue']:.3g}",
                "true uplift (simulated)": "-" if true is None else f"{true:+.1%}",
            }
        )
    lines += [_table(pd.DataFrame(rows)), ""]
    srm = (
        "**sample ratio mismatch**: do not trust the uplift"
        if result.get("srm")
        else "no sample ratio mismatch"
    )
    lines += [f"{srm} (p = {result.get('srm_pvalue', float('nan')):.3g}).", ""]
    return lines


def _of(metrics: Mapping[str, Any], key: str, form: str) -> str:
    value = metrics.get(key)
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return form.format(int(value) if "d}" in form else value)


def summary_markdown(
    parts: ExportParts,
    exported: Mapping[str, Path],
    metrics: Mapping[str, Any],
    statuses: Sequence[Mapping[str, Any]],
    root: Path,
    monitor: Mapping[str, Any] | None = None,
    experiment: Mapping[str, Any] | None = None,
) -> str:
    """``reports/summary.md``: what each stage did, what is served and where it came from. ``exported``: the folders written, by name (none when the stage
    skipped); ``statuses``: :func:`personalab.core.status.stage_statuses`; ``monitor``: the monitor
    stage's metrics (its retraining recommendation); ``experiment``: the experiment stage's."""
    lines = [
        "## Exported models",
        "",
        exported_line(exported),
        "",
        _table(served_table(parts, exported, metrics, root)),
        "",
        *rule_lines(parts, metrics),
        *monitoring_section(monitor),
        *experiment_section(experiment),
        "## Champions",
        "",
    ]
    if parts.algorithm == "popularity":
        lines += [
            "The recommender champion is popularity: no learned candidate ranked better on "
            "validation (or none could be learned; see the status above), so known users get "
            "the most popular items they have not seen.",
            "",
        ]
    elif parts.algorithm:
        lines += [f"The recommender champion is {parts.algorithm}.", ""]
    for champion, keys, part in (
        (parts.intent, INTENT_KEYS, "intent"),
        (parts.recommender, RECOMMENDER_KEYS, "recommender"),
    ):
        if champion is None:
            lines += [f"No {part} champion: {parts.left_out.get(part, '')}", ""]
        else:
            lines += _champion_section(champion, keys)
    head = [
        "# personalab: the served models",
        "",
        "Written by the `export` stage. Serve a model with `make serve MODEL=<name>` (see the "
        "README). The MLflow runs, git commits and times behind it: `reports/runs/summary.md`.",
        "",
        *status_section(statuses),
    ]
    return "\n".join([*head, abridger(statuses)("\n".join(lines))])


def runs_markdown(parts: ExportParts, times: pd.DataFrame) -> str:
    """``reports/runs/summary.md``: when the summary was written, the MLflow run, registration
    time and git commit of each champion, and each stage's latest run and time."""
    total = float(times["seconds"].sum()) if len(times) else 0.0
    times = times.assign(run_id=[f"`{r}`" for r in times["run_id"]])
    lines = [
        "# personalab: the runs behind reports/summary.md",
        "",
        f"Written by the `export` stage on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "## Champions",
        "",
    ]
    for champion in (parts.intent, parts.recommender):
        if champion is None:
            continue
        commit = champion.tags.get("git_commit", "unknown")
        dirty = " (with uncommitted changes)" if champion.tags.get("git_dirty") == "true" else ""
        lines += [
            f"- {champion.name} v{champion.version}: MLflow run `{champion.run_id}` "
            f"({champion.tags.get('mlflow.runName', '')}), registered {champion.created}, "
            f"git commit `{commit}`{dirty}",
        ]
    lines += [
        "",
        "## Pipeline stages (latest notebook run of each, timed by papermill)",
        "",
        _table(times),
        "",
        f"Total: {total:.0f} s of notebook execution (each stage adds a few seconds to start "
        "its kernel and attach the executed notebook to its MLflow run).",
        "",
    ]
    return "\n".join(lines)
