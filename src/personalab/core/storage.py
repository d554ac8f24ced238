"""Atomic file output: write to a temporary name beside the target, then rename.

A stage killed half-way never leaves a file that looks complete. Files and folders get the
modes the user's umask gives (as ``open`` would), not the private ones temporary names start with.

Same inputs, same bytes: the report files a reviewer versions (metrics JSON, CSV) keep floats to
:data:`SIGNIFICANT_DIGITS` significant digits, below which a re-run's summation order (threads,
BLAS) only adds noise, and :func:`pin_model_metadata` makes an MLflow model folder a function of
its content (no creation time, no random id, no temporary path).
"""

from __future__ import annotations

import hashlib
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


#: significant digits of the floats in versioned report files (far beyond any figure read, far
#: above the ~1e-15 relative noise of a different summation order)
SIGNIFICANT_DIGITS = 10


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits (NaN, infinities and zero unchanged)."""
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def round_frame(frame: pd.DataFrame, digits: int = SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """A copy with every float64 column to ``digits`` significant digits (float32 columns
    already hold fewer)."""
    floats = [name for name, dtype in frame.dtypes.items() if dtype == "float64"]
    if not floats:
        return frame
    return frame.assign(
        **{name: frame[name].map(lambda v: round_significant(v, digits)) for name in floats}
    )


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` to CSV atomically (no index), floats to :data:`SIGNIFICANT_DIGITS`."""
    with atomic_path(path) as tmp:
        round_frame(frame).to_csv(tmp, index=False)
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
    ``notes``; ``dvc metrics show`` leaves those out), NaN as null, floats to
    :data:`SIGNIFICANT_DIGITS` significant digits."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            flat[key] = list(value)
            continue
        if isinstance(value, Mapping | list | tuple):
            raise TypeError(f"metric {key!r} is not flat: {type(value).__name__}")
        value = _json_default(value) if hasattr(value, "item") else value  # numpy scalars
        if isinstance(value, float):
            value = round_significant(value) if math.isfinite(value) else None
        flat[key] = value
    return write_json(flat, path)


def save_figure(fig: Any, path: Path | str, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def pin_model_metadata(folder: Path | str) -> Path:
    """Make the MLflow model in ``folder`` a function of its content, so the same model saved
    twice gives the same bytes (and DVC the same hash).

    In its ``MLmodel``: the save time is dropped (MLflow reads the time of loading instead; the
    MLflow run that logs the model keeps when it was made), ``model_uuid`` becomes a digest of
    the folder's files and of the rest of ``MLmodel``, and each pyfunc artifact's ``uri`` (the
    temporary file it was copied from) becomes its ``path`` in the folder. A folder without
    ``MLmodel`` (a skipped stage's marker) is left as it is.
    """
    import yaml

    folder = Path(folder)
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        return folder
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    spec.pop("utc_time_created", None)
    for flavor in spec.get("flavors", {}).values():
        if flavor.get("model_code_path"):  # a model from code: MLflow loads it by file name
            flavor["model_code_path"] = Path(flavor["model_code_path"]).name
        for artifact in (flavor.get("artifacts") or {}).values():
            if isinstance(artifact, dict) and "path" in artifact:
                artifact["uri"] = artifact["path"]
    spec.pop("model_uuid", None)
    digest = hashlib.md5(yaml.safe_dump(spec, default_flow_style=False).encode())
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p != mlmodel):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_file_digest(file) + b"\0")
    spec["model_uuid"] = digest.hexdigest()
    text = yaml.safe_dump(spec, default_flow_style=False)  # as MLflow writes it
    with atomic_path(mlmodel) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return folder


def _file_digest(path: Path, chunk_size: int = 1 << 20) -> bytes:
    """The MD5 digest of a file's bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest().encode()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
