"""dvc.yaml names exactly the code each stage runs, so a change re-runs only what it touches.

A stage runs its notebook, which imports ``personalab`` modules, which import others. The
modules a stage runs are found by reading the imports (at any depth, in functions too) from
the notebook outward (personalab.core.code). Every one of them must lie under one of the
stage's dvc.yaml deps; the deps name the stage's own package folder and, beyond it, only files
the stage runs or bundles. Importing ``a.b.c`` counts module ``a.b.c`` only as run: a parent
package's ``__init__`` re-exports names and computes nothing a stage reads.

A stage that saves a model also writes the code the model folder bundles (``code/personalab``:
the closure of the model's entry modules with every parent package, personalab.core.code), so
its deps hold every one of those files too: an edit to one changes the folder's bytes, and DVC
must re-run the stage for dvc.lock to stay true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from personalab.core.code import bundle_files, imported_modules, module_closure
from personalab.core.paths import STAGES, project_paths
from personalab.segments.io import MODEL_MODULES

PATHS = project_paths()
SRC = PATHS.root / "src"
PACKAGE = SRC / "personalab"
#: export depends on the whole package: its notebook and the models it bundles use most of it
WHOLE_PACKAGE = {"export"}
#: the entry modules of the model each stage saves: models/segmenter pickles classes of
#: MODEL_MODULES (segments/io.py); the intent and recommender models are models from code
MODEL_ENTRIES = {
    "segments": MODEL_MODULES,
    "intent": ("personalab.intent.pyfunc_model",),
    "recommend": ("personalab.recommend.pyfunc_model",),
}


def closure(roots: set[str]) -> set[Path]:
    """Files of ``roots`` and of every personalab module they import, transitively."""
    return set(module_closure(roots, parents=False, root=SRC).values())


def bundled(stage: str) -> set[Path]:
    """The files the model folder ``stage`` saves bundles (none for a stage without one)."""
    entries = MODEL_ENTRIES.get(stage, ())
    return set(bundle_files(entries, root=SRC)) if entries else set()


def notebook_modules(stage: str) -> set[str]:
    nb = nbformat.read(PATHS.notebook(stage), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return imported_modules(ast.parse(code), "__main__", root=SRC)


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


@pytest.mark.parametrize("stage", sorted(MODEL_ENTRIES))
def test_every_file_a_stage_s_model_bundles_is_a_dependency(stage):
    files = bundled(stage)
    for entry in MODEL_ENTRIES[stage]:
        assert SRC.joinpath(*entry.split(".")).with_suffix(".py") in files, entry
    deps = stage_deps(stage)
    missing = sorted(
        str(p.relative_to(PATHS.root)) for p in files if not any(covers(d, p) for d in deps)
    )
    assert not missing, (
        f"dvc.yaml stage {stage!r}'s model bundles but it does not depend on {missing}"
    )


@pytest.mark.parametrize("stage", sorted(set(STAGES) - WHOLE_PACKAGE))
def test_a_stage_depends_on_its_package_and_no_other_code_it_neither_runs_nor_bundles(stage):
    used = closure(notebook_modules(stage)) | bundled(stage)
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
    assert imported_modules(tree, "__main__", root=SRC) == {
        "personalab.core.tracking",
        "personalab.core.paths",
        "personalab.evaluation.ranking",
        "personalab.features.schema",
    }
    relative = ast.parse("from . import ranking\nfrom ._base import EvaluationError\n")
    assert imported_modules(relative, "personalab.evaluation", root=SRC) == {
        "personalab.evaluation.ranking",
        "personalab.evaluation._base",
    }


def test_bytecode_next_to_the_sources_changes_no_dependency():
    """Stages depend on package folders: where Python writes ``__pycache__`` beside the sources
    (a machine without PYTHONDONTWRITEBYTECODE), DVC must not count it."""
    import subprocess
    import sys

    dvc = str(Path(sys.executable).with_name("dvc"))
    paths = [
        "src/personalab/core/__pycache__/tracking.cpython-311.pyc",
        "src/personalab/core/stray.pyc",
        "src/personalab/core/tracking.py",
    ]
    done = subprocess.run(
        [dvc, "check-ignore", *paths], cwd=PATHS.root, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == paths[:2], done.stdout + done.stderr
