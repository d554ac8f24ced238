"""Unit tests of personalab.export.pyfunc: the personalise model's signature and example."""

from personalab.export.pyfunc import example_rows, latest_users, personalise_signature
from tests.unit.export.helpers import (
    INTENT_FEATURES,
    SEGMENT_FEATURES,
    USERS,
    personaliser,
    request,
)


def test_personalise_signature_is_user_id_intent_features_then_optional_segment_features(parts):
    rule = personaliser(parts, threshold=0.5)
    signature = personalise_signature(rule, request().head(2))
    inputs = signature.inputs.inputs
    assert [c.name for c in inputs] == ["user_id", *INTENT_FEATURES, "visits"]
    assert (inputs[0].type.name, inputs[0].required) == ("string", True)
    assert (inputs[-1].type.name, inputs[-1].required) == ("double", False)  # imputed if absent
    assert signature.params.to_dict() == [
        {"name": "k", "type": "long", "default": rule.k, "shape": None}
    ]


def test_personalise_signature_without_an_intent_model_is_user_id_and_optional_segment_features(
    parts,
):
    rule = personaliser(parts, threshold=None, without=("intent",))
    example = example_rows(request().assign(cutoff=1), rule, 3)
    assert list(example.columns) == ["user_id", *SEGMENT_FEATURES]
    inputs = personalise_signature(rule, example).inputs.inputs
    assert [(c.name, c.required) for c in inputs] == [
        ("user_id", True), ("f1", False), ("visits", False),
    ]  # fmt: skip


def test_example_rows_show_each_strategy_of_the_rule(parts):
    rule = personaliser(parts, threshold=None, without=("intent",))
    example = example_rows(request().assign(cutoff=1), rule, 3)
    strategies = rule.personalise(example, k=1)["strategy"].tolist()
    assert set(strategies) == {"personalised_no_intent", "popular"}  # the stranger is in


def test_example_rows_without_feature_rows_are_the_users_the_recommender_knows(parts):
    rule = personaliser(parts, threshold=None, without=("intent", "segmenter"))
    empty = request().iloc[:0].assign(cutoff=1)  # the features stage skipped
    assert latest_users(empty, rule)["user_id"].tolist() == USERS
    example = example_rows(empty, rule, 2)
    assert example.columns.tolist() == ["user_id"] and example["user_id"].tolist() == USERS[:2]
