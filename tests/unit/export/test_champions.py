"""Unit tests of personalab.export.champions: which registry answers mean "no champion"."""

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from personalab.export.champions import fetch_champion
from personalab.export.params import ExportError


def test_a_model_without_a_champion_asks_for_the_stage_to_run(tmp_path, mlflow_tmp):
    from mlflow.tracking import MlflowClient

    with pytest.raises(ExportError, match=r"'personalab-x' has no version with alias 'champion'"):
        fetch_champion("personalab-x", "champion", tmp_path)  # not registered at all
    MlflowClient().create_registered_model("personalab-x")
    with pytest.raises(ExportError, match=r"run the stage that trains it first"):
        fetch_champion("personalab-x", "champion", tmp_path)  # registered, alias not set


def test_a_broken_registry_is_its_own_error_not_a_missing_champion(tmp_path, mlflow_tmp):
    from mlflow.tracking import MlflowClient

    MlflowClient().create_registered_model("personalab-x")
    Path(mlflow_tmp.removeprefix("sqlite:///")).write_bytes(b"not a database" * 1000)
    with pytest.raises(MlflowException, match="file is not a database"):
        fetch_champion("personalab-x", "champion", tmp_path)
