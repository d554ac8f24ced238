"""The code a saved model bundles (personalab.core.code): the subpackages its entry modules
import, each whole, in a namespace ``personalab``; and several bundles loaded one after another
in one process, as MLflow loads model folders, each find their code."""

from __future__ import annotations

import ast
import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path

import pytest

from personalab.core.code import (
    SRC,
    bundle_files,
    bundled_package,
    bundled_subpackages,
    imported_modules,
    module_closure,
    module_name,
    pickled_modules,
)
from personalab.segments.io import MODEL_MODULES
from personalab.segments.model import SampledClusterer

#: a package laid out to exercise each rule: ``b.deep.mod`` imports ``c.lazy`` inside a function,
#: ``b``'s ``__init__`` imports ``a`` (whose ``__init__`` imports ``a.helper`` relatively), ``c``'s
#: other module imports ``d``; ``e`` is imported by nobody. ``personalab`` has no ``__init__``.
FAKE = {
    "personalab/a/__init__.py": "from .helper import VALUE\n",
    "personalab/a/helper.py": "VALUE = 1\n",
    "personalab/b/__init__.py": "import personalab.a\n",
    "personalab/b/deep/__init__.py": "",
    "personalab/b/deep/mod.py": (
        "import json\n\ndef f():\n    from personalab.c.lazy import THING\n    return THING\n"
    ),
    "personalab/c/__init__.py": "",
    "personalab/c/lazy.py": "THING = 2\n",
    "personalab/c/other.py": "from personalab.d import x\n",
    "personalab/d/__init__.py": "",
    "personalab/d/x.py": "",
    "personalab/e/__init__.py": "from personalab.a.helper import VALUE\n",
}


def fake_package(root: Path) -> Path:
    for name, text in FAKE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def names(files: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in files]


def test_a_bundle_is_every_subpackage_the_entries_reach_each_whole(tmp_path):
    root = fake_package(tmp_path)
    assert bundled_subpackages(["personalab.b.deep.mod"], root) == ["a", "b", "c", "d"]
    # b: the entry's own; a: imported by b/__init__.py (a parent package); c: imported inside
    # f(); d: imported by c/other.py, a module the entry does not use, bundled with all of c
    assert names(bundle_files(["personalab.b.deep.mod"], root), root) == [
        "personalab/a/__init__.py",
        "personalab/a/helper.py",
        "personalab/b/__init__.py",
        "personalab/b/deep/__init__.py",
        "personalab/b/deep/mod.py",
        "personalab/c/__init__.py",
        "personalab/c/lazy.py",
        "personalab/c/other.py",
        "personalab/d/__init__.py",
        "personalab/d/x.py",
    ]
    # without parents: only what the code names (what test_pipeline_deps counts as run)
    assert list(module_closure(["personalab.b.deep.mod"], parents=False, root=root)) == [
        "personalab.b.deep.mod",
        "personalab.c.lazy",
    ]


def test_a_name_imported_from_a_module_counts_the_module_and_other_packages_are_left_out():
    tree = ast.parse(
        "import os\nimport personalabx\nfrom personalab.core.paths import project_paths\n"
        "from personalab.core import tracking\nfrom personalab import evaluation\n"
    )
    assert imported_modules(tree, "__main__") == {
        "personalab.core.paths",
        "personalab.core.tracking",
        "personalab.evaluation",
    }


def test_a_file_s_module_name():
    assert module_name(SRC / "personalab" / "intent" / "pyfunc_model.py") == (
        "personalab.intent.pyfunc_model"
    )
    assert module_name(SRC / "personalab" / "core" / "__init__.py") == "personalab.core"
    assert module_name(Path("/elsewhere/pyfunc_model.py")) is None


def test_the_bundle_is_a_byte_copy_in_package_layout_and_is_removed_after(tmp_path):
    root = fake_package(tmp_path / "src")
    with bundled_package(["personalab.a"], root) as package:
        assert package.name == "personalab"
        copied = sorted(p.relative_to(package.parent).as_posix() for p in package.rglob("*.py"))
        assert copied == [
            "personalab/a/__init__.py",
            "personalab/a/helper.py",
        ]
        for name in copied:
            assert (package.parent / name).read_bytes() == (root / name).read_bytes()
    assert not package.exists()


def test_the_modules_a_pickle_refers_to():
    data = pickle.dumps({"model": SampledClusterer(), "fn": module_closure})
    assert pickled_modules(data) == {"personalab.segments.model", "personalab.core.code"}


#: the entry modules of the models the pipeline saves: models/segmenter (a pickle of these
#: modules' classes), the intent and recommender models from code, and models/personalise
#: (which also unpickles the segmenter it carries)
MODELS = {
    "segmenter": list(MODEL_MODULES),
    "intent": ["personalab.intent.pyfunc_model"],
    "recommender": ["personalab.recommend.pyfunc_model"],
    "personalise": ["personalab.export.pyfunc_model", *MODEL_MODULES],
}

#: loads the bundles one after another in one process as MLflow loads model folders (each
#: folder first on sys.path, nothing evicted), importing each one's entries; reports an import
#: that fails and any personalab module whose file lies outside every bundle
LOAD_ONE_AFTER_ANOTHER = textwrap.dedent(
    """
    import importlib, json, sys
    from pathlib import Path

    sys.path = [p for p in sys.path if not Path(p, "personalab").is_dir()]  # no installed copy
    problems, folders = {}, []
    for model, (folder, entries) in json.loads(sys.argv[1]).items():
        sys.path.insert(0, folder)
        folders.append(Path(folder))
        try:
            for entry in entries:
                importlib.import_module(entry)
        except ImportError as err:
            problems[model] = repr(err)
    loaded = [m for m in sys.modules if m.startswith("personalab.")]
    outside = [
        m for m in loaded if not any(f in Path(sys.modules[m].__file__).parents for f in folders)
    ]
    print(json.dumps({"problems": problems, "outside": outside, "loaded": len(loaded)}))
    """
)


def load_one_after_another(folders: dict[str, tuple[str, list[str]]], cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ONE_AFTER_ANOTHER, json.dumps(folders)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_model_bundles_load_one_after_another_in_one_process(tmp_path):
    """The recommender after the intent model: personalab.recommend is found in the second
    folder, the core the first brought is complete. Each bundle on its own imports too."""
    with ExitStack() as stack:
        folders = {
            model: (str(stack.enter_context(bundled_package(entries)).parent), entries)
            for model, entries in MODELS.items()
        }
        for order in (["intent", "recommender", "segmenter"], ["segmenter", "intent"]):
            found = load_one_after_another({m: folders[m] for m in order}, tmp_path)
            assert found["problems"] == {} and found["outside"] == [], (order, found)
            assert found["loaded"] > 30
        alone = load_one_after_another({"recommender": folders["recommender"]}, tmp_path)
        assert alone["problems"] == {} and alone["outside"] == []
        broken = Path(shutil.copytree(folders["segmenter"][0], tmp_path / "broken"))
        (broken / "personalab" / "segments" / "params.py").unlink()
        found = load_one_after_another({"broken": (str(broken), list(MODEL_MODULES))}, tmp_path)
        assert "personalab.segments.params" in found["problems"]["broken"]


def test_a_model_bundles_less_than_the_package():
    everything = set((SRC / "personalab").rglob("*.py"))
    for model, entries in MODELS.items():
        files = set(bundle_files(entries))
        # the decision rule uses every stage's model: it bundles what they all do
        assert files < everything or model == "personalise", model
        assert not (SRC / "personalab" / "__init__.py").exists()  # a namespace package
    assert SRC / "personalab" / "export" / "summary.py" not in set(bundle_files(MODEL_MODULES))


@pytest.mark.filterwarnings("ignore:.*An input example was not provided")
def test_save_pyfunc_bundles_the_closure_of_the_model_from_code_it_is_given(tmp_path):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from personalab.core.registry import save_pyfunc

    model = SRC / "personalab" / "recommend" / "pyfunc_model.py"
    signature = ModelSignature(inputs=Schema([ColSpec("string", "user_id")]))
    folder = save_pyfunc(tmp_path / "model", str(model), lambda scratch: {}, signature, None, [])
    code = folder / "code"
    saved = sorted(p.relative_to(code) for p in code.rglob("*") if p.is_file())
    expected = bundle_files(["personalab.recommend.pyfunc_model"])
    assert saved == [p.relative_to(SRC) for p in expected]
    assert all((code / p).read_bytes() == (SRC / p).read_bytes() for p in saved)
