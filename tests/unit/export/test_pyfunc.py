"""Unit tests of personalab.export.pyfunc: a served request's checks, the personalise model's
signature and example."""

import numpy as np
import pandas as pd
import pytest

from personalab.core.errors import InputError
from personalab.export.params import PERSONALISE_COLUMNS
from personalab.export.pyfunc import (
    OUTPUT_SCHEMA,
    example_rows,
    latest_users,
    personalise_signature,
    serve_request,
)
from tests.unit.export.helpers import (
    INTENT_FEATURES,
    SEGMENT_FEATURES,
    USERS,
    personaliser,
    request,
)


def test_personalise_signature_is_user_id_intent_features_then_optional_segment_features(parts):
    rule = personaliser(parts, threshold=0.5)
    signature = personalise_signature(rule)
    inputs = signature.inputs.inputs
    assert [c.name for c in inputs] == ["user_id", *INTENT_FEATURES, "visits"]
    assert (inputs[0].type.name, inputs[0].required) == ("string", True)
    assert (inputs[-1].type.name, inputs[-1].required) == ("double", False)  # imputed if absent
    assert signature.params.to_dict() == [
        {"name": "k", "type": "long", "default": rule.k, "shape": None}
    ]
    outputs = [(c.name, c.type.name) for c in signature.outputs.inputs]
    assert outputs == [(name, kind) for kind, name in OUTPUT_SCHEMA]
    assert [name for name, _ in outputs] == PERSONALISE_COLUMNS


def test_personalise_signature_without_an_intent_model_is_user_id_and_optional_segment_features(
    parts,
):
    rule = personaliser(parts, threshold=None, without=("intent",))
    example = example_rows(request().assign(cutoff=1), rule, 3)
    assert list(example.columns) == ["user_id", *SEGMENT_FEATURES]
    inputs = personalise_signature(rule).inputs.inputs
    assert [(c.name, c.required) for c in inputs] == [
        ("user_id", True), ("f1", False), ("visits", False),
    ]  # fmt: skip


def test_example_rows_show_each_strategy_of_the_rule(parts):
    rule = personaliser(parts, threshold=None, without=("intent",))
    example = example_rows(request().assign(cutoff=1), rule, 3)
    strategies = rule.personalise(example, k=1)["strategy"].tolist()
    assert set(strategies) == {"personalised_no_intent", "popular"}  # the stranger is in


def test_example_rows_leave_out_users_with_a_null_the_intent_model_cannot_serve(parts):
    rule = personaliser(parts, threshold=0.5)
    table = request().assign(cutoff=1)
    table.loc[table["user_id"].isin(["u3", "u0"]), "f2"] = np.nan
    example = example_rows(table, rule, 5)
    assert example["user_id"].tolist() == ["stranger", "u5", "u1"]
    assert len(serve_request(rule, example)) > 0  # the example is a request that is served


def test_example_rows_without_feature_rows_are_the_users_the_recommender_knows(parts):
    rule = personaliser(parts, threshold=None, without=("intent", "segmenter"))
    empty = request().iloc[:0].assign(cutoff=1)  # the features stage skipped
    assert latest_users(empty, rule)["user_id"].tolist() == USERS
    example = example_rows(empty, rule, 2)
    assert example.columns.tolist() == ["user_id"] and example["user_id"].tolist() == USERS[:2]


# --- serve_request: what a served request must hold ---------------------------------------------


def test_a_served_request_is_the_rules_answer_with_the_requested_k(parts):
    rule = personaliser(parts, threshold=0.5)
    frame = request()
    pd.testing.assert_frame_equal(serve_request(rule, frame, {"k": 2}), rule.personalise(frame, 2))
    pd.testing.assert_frame_equal(serve_request(rule, frame), rule.personalise(frame, rule.k))


@pytest.mark.parametrize("k", [0, -3, 101, 100_000])
def test_a_served_request_refuses_k_outside_one_to_max_k(parts, k):
    rule = personaliser(parts, threshold=0.5)
    assert rule.max_k == 100
    with pytest.raises(InputError, match=f"k must be from 1 to 100 .*got {k}$"):
        serve_request(rule, request(), {"k": k})


def test_a_served_request_refuses_a_null_user_id(parts):
    frame = request()
    frame.loc[2, "user_id"] = None
    with pytest.raises(InputError, match=r"user_id is null in 1 row\(s\) .*rows \[2\]"):
        serve_request(personaliser(parts, threshold=0.5), frame)


def test_a_served_request_refuses_nulls_in_the_intent_models_required_columns(parts):
    frame = request()
    frame.loc[[1, 3], "f2"] = np.nan
    with pytest.raises(InputError, match=r"required column\(s\).*: f2 \(rows \[1, 3\]\)"):
        serve_request(personaliser(parts, threshold=0.5), frame)
    frame = request().assign(visits=np.nan)  # a segment feature only: the segmenter imputes
    assert len(serve_request(personaliser(parts, threshold=0.5), frame)) > 0
    # without an intent model the intent features are not needed, null or not
    rule = personaliser(parts, threshold=None, without=("intent",))
    assert len(serve_request(rule, request().assign(f2=np.nan), {"k": 1})) == 5
