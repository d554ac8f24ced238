"""Stage notebooks are kept in the form Jupyter saves them (:mod:`personalab.tools.notebooks`):
a save from JupyterLab (with outputs, execution counts and the kernel's language_info, through
a real Jupyter server configured as ``make lab`` configures it) writes the committed bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request

import nbformat
import pytest

from personalab.tools.notebooks import CONFIG, strip_notebook
from personalab.tools.server import free_port
from tests.conftest import ROOT, tool_env

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LANGUAGE_INFO = {  # what the python kernel reports, and JupyterLab puts in the notebook
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.9",
}


def as_run_in_lab(nb: dict) -> dict:
    """The notebook JupyterLab sends on autosave after running every cell."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"]["language_info"] = LANGUAGE_INFO
    for count, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = count + 1
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["ran\n"]}]
        cell["metadata"]["scrolled"] = True
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_are_in_the_kept_form(path):
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    assert nbformat.writes(strip_notebook(nb)) + "\n" == raw
    ran = nbformat.from_dict(as_run_in_lab(json.loads(raw)))
    assert nbformat.writes(strip_notebook(ran)) + "\n" == raw


@pytest.mark.slow
def test_a_jupyterlab_autosave_changes_no_byte(tmp_path):
    for path in NOTEBOOKS:
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    (tmp_path / "scratch.ipynb").write_text(NOTEBOOKS[0].read_text())
    port, token = free_port(), "personalab-test"
    cmd = ["jupyter", "server", f"--config={CONFIG}", f"--ServerApp.root_dir={tmp_path}",
           f"--port={port}", f"--IdentityProvider.token={token}", "--no-browser",
           *(["--allow-root"] if os.geteuid() == 0 else [])]  # fmt: skip
    server = subprocess.Popen(
        cmd, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base, headers = f"http://127.0.0.1:{port}/api/contents", {"Authorization": f"token {token}"}

    def put(rel: str, content: dict) -> None:
        body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
        request = urllib.request.Request(f"{base}/{rel}", body, headers, method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 201)

    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(urllib.request.Request(base, headers=headers), timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.25)
        for path in NOTEBOOKS:
            put(f"notebooks/{path.name}", as_run_in_lab(json.loads(path.read_text())))
            assert (tmp_path / "notebooks" / path.name).read_bytes() == path.read_bytes(), path
        put("scratch.ipynb", as_run_in_lab(json.loads(NOTEBOOKS[0].read_text())))
        kept = json.loads((tmp_path / "scratch.ipynb").read_text())  # outside notebooks/
        assert kept["cells"][1]["outputs"], "only stage notebooks are stripped"
    finally:
        server.terminate()
        server.wait(timeout=30)
