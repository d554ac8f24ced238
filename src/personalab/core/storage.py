"""Atomic file output: write to a temporary name beside the target, then rename.

A stage killed half-way never leaves a file that looks complete. Files and folders get the
modes the user's umask gives (as ``open`` would), not the private ones temporary names start with.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a fresh (not yet existing) folder path beside ``path``; on success it replaces ``path``.

    The old folder is removed only once the new one is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp_path.rmdir()  # writers such as mlflow.save_model want to create the folder themselves
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o777 & ~_umask())
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` to Parquet atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` to CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def write_text(text: str, path: Path | str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj: Any, path: Path | str) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    return write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", path)


def write_metrics(metrics: Mapping[str, Any], path: Path | str) -> Path:
    """Write a flat metrics dict: numbers and strings (and lists of strings, such as the stage's
    ``notes``; ``dvc metrics show`` leaves those out), NaN as null."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            flat[key] = list(value)
            continue
        if isinstance(value, Mapping | list | tuple):
            raise TypeError(f"metric {key!r} is not flat: {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        flat[key] = _json_default(value) if hasattr(value, "item") else value
    return write_json(flat, path)


def save_figure(fig: Any, path: Path | str, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
