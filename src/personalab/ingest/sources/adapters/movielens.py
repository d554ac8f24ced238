"""MovieLens ``u.data`` (tab-separated), ``ratings.dat`` (``::``) or ``ratings.csv``; each
rating becomes a ``rate`` event."""

from __future__ import annotations

from pathlib import Path

from personalab.ingest.sources.adapters._common import require_columns
from personalab.ingest.sources.base import RawEvents, SourceError
from personalab.ingest.sources.files import map_columns, read_files

_MOVIELENS_FILES = ("ratings.csv", "ratings.dat", "u.data")


def read_movielens(path: Path) -> RawEvents:
    if path.is_dir():
        found = [path / name for name in _MOVIELENS_FILES if (path / name).is_file()]
        if not found:
            raise SourceError(f"{path}: no MovieLens ratings file ({', '.join(_MOVIELENS_FILES)})")
        path = found[0]
    names = ["user_id", "item_id", "rating", "timestamp"]
    dtypes = {"user_id": "string", "item_id": "string"}
    if path.name.endswith(".dat"):
        # "1::1193::5::978300760": split on ':' with the fast parser, keep every other field
        frame = read_files(path, "csv", sep=":", header=None, dtype="string")
        if frame.shape[1] != 9:  # 7 fields + _file + _row
            raise SourceError(
                f"{path}: not a MovieLens ratings.dat file (expected UserID::MovieID::Rating::Timestamp)"
            )
        frame = frame[[0, 2, 4, 6, "_file", "_row"]].set_axis([*names, "_file", "_row"], axis=1)
    elif path.name.endswith(".csv"):
        frame = read_files(path, "csv", dtype={"userId": "string", "movieId": "string"})
        require_columns(frame, ("userId", "movieId", "rating", "timestamp"), str(path), "movielens")
        frame = frame.rename(columns={"userId": "user_id", "movieId": "item_id"})
    else:  # u.data: user item rating timestamp, tab-separated, no header
        frame = read_files(path, "csv", sep="\t", header=None, names=names, dtype=dtypes)
    frame["event_type"] = "rate"
    return RawEvents(
        frame=map_columns(frame, {}, str(path)), description=f"movielens {path}", timestamp_unit="s"
    )
