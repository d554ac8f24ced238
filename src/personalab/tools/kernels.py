"""The papermill engine the pipeline runs its notebooks with (``papermill ... --engine personalab``).

It is papermill's own nbclient engine with one change: the kernel talks to papermill over Unix
sockets (ZeroMQ's ``ipc`` transport) instead of TCP ports on 127.0.0.1. Over TCP, Jupyter picks
five free ports, releases them and starts the kernel, which binds them a second or two later; any
process on the machine that opens a connection in between can take one of them, and the kernel
dies with "Address already in use" ("Kernel died before replying to kernel_info"). Busy machines
(tests in parallel, a model server answering requests) met this now and then. Socket files have
no such window: each kernel's files are named after its own connection file, in Jupyter's
private runtime directory, and are removed when the kernel shuts down.

Registered in ``pyproject.toml`` under the ``papermill.engine`` entry points. Executing a notebook
gives the same outputs with either transport; JupyterLab (``make lab``) keeps Jupyter's defaults.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import ensure_dir_exists
from papermill.engines import NBClientEngine
from traitlets import CaselessStrEnum, default

#: a Unix socket path must fit in ``sockaddr_un`` (108 bytes on Linux, 104 on macOS); the
#: sockets are named ``<connection file without .json>-ipc-<n>``
MAX_SOCKET_PREFIX = 90


class SocketKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels listen on Unix sockets rather than TCP ports.

    Its connection file (and so the sockets beside it, ``kernel-<id>-ipc-<n>``) lives in
    Jupyter's runtime directory, as a notebook server's kernels' do; where that path is too long
    for a socket, in the temporary directory.
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("connection_file")
    def _connection_file_in_runtime_dir(self) -> str:
        folder = jupyter_runtime_dir()
        name = f"kernel-{uuid.uuid4()}.json"
        if len(os.path.join(folder, name).encode()) > MAX_SOCKET_PREFIX:
            folder = tempfile.gettempdir()
        ensure_dir_exists(folder, mode=0o700)
        return os.path.join(folder, name)


class SocketEngine(NBClientEngine):
    """papermill's nbclient engine, starting its kernels with :class:`SocketKernelManager`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("kernel_manager_class", SocketKernelManager)
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
