"""The log profile as the later stages read it: what the log holds, so each stage does what the
log supports (``data/interim/profile.json``, written by ingest; its keys are documented in
:mod:`personalab.ingest.profile`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personalab.core.errors import InputError
from personalab.core.paths import ProjectPaths

PROFILE_FILE = "profile.json"


class ProfileError(InputError, ValueError):
    """profile.json is missing or unreadable."""


@dataclass(frozen=True)
class LogProfile:
    """A read-only view of profile.json with the questions stages ask of it."""

    data: dict[str, Any]

    def rows_of(self, event_type: str) -> int:
        return int(self.data.get("event_types", {}).get(event_type, 0))

    def has(self, event_type: str) -> bool:
        """True when the log holds at least one event of ``event_type``."""
        return self.rows_of(event_type) > 0

    def populated(self, column: str) -> float:
        """Share of events with a value in ``column`` (0 when the log has no such column)."""
        return float(self.data.get("populated", {}).get(column, 0.0))

    @property
    def event_types(self) -> list[str]:
        """The event types present, most frequent first."""
        counts = self.data.get("event_types", {})
        return [name for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n]

    @property
    def identity(self) -> str:
        return str(self.data.get("identity", "user"))

    @property
    def span_days(self) -> float:
        return float(self.data.get("span_days") or 0.0)

    @property
    def granularity(self) -> str:
        return str(self.data.get("granularity") or "second")

    @property
    def granularity_seconds(self) -> float:
        return float(self.data.get("granularity_seconds") or 1.0)

    @property
    def items(self) -> int:
        return int(self.data.get("items", 0))

    @property
    def users(self) -> int:
        return int(self.data.get("users", 0))

    @property
    def rows(self) -> int:
        return int(self.data.get("rows", 0))

    def describe(self) -> str:
        """One line: rows, users, items, span and the event types present."""
        kinds = ", ".join(f"{k} {self.rows_of(k):,}" for k in self.event_types) or "no events"
        who = "sessions" if self.identity == "session" else "users"
        return (
            f"{self.rows:,} events of {self.users:,} {who} on {self.items:,} items over "
            f"{self.span_days:.2f} days (timestamps to the {self.granularity}): {kinds}"
        )


def full_profile() -> LogProfile:
    """A profile that holds everything (for tables that come without one, e.g. in tests)."""
    kinds = ("view", "click", "scroll", "search", "add_to_cart", "remove_from_cart", "purchase",
             "rate")  # fmt: skip
    columns = ("category", "price", "quantity", "rating", "dwell_seconds", "scroll_depth",
               "device", "channel", "session_id")  # fmt: skip
    return LogProfile(
        {
            "event_types": dict.fromkeys(kinds, 1),
            "populated": dict.fromkeys(columns, 1.0),
            "identity": "user",
            "granularity": "second",
            "granularity_seconds": 1.0,
        }
    )


def read_profile(path: Path) -> LogProfile:
    """profile.json at ``path``; a clear error naming the file when it is missing or bad."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"{path}: not found; run the ingest stage first (dvc repro ingest)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ProfileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or "event_types" not in data:
        raise ProfileError(f"{path}: not a personalab log profile (no 'event_types' key)")
    return LogProfile(data)


def load_profile(paths: ProjectPaths) -> LogProfile:
    """The profile of the log the pipeline ingested (``data/interim/profile.json``)."""
    return read_profile(paths.interim / PROFILE_FILE)
