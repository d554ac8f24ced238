"""The champion/challenger rule the intent model is registered under."""

from __future__ import annotations

from personalab.core.registry import promote_if_better
from personalab.intent.params import IntentError


def alias(client, name: str, which: str) -> str:
    return str(client.get_model_version_by_alias(name, which).version)


def new_version(client, name: str, source) -> str:
    return str(client.create_model_version(name, source=str(source), run_id=None).version)


def test_promote_if_better_moves_champion_only_to_a_better_version(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    asked: list[str] = []

    def champion_scores(value: float):
        def score(uri: str) -> float:
            asked.append(uri)
            return value

        return score

    first = promote_if_better(client, name, v1, "test_pr_auc", 0.50, champion_scores(0.0))
    assert (first.alias, first.reason, first.champion_version) == (
        "champion",
        "no champion yet",
        None,
    )
    assert asked == []  # nothing to re-score
    assert alias(client, name, "champion") == v1
    assert first.as_tags()["registry.alias"] == "champion"
    again = promote_if_better(client, name, v1, "test_pr_auc", 0.50, champion_scores(0.0))
    assert (again.alias, again.reason) == ("champion", "already the champion")

    v2 = new_version(client, name, tmp_path)
    better = promote_if_better(client, name, v2, "test_pr_auc", 0.70, champion_scores(0.60))
    assert asked == [f"models:/{name}/{v1}"]
    assert better.alias == "champion"
    assert (better.champion_version, better.champion_value) == (v1, 0.60)
    assert "beats champion v1's 0.6000" in better.reason
    assert alias(client, name, "champion") == v2

    v3 = new_version(client, name, tmp_path)
    worse = promote_if_better(client, name, v3, "test_pr_auc", 0.55, champion_scores(0.70))
    assert worse.alias == "challenger"
    assert "does not beat champion v2's 0.7000" in worse.reason
    assert alias(client, name, "champion") == v2
    assert alias(client, name, "challenger") == v3

    v4 = new_version(client, name, tmp_path)
    tie = promote_if_better(client, name, v4, "test_pr_auc", 0.70, champion_scores(0.70))
    assert tie.alias == "challenger"  # a tie does not move the champion
    assert alias(client, name, "champion") == v2 and alias(client, name, "challenger") == v4

    tags = client.get_model_version(name, v3).tags
    assert tags["primary_metric"] == "test_pr_auc"
    assert tags["test_pr_auc"] == "0.550000"
    assert tags["decision"] == worse.reason


def test_promote_if_better_with_log_loss_lower_wins(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent-ll"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    promote_if_better(client, name, v1, "test_log_loss", 0.40, lambda uri: 0.0, False)
    v2 = new_version(client, name, tmp_path)
    lower = promote_if_better(client, name, v2, "test_log_loss", 0.35, lambda uri: 0.40, False)
    assert lower.alias == "champion" and alias(client, name, "champion") == v2
    v3 = new_version(client, name, tmp_path)
    higher = promote_if_better(client, name, v3, "test_log_loss", 0.50, lambda uri: 0.35, False)
    assert higher.alias == "challenger"
    assert alias(client, name, "champion") == v2 and alias(client, name, "challenger") == v3


def test_promote_if_better_makes_a_challenger_when_the_champion_cannot_score(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent-schema"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    promote_if_better(client, name, v1, "test_pr_auc", 0.1, lambda uri: 0.0)
    v2 = new_version(client, name, tmp_path)

    def cannot_score(uri: str) -> float:
        raise IntentError("input lacks feature column(s) ['old_feature']")

    decision = promote_if_better(client, name, v2, "test_pr_auc", 0.9, cannot_score)
    assert decision.alias == "challenger"
    assert decision.champion_value is None
    assert "champion v1 could not score this test data (IntentError" in decision.reason
    assert "old_feature" in decision.reason
    assert alias(client, name, "champion") == v1
    assert alias(client, name, "challenger") == v2
