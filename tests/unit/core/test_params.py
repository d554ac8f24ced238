import pytest

from personalab.core.params import ParamsError, flatten
from personalab.core.paths import project_paths
from personalab.ingest import IngestParams


def test_params_file_holds_the_defaults():
    params = IngestParams.from_yaml(project_paths().params_file("ingest"))
    assert params == IngestParams()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sesion_gap_minutes": 20}, r"sesion_gap_minutes: unknown key"),
        ({"session_gap_minutes": "soon"}, r"session_gap_minutes: Input should be a valid number"),
        ({"session_gap_minutes": -5}, r"session_gap_minutes: Input should be greater than 0"),
        (
            {"max_quarantine_rate": 1.5},
            r"max_quarantine_rate: Input should be less than or equal to 1",
        ),
        ({"late_events": "drop"}, r"late_events: Input should be 'keep' or 'quarantine'"),
        ({"source": {"format": "xml"}}, r"source.format: Input should be"),
        ({"source": {"colums": {}}}, r"source.colums: unknown key"),
        (
            {"synthetic": {"n_users": 0}},
            r"synthetic.n_users: Input should be greater than or equal to 1",
        ),
        ({"bots": {"zero_dwell_share": 0}}, r"bots.zero_dwell_share"),
        ({"rating_range": [5, 1]}, r"rating_range must be \[low, high\]"),
    ],
)
def test_bad_values_name_the_key(values, message):
    with pytest.raises(ParamsError, match=message) as info:
        IngestParams.from_mapping(values, source="params/ingest.yaml")
    assert str(info.value).startswith("params/ingest.yaml: invalid parameters")


def test_yaml_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ParamsError, match="nope.yaml: params file not found"):
        IngestParams.from_yaml(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("source: [unclosed\n")
    with pytest.raises(ParamsError, match="broken.yaml: not valid YAML"):
        IngestParams.from_yaml(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        IngestParams.from_yaml(listing)


def test_from_namespace_takes_plain_globals_and_reports_injected_typos():
    import math

    namespace = {"session_gap_minutes": 10.0, "math": math, "In": [], "_hidden": 1, "fn": print}
    assert IngestParams.from_namespace(namespace).session_gap_minutes == 10.0
    with pytest.raises(ParamsError, match="sesion_gap: unknown key"):
        IngestParams.from_namespace({**namespace, "sesion_gap": 5})


def test_flat_params_for_mlflow():
    flat = IngestParams().flat()
    assert flat["source.format"] == "synthetic"
    assert flat["bots.max_events_per_minute"] == 40
    assert flat["source.columns"] == {}
    assert flatten({"a": {"b": {"c": 1}}, "d": [1, 2]}) == {"a.b.c": 1, "d": [1, 2]}


def test_every_line_names_the_params_file_and_a_notebook_run_names_the_stage_file():
    from personalab.intent.params import IntentParams

    with pytest.raises(ParamsError) as info:
        IngestParams.from_namespace({"session_gap_minutes": -5, "source": {"sep": ";;"}})
    lines = str(info.value).splitlines()
    assert lines[0] == "params/ingest.yaml: invalid parameters"
    assert (
        "params/ingest.yaml: session_gap_minutes: Input should be greater than 0 (got -5)" in lines
    )
    assert any(line.startswith("params/ingest.yaml: source.sep: one character") for line in lines)
    assert all(line.startswith("params/ingest.yaml: ") for line in lines)
    with pytest.raises(ParamsError, match=r"^params/intent.yaml: invalid parameters"):
        IntentParams.from_namespace({"colour": "red"})


def test_a_cross_field_check_names_its_keys_not_the_whole_section():
    with pytest.raises(ParamsError) as info:
        IngestParams.from_mapping(
            {"source": {"format": "csv", "header": False, "columns": {"a": "user_id"}}},
            source="params/ingest.yaml",
        )
    message = str(info.value)
    assert message.splitlines()[-1] == (
        "params/ingest.yaml: source.names: header is false, so name the file's columns in names"
    )
    assert "'columns'" not in message and "{" not in message  # no dump of the section
