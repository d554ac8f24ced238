"""The export's check: each folder written, loaded back through ``mlflow.pyfunc``, must
predict what the registry's model (or the rule in memory) predicts for its input example.

A champion registered before served answers were labelled gives no ``score_kind`` and
``reason``: the exported folder may add those (:data:`LABEL_COLUMNS`) and is compared on the
champion's columns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personalab.export.params import PARITY_TOLERANCE, ExportError
from personalab.recommend.served import LABEL_COLUMNS

if TYPE_CHECKING:
    from personalab.export.parts import ExportParts
    from personalab.export.personalise import Personaliser
    from personalab.export.stage import Exported


def parity(
    exported: Path | str, expected: pd.DataFrame, example: pd.DataFrame, **params: Any
) -> float:
    """Largest difference between an exported folder's predictions of ``example`` (loaded
    through ``mlflow.pyfunc``) and ``expected``: absolute for float columns, where a value
    missing (NaN) on one side only makes it ``inf`` and on both sides agrees; any other column
    (ids, flags, names) that differs makes it ``inf``, as do other columns or rows (the export
    may add only the :data:`LABEL_COLUMNS` ``expected`` lacks)."""
    import mlflow.pyfunc

    ours = mlflow.pyfunc.load_model(str(exported)).predict(example, params=params or None)
    theirs = expected
    added = [c for c in LABEL_COLUMNS if c in ours and c not in theirs]
    ours = ours.drop(columns=added)
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        return float("inf")
    worst = 0.0
    for name in ours.columns:
        a, b = ours[name].to_numpy(), theirs[name].to_numpy()
        if pd.api.types.is_float_dtype(ours[name]):
            a, b = a.astype(float), np.asarray(b, dtype=float)
            with np.errstate(invalid="ignore"):
                agree = (a == b) | (np.isnan(a) & np.isnan(b))
                gap = np.where(agree, 0.0, np.abs(a - b))
            if np.isnan(gap).any():  # NaN on one side only: max() would skip it
                return float("inf")
            worst = max(worst, float(gap.max(initial=0.0)))
        elif not (a == b).all():
            return float("inf")
    return worst


def check_exports(
    exported: Exported, parts: ExportParts, personaliser: Personaliser
) -> dict[str, float]:
    """Each exported folder's predictions against the registry's model (and the in-memory rule);
    a model left out has no check."""
    import mlflow.pyfunc

    k, examples, folders = personaliser.k, exported.examples, exported.folders
    checks = {}
    for name, champion, params in (
        ("intent", parts.intent, {}),
        ("recommender", parts.recommender, {"k": k}),
    ):
        if name in folders:
            registered = mlflow.pyfunc.load_model(str(champion.folder))
            expected = registered.predict(examples[name], params=params or None)
            checks[f"{name}_parity"] = parity(folders[name], expected, examples[name], **params)
    checks["personalise_parity"] = parity(
        folders["personalise"],
        personaliser.personalise(examples["personalise"]),
        examples["personalise"],
    )
    if personaliser.online is not None:
        from personalab.export.pyfunc import online_example, request_rows

        by_id = online_example(personaliser, examples["personalise"])
        examples["personalise_by_id"] = by_id
        expected = personaliser.personalise(request_rows(personaliser, by_id))
        checks["personalise_by_id_parity"] = parity(folders["personalise"], expected, by_id)
    for name, value in checks.items():
        if not value <= PARITY_TOLERANCE:
            folder = folders[name.removesuffix("_parity").removesuffix("_by_id")]
            raise ExportError(
                f"{folder}: loaded back, it predicts differently from the model it exports "
                f"({name} = {value}); the export is not trustworthy"
            )
    return checks
