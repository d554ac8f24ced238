"""Adapters for well-known public formats: each reads its files into :class:`RawEvents` with
canonical columns, and may flag rows it rejects itself in ``REJECT_COLUMN``. Each module's
docstring states the files, columns, units and every assumption it makes. Register a new one
in :data:`ADAPTER_READERS`: ``FORMATS`` (``source.format``) follows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from personalab.ingest.sources.adapters.cdnow import read_cdnow
from personalab.ingest.sources.adapters.diginetica import read_diginetica
from personalab.ingest.sources.adapters.instacart import read_instacart
from personalab.ingest.sources.adapters.movielens import read_movielens
from personalab.ingest.sources.adapters.online_retail import read_online_retail
from personalab.ingest.sources.adapters.rees46 import read_rees46
from personalab.ingest.sources.adapters.retailrocket import read_retailrocket
from personalab.ingest.sources.adapters.taobao import read_taobao
from personalab.ingest.sources.adapters.yoochoose import read_yoochoose
from personalab.ingest.sources.base import RawEvents

ADAPTER_READERS: dict[str, Callable[[Path], RawEvents]] = {
    "retailrocket": read_retailrocket,
    "rees46": read_rees46,
    "movielens": read_movielens,
    "online_retail": read_online_retail,
    "yoochoose": read_yoochoose,
    "diginetica": read_diginetica,
    "instacart": read_instacart,
    "cdnow": read_cdnow,
    "taobao": read_taobao,
}
ADAPTERS = tuple(ADAPTER_READERS)
