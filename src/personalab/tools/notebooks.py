"""The form stage notebooks are kept in: Jupyter's own JSON without outputs, execution counts
or the kernel's ``language_info``, so opening a notebook in ``make lab`` and letting it autosave
changes no byte and does not make DVC re-run the stage.

``make lab`` loads :data:`CONFIG` (``jupyter lab --config=...``), which installs
:func:`strip_before_save` as the contents manager's pre-save hook for the notebooks under
``notebooks/``. Executed copies, with their outputs, are written by papermill to
``reports/executed/`` and attached to each stage's MLflow run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the Jupyter server config ``make lab`` passes (``--config``)
CONFIG = Path(__file__).with_name("jupyter_server_config.py")
#: the notebook metadata kept: what the committed notebooks hold
KEPT_METADATA = {"language_info": {"name": "python"}}


def strip_notebook(nb: Any) -> Any:
    """Drop outputs, execution counts and kernel-reported metadata from ``nb`` (in place)."""
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        metadata = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled"):
            metadata.pop(key, None)
    metadata = nb.setdefault("metadata", {})
    metadata.update({key: dict(value) for key, value in KEPT_METADATA.items()})
    metadata.pop("widgets", None)
    return nb


def strip_before_save(model: dict, path: str, **_: Any) -> None:
    """Jupyter's pre-save hook: a notebook under ``notebooks/`` is saved in its kept form."""
    if model.get("type") != "notebook" or not str(path).startswith("notebooks/"):
        return
    strip_notebook(model["content"])
