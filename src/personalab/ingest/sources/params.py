"""The ``source`` section of ``params/ingest.yaml``: where the events come from, how the file is
read, how its columns map to canonical ones, and how its timestamps and identity are read."""

from __future__ import annotations

import codecs
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalab.ingest.sources.base import FILE_FORMATS, as_text
from personalab.ingest.sources.read import FORMATS

#: ``sep`` for runs of spaces or tabs (whitespace-separated ledgers)
WHITESPACE = "whitespace"


class SourceParams(BaseModel):
    """Where the events come from and how to map them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[FORMATS] = "synthetic"  # type: ignore[valid-type]
    path: str = Field("data/raw", description="file or folder; ignored for synthetic")
    # reading a text file (csv/tsv/txt/dat)
    sep: str | None = None  # null: sniffed; one character such as ";" or "\t"; or "whitespace"
    header: bool = True  # false: the first line is data, and `names` names the columns
    names: list[str] | None = None
    encoding: str = "utf-8"
    # mapping
    query: str | None = (
        None  # one DuckDB SELECT over the file(s) as `raw`, yielding canonical columns
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="file column -> canonical column"
    )
    constants: dict[str, Any] = Field(
        default_factory=dict, description="canonical column -> constant value"
    )
    event_types: dict[str, str] = Field(
        default_factory=dict, description="source event name -> canonical"
    )
    identity: Literal["auto", "user", "session"] = "auto"
    # time
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    timestamp_format: str | None = None
    timezone: str = "UTC"
    arrival_ordered: bool = False  # rows are in the order they arrived (late events measurable)

    @field_validator("columns", "event_types", mode="before")
    @classmethod
    def _keys_as_text(cls, mapping: Any) -> Any:
        """Keys YAML reads as numbers name text: ``event_types: {0: click, 1: add_to_cart}``
        maps the codes of a column such as Tmall's ``action_type`` (read as text, ``"0"``)."""
        if not isinstance(mapping, dict):
            return mapping
        return {as_text(key): value for key, value in mapping.items()}

    @field_validator("sep")
    @classmethod
    def _one_character_or_whitespace(cls, sep: str | None) -> str | None:
        if sep is not None and sep != WHITESPACE and len(sep) != 1:
            raise ValueError(f'one character such as ";" or "\\t", or {WHITESPACE!r}')
        return sep

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError("unknown encoding (e.g. utf-8, latin-1, cp1252)") from None
        return encoding

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "unknown time zone (an IANA name such as UTC or Europe/London)"
            ) from None
        return timezone

    @field_validator("query")
    @classmethod
    def _a_query_is_text(cls, query: str | None) -> str | None:
        if query is not None and not query.strip():
            raise ValueError("empty query; give one SELECT over `raw`, or null")
        return query

    @model_validator(mode="after")
    def _names_go_with_no_header(self) -> SourceParams:
        if not self.header and not self.names:
            raise ValueError("source.names: header is false, so name the file's columns in names")
        if self.header and self.names:
            raise ValueError("source.names: only with header: false (the header names columns)")
        if self.query is not None and self.columns:
            raise ValueError(
                "source.columns: with a source.query, name the canonical columns in the "
                "query's SELECT instead"
            )
        if self.query is not None and self.format not in FILE_FORMATS:
            raise ValueError(
                f"source.query: runs over csv, parquet or jsonl files, not format {self.format!r}"
            )
        return self
