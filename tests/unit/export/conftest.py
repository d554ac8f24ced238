"""Fixtures of the export tests: the fitted parts of a Personaliser, and a saved recommender
folder with its own prediction."""

import pandas as pd
import pytest

from personalab.recommend.served import save_serving_model
from tests.unit.export.helpers import fit_intent, fit_recommender, fit_segmenter


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


@pytest.fixture(scope="module")
def served(parts, tmp_path_factory):
    import mlflow.pyfunc

    folder = save_serving_model(parts["recommender"], tmp_path_factory.mktemp("served") / "rec")
    example = pd.DataFrame({"user_id": ["u1", "u4", "stranger"]})
    prediction = mlflow.pyfunc.load_model(str(folder)).predict(example, params={"k": 3})
    return folder, example, prediction
