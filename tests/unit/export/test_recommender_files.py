"""The served recommender's array files as the export stage ships them
(personalab.recommend.arrays, .array_model and .served): ModelArrays round trips,
ArrayModel scores, and load_recommender on folders with and without them."""

import numpy as np
import pandas as pd
import pytest

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.arrays import ModelArrays
from personalab.recommend.served import (
    LABEL_COLUMNS,
    ServingError,
    load_recommender,
)


def test_model_arrays_round_trip_through_npz(tmp_path):
    arrays = {
        "user_ids": np.array(["u1", "u2"], dtype=object),
        "item_ids": np.array(["a", "b", "c"]),
        "seen_indptr": np.array([0, 1, 3]),
        "seen_indices": np.array([2, 0, 1]),
        "P": np.arange(6, dtype=float).reshape(2, 3) / 7,
    }
    scalars = {"algorithm": "SVD", "low": 1.0, "high": 5.0, "offset": 3.25, "flag": True}
    path = ModelArrays(arrays, scalars).save(tmp_path / "model.npz")
    loaded = ModelArrays.load(path)
    assert loaded.scalars == scalars
    assert set(loaded.arrays) == set(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
    assert loaded.arrays["user_ids"].dtype.kind == "U"  # strings, loadable without pickle
    assert (loaded.n_users, loaded.n_items, loaded.algorithm) == (2, 3, "SVD")
    assert loaded.seen().toarray().tolist() == [[0, 0, 1], [1, 1, 0]]


def test_fitted_model_arrays_round_trip_and_score_the_same(parts, tmp_path):
    model = parts["recommender"].model.model
    loaded = ModelArrays.load(model.save(tmp_path / "model.npz"))
    assert loaded.scalars == model.scalars
    for name, value in model.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
    every_user = np.arange(model.n_users)
    np.testing.assert_allclose(
        ArrayModel(loaded).scores(every_user), ArrayModel(model).scores(every_user)
    )


def test_model_arrays_load_of_a_file_that_is_not_npz_names_it(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("not a numpy archive\n")
    with pytest.raises(ServingError, match="not a saved recommender") as err:
        ModelArrays.load(path)
    assert str(path) in str(err.value)


def test_model_arrays_load_of_an_npz_without_scalars_is_a_serving_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(ServingError, match="other.npz"):
        ModelArrays.load(path)


def test_load_recommender_without_array_files_says_to_re_run(tmp_path):
    folder = tmp_path / "old"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "artifacts" / "model.pkl").write_bytes(b"\x80")
    with pytest.raises(ServingError, match="re-run") as err:
        load_recommender(folder)
    assert str(folder) in str(err.value)


def test_load_recommender_reads_a_saved_serving_folder(served, parts):
    folder, example, prediction = served
    loaded = load_recommender(folder)
    users = example["user_id"].tolist()
    pd.testing.assert_frame_equal(
        loaded.recommend(users, 3), prediction.drop(columns=LABEL_COLUMNS)
    )
