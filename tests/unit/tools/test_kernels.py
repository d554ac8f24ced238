"""The pipeline's papermill engine: kernels on Unix sockets, started through papermill's CLI."""

import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_client.provisioning import LocalProvisioner

from personalab.tools.kernels import MAX_SOCKET_PREFIX, SocketKernelManager
from tests.conftest import tool_env

pytestmark = [pytest.mark.notebook]

#: the cell prints the connection the kernel was started with
CONNECTION = (
    "import ipykernel, json\n"
    "info = json.load(open(ipykernel.get_connection_file()))\n"
    "print(json.dumps({key: info[key] for key in ('transport', 'ip', 'shell_port')}))"
)


def run(tmp_path: Path, runtime: Path, *engine: str) -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CONNECTION)])
    nbformat.write(nb, tmp_path / "in.ipynb")
    env = {**tool_env(), "JUPYTER_RUNTIME_DIR": str(runtime)}
    cmd = ["papermill", "in.ipynb", "out.ipynb", "-k", "personalab", "--no-progress-bar", *engine]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    return json.loads(out[0]["text"])


def test_the_engine_starts_kernels_on_unix_sockets_in_the_runtime_dir_and_removes_them(tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="rt-"))  # short enough for a socket path
    info = run(tmp_path, runtime, "--engine", "personalab")
    leftovers = list(runtime.iterdir())
    shutil.rmtree(runtime)
    assert not leftovers, "the connection file and the sockets are removed at shutdown"
    assert info["transport"] == "ipc"
    assert Path(info["ip"]).parent == runtime and Path(info["ip"]).name.startswith("kernel-")


def test_papermill_s_default_engine_binds_tcp_ports(tmp_path):
    """What the engine changes: without it the kernel binds TCP ports papermill chose for it."""
    info = run(tmp_path, tmp_path / "runtime")
    assert info["transport"] == "tcp" and info["shell_port"] > 0


def test_a_runtime_dir_too_deep_for_a_socket_path_falls_back_to_the_temporary_dir(tmp_path):
    runtime = tmp_path / ("d" * 60) / ("e" * 60)
    info = run(tmp_path, runtime, "--engine", "personalab")
    assert info["transport"] == "ipc"
    assert len(info["ip"].encode()) + len("-ipc-5") < 104
    assert not info["ip"].startswith(str(runtime))


@pytest.fixture
def ports_taken_before_the_kernel_binds(monkeypatch):
    """Replay the race: between Jupyter choosing a kernel's TCP ports and the kernel binding
    them, another process listens on the shell port."""
    launch = LocalProvisioner.launch_kernel
    taken: list[socket.socket] = []

    async def launch_after_the_port_is_taken(self, cmd, **kwargs):
        info = self.connection_info
        if info["transport"] == "tcp":
            sock = socket.socket()
            sock.bind((info["ip"], info["shell_port"]))
            sock.listen()
            taken.append(sock)
        return await launch(self, cmd, **kwargs)

    monkeypatch.setattr(LocalProvisioner, "launch_kernel", launch_after_the_port_is_taken)
    yield taken
    for sock in taken:
        sock.close()


def execute(tmp_path: Path, engine: str | None) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(
        str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="personalab",
        engine_name=engine, progress_bar=False, start_timeout=60,
    )  # fmt: skip


def test_a_port_taken_at_start_kills_a_tcp_kernel(tmp_path, ports_taken_before_the_kernel_binds):
    with pytest.raises(RuntimeError, match="Kernel died before replying"):
        execute(tmp_path, None)
    assert ports_taken_before_the_kernel_binds


def test_the_engine_s_kernels_have_no_port_to_lose(tmp_path, ports_taken_before_the_kernel_binds):
    execute(tmp_path, "personalab")
    assert not ports_taken_before_the_kernel_binds
    manager = SocketKernelManager()
    assert manager.transport == "ipc" and not manager.cache_ports
    assert len(manager.connection_file.encode()) <= MAX_SOCKET_PREFIX
