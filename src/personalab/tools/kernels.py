"""The papermill engine the pipeline runs its notebooks with (``papermill ... --engine personalab``).

It is papermill's own nbclient engine with two changes. When a stage notebook completes, the
kernel that ran it attaches the executed copy and its HTML to the stage's MLflow run
(:class:`StageNotebookClient`). And the kernel talks to papermill over Unix
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
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import ensure_dir_exists
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.iorw import papermill_io
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args
from traitlets import CaselessStrEnum, Unicode, default

from personalab.core.paths import STAGES

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


def local_output(path: str | None) -> Path | None:
    """Where papermill writes a local output notebook: relative to the folder it started in (its
    ``--cwd`` moves the kernel, and the engine, only)."""
    if not path or "://" in path:
        return None
    started_in = getattr(papermill_io.get_handler("local"), "_cwd", None) or os.getcwd()
    return Path(started_in, path)


class StageNotebookClient(PapermillNotebookClient):
    """papermill's notebook client; once every cell of a stage notebook has run, the kernel that
    ran it attaches the finished copy (and its HTML) to the stage's MLflow run."""

    stage = Unicode(None, allow_none=True, help="the stage whose notebook this is").tag(config=True)

    def execute(self, **kwargs: Any) -> Any:
        self.reset_execution_trackers()
        with self.setup_kernel(**kwargs):
            self.papermill_execute_cells()
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            self.set_widgets_metadata()
            if self.stage and not self.nb.metadata.papermill.get("exception"):
                self.attach_to_stage_run()
        return self.nb

    def attach_to_stage_run(self) -> None:
        """Save the finished notebook, then have the kernel attach that file to the stage's run.

        The kernel holds MLflow and the tracking store open already: this takes about a second,
        where a process of its own took four. The call is a user expression (evaluated after
        empty code), so it runs in a skipped stage's notebook too, whose later cells run as
        nothing (:meth:`personalab.core.status.StageStatus.stop_notebook`).
        """
        manager = self.nb_man
        manager.notebook_complete()  # the final metadata (end time, duration), saved
        manager.notebook_complete = lambda **kwargs: None  # the file attached stays the file
        notebook = str(local_output(manager.output_path))
        call = f"attach_executed_notebook({self.stage!r}, notebook={notebook!r})"
        expression = f"__import__('personalab.core.tracking', fromlist=['_']).{call}"
        msg_id = self.kc.execute(
            "", silent=True, store_history=False, user_expressions={"attached": expression}
        )
        reply = self.wait_for_reply(msg_id)
        result = reply["content"]["user_expressions"]["attached"] if reply else None
        if result is None or result["status"] != "ok":
            why = f"{result['ename']}: {result['evalue']}" if result else "the kernel did not reply"
            raise RuntimeError(f"{notebook}: not attached to the {self.stage} run: {why}")


class SocketEngine(NBClientEngine):
    """papermill's nbclient engine, with kernels on Unix sockets (:class:`SocketKernelManager`);
    a stage notebook's executed copy (``NN_<stage>.ipynb``) is attached to the stage's MLflow
    run when every cell has run (:class:`StageNotebookClient`)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        # as papermill's NBClientEngine, with this module's kernel manager and client
        kwargs = remove_args(["input_path"], **kwargs)
        timeout = kwargs.pop("execution_timeout", None) or kwargs.get("timeout")
        start_timeout = kwargs.pop("start_timeout", 60)
        kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        kwargs.setdefault("kernel_manager_class", SocketKernelManager)
        output = local_output(nb_man.output_path)
        stage = next((s for s, name in STAGES.items() if output and output.stem == name), None)
        final = merge_kwargs(
            kwargs, timeout=timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
            log=logger, stage=stage,
        )  # fmt: skip
        return StageNotebookClient(nb_man, **final).execute()
