import json

import pandas as pd
import pytest

from personalab.core.storage import atomic_path, write_json, write_metrics, write_parquet


def test_atomic_path_leaves_no_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out" / "events.parquet"
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_path_keeps_the_old_file_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "metrics.json"
    write_json({"a": 1}, target)
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as tmp:
        tmp.write_text("{")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}


def test_write_parquet_round_trips(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    path = write_parquet(frame, tmp_path / "f.parquet")
    back = pd.read_parquet(path)
    assert back["a"].tolist() == [1, 2]
    assert back["b"].isna().tolist() == [False, True]


def test_write_metrics_is_flat_and_json_safe(tmp_path):
    import numpy as np

    path = write_metrics(
        {"rows": np.int64(3), "rate": float("nan"), "name": "kmeans", "notes": ("a", "b")},
        tmp_path / "m.json",
    )
    expected = {"name": "kmeans", "notes": ["a", "b"], "rate": None, "rows": 3}
    assert json.loads(path.read_text()) == expected
    with pytest.raises(TypeError, match="'nested' is not flat"):
        write_metrics({"nested": {"a": 1}}, tmp_path / "bad.json")
    with pytest.raises(TypeError, match="'mixed' is not flat"):
        write_metrics({"mixed": ["a", 1]}, tmp_path / "bad.json")


def test_outputs_get_the_modes_of_the_users_umask(tmp_path):
    import os

    from personalab.core.storage import atomic_dir

    old = os.umask(0o022)
    try:
        path = write_json({"a": 1}, tmp_path / "m.json")
        with atomic_dir(tmp_path / "model") as folder:
            folder.mkdir()
            (folder / "MLmodel").write_text("x")
        os.umask(0o077)
        private = write_json({"a": 1}, tmp_path / "p.json")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
    assert private.stat().st_mode & 0o777 == 0o600
