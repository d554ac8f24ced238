"""Unit tests of personalab.export.summary: reports/summary.md's text."""

from types import SimpleNamespace

import pandas as pd

from personalab.export.champions import Champion
from personalab.export.parts import ExportParts
from personalab.export.summary import runs_markdown, summary_markdown


def champion(name, version, run_id, commit, md5, metric, value, metrics, folder):
    return Champion(
        name=name,
        version=version,
        alias="champion",
        run_id=run_id,
        folder=folder,
        metrics=metrics,
        tags={
            "git_commit": commit,
            "data.data/interim/events.parquet": md5,
            "mlflow.runName": f"{name}-run",
        },
        version_tags={
            metric: value,
            "primary_metric": metric,
            "decision": "no champion yet",
            "lineage": "0123456789ab",
            "lineage.source": "csv data/raw/shop.csv",
        },
        created="2026-01-10 12:00 UTC",
    )


def test_the_summary_records_champions_and_data_and_the_runs_file_their_runs_and_times(tmp_path):
    intent = champion(
        "personalab-intent", "3", "run-intent-abc", "c0ffee1234", "md5aaaa", "test_pr_auc",
        "0.612345", {"test_pr_auc": 0.612345, "test_roc_auc": 0.8}, tmp_path / "i",
    )  # fmt: skip
    rec = champion(
        "personalab-recommender", "7", "run-rec-def", "deadbeef99", "md5bbbb", "ndcg_at_10",
        "0.123456", {"ndcg_at_10": 0.123456, "coverage": 0.5}, tmp_path / "r",
    )  # fmt: skip
    root = tmp_path / "project"
    exported = {
        "intent": root / "models/intent",
        "recommender": root / "models/recommender",
        "personalise": root / "models/personalise",
    }
    times = pd.DataFrame(
        {
            "stage": ["ingest", "features", "intent"],
            "run_id": ["r-ingest", "r-features", "r-intent"],
            "started": ["2026-01-10 10:00:00", "2026-01-10 10:01:00", "2026-01-10 10:02:00"],
            "seconds": [12.5, 30.0, 100.0],
        }
    )
    metrics = {
        "intent_parity": 0.0,
        "recommender_parity": 0.0,
        "personalise_parity": 0.0,
        "high_intent_threshold": 0.4321,
        "trending_window_days": 7.0,
    }
    parts = ExportParts(
        intent=intent,
        recommender=rec,
        recommender_model=SimpleNamespace(config={"algorithm": "SVD"}),
        segmenter=root / "models/segmenter",
    )
    statuses = [
        {"stage": "ingest", "status": "complete", "notes": ["adapted: read | as the separator"]},
        {
            "stage": "features",
            "status": "partial",
            "notes": ["left out: price|cost: no price column", "warning: few positives"],
        },
        {"stage": "segments", "status": "skipped", "skip_reason": "no rows", "notes": []},
        {"stage": "recommend", "status": "not run", "notes": []},
    ]
    text = summary_markdown(parts, exported, metrics, statuses, root)
    runs = runs_markdown(parts, times)
    assert "| ingest | complete | - |" in text
    assert "| features | partial | price\\|cost: no price column |" in text  # | escaped
    assert "| segments | skipped | skipped: no rows |" in text
    assert "| recommend | not run | - |" in text
    assert "- ingest: adapted: read | as the separator" in text
    assert "- features: warning: few positives" in text
    assert "Exported: intent, recommender, personalise." in text
    assert "| `models/personalise` | intent v3 + recommender v7 + segmenter |" in text
    for c, commit, md5 in ((intent, "c0ffee1234", "md5aaaa"), (rec, "deadbeef99", "md5bbbb")):
        assert f"{c.name} v{c.version}" in text
        assert f"`{c.run_id}`" in runs and c.run_id not in text  # runs change: not versioned
        assert f"`{commit}`" in runs and commit not in text
        assert f"`data/interim/events.parquet` md5 `{md5}`" in text
        assert "- data lineage: csv data/raw/shop.csv (lineage `0123456789ab`)" in text
        metric = c.primary_metric
        assert f"`{metric}` = {c.version_tags[metric]}" in text
    assert "`models/intent`" in text and "`models/personalise`" in text
    assert "0.4321" in text and "7 days" in text
    assert "The recommender champion is SVD." in text
    for row in times.itertuples(index=False):
        assert f"| {row.stage} | `{row.run_id}` | {row.started} | {row.seconds} |" in runs
        assert row.run_id not in text
    assert "Total: 142 s" in runs and "reports/runs/summary.md" in text
    # the metrics tables: a primary metric value and a non-primary one
    assert "| test_roc_auc | 0.8 |" in text
    assert "| coverage | 0.5 |" in text


def test_an_intent_champion_that_is_a_baseline_says_which(tmp_path):
    from personalab.export.summary import served_table

    intent = champion("personalab-intent", "2", "r", "c", "md5", "test_pr_auc", "0.3", {}, tmp_path)
    parts = ExportParts(intent=intent)
    exported, metrics = {"intent": tmp_path / "models/intent"}, {"intent_parity": 0.0}
    row = served_table(parts, exported, metrics, tmp_path).set_index("folder")["serves"]
    assert row["`models/intent`"] == "personalab-intent v2"  # tuned (or tagged before the rule)
    intent.version_tags["served_model"] = "logreg"
    row = served_table(parts, exported, metrics, tmp_path).set_index("folder")["serves"]
    assert row["`models/intent`"] == "personalab-intent v2 (logreg baseline)"


def test_a_champion_registered_before_lineages_says_its_lineage_is_unknown(tmp_path):
    old = champion("m", "1", "r", "c", "md5", "ndcg_at_10", "0.1", {}, tmp_path)
    old.version_tags = {k: v for k, v in old.version_tags.items() if not k.startswith("lineage")}
    assert old.lineage == "unknown (registered before lineages were recorded)"


def test_the_monitoring_section_gives_the_recommendation_its_reasons_and_figures():
    from personalab.export.summary import monitoring_section

    retrain = {
        "status": "complete", "retrain": 1, "features_monitored": 58, "drifted_features": 2,
        "retrain_reasons": ["2 of 58 features drifted in the recent window, most: x (psi 0.61)"],
        "prediction_psi": 0.0123, "latest_roc_auc": 0.81, "champion_test_roc_auc": 0.83,
        "hit_rate_first": 0.58, "hit_rate_last": 0.59, "popularity_hit_rate_last": 0.42,
    }  # fmt: skip
    text = "\n".join(monitoring_section(retrain))
    assert "**Retrain.** 2 of 58 features drifted in the recent window, most: x (psi 0.61)." in text
    assert "| drifted features (recent window, latest vs reference) | 2 of 58 |" in text
    assert "0.810 (0.830)" in text and "0.580 to 0.590 (0.420)" in text
    assert "segment shares" not in text  # not measured: no row
    calm = {"status": "complete", "retrain": 0, "retrain_reasons": []}
    assert "**No retraining needed**: no check crossed" in "\n".join(monitoring_section(calm))
    partly = calm | {"status": "partial", "checks_left_out": ["segment drift", "hit rate"]}
    assert (
        "**No retraining needed** from the checks that ran (not checked: segment drift; hit "
        "rate): none crossed its threshold (params/monitor.yaml)."
    ) in monitoring_section(partly)
    skipped = {"status": "skipped", "skip_reason": "no cut-off"}
    assert "No retraining recommendation: no cut-off." in monitoring_section(skipped)
    assert "the monitor stage has not run" in "\n".join(monitoring_section(None))


def test_the_experiment_section_gives_each_uplift_its_interval_and_the_truth():
    from personalab.export.summary import experiment_section

    result = {
        "status": "complete", "treatment": "personalised", "control": "trending",
        "experiment_users": 20000, "conversion_uplift": 0.031, "conversion_uplift_ci_lower": -0.01,
        "conversion_uplift_ci_upper": 0.072, "conversion_pvalue": 0.14,
        "true_conversion_uplift": 0.033, "srm": 0, "srm_pvalue": 0.38,
    }  # fmt: skip
    text = "\n".join(experiment_section(result))
    assert "personalised against trending, 20,000 users" in text
    assert "| conversion | +3.1% | -1.0% to +7.2% | 0.14 | +3.3% |" in text
    assert "no sample ratio mismatch (p = 0.38)." in text
    flagged = "\n".join(experiment_section(result | {"srm": 1, "srm_pvalue": 1e-9}))
    assert "**sample ratio mismatch**: do not trust the uplift (p = 1e-09)." in flagged
    skipped = {"status": "skipped", "skip_reason": "no experiment to analyse"}
    assert "No experiment analysed: no experiment to analyse." in experiment_section(skipped)


def test_a_long_skip_reason_is_given_once_and_later_text_points_to_its_row(tmp_path):
    root = "no cut-off fits: the log spans 0.0 minutes (2020-01-01 to 2020-01-01), timestamps to the day"
    intent_why = f"the features stage skipped ({root}), so there is no table to learn from"
    statuses = [
        {"stage": "features", "status": "skipped", "skip_reason": root, "notes": []},
        {"stage": "intent", "status": "skipped", "skip_reason": intent_why, "notes": []},
        {
            "stage": "export",
            "status": "partial",
            "notes": [
                f"left out: the intent model: the intent stage skipped ({intent_why})",
                f"warning: the online store: {root}",
            ],
        },
    ]
    parts = ExportParts(left_out={"intent": f"the intent stage skipped ({intent_why})"})
    text = summary_markdown(parts, {}, {}, statuses, tmp_path)
    assert text.count(root) == 1 and f"| features | skipped | skipped: {root} |" in text
    assert (
        "| intent | skipped | skipped: the features stage skipped (see the features row above), "
        "so there is no table to learn from |"
    ) in text
    assert (
        "| export | partial | the intent model: the intent stage skipped (see the intent row above) |"
        in text
    )
    assert "- export: warning: the online store: see the features row above" in text
    assert "No intent champion: the intent stage skipped (see the intent row above)" in text
