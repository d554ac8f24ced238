"""Unit tests of personalab.export.champions: which registry answers mean "no champion"."""

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from personalab.export.champions import NoChampionError, fetch_champion


def test_a_model_without_a_champion_asks_for_the_stage_to_run(tmp_path, mlflow_tmp):
    from mlflow.tracking import MlflowClient

    with pytest.raises(
        NoChampionError, match=r"'personalab-x' has no version with alias 'champion'"
    ):
        fetch_champion("personalab-x", "champion", tmp_path)  # not registered at all
    MlflowClient().create_registered_model("personalab-x")
    with pytest.raises(NoChampionError, match=r"run the stage that trains it first"):
        fetch_champion("personalab-x", "champion", tmp_path)  # registered, alias not set


def test_a_broken_registry_is_its_own_error_not_a_missing_champion(tmp_path, mlflow_tmp):
    from mlflow.tracking import MlflowClient

    MlflowClient().create_registered_model("personalab-x")
    Path(mlflow_tmp.removeprefix("sqlite:///")).write_bytes(b"not a database" * 1000)
    with pytest.raises(MlflowException, match="file is not a database"):
        fetch_champion("personalab-x", "champion", tmp_path)


def register_versions(tmp_path, names: tuple[str, ...], count: int) -> None:
    """``count`` versions of each of ``names``, each a run whose model folder holds its number."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    for name in names:
        client.create_registered_model(name)
    for number in range(1, count + 1):
        for name in names:
            with mlflow.start_run(experiment_id=experiment) as run:
                mlflow.log_text(str(number), "model/number.txt")
            source = f"{run.info.artifact_uri}/model"
            client.create_model_version(name, source=source, run_id=run.info.run_id)


def test_export_fetches_the_champions_of_the_current_data_lineage(tmp_path, mlflow_tmp):
    from mlflow.tracking import MlflowClient

    from personalab.core.registry import lineage_of, promote_if_better

    names = ("t-intent", "t-rec")
    register_versions(tmp_path, names, 3)
    client = MlflowClient()
    a = lineage_of({"format": "csv", "path": "data/raw/a.csv"})
    b = lineage_of({"format": "csv", "path": "data/raw/b.csv"})
    for name in names:  # A: v1 champion, v3 a challenger; B: v2 champion, registered after v1
        promote_if_better(client, name, "1", "m", 0.9, lambda uri: 0.0, lineage=a)
        promote_if_better(client, name, "2", "m", 0.1, lambda uri: 0.0, lineage=b)
        promote_if_better(client, name, "3", "m", 0.5, lambda uri: 0.9, lineage=a)

    def both(lineage, scratch):
        return [fetch_champion(name, "champion", tmp_path / scratch, lineage) for name in names]

    intent, recommender = both(b, "scratch")
    assert (intent.version, recommender.version) == ("2", "2")
    assert (intent.folder / "number.txt").read_text() == "2"
    assert intent.alias == f"champion-{b.key}" and intent.version_tags["lineage"] == b.key
    assert intent.lineage == f"csv data/raw/b.csv (lineage `{b.key}`)"
    intent, recommender = both(a, "scratch-a")
    assert (intent.version, recommender.version) == ("1", "1")  # A's champion, not its newest

    c = lineage_of({"format": "csv", "path": "data/raw/c.csv"})
    with pytest.raises(NoChampionError, match=rf"no version with alias 'champion-{c.key}' \(the "
                       r"champion of data lineage csv data/raw/c.csv\).*other data is not served; "
                       r"run the stage that trains it first"):  # fmt: skip
        both(c, "scratch-c")
