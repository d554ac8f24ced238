"""The registry rule (promote_if_better) and the pyfunc writer every stage uses (save_pyfunc)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException, RestException
from mlflow.protos import databricks_pb2 as codes

from personalab.core.registry import (
    SOURCE_LINEAGE_KEYS,
    SYNTHETIC_DEFAULTS,
    LineageError,
    current_lineage,
    lineage_of,
    promote_if_better,
    save_pyfunc,
)
from personalab.intent.params import IntentError

NAME = "personalab-intent"


class Doubler(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.factor = json.loads(Path(context.artifacts["config"]).read_text())["factor"]

    def predict(self, context, model_input, params=None):
        return model_input[["x"]] * self.factor


def test_save_pyfunc_bundles_the_whole_package_and_loads_back(tmp_path):
    def save_files(scratch):
        (scratch / "config.json").write_text(json.dumps({"factor": 2}))
        return {"config": scratch / "config.json"}

    example = pd.DataFrame({"x": [1.0, 3.0]})
    folder = save_pyfunc(tmp_path / "model", Doubler(), save_files, None, example, ["pandas"])
    code = folder / "code" / "personalab"
    # every stage's package travels with the model, not only the folder of the writer
    for module in ("core/registry.py", "intent/model.py", "recommend/__init__.py"):
        assert (code / module).is_file(), module
    assert not list(tmp_path.glob(".*model*")), "no temporary folder is left behind"
    predicted = mlflow.pyfunc.load_model(str(folder)).predict(example)
    assert predicted["x"].tolist() == [2.0, 6.0]


# --- promote_if_better: what counts as "no champion yet" ----------------------------------------


class FakeRegistry:
    """A registry client whose champion look-up raises ``error``; records what is set."""

    def __init__(self, error: Exception):
        self.error, self.aliases, self.tags = error, {}, {}

    def get_model_version_by_alias(self, name, alias):
        raise self.error

    def set_registered_model_alias(self, name, alias, version):
        self.aliases[alias] = version

    def set_model_version_tag(self, name, version, key, value):
        self.tags[key] = value


def not_comparable(uri: str) -> float:
    raise AssertionError(f"there is no champion to re-score, yet {uri} was asked")


@pytest.mark.parametrize(
    "error",
    [
        # what MLflow 3's SQL store raises for a model that is not registered / an unset alias
        MlflowException(f"Registered Model with name={NAME} not found", codes.RESOURCE_DOES_NOT_EXIST),
        MlflowException("Registered model alias champion not found.", codes.INVALID_PARAMETER_VALUE),
        # the same from a tracking server
        RestException(
            {"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias champion not found."}
        ),
    ],
    ids=["no-model", "no-alias", "no-alias-rest"],
)  # fmt: skip
def test_a_missing_model_or_alias_means_no_champion_yet(error):
    client = FakeRegistry(error)
    decision = promote_if_better(client, NAME, "1", "test_pr_auc", 0.4, not_comparable)
    assert (decision.alias, decision.reason) == ("champion", "no champion yet")
    assert decision.champion_version is None and decision.champion_value is None
    assert client.aliases == {"champion": "1"}
    assert client.tags == {"primary_metric": "test_pr_auc", "test_pr_auc": "0.400000",
                           "decision": "no champion yet"}  # fmt: skip


@pytest.mark.parametrize(
    "message, code",
    [
        ("(sqlite3.OperationalError) unable to open database file", codes.INTERNAL_ERROR),
        ("(sqlite3.DatabaseError) file is not a database", codes.BAD_REQUEST),
        ("API request to http://mlflow:5000 failed: Max retries exceeded", codes.TEMPORARILY_UNAVAILABLE),
        ("Permission denied on registered model", codes.PERMISSION_DENIED),
        ("Invalid model name: ''", codes.INVALID_PARAMETER_VALUE),  # a bad name, not an unset alias
        ("Registered model alias champion not found.", codes.INTERNAL_ERROR),
    ],
    ids=["unreachable", "corrupt", "server-down", "forbidden", "bad-name", "other-code"],
)  # fmt: skip
def test_any_other_registry_error_propagates_and_sets_no_alias(message, code):
    client = FakeRegistry(MlflowException(message, code))
    with pytest.raises(MlflowException, match=re.escape(message)):
        promote_if_better(client, NAME, "1", "test_pr_auc", 0.4, not_comparable)
    assert client.aliases == {} and client.tags == {}


@pytest.fixture
def sqlite_registry(tmp_path, mlflow_tmp):
    """A real MLflow client on a fresh SQLite store, with ``NAME`` registered (versions 1, 2)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_tmp, registry_uri=mlflow_tmp)
    client.create_registered_model(NAME)
    for _ in range(2):
        client.create_model_version(NAME, source=str(tmp_path / "model"))
    return client


def test_the_first_version_in_a_real_registry_becomes_champion_then_one_that_loses_is_challenger(
    sqlite_registry,
):
    client = sqlite_registry
    first = promote_if_better(client, NAME, "1", "test_pr_auc", 0.4, not_comparable)
    assert (first.alias, first.reason) == ("champion", "no champion yet")
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"

    scored = []
    second = promote_if_better(
        client, NAME, "2", "test_pr_auc", 0.3, lambda uri: scored.append(uri) or 0.45
    )
    assert scored == [f"models:/{NAME}/1"]
    assert second.alias == "challenger"
    assert (second.champion_version, second.champion_value) == ("1", 0.45)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "2"


class Recording:
    """A client proxy that records which of its methods were called."""

    def __init__(self, client):
        self.client, self.calls = client, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.client, name)


def test_a_broken_tracking_database_is_an_error_not_an_empty_registry(sqlite_registry, mlflow_tmp):
    database = Path(mlflow_tmp.removeprefix("sqlite:///"))
    database.write_bytes(b"not a database" * 1000)  # the file is there but unreadable
    client = Recording(sqlite_registry)
    with pytest.raises(MlflowException, match="file is not a database") as err:
        promote_if_better(client, NAME, "1", "test_pr_auc", 0.4, not_comparable)
    assert err.value.error_code == "BAD_REQUEST"  # what MLflow 3 raises here
    assert client.calls == ["get_model_version_by_alias"]  # the look-up failed: nothing was set


# --- promote_if_better: the champion/challenger rule ---------------------------------------------


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


# --- data lineage: champions per source and id space ------------------------------------------

SOURCE_A = {"format": "csv", "path": "data/raw/shop_a.csv", "columns": {"visitor": "user_id"}}
SOURCE_B = {"format": "parquet", "path": "data/raw/shop_b.parquet"}


def test_the_lineage_key_is_stable_for_equal_sources_and_differs_for_another():
    a = lineage_of(SOURCE_A)
    assert lineage_of(dict(SOURCE_A)) == a  # stable across calls
    assert re.fullmatch(r"[0-9a-f]{12}", a.key)
    # written differently, the same settings: defaults spelt out, another path spelling
    spelt = {**SOURCE_A, "path": "./data/raw/shop_a.csv", "identity": "auto", "query": None}
    assert lineage_of(spelt).key == a.key
    # how timestamps are read, and the (unused) generator config, do not change the data's ids
    assert lineage_of({**SOURCE_A, "timezone": "Europe/London"}, {"seed": 7}).key == a.key
    others = [
        {**SOURCE_A, "path": "data/raw/shop_c.csv"},
        {**SOURCE_A, "format": "parquet"},
        {**SOURCE_A, "columns": {"customer": "user_id"}},
        {**SOURCE_A, "event_types": {"addtocart": "add_to_cart"}},
        {**SOURCE_A, "identity": "session"},
    ]
    keys = {lineage_of(source).key for source in others}
    assert a.key not in keys and len(keys) == len(others)
    assert a.source == "csv data/raw/shop_a.csv"
    # the synthetic source: its generator config is its lineage; the (ignored) path is not
    synthetic = lineage_of({"format": "synthetic"}, {"seed": 42})
    assert lineage_of({"format": "synthetic", "path": "elsewhere"}, {}).key == synthetic.key
    assert lineage_of({"format": "synthetic"}, {"seed": 7}).key != synthetic.key
    assert lineage_of({"format": "synthetic"}, {"n_users": 500}).key != synthetic.key
    assert synthetic.source.startswith("synthetic (seed 42, 20000 users")
    # no planted drift is the lineage of before drift existed (this key); a drift is another
    assert synthetic.key == "079bfbdc459a"
    assert lineage_of({"format": "synthetic"}, {"drift": None}).key == synthetic.key
    drifted = lineage_of({"format": "synthetic"}, {"drift": {"at_day": 60, "type_share": 0.3}})
    assert drifted.key != synthetic.key and drifted.source.endswith("drift from day 60)")


def test_the_lineage_defaults_are_those_of_the_ingest_params():
    from personalab.ingest.sources.params import SourceParams
    from personalab.ingest.synth.config import SynthConfig

    source = SourceParams().model_dump()
    assert {key: source[key] for key in SOURCE_LINEAGE_KEYS} == SOURCE_LINEAGE_KEYS
    assert SynthConfig().model_dump() == SYNTHETIC_DEFAULTS


def test_the_current_lineage_comes_from_the_projects_ingest_params(tmp_path):
    from personalab.core.paths import project_paths

    paths = project_paths(tmp_path)
    with pytest.raises(LineageError, match=r"params/ingest.yaml: cannot read the ingest source"):
        current_lineage(paths)
    paths.params_file("ingest").parent.mkdir()
    paths.params_file("ingest").write_text(
        "source:\n  format: csv\n  path: data/raw/shop_a.csv\n  columns: {visitor: user_id}\n"
        "synthetic:\n  seed: 3\n"
    )
    assert current_lineage(paths) == lineage_of(SOURCE_A)


def test_champions_are_kept_per_lineage_and_the_plain_champion_follows_the_data(sqlite_registry):
    client = sqlite_registry  # versions 1, 2 registered
    for _ in range(3):
        client.create_model_version(NAME, source="model")
    a, b = lineage_of(SOURCE_A), lineage_of(SOURCE_B)

    first = promote_if_better(client, NAME, "1", "test_pr_auc", 0.8, not_comparable, lineage=a)
    assert first.alias == "champion" and alias(client, NAME, a.alias("champion")) == "1"
    assert first.as_tags()["registry.lineage"] == a.key
    tags = client.get_model_version(NAME, "1").tags
    assert (tags["lineage"], tags["lineage.source"]) == (a.key, "csv data/raw/shop_a.csv")

    # another source: A's champion is neither re-scored nor blocks B's first version
    on_b = promote_if_better(client, NAME, "2", "test_pr_auc", 0.1, not_comparable, lineage=b)
    assert (on_b.alias, on_b.champion_version) == ("champion", None)
    assert (
        on_b.reason == f"no champion yet for data lineage {b.key} (parquet data/raw/shop_b.parquet)"
    )
    assert alias(client, NAME, b.alias("champion")) == "2"
    assert alias(client, NAME, "champion") == "2"  # @champion serves the current data
    assert alias(client, NAME, a.alias("champion")) == "1"  # A's champion is kept

    # back to A: a worse version is compared with A's champion only, and loses
    scored = []
    worse = promote_if_better(
        client, NAME, "3", "test_pr_auc", 0.5, lambda uri: scored.append(uri) or 0.8, lineage=a
    )
    assert scored == [f"models:/{NAME}/1"]
    assert (worse.alias, worse.champion_version) == ("challenger", "1")
    assert alias(client, NAME, a.alias("challenger")) == "3"
    assert alias(client, NAME, a.alias("champion")) == "1"
    assert alias(client, NAME, "champion") == "1"  # back on A's data, A's champion serves
    assert alias(client, NAME, b.alias("champion")) == "2"

    # a better A version takes A's champion; B's is untouched
    better = promote_if_better(client, NAME, "4", "test_pr_auc", 0.9, lambda uri: 0.8, lineage=a)
    assert better.alias == "champion" and alias(client, NAME, a.alias("champion")) == "4"
    assert (
        alias(client, NAME, "champion") == "4" and alias(client, NAME, b.alias("champion")) == "2"
    )
    # B again: compared with B's champion (v2), not with A's better one
    scored.clear()
    again_b = promote_if_better(
        client, NAME, "5", "test_pr_auc", 0.2, lambda uri: scored.append(uri) or 0.1, lineage=b
    )
    assert scored == [f"models:/{NAME}/2"] and again_b.alias == "champion"
    assert alias(client, NAME, b.alias("champion")) == "5" == alias(client, NAME, "champion")


def test_an_intent_target_other_than_purchase_is_a_lineage_of_its_own():
    from personalab.core.registry import lineage_of

    data = lineage_of({"format": "movielens", "path": "data/raw/ratings.csv"})
    assert data.for_target("purchased_within_horizon") == data and data.for_target(None) == data
    rate = data.for_target("rate_within_horizon")
    assert rate.key != data.key and rate.alias("champion") != data.alias("champion")
    assert rate == data.for_target("rate_within_horizon")  # stable
    assert rate.source.endswith("; target rate_within_horizon")
    assert rate.key != data.for_target("returned_within_horizon").key
