"""dvc.yaml names exactly the code each stage runs, so a change re-runs only what it touches.

A stage runs its notebook, which imports ``personalab`` modules, which import others. The
modules a stage runs are found by reading the imports (at any depth, in functions too) from
the notebook outward. Every one of them must lie under one of the stage's dvc.yaml deps; the
deps name the stage's own package folder and, beyond it, only files the stage runs. Importing
``a.b.c`` counts module ``a.b.c`` only: a parent package's ``__init__`` re-exports names and
computes nothing a stage reads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from personalab.core.paths import STAGES, project_paths

PATHS = project_paths()
SRC = PATHS.root / "src"
PACKAGE = SRC / "personalab"
#: export ships a copy of the whole package inside every model it writes
WHOLE_PACKAGE = {"export"}


def module_file(name: str) -> Path | None:
    """The file of module ``name`` (``personalab.x.y``), or None if it is not a module."""
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(tree: ast.AST, current: str) -> set[str]:
    """``personalab`` modules imported anywhere in ``tree`` (``current``: the importing module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("personalab")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = current.split(".")
                is_package = module_file(current).name == "__init__.py"
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            if not base.startswith("personalab"):
                continue
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if module_file(name) else base)
    return found


def closure(roots: set[str]) -> set[Path]:
    """Files of ``roots`` and of every personalab module they import, transitively."""
    seen: dict[str, Path] = {}
    todo = set(roots)
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo |= imported_modules(ast.parse(path.read_text()), name)
    return set(seen.values())


def notebook_modules(stage: str) -> set[str]:
    nb = nbformat.read(PATHS.notebook(stage), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return imported_modules(ast.parse(code), "__main__")


def stage_deps(stage: str) -> list[Path]:
    dvc = yaml.safe_load((PATHS.root / "dvc.yaml").read_text())["stages"][stage]
    return [PATHS.root / d for d in dvc["deps"] if d.startswith("src/")]


def covers(dep: Path, path: Path) -> bool:
    return path == dep or dep in path.parents


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_module_a_stage_runs_is_a_dependency(stage):
    used = closure(notebook_modules(stage))
    assert PACKAGE / stage / "__init__.py" in used, f"notebook of {stage} imports its package"
    deps = stage_deps(stage)
    missing = sorted(
        str(p.relative_to(PATHS.root)) for p in used if not any(covers(d, p) for d in deps)
    )
    assert not missing, f"dvc.yaml stage {stage!r} runs but does not depend on {missing}"


@pytest.mark.parametrize("stage", sorted(set(STAGES) - WHOLE_PACKAGE))
def test_a_stage_depends_on_its_package_and_no_other_code_it_does_not_run(stage):
    used = closure(notebook_modules(stage))
    deps = stage_deps(stage)
    assert PACKAGE / stage in deps, f"dvc.yaml stage {stage!r} names its package folder"
    listed = set()
    for dep in deps:
        if dep != PACKAGE / stage:
            listed |= set(dep.rglob("*.py")) if dep.is_dir() else {dep}
    unused = sorted(str(p.relative_to(PATHS.root)) for p in listed - used)
    assert not unused, f"dvc.yaml stage {stage!r} depends on code it never runs: {unused}"


def test_the_recommend_package_reruns_only_recommend_and_export():
    touched = PACKAGE / "recommend" / "__init__.py"
    rerun = {s for s in STAGES if any(covers(d, touched) for d in stage_deps(s))}
    assert rerun == {"recommend", "export"}


def test_the_import_reader_resolves_modules_names_and_relative_imports():
    tree = ast.parse(
        "from personalab.core import tracking\n"
        "from personalab.core.paths import project_paths\n"
        "import personalab.evaluation.ranking\n"
        "def f():\n    from personalab.features.schema import LABEL\n"
    )
    assert imported_modules(tree, "__main__") == {
        "personalab.core.tracking",
        "personalab.core.paths",
        "personalab.evaluation.ranking",
        "personalab.features.schema",
    }
    relative = ast.parse("from . import ranking\nfrom ._base import EvaluationError\n")
    assert imported_modules(relative, "personalab.evaluation") == {
        "personalab.evaluation.ranking",
        "personalab.evaluation._base",
    }
