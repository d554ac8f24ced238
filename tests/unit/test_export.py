"""The `export` stage's pieces: trending items, the personalisation rule, its files, the parity
check, the segmenter's metadata and the summary (src/personalab/export.py), plus the served
recommender's array files (src/personalab/serving.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab import export, recommend, serving
from personalab.intent import Calibrator, FeatureEncoder, IntentModel

T0 = pd.Timestamp("2026-01-10", tz="UTC")


# --- trending_items -----------------------------------------------------------------------------


def log(rows):
    """rows: (user, item, days before T0) -> an events frame."""
    return pd.DataFrame(
        [(u, i, T0 - pd.Timedelta(days=d), "view") for u, i, d in rows],
        columns=["user_id", "item_id", "timestamp", "event_type"],
    )


TRENDING_LOG = [
    ("u1", "kiwi", 0.0),
    ("u2", "kiwi", 1.0),
    ("u3", "kiwi", 2.0),
    ("u1", "fig", 1.0),
    ("u1", "fig", 0.5),  # the same user twice: counted once
    ("u2", "fig", 1.0),
    ("u2", "apple", 1.5),
    ("u3", "apple", 3.0),  # exactly at the window's start: inside
    ("u3", "date", 2.0),
    ("u1", "plum", 3.5),  # outside a 3-day window
    ("u5", "plum", 9.0),  # outside; u5 has nothing inside the window
    ("u4", None, -10.0),  # no item, and newest of all: ignored, not the window's end
]


def test_trending_items_share_of_distinct_window_users_ties_by_item_id():
    got = export.trending_items(log(TRENDING_LOG), window_days=3, n=10)
    # users with an item in [T0 - 3 days, T0]: u1, u2, u3
    expected = pd.Series(
        [3 / 3, 2 / 3, 2 / 3, 1 / 3], index=["kiwi", "apple", "fig", "date"], dtype=float
    )
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    assert got.name == "score"
    assert "plum" not in got.index


def test_trending_items_n_truncates_the_ranked_list():
    got = export.trending_items(log(TRENDING_LOG), window_days=3, n=2)
    assert got.index.tolist() == ["kiwi", "apple"]
    np.testing.assert_allclose(got.to_numpy(), [1.0, 2 / 3])


def test_trending_items_a_wider_window_counts_older_users_and_items():
    got = export.trending_items(log(TRENDING_LOG), window_days=100, n=10)
    # users u1, u2, u3, u5 (u4 only has a row without an item)
    assert got.index.tolist() == ["kiwi", "apple", "fig", "plum", "date"]
    np.testing.assert_allclose(got.to_numpy(), [3 / 4, 2 / 4, 2 / 4, 2 / 4, 1 / 4])


def test_trending_items_of_a_log_without_items_is_empty():
    got = export.trending_items(log([("u1", None, 0.0)]), window_days=3, n=5)
    assert got.empty


# --- a small Personaliser -----------------------------------------------------------------------

USERS = [f"u{u}" for u in range(6)]
ITEMS = [f"i{i}" for i in range(8)]
INTENT_FEATURES = ["f1", "f2", "f3"]
SEGMENT_FEATURES = ["f1", "visits"]
SEGMENT_NAMES = {"0": "a", "1": "b"}


def ratings_frame() -> pd.DataFrame:
    """Each user rates four items (u0 rates i1, a trending item)."""
    rated = {
        "u0": ["i0", "i1", "i2", "i4"],
        "u1": ["i1", "i3", "i5", "i6"],
        "u2": ["i0", "i2", "i6", "i7"],
        "u3": ["i3", "i4", "i5", "i7"],
        "u4": ["i0", "i1", "i5", "i7"],
        "u5": ["i2", "i3", "i4", "i6"],
    }
    rng = np.random.default_rng(0)
    rows = [(u, i, float(rng.integers(1, 6))) for u, items in rated.items() for i in items]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def feature_rows(users, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(users)
    return pd.DataFrame(
        {
            "user_id": users,
            "f1": rng.normal(size=n),
            "f2": rng.normal(size=n),
            "f3": rng.uniform(0, 10, size=n),
            "visits": rng.integers(0, 20, size=n).astype(float),
        }
    )


def fit_intent() -> IntentModel:
    import xgboost as xgb

    train = feature_rows([f"t{j}" for j in range(80)], seed=1)
    y = (train["f1"] + 0.5 * train["f2"] > 0).astype(int).to_numpy()
    encoder = FeatureEncoder().fit(train[INTENT_FEATURES])
    data = xgb.DMatrix(encoder.transform(train), label=y, enable_categorical=True)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "eta": 0.5, "seed": 0, "nthread": 1},
        data,
        num_boost_round=5,
    )
    return IntentModel(encoder, booster, Calibrator("none"), 0.5)


def fit_segmenter():
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    train = feature_rows([f"s{j}" for j in range(40)], seed=2)
    pipeline = Pipeline(
        [("impute", SimpleImputer()), ("kmeans", KMeans(n_clusters=2, n_init=1, random_state=0))]
    )
    return pipeline.fit(train[SEGMENT_FEATURES].to_numpy(dtype=float))


def fit_recommender() -> tuple[serving.Recommender, pd.DataFrame]:
    ratings = ratings_frame()
    algo = recommend.make_algorithm("SVD", {"n_factors": 4, "n_epochs": 5}, seed=0)
    algo = recommend.fit_algorithm(algo, recommend.build_trainset(ratings, (1.0, 5.0)))
    popular = pd.Series(  # not in item id order, so an order by id would show
        np.linspace(0.4, 0.05, len(ITEMS)),
        index=pd.Index(["i6", "i2", "i7", "i0", "i4", "i1", "i3", "i5"], name="item_id"),
        name="score",
    )
    config = {"top_n": 5, "seed": 0, "block_size": 64}
    return serving.Recommender(recommend.model_arrays(algo), popular, config), ratings


def save_segmenter(pipeline, folder: Path, **metadata) -> Path:
    """As the segments stage saves its model (cloudpickle), with ``metadata`` when given."""
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        pipeline,
        str(folder),
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"],  # no inference in a subprocess: seconds per save
        metadata=metadata or None,
    )
    return folder


@pytest.fixture(scope="module")
def parts():
    recommender, ratings = fit_recommender()
    trending = pd.Series(
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        index=pd.Index(["i3", "i1", "zz_new", "i0", "i5", "i7"], name="item_id"),
        name="score",
    )
    return {
        "intent": fit_intent(),
        "segmenter": fit_segmenter(),
        "recommender": recommender,
        "ratings": ratings,
        "trending": trending,
    }


def personaliser(parts, threshold: float, k: int = 3) -> export.Personaliser:
    return export.Personaliser(
        parts["intent"],
        parts["segmenter"],
        SEGMENT_FEATURES,
        SEGMENT_NAMES,
        parts["recommender"],
        parts["trending"],
        threshold,
        k,
    )


def request() -> pd.DataFrame:
    return feature_rows(["u3", "stranger", "u0", "u5", "u1"], seed=3)


def seen_by(ratings: pd.DataFrame, user: str) -> set[str]:
    return set(ratings.loc[ratings["user_id"] == user, "item_id"])


def rows_of(out: pd.DataFrame, user: str) -> pd.DataFrame:
    return out[out["user_id"] == user]


def test_fixture_user_u0_has_seen_a_trending_item(parts):
    assert "i1" in seen_by(parts["ratings"], "u0")
    assert "zz_new" not in parts["recommender"].model.items


def test_personalise_columns_request_order_and_ranks_per_user(parts):
    frame = request()
    out = personaliser(parts, threshold=0.5).personalise(frame)
    assert list(out.columns) == export.PERSONALISE_COLUMNS
    assert list(dict.fromkeys(out["user_id"])) == frame["user_id"].tolist()
    for user in frame["user_id"]:
        ranks = rows_of(out, user)["rank"].tolist()
        assert ranks == list(range(1, len(ranks) + 1))
        assert 1 <= len(ranks) <= 3
    assert out["rank"].dtype == np.dtype("int64")


def test_personalise_intent_score_and_segment_come_from_the_models(parts):
    frame = request()
    out = personaliser(parts, threshold=0.5).personalise(frame)
    per_user = out.drop_duplicates("user_id").set_index("user_id")
    expected_score = parts["intent"].predict_proba(frame)
    np.testing.assert_allclose(per_user.loc[frame["user_id"], "intent_score"], expected_score)
    labels = parts["segmenter"].predict(frame[SEGMENT_FEATURES].to_numpy(dtype=float))
    expected_segment = [SEGMENT_NAMES[str(label)] for label in labels]
    assert per_user.loc[frame["user_id"], "segment"].tolist() == expected_segment


def test_personalise_strategy_follows_the_threshold(parts):
    frame = request()
    scores = parts["intent"].predict_proba(frame)
    known = frame["user_id"] != "stranger"
    threshold = float(np.sort(scores[known.to_numpy()])[2])  # one user's score exactly: high
    out = personaliser(parts, threshold=threshold).personalise(frame)
    per_user = out.drop_duplicates("user_id").set_index("user_id")["strategy"]
    expected = np.where(
        ~known, "popular", np.where(scores >= threshold, "personalised", "trending")
    )
    assert per_user.loc[frame["user_id"]].tolist() == expected.tolist()
    assert {"popular", "personalised", "trending"} == set(expected)


def test_an_unknown_user_gets_the_popular_items_in_order(parts):
    out = personaliser(parts, threshold=0.0).personalise(request())
    mine = rows_of(out, "stranger")
    popular = parts["recommender"].popular.head(3)
    assert set(mine["strategy"]) == {"popular"}
    assert mine["item_id"].tolist() == popular.index.tolist()
    np.testing.assert_allclose(mine["score"], popular.to_numpy())


def test_high_intent_users_get_the_recommenders_top_k(parts):
    frame = request()
    out = personaliser(parts, threshold=0.0).personalise(frame, k=3)
    for user in ["u3", "u0", "u5", "u1"]:
        mine = rows_of(out, user)
        assert set(mine["strategy"]) == {"personalised"}
        expected = parts["recommender"].model.top_k([user], 3)
        assert mine["item_id"].tolist() == expected["item_id"].tolist()
        np.testing.assert_allclose(mine["score"], expected["score"].to_numpy(dtype=float))
        assert not set(mine["item_id"]) & seen_by(parts["ratings"], user)


def test_low_intent_users_get_the_trending_items_they_have_not_seen(parts):
    frame = request()
    out = personaliser(parts, threshold=1.0).personalise(frame, k=4)
    trending = parts["trending"]
    for user in ["u3", "u0", "u5", "u1"]:
        mine = rows_of(out, user)
        assert set(mine["strategy"]) == {"trending"}
        unseen = [i for i in trending.index if i not in seen_by(parts["ratings"], user)][:4]
        assert mine["item_id"].tolist() == unseen
        np.testing.assert_allclose(mine["score"], trending[unseen].to_numpy())
    u0 = rows_of(out, "u0")["item_id"].tolist()
    assert "i1" not in u0  # trending, but u0 rated it in training
    assert "zz_new" in u0  # trending and unknown to the recommender: never seen
    assert set(rows_of(out, "stranger")["strategy"]) == {"popular"}


def test_a_user_who_has_seen_every_trending_item_gets_the_popular_items(parts):
    seen = sorted(seen_by(parts["ratings"], "u0"))
    trending = pd.Series([0.9] * len(seen), index=pd.Index(seen, name="item_id"), name="score")
    rule = personaliser({**parts, "trending": trending}, threshold=1.0)
    out = rule.personalise(request(), k=2)
    mine = rows_of(out, "u0")
    assert set(mine["strategy"]) == {"popular"}
    assert mine["item_id"].tolist() == parts["recommender"].popular.head(2).index.tolist()
    assert out["user_id"].drop_duplicates().tolist() == ["u3", "stranger", "u0", "u5", "u1"]


def test_personalise_collapses_duplicate_users_and_respects_k(parts):
    frame = request()
    doubled = pd.concat([frame, frame.iloc[[2, 0]]], ignore_index=True)
    rule = personaliser(parts, threshold=1.0, k=3)
    out = rule.personalise(doubled)
    pd.testing.assert_frame_equal(out, rule.personalise(frame))
    assert out.groupby("user_id")["rank"].max().max() == 3
    short = rule.personalise(frame, k=1)
    assert short["user_id"].tolist() == frame["user_id"].tolist()
    assert (short["rank"] == 1).all()


def test_personalise_user_ids_are_read_as_strings(parts):
    frame = request()
    out = personaliser(parts, threshold=0.0).personalise(frame.assign(user_id=[3, 4, 5, 6, 7]))
    assert out["user_id"].tolist()[0] == "3"
    assert set(out["strategy"]) == {"popular"}


def test_personalise_refuses_k_below_one(parts):
    with pytest.raises(export.ExportError, match="k must be at least 1"):
        personaliser(parts, threshold=0.5).personalise(request(), k=0)


def test_personalise_names_the_columns_when_user_id_is_missing(parts):
    frame = request().drop(columns="user_id")
    with pytest.raises(export.ExportError, match="user_id") as err:
        personaliser(parts, threshold=0.5).personalise(frame)
    assert "'f1'" in str(err.value) and "'visits'" in str(err.value)


def test_personalise_of_an_empty_request_is_empty_with_the_columns(parts):
    out = personaliser(parts, threshold=0.5).personalise(request().iloc[:0])
    assert out.empty
    assert list(out.columns) == export.PERSONALISE_COLUMNS


def test_personalise_signature_is_user_id_intent_features_then_optional_segment_features(parts):
    rule = personaliser(parts, threshold=0.5)
    signature = export.personalise_signature(rule, request().head(2))
    inputs = signature.inputs.inputs
    assert [c.name for c in inputs] == ["user_id", *INTENT_FEATURES, "visits"]
    assert (inputs[0].type.name, inputs[0].required) == ("string", True)
    assert (inputs[-1].type.name, inputs[-1].required) == ("double", False)  # imputed if absent
    assert signature.params.to_dict() == [
        {"name": "k", "type": "long", "default": rule.k, "shape": None}
    ]


def test_personaliser_save_and_load_give_the_same_answers(parts, tmp_path):
    segmenter_folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter")
    frame = request()
    median = float(np.median(parts["intent"].predict_proba(frame)))
    rule = personaliser(parts, threshold=median, k=4)
    files = rule.save(tmp_path / "p", segmenter_folder)
    assert all(Path(path).exists() for path in files.values())
    loaded = export.Personaliser.load({name: str(path) for name, path in files.items()})
    assert loaded.threshold == rule.threshold and loaded.k == 4
    assert loaded.segment_features == SEGMENT_FEATURES
    pd.testing.assert_series_equal(
        loaded.trending, parts["trending"], check_names=False, check_index_type=False
    )
    expected = rule.personalise(frame)
    assert set(expected["strategy"]) == {"popular", "personalised", "trending"}
    pd.testing.assert_frame_equal(loaded.personalise(frame), expected)
    pd.testing.assert_frame_equal(loaded.personalise(frame, k=2), rule.personalise(frame, k=2))


# --- parity -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(parts, tmp_path_factory):
    import mlflow.pyfunc

    folder = serving.save_serving_model(
        parts["recommender"], tmp_path_factory.mktemp("served") / "rec"
    )
    example = pd.DataFrame({"user_id": ["u1", "u4", "stranger"]})
    prediction = mlflow.pyfunc.load_model(str(folder)).predict(example, params={"k": 3})
    return folder, example, prediction


def test_parity_of_a_folder_with_its_own_prediction_is_zero(served, parts):
    folder, example, prediction = served
    assert len(prediction) == 9
    expected = parts["recommender"].recommend(["u1", "u4", "stranger"], 3)
    pd.testing.assert_frame_equal(prediction, expected)
    assert export.parity(folder, prediction, example, k=3) == 0.0


def test_parity_is_infinite_when_an_item_id_differs(served):
    folder, example, prediction = served
    changed = prediction.copy()
    changed.loc[4, "item_id"] = "not-an-item"
    assert export.parity(folder, changed, example, k=3) == float("inf")


def test_parity_is_infinite_when_the_row_count_or_columns_differ(served):
    folder, example, prediction = served
    assert export.parity(folder, prediction.iloc[:-1], example, k=3) == float("inf")
    assert export.parity(folder, prediction, example, k=2) == float("inf")
    renamed = prediction.rename(columns={"score": "points"})
    assert export.parity(folder, renamed, example, k=3) == float("inf")


def test_parity_is_the_largest_score_shift(served):
    folder, example, prediction = served
    shifted = prediction.copy()
    shifted.loc[1, "score"] += 0.25
    shifted.loc[7, "score"] -= 0.125
    assert export.parity(folder, shifted, example, k=3) == pytest.approx(0.25)


# --- serving.ModelArrays and load_recommender ---------------------------------------------------


def test_model_arrays_round_trip_through_npz(tmp_path):
    arrays = {
        "user_ids": np.array(["u1", "u2"], dtype=object),
        "item_ids": np.array(["a", "b", "c"]),
        "seen_indptr": np.array([0, 1, 3]),
        "seen_indices": np.array([2, 0, 1]),
        "P": np.arange(6, dtype=float).reshape(2, 3) / 7,
    }
    scalars = {"algorithm": "SVD", "low": 1.0, "high": 5.0, "offset": 3.25, "flag": True}
    path = serving.ModelArrays(arrays, scalars).save(tmp_path / "model.npz")
    loaded = serving.ModelArrays.load(path)
    assert loaded.scalars == scalars
    assert set(loaded.arrays) == set(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
    assert loaded.arrays["user_ids"].dtype.kind == "U"  # strings, loadable without pickle
    assert (loaded.n_users, loaded.n_items, loaded.algorithm) == (2, 3, "SVD")
    assert loaded.seen().toarray().tolist() == [[0, 0, 1], [1, 1, 0]]


def test_fitted_model_arrays_round_trip_and_score_the_same(parts, tmp_path):
    model = parts["recommender"].model.model
    loaded = serving.ModelArrays.load(model.save(tmp_path / "model.npz"))
    assert loaded.scalars == model.scalars
    for name, value in model.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
    every_user = np.arange(model.n_users)
    np.testing.assert_allclose(
        serving.ArrayModel(loaded).scores(every_user), serving.ArrayModel(model).scores(every_user)
    )


def test_model_arrays_load_of_a_file_that_is_not_npz_names_it(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("not a numpy archive\n")
    with pytest.raises(serving.ServingError, match="not a saved recommender") as err:
        serving.ModelArrays.load(path)
    assert str(path) in str(err.value)


def test_model_arrays_load_of_an_npz_without_scalars_is_a_serving_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(serving.ServingError, match="other.npz"):
        serving.ModelArrays.load(path)


def test_load_recommender_without_array_files_says_to_re_run(tmp_path):
    folder = tmp_path / "old"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "artifacts" / "model.pkl").write_bytes(b"\x80")
    with pytest.raises(serving.ServingError, match="re-run") as err:
        serving.load_recommender(folder)
    assert str(folder) in str(err.value)


def test_load_recommender_reads_a_saved_serving_folder(served, parts):
    folder, example, prediction = served
    loaded = serving.load_recommender(folder)
    users = example["user_id"].tolist()
    pd.testing.assert_frame_equal(loaded.recommend(users, 3), prediction)


# --- segmenter_metadata -------------------------------------------------------------------------


def test_segmenter_metadata_names_the_missing_mlmodel(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(export.ExportError, match="segments") as err:
        export.segmenter_metadata(folder)
    assert str(folder / "MLmodel") in str(err.value)


def test_segmenter_metadata_without_metadata_says_to_re_run_segments(parts, tmp_path):
    folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter")
    with pytest.raises(export.ExportError, match="re-run the segments stage") as err:
        export.segmenter_metadata(folder)
    assert str(folder / "MLmodel") in str(err.value)


def test_segmenter_metadata_with_only_features_names_what_is_missing(parts, tmp_path):
    folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter", features=SEGMENT_FEATURES)
    with pytest.raises(export.ExportError, match="segment_names"):
        export.segmenter_metadata(folder)


def test_segmenter_metadata_returns_features_and_names(parts, tmp_path):
    folder = tmp_path / "segmenter"
    save_segmenter(
        parts["segmenter"], folder, features=SEGMENT_FEATURES, segment_names=SEGMENT_NAMES
    )
    features, names = export.segmenter_metadata(folder)
    assert features == SEGMENT_FEATURES
    assert names == SEGMENT_NAMES


# --- summary_markdown ---------------------------------------------------------------------------


def champion(name, version, run_id, commit, md5, metric, value, metrics, folder):
    return export.Champion(
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
        version_tags={metric: value, "primary_metric": metric, "decision": "no champion yet"},
        created="2026-01-10 12:00 UTC",
    )


def test_summary_markdown_records_champions_data_runs_and_times(tmp_path):
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
    text = export.summary_markdown(intent, rec, exported, times, metrics, root, "SVD")
    for c, commit, md5 in ((intent, "c0ffee1234", "md5aaaa"), (rec, "deadbeef99", "md5bbbb")):
        assert f"{c.name} v{c.version}" in text
        assert f"`{c.run_id}`" in text
        assert f"`{commit}`" in text
        assert f"`data/interim/events.parquet` md5 `{md5}`" in text
        metric = c.primary_metric
        assert f"`{metric}` = {c.version_tags[metric]}" in text
    assert "`models/intent`" in text and "`models/personalise`" in text
    assert "0.4321" in text and "7 days" in text
    assert "The recommender champion is SVD." in text
    for row in times.itertuples(index=False):
        assert f"| {row.stage} | `{row.run_id}` | {row.started} | {row.seconds} |" in text
    assert "Total: 142 s" in text
    # the metrics tables: a primary metric value and a non-primary one
    assert "| test_roc_auc | 0.8 |" in text
    assert "| coverage | 0.5 |" in text
