"""Unit tests of personalab.export.serving: the message cleaning on MLflow's own error shapes,
the guarded app in process on a tiny model (answers, body limit), and the server over HTTP."""

import asyncio
import http.client
import json
import os
import re
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from unittest import mock

import pytest

from personalab.export.serving import (
    MAX_MESSAGE_CHARS,
    GuardedApp,
    build_app,
    clean_message,
    error_answer,
    too_large_answer,
)

# MLflow 3.17's messages, as `mlflow models serve -m models/personalise` answers them
FRAME = (
    "   user_id  days_since_last_event  ...  engagement_score dominant_segment\n"
    "0  u000000              12.811706  ...          0.450020    deep_scroller\n\n"
    "[1 rows x 59 columns]"
)
PREDICT_ERROR = (
    f"Failed to predict data '{FRAME}'. \nError: k must be from 1 to 100 (the model's max_k), got 0"
)
SCHEMA_ERROR = (
    "Failed to predict data '   user_id\n0  u000000'. \nError: Failed to enforce schema of data "
    "'   user_id\n0  u000000' with schema '['user_id': string (required), "
    "'days_since_last_event': double (required), 'days_since_last_purchase': double (optional)]'"
    ". Error: Model is missing inputs ['days_since_last_event']."
)
PROTOCOL_ERROR = (
    "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split',"
    " 'inputs'}. Received dictionary with input fields: []. IMPORTANT: The MLflow Model scoring "
    "protocol has changed in MLflow version 2.0. If you are seeing this error, you are likely "
    "using an outdated scoring request format. For more information about the updated MLflow "
    "Model scoring protocol in MLflow 2.0, see "
    "https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)
JSON_ERROR = (
    "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'JSONDecodeError("
    "'Expecting property name enclosed in double quotes: line 1 column 2 (char 1)')'\n"
    "Input: \nb'{not json'\n"
)
PARQUET_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/work/main/.venv/lib/python3.11/site-packages/mlflow/pyfunc/scoring_server/'
    '__init__.py", line 234, in parse_parquet_input\n'
    "    return pd.read_parquet(parquet_input)\n"
    '  File "pyarrow/error.pxi", line 92, in pyarrow.lib.check_status\n'
    "pyarrow.lib.ArrowInvalid: Could not open Parquet input source '<Buffer>': Parquet file size"
    " is 2 bytes, smaller than the minimum file footer (8 bytes)\n"
)
PARQUET_ERROR = (
    "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid Parquet Pandas "
    "DataFrame produced using the `pandas.DataFrame.to_parquet()` method. Error: 'Could not open "
    "Parquet input source '<Buffer>': Parquet file size is 2 bytes, smaller than the minimum file "
    "footer (8 bytes)'"
)
UNEXPECTED_ERROR = (
    "Encountered an unexpected error while evaluating the model. Verify that the serialized input "
    "Dataframe is compatible with the model for inference."
)


def test_clean_message_keeps_the_models_own_message_out_of_the_frame_wrapper():
    assert clean_message(PREDICT_ERROR) == "k must be from 1 to 100 (the model's max_k), got 0"


def test_clean_message_keeps_the_schema_error_without_the_frame_or_the_schema():
    assert clean_message(SCHEMA_ERROR) == "Model is missing inputs ['days_since_last_event']."


def test_clean_message_drops_the_protocol_paragraph_and_the_echoed_input():
    assert clean_message(PROTOCOL_ERROR) == (
        "The input must be a JSON dictionary with exactly one of the input fields "
        "{'dataframe_split', 'inputs'}. Received dictionary with input fields: []."
    )
    cleaned = clean_message(JSON_ERROR)
    assert cleaned.endswith("line 1 column 2 (char 1)')'") and "not json" not in cleaned


def test_clean_message_reduces_paths_to_file_names_and_keeps_urls():
    message = (
        "cannot read /work/main/models/intent/MLmodel, file:///tmp/x/model.pkl or "
        "C:\\Users\\me\\model.pkl; see https://mlflow.org/docs/latest/models.html about /ping"
    )
    assert clean_message(message) == (
        "cannot read MLmodel, model.pkl or model.pkl; "
        "see https://mlflow.org/docs/latest/models.html about /ping"
    )


def test_clean_message_shortens_long_lists_and_caps_a_runaway_message():
    names = [f"column_{i}" for i in range(58)]
    cleaned = clean_message(f"Model is missing inputs {names}. Note: extra inputs ['zz'].")
    assert cleaned.startswith("Model is missing inputs ['column_0', 'column_1'")
    assert "'column_9', … 58 in all]. Note: extra inputs ['zz']." in cleaned
    assert "column_10" not in cleaned
    runaway = clean_message("word " * 1000)
    assert len(runaway) == MAX_MESSAGE_CHARS and runaway.endswith("…") and "\n" not in runaway
    assert clean_message("one\nline\n\n  only ") == "one line only"


def test_error_answer_drops_the_stack_trace_and_keeps_error_code():
    body = json.dumps(
        {"error_code": "BAD_REQUEST", "message": PARQUET_ERROR, "stack_trace": PARQUET_TRACE}
    )
    answer = error_answer(400, body.encode())
    assert answer == {"error_code": "BAD_REQUEST", "message": PARQUET_ERROR}  # cause included
    body = json.dumps(
        {
            "error_code": "BAD_REQUEST",
            "message": UNEXPECTED_ERROR,
            "stack_trace": (
                'Traceback (most recent call last):\n  File "/srv/app/model.py", line 3, in predict\n'
                "KeyError: 'no such column in /srv/app/data.csv'\n"
            ),
        }
    )
    message = error_answer(400, body.encode())["message"]
    assert message == f"{UNEXPECTED_ERROR} Cause: KeyError: 'no such column in data.csv'"


def test_error_answer_of_plain_text_and_fastapi_answers():
    text = "Unrecognized content type parameters: foo. " + PROTOCOL_ERROR.split(". ", 2)[-1]
    assert error_answer(415, text.encode()) == {  # MLflow's plain-text 415
        "error_code": "UNSUPPORTED_MEDIA_TYPE",
        "message": "Unrecognized content type parameters: foo.",
    }
    assert error_answer(405, b'{"detail":"Method Not Allowed"}') == {
        "error_code": "METHOD_NOT_ALLOWED",
        "message": "Method Not Allowed",
    }
    assert error_answer(504, b"Request processing time exceeded limit")["error_code"] == (
        "GATEWAY_TIMEOUT"
    )


def test_too_large_answer_names_the_size_and_the_limit():
    assert too_large_answer(62914560, 8 * 2**20)["message"] == (
        "the request body is 62914560 bytes; this server takes at most 8388608 bytes "
        "(--max-body-mb 8)"
    )
    assert "more than 1024 bytes" in too_large_answer(None, 1024)["message"]


# --- the app in process, on a tiny model saved from code --------------------------------------

MODEL_CODE = """
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel


class EchoModel(PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None):
        k = (params or {}).get("k", 1)
        if k == 0:
            raise MlflowException.invalid_parameter_value("k must be from 1 to 10, got 0")
        if k < 0:
            raise KeyError("no row -1")
        if k == 7:
            return [{"a set, not JSON"}]
        return model_input


mlflow.models.set_model(EchoModel())
"""
LIMIT = 4096
JSON = {"Content-Type": "application/json"}
ROWS = {"dataframe_split": {"columns": ["user_id", "x"], "data": [["u1", 1.5], ["u2", 2.0]]}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    root = tmp_path_factory.mktemp("serving")
    code = root / "echo_model.py"
    code.write_text(MODEL_CODE)
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "user_id"), ColSpec("double", "x")]),
        params=ParamSchema([ParamSpec("k", "long", 1)]),
    )
    folder = root / "echo"
    with warnings.catch_warnings():  # a tiny model: no input example
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(
            str(folder), python_model=str(code), signature=signature, pip_requirements=["mlflow"]
        )
    return folder


@pytest.fixture(scope="module")
def apps(tiny_model):
    """The guarded app and MLflow's own app for the same model (init sets an env variable)."""
    from mlflow.pyfunc import load_model
    from mlflow.pyfunc.scoring_server import init

    with mock.patch.dict(os.environ):
        yield build_app(tiny_model, LIMIT), init(load_model(str(tiny_model)))


def call(app, *requests):
    """(status, body) of each request (method, path, body or chunks, headers) sent to ``app``."""
    import httpx

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = []
            for method, path, body, headers in requests:
                response = await client.request(method, path, content=body, headers=headers)
                answers.append((response.status_code, response.content))
            return answers

    return asyncio.run(run())


def post(app, body, headers=JSON):
    body = json.dumps(body).encode() if isinstance(body, dict) else body
    return call(app, ("POST", "/invocations", body, headers))[0]


def one_line(status_body):
    status, body = status_body
    assert b"\n" not in body and b"stack_trace" not in body, body
    assert not re.search(rb"/[\w.-]+/", body), body  # no path
    return status, json.loads(body)


def test_a_prediction_passes_through_byte_identical(apps):
    guarded, plain = apps
    requests = [
        ("POST", "/invocations", json.dumps({**ROWS, "params": {"k": 2}}).encode(), JSON),
        ("GET", "/ping", None, {}),
        ("GET", "/version", None, {}),
    ]
    answers = call(guarded, *requests)
    assert answers == call(plain, *requests)
    assert json.loads(answers[0][1])["predictions"][1] == {"user_id": "u2", "x": 2.0}


def test_a_schema_error_names_the_missing_column_in_one_line(apps):
    missing = {"dataframe_split": {"columns": ["user_id"], "data": [["u1"]]}}
    status, answer = one_line(post(apps[0], missing))
    assert status == 400 and answer["message"] == "Model is missing inputs ['x']."
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_models_own_error_is_its_message_only(apps):
    status, answer = one_line(post(apps[0], {**ROWS, "params": {"k": 0}}))
    assert (status, answer["message"]) == (400, "k must be from 1 to 10, got 0")
    status, answer = one_line(post(apps[0], {**ROWS, "params": {"k": -1}}))
    assert status == 400 and answer["message"].endswith("Cause: KeyError: 'no row -1'")


def test_an_error_after_predicting_is_a_one_line_500_and_one_log_line(apps, caplog):
    status, answer = one_line(post(apps[0], {**ROWS, "params": {"k": 7}}))
    assert (status, answer) == (
        500,
        {"error_code": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error"},
    )
    assert "failed: TypeError: Object of type set is not JSON serializable" in caplog.text
    assert "Traceback" not in caplog.text


def test_bad_json_csv_and_content_types_get_one_line(apps):
    status, answer = one_line(post(apps[0], b"{not json"))
    assert (
        status == 400 and "valid JSON" in answer["message"] and "not json" not in answer["message"]
    )
    status, answer = one_line(post(apps[0], b'user_id,x\n"u1,2\n', {"Content-Type": "text/csv"}))
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert answer["message"].endswith(
        "Error: 'Error tokenizing data. C error: EOF inside string starting at row 1'"
    )
    status, answer = one_line(post(apps[0], b"x", {"Content-Type": "text/xml"}))
    assert (status, answer["error_code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    status, answer = one_line(post(apps[0], b"x", {}))
    assert status == 415 and "no Content-Type header" in answer["message"]


def test_an_oversize_content_length_is_refused_without_reading_the_body(apps):
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/invocations",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"62914560")],
    }
    sent = []

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    asyncio.run(apps[0](scope, receive, send))
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]
    answer = json.loads(sent[1]["body"])
    assert answer["error_code"] == "REQUEST_TOO_LARGE" and "62914560 bytes" in answer["message"]
    status, _ = post(apps[0], b" " * (LIMIT + 1))
    assert status == 413


def test_an_oversize_chunked_body_is_refused_once_over_the_limit(apps):
    read = []

    async def chunks():
        for _ in range(100):
            read.append(1)
            yield b" " * 1024

    status, body = post(apps[0], chunks())
    assert status == 413 and "more than 4096 bytes" in json.loads(body)["message"]
    assert len(read) < 10  # refused when over the limit, not after the whole body
    status, _ = post(apps[0], {**ROWS, "params": {"k": 1}})
    assert status == 200


def test_guarded_app_passes_lifespan_and_other_scopes_to_mlflows_app():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    asyncio.run(GuardedApp(app, 10)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


@pytest.mark.slow
def test_the_guarded_server_over_http(tiny_model):
    from personalab.tools.server import model_server

    with model_server(tiny_model, guarded=True, max_body_mb=LIMIT / 2**20, timeout=60) as url:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("POST", "/invocations")  # headers only: the body never comes
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(60 * 2**20))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413 and b"62914560 bytes" in response.read()
        request = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps({**ROWS, "params": {"k": 0}}).encode(),
            headers=JSON,
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        body = refused.value.read()
        assert refused.value.code == 400 and b"\n" not in body
        assert json.loads(body)["message"] == "k must be from 1 to 10, got 0"


def test_the_socket_shared_with_workers_is_marked_tcp_so_answers_are_not_delayed():
    """uvicorn binds the workers' socket with proto 0; asyncio then leaves Nagle's algorithm on
    for every accepted connection (each kept-alive answer ~40 ms late). tcp_socket marks it TCP:
    an accepted connection reports IPPROTO_TCP, the bound address and fd are kept."""
    import socket

    from personalab.export.serving import tcp_socket

    bound = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
    bound.bind(("127.0.0.1", 0))
    address, fd = bound.getsockname(), bound.fileno()
    assert bound.proto == 0
    sock = tcp_socket(bound)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.fileno() == fd
        assert sock.getsockname() == address and sock.get_inheritable()
        sock.listen()
        with socket.create_connection(address):
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
        assert tcp_socket(sock) is sock  # already TCP: as it is
    finally:
        sock.close()
