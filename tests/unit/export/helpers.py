"""The export tests' small world: feature rows, a tiny intent model, segmenter and recommender
fitted on them, the segments stage's way of saving its model, and a Personaliser of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personalab.export.personalise import Personaliser
from personalab.intent.calibrate import Calibrator
from personalab.intent.columns import FeatureEncoder
from personalab.intent.model import IntentModel
from personalab.recommend.algorithms import fit_algorithm, make_algorithm
from personalab.recommend.from_surprise import model_arrays
from personalab.recommend.interactions import build_trainset
from personalab.recommend.served import Recommender

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


def fit_linear_intent() -> IntentModel:
    """:func:`fit_intent`'s model as a logistic regression (the baseline the intent stage
    serves when it beats the tuned booster beyond noise)."""
    from personalab.intent.linear import LinearScorer

    train = feature_rows([f"t{j}" for j in range(80)], seed=1)
    y = (train["f1"] + 0.5 * train["f2"] > 0).astype(int).to_numpy()
    encoder = FeatureEncoder().fit(train[INTENT_FEATURES])
    scorer = LinearScorer.fit(encoder.matrix(train), y, [0] * len(encoder.columns_))
    return IntentModel(encoder, scorer, Calibrator("none"), 0.5)


def fit_segmenter():
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    train = feature_rows([f"s{j}" for j in range(40)], seed=2)
    pipeline = Pipeline(
        [("impute", SimpleImputer()), ("kmeans", KMeans(n_clusters=2, n_init=1, random_state=0))]
    )
    return pipeline.fit(train[SEGMENT_FEATURES].to_numpy(dtype=float))


def fit_recommender() -> tuple[Recommender, pd.DataFrame]:
    ratings = ratings_frame()
    algo = make_algorithm("SVD", {"n_factors": 4, "n_epochs": 5}, seed=0)
    algo = fit_algorithm(algo, build_trainset(ratings, (1.0, 5.0)))
    popular = pd.Series(  # not in item id order, so an order by id would show
        np.linspace(0.4, 0.05, len(ITEMS)),
        index=pd.Index(["i6", "i2", "i7", "i0", "i4", "i1", "i3", "i5"], name="item_id"),
        name="score",
    )
    config = {"algorithm": "SVD", "top_n": 5, "seed": 0, "block_size": 64}
    return Recommender(model_arrays(algo), popular, config), ratings


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


def personaliser(
    parts, threshold: float | None, k: int = 3, without: tuple[str, ...] = ()
) -> Personaliser:
    """The rule of ``parts``; ``without`` names parts it lacks (intent, recommender, segmenter)."""
    return Personaliser(
        None if "intent" in without else parts["intent"],
        None if "segmenter" in without else parts["segmenter"],
        SEGMENT_FEATURES,
        SEGMENT_NAMES,
        None if "recommender" in without else parts["recommender"],
        parts["trending"],
        None if "intent" in without else threshold,
        k,
    )


def request() -> pd.DataFrame:
    return feature_rows(["u3", "stranger", "u0", "u5", "u1"], seed=3)


def seen_by(ratings: pd.DataFrame, user: str) -> set[str]:
    return set(ratings.loc[ratings["user_id"] == user, "item_id"])


def rows_of(out: pd.DataFrame, user: str) -> pd.DataFrame:
    return out[out["user_id"] == user]


# --- the stage's steps on constructed parts -----------------------------------------------------


def champion(name: str, version: str, folder: Path, metric: str, value: float):
    """A champion as the registry hands it over, of the saved pyfunc ``folder``."""
    from personalab.export.champions import Champion

    return Champion(
        name=name,
        version=version,
        alias="champion-0123456789ab",
        run_id=f"run-{name}",
        folder=folder,
        metrics={metric: value},
        tags={"git_commit": "c0ffee", "mlflow.runName": f"{name}-run"},
        version_tags={
            "primary_metric": metric,
            metric: f"{value:.6f}",
            "lineage": "0123456789ab",
            "lineage.source": "csv data/raw/shop.csv",
        },
        created="2026-01-10 12:00 UTC",
    )


def events_frame() -> pd.DataFrame:
    """The ratings as events, one a day (the last days trend)."""
    ratings = ratings_frame()
    start = pd.Timestamp("2026-01-01", tz="UTC")
    days = pd.to_timedelta(np.arange(len(ratings)) % 10, unit="D")
    return ratings.assign(timestamp=start + days, event_type="rate")


def features_table() -> pd.DataFrame:
    """Two cut-offs of feature rows; the latest has every known user and a newcomer."""
    old = feature_rows(USERS, seed=4).assign(cutoff=pd.Timestamp("2026-01-03"))
    latest = feature_rows([*USERS, "newcomer"], seed=5).assign(cutoff=pd.Timestamp("2026-01-10"))
    return pd.concat([old, latest], ignore_index=True)


def run_export(parts, events: pd.DataFrame, table: pd.DataFrame, paths, status) -> dict:
    """The notebook's steps after the parts are gathered (as notebooks/08_export.ipynb calls
    them): a skip writes the marked outputs; otherwise rule, mix, folders, checks, outputs."""
    from personalab import export

    params = export.ExportParams(k=3, example_rows=4)
    if status.skipped:
        return {"written": export.save_skipped(status, parts, paths)}
    personaliser = export.build_personaliser(parts, events, params, status)
    mix = export.strategy_mix(personaliser, table)
    exported = export.export_models(parts, personaliser, table, params, paths)
    checks = export.check_exports(exported, parts, personaliser)
    metrics = {
        **export.export_metrics(parts, personaliser, mix, checks, params),
        **status.metrics(),
    }
    written = export.save_outputs(parts, exported, metrics, paths)
    return {"rule": personaliser, "mix": mix, "exported": exported, "written": written}
