"""Starting a server on a port of our choosing: a port taken before the server binds it."""

import socket
import sys
import urllib.request

import pytest

from personalab.tools import server
from personalab.tools.server import ModelServerError, _running

#: a tiny HTTP server answering 200 on every path, on the port passed as ``--port <n>``
SERVE = (
    "import sys, http.server\n"
    "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
    "http.server.HTTPServer(('127.0.0.1', port), http.server.SimpleHTTPRequestHandler)"
    ".serve_forever()\n"
)


@pytest.fixture
def taken():
    """A port some other process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def start(tmp_path, port=None):
    cmd = [sys.executable, "-c", SERVE]
    return _running(cmd, "test server", "127.0.0.1", port, "/", 30, ModelServerError, cwd=tmp_path)


def test_a_chosen_port_taken_before_the_server_binds_it_is_replaced(tmp_path, taken, monkeypatch):
    free = iter([taken, server.free_port()])
    monkeypatch.setattr(server, "free_port", lambda host: next(free))
    with start(tmp_path) as url:
        assert not url.endswith(f":{taken}")
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200


def test_a_port_the_caller_named_is_not_replaced_and_the_error_shows_the_server_log(
    tmp_path, taken
):
    error = "(?s)test server exited.*Address already in use"
    with pytest.raises(ModelServerError, match=error), start(tmp_path, port=taken):
        pass


def test_a_port_taken_at_every_attempt_stops_after_the_last_attempt(tmp_path, taken, monkeypatch):
    chosen = []
    monkeypatch.setattr(server, "free_port", lambda host: chosen.append(taken) or taken)
    with pytest.raises(ModelServerError, match="Address already in use"), start(tmp_path):
        pass
    assert len(chosen) == server.PORT_ATTEMPTS


def test_the_server_is_stopped_on_exit(tmp_path):
    with start(tmp_path) as url:
        pass
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
