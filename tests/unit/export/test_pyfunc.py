"""Unit tests of personalab.export.pyfunc: the personalise model's signature."""

from personalab.export.pyfunc import personalise_signature
from tests.unit.export.helpers import INTENT_FEATURES, personaliser, request


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
