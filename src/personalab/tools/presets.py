"""Presets: named sets of parameter values for a protocol, applied to the stage params files.

A preset is ``params/presets/<name>.yaml``: a mapping from stage name to the values it sets in
``params/<stage>.yaml``. Mappings merge key by key, except the named-entry mappings
(``algorithms`` and ``tuning.space``), which the preset replaces whole, so a protocol's list of
models is exactly its own. The params file keeps its comments and order; ``git diff params/``
shows what changed and ``git checkout params/`` undoes it.

    python -m personalab.tools.presets list
    python -m personalab.tools.presets show ms-recommenders
    python -m personalab.tools.presets apply ms-recommenders
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from personalab.core.errors import InputError

PRESETS = Path("params/presets")
#: keys whose value a preset replaces whole (dotted from the stage's top level)
REPLACED = frozenset({"algorithms", "tuning.space"})


class PresetError(InputError, ValueError):
    """A preset that does not exist or cannot be applied."""


def available(root: Path | str = ".") -> list[str]:
    return sorted(path.stem for path in (Path(root) / PRESETS).glob("*.yaml"))


def load_preset(name: str, root: Path | str = ".") -> dict[str, Any]:
    path = Path(root) / PRESETS / f"{name}.yaml"
    if not path.is_file():
        raise PresetError(
            f"{path}: no such preset; available: {', '.join(available(root)) or 'none'}"
        )
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(values, Mapping) or not all(isinstance(v, Mapping) for v in values.values()):
        raise PresetError(f"{path}: expected a mapping of stage names to their values")
    return dict(values)


def merged(current: Mapping[str, Any], preset: Mapping[str, Any]) -> dict:
    """``current`` with ``preset``'s values (plain data; see the module docstring)."""
    import copy

    out = copy.deepcopy(dict(current))
    _update(out, preset, "")
    return out


def apply(name: str, root: Path | str = ".", write: bool = True) -> dict[str, list[str]]:
    """Apply preset ``name`` to each stage's params file, validated by the stage's params model
    before anything is written; returns the dotted keys changed per stage file."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    changes: dict[str, list[str]] = {}
    for stage, values in load_preset(name, root).items():
        path = Path(root) / "params" / f"{stage}.yaml"
        if not path.is_file():
            raise PresetError(f"preset {name}: stage {stage!r} has no params file {path}")
        document = rt.load(path.read_text(encoding="utf-8"))
        before = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        after = merged(before, values)
        _validate(stage, after, path)
        _update(document, values, "")
        changes[str(path)] = [
            key for key in _leaves(values) if _get(before, key) != _get(after, key)
        ]
        if write:
            with open(path, "w", encoding="utf-8") as handle:
                rt.dump(document, handle)
    return changes


def _leaves(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys a preset sets (a replaced mapping counts as one)."""
    out = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and dotted not in REPLACED:
            out += _leaves(value, f"{dotted}.")
        else:
            out.append(dotted)
    return out


def _get(values: Mapping[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        values = values.get(key) if isinstance(values, Mapping) else None
    return values


def _update(document: Any, values: Mapping[str, Any], prefix: str) -> None:
    """Set ``values`` in ``document`` (a mapping, or ruamel's commented one) key by key, the
    :data:`REPLACED` keys whole."""
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if (
            isinstance(value, Mapping)
            and isinstance(document.get(key), Mapping)
            and dotted not in REPLACED
        ):
            _update(document[key], value, f"{dotted}.")
        else:
            document[key] = value


def _validate(stage: str, values: Mapping[str, Any], path: Path) -> None:
    """Refuse values the stage's params model refuses, naming the file and the key."""
    import importlib

    from personalab.core.params import StageParams

    module = importlib.import_module(f"personalab.{stage}.params")
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, StageParams) and obj is not StageParams:
            obj.from_mapping(values, source=f"{path} with the preset")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalab.tools.presets", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["list", "show", "apply"])
    parser.add_argument("name", nargs="?")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(available()))
            return 0
        if not args.name:
            parser.error(f"{args.command} needs a preset name ({', '.join(available())})")
        changes = apply(args.name, write=args.command == "apply")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    verb = "changed" if args.command == "apply" else "would change"
    for path, keys in changes.items():
        print(f"{path}: {verb} {', '.join(keys) if keys else 'nothing (already set)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
