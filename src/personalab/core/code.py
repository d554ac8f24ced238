"""The code a saved model runs, bundled in its package layout: the subpackages it imports.

An MLflow model folder carries the personalab code its model imports (``code/personalab``):
every subpackage (``core``, ``features``, ``intent``, ...) that the model's entry modules
import, read with :mod:`ast` (imports inside functions too), transitively, each one whole.
A change to any other subpackage leaves the folder's bytes as they were, so dvc.yaml lists
the subpackages a stage's model bundles (tests/unit/test_pipeline_deps.py checks it does).

Whole subpackages, and ``personalab`` a namespace package (no ``__init__.py``), because
MLflow puts each loaded folder's ``code/`` first on ``sys.path`` and Python imports each
package once: a process that loads the intent model and then the recommender finds
``personalab.recommend`` in the recommender's folder (a namespace package's path follows
``sys.path``) and reuses the ``personalab.core`` the intent model brought, which must then be
complete. Bundling single files would make such a process fail on whichever file the first
folder left out.
"""

from __future__ import annotations

import ast
import io
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: the folder holding the ``personalab`` package (``src/``)
SRC = Path(__file__).resolve().parents[2]
PACKAGE = "personalab"


def is_ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(f"{PACKAGE}.")


def module_file(name: str, root: Path = SRC) -> Path | None:
    """The file of module ``name`` (``personalab.x.y``) under ``root``, or None if none."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path | str, root: Path = SRC) -> str | None:
    """The module of the file ``path`` (``.../personalab/x/y.py`` -> ``personalab.x.y``), or
    None if it does not lie under ``root``."""
    relative, root = Path(path).resolve().with_suffix(""), root.resolve()
    if root not in relative.parents:
        return None
    parts = relative.relative_to(root).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, current: str, root: Path = SRC) -> set[str]:
    """``personalab`` modules imported anywhere in ``tree`` (in functions too); ``current`` is
    the importing module, for relative imports. ``from a.b import c`` counts ``a.b.c`` when it
    is a module, else ``a.b``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if is_ours(alias.name)}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = current.split(".")
                current_file = module_file(current, root)
                is_package = current_file is not None and current_file.name == "__init__.py"
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            if not is_ours(base):
                continue
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if module_file(name, root) else base)
    return found


def parent_packages(name: str) -> list[str]:
    """The packages Python imports before module ``name``: ``a.b.c`` -> ``a``, ``a.b``."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def module_closure(
    entries: Iterable[str], parents: bool = True, root: Path = SRC
) -> dict[str, Path]:
    """The file of every ``personalab`` module importing ``entries`` runs, by module name:
    what they import, transitively, and (``parents``) every parent package of each."""
    seen: dict[str, Path] = {}
    todo = [name for name in entries if is_ours(name)]
    while todo:
        name = todo.pop()
        path = None if name in seen else module_file(name, root)
        if path is None:
            continue
        seen[name] = path
        todo += imported_modules(ast.parse(path.read_bytes()), name, root)
        todo += parent_packages(name) if parents else []
    return dict(sorted(seen.items()))


def subpackage(name: str) -> str | None:
    """The top subpackage of module ``name``: ``personalab.core.tracking`` -> ``core``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def bundled_subpackages(entries: Iterable[str], root: Path = SRC) -> list[str]:
    """The subpackages a model with these entry modules imports, each whole with what its own
    modules import, transitively; sorted."""
    found: set[str] = set()
    todo = list(entries)
    while todo:
        new = {subpackage(name) for name in module_closure(todo, root=root)} - found - {None}
        found |= new
        todo = [module_name(path, root) for name in new for path in package_files(name, root)]
    return sorted(found)


def package_files(name: str, root: Path = SRC) -> list[Path]:
    """Every source file of subpackage ``name`` (``personalab/<name>/**/*.py``), sorted."""
    return sorted((root / PACKAGE / name).rglob("*.py"))


def bundle_files(entries: Iterable[str], root: Path = SRC) -> list[Path]:
    """The files a model with these entry modules bundles: its subpackages whole, sorted."""
    return [
        path for name in bundled_subpackages(entries, root) for path in package_files(name, root)
    ]


def pickled_modules(data: bytes) -> set[str]:
    """The ``personalab`` modules whose classes or functions the pickle ``data`` refers to."""
    found: set[str] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if is_ours(module):
                found.add(module)
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    return found


@contextmanager
def bundled_package(entries: Iterable[str], root: Path = SRC) -> Iterator[Path]:
    """A temporary copy of the files :func:`bundle_files` names, in their package layout; yields
    its ``personalab`` folder, to give MLflow as a ``code_paths`` entry. Files are copied byte
    for byte, in sorted order; the copy is removed on exit."""
    files = bundle_files(entries, root)
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch)
        (target / PACKAGE).mkdir()
        for path in files:
            copy = target / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        yield target / PACKAGE
