"""Stage parameters: one YAML file per stage, validated by a pydantic model before any work.

An unknown key, a wrong type or an impossible value stops the stage with a
message that names the file and the key, e.g.::

    params/ingest.yaml: invalid parameters
    params/ingest.yaml: session_gap_minutes: Input should be greater than 0 (got -5)

Each problem is one line that names the file and the key; a notebook run names the stage's
params file too, since papermill injects it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from personalab.core.errors import InputError

#: names IPython puts in a notebook's namespace that are never parameters
_NOTEBOOK_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_PARAM_TYPES = (dict, list, str, int, float, bool, type(None))


class ParamsError(InputError, ValueError):
    """Parameters that cannot be used: the message names the source and the key."""


class StageParams(BaseModel):
    """Base of every stage's parameters: strict about unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "parameters") -> Self:
        """Validate ``values``; raise :class:`ParamsError` naming ``source`` and each bad key."""
        if not isinstance(values, Mapping):
            raise ParamsError(f"{source}: expected a mapping of keys, got {type(values).__name__}")
        try:
            return cls.model_validate(dict(values))
        except ValidationError as err:
            raise ParamsError(format_validation_error(err, source)) from None

    @classmethod
    def from_yaml(cls, path: Path | str) -> Self:
        """Read and validate a params YAML file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ParamsError(f"{path}: params file not found") from None
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ParamsError(f"{path}: not valid YAML: {err}") from None
        return cls.from_mapping(values or {}, source=str(path))

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any], source: str | None = None) -> Self:
        """Validate the parameters a notebook holds (its `parameters` cell plus papermill's injection).

        Every public, plain-data global is treated as a parameter, so a key papermill
        injected from a mistyped YAML file is reported as unknown rather than ignored.
        Call it right after the parameters cell, with ``globals()``. Errors name the stage's
        params file (``params/<stage>.yaml``), where the values come from.
        """
        values = {
            name: value
            for name, value in namespace.items()
            if not name.startswith("_")
            and name not in _NOTEBOOK_NAMES
            and type(value) in _PARAM_TYPES
        }
        return cls.from_mapping(values, source=source or f"params/{cls.stage_name()}.yaml")

    @classmethod
    def stage_name(cls) -> str:
        """The stage whose package defines these params (``personalab.<stage>.params``)."""
        return cls.__module__.split(".")[1]

    def flat(self) -> dict[str, Any]:
        """Dotted keys to scalar values, for MLflow params."""
        return flatten(self.model_dump(mode="json"))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become their string form."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem, each naming ``source`` and the dotted key."""
    lines = [f"{source}: invalid parameters"]
    for item in err.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<root>"
        if item["type"] == "extra_forbidden":
            problem = "unknown key"
        elif item["type"] == "missing":
            problem = "required key is missing"
        else:
            problem = item["msg"].removeprefix("Value error, ")
            given = item.get("input")
            if isinstance(given, Mapping):  # a cross-field check: its keys, not the whole input
                named = key == "<root>" or problem.startswith(f"{key}.")
                lines.append(f"{source}: {problem}" if named else f"{source}: {key}: {problem}")
                continue
            problem += f" (got {given!r})"
        lines.append(f"{source}: {key}: {problem}")
    return "\n".join(lines)
