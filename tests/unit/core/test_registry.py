"""The pyfunc writer every stage uses: atomic, with the whole personalab package inside."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from personalab.core.registry import save_pyfunc


class Doubler(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.factor = json.loads(Path(context.artifacts["config"]).read_text())["factor"]

    def predict(self, context, model_input, params=None):
        return model_input[["x"]] * self.factor


def test_save_pyfunc_bundles_the_whole_package_and_loads_back(tmp_path):
    def save_files(scratch):
        (scratch / "config.json").write_text(json.dumps({"factor": 2}))
        return {"config": scratch / "config.json"}

    example = pd.DataFrame({"x": [1.0, 3.0]})
    folder = save_pyfunc(tmp_path / "model", Doubler(), save_files, None, example, ["pandas"])
    code = folder / "code" / "personalab"
    # every stage's package travels with the model, not only the folder of the writer
    for module in ("__init__.py", "core/registry.py", "intent/model.py", "recommend/__init__.py"):
        assert (code / module).is_file(), module
    assert not list(tmp_path.glob(".*model*")), "no temporary folder is left behind"
    predicted = mlflow.pyfunc.load_model(str(folder)).predict(example)
    assert predicted["x"].tolist() == [2.0, 6.0]
