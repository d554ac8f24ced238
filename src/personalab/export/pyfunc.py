"""``models/personalise`` as an MLflow pyfunc folder: the thin wrapper around
:class:`~personalab.export.personalise.Personaliser`, its signature (a user id with its feature
row in, the intent model's columns only when it has one; request param ``k``), an input example
showing each strategy, pinned requirements and this package's code."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.export.personalise import Personaliser


def _personalise_pyfunc_class():
    import mlflow.pyfunc

    class PersonalisePyfunc(mlflow.pyfunc.PythonModel):
        """Serves :class:`Personaliser`: user id + feature row in; segment, strategy, k items out."""

        def load_context(self, context):
            self.personaliser = Personaliser.load(context.artifacts)

        def predict(self, context, model_input, params=None):
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            return self.personaliser.personalise(frame, (params or {}).get("k"))

    return PersonalisePyfunc


def personalise_signature(personaliser: Personaliser, example: pd.DataFrame) -> Any:
    """user_id (string) and the intent model's columns as it defines them (optional ones may be
    left out; none without an intent model); segment columns the intent model does not use are
    optional (the segmenter imputes)."""
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, Schema

    from personalab.intent.pyfunc import input_schema

    intent = personaliser.intent
    intent_inputs = [] if intent is None else input_schema(intent.encoder).inputs
    names = {c.name for c in intent_inputs}
    extra = [
        ColSpec("double", name, required=False)
        for name in personaliser.segment_features
        if name not in names
    ]
    with warnings.catch_warnings():  # its hint on integer inputs: those are replaced below
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(
            example, personaliser.personalise(example), params={"k": personaliser.k}
        )
    signature.inputs = Schema([ColSpec("string", "user_id"), *intent_inputs, *extra])
    return signature


def latest_users(table: pd.DataFrame, personaliser: Personaliser) -> pd.DataFrame:
    """The feature rows of the latest cut-off; without any (the features stage skipped), the
    users the recommender knows, as user ids alone."""
    if len(table):
        return table[table["cutoff"] == table["cutoff"].max()] if "cutoff" in table else table
    if personaliser.recommender is None:
        return pd.DataFrame({"user_id": pd.Series([], dtype=str)})
    return pd.DataFrame({"user_id": personaliser.recommender.model.users.astype(str)})


def example_rows(table: pd.DataFrame, personaliser: Personaliser, n: int) -> pd.DataFrame:
    """``n`` feature rows of the latest cut-off as a client sends them: one per strategy when
    the table has them, so the example shows each branch of the rule. The columns: user_id,
    the intent model's (as it encodes them), then the segmenter's other columns."""
    latest = latest_users(table, personaliser)
    scored = personaliser.personalise(latest.head(2000), k=1)
    picks = scored.drop_duplicates("strategy")["user_id"].tolist()
    rest = latest.loc[~latest["user_id"].astype(str).isin(picks), "user_id"].astype(str)
    chosen = [*picks, *rest.head(max(n - len(picks), 0)).tolist()][:n]
    rows = latest[latest["user_id"].astype(str).isin(chosen)].drop_duplicates("user_id")
    if personaliser.intent is None:
        encoded = pd.DataFrame(index=rows.index)
    else:
        encoded = personaliser.intent.encoder.example(rows)
    extra = [c for c in personaliser.segment_features if c not in encoded]
    out = pd.concat(
        [rows[["user_id"]].astype(str), encoded, rows.reindex(columns=extra).astype(float)],
        axis=1,
    ).reset_index(drop=True)
    return out


def save_personalise(
    personaliser: Personaliser,
    example: pd.DataFrame,
    segmenter_folder: Path | str | None,
    folder: Path | str,
) -> Path:
    from personalab.core.registry import save_pyfunc
    from personalab.core.tracking import pinned_requirements
    from personalab.intent.pyfunc import model_requirements

    requirements = sorted({*model_requirements(), *pinned_requirements("cloudpickle")})
    return save_pyfunc(
        folder,
        _personalise_pyfunc_class()(),
        lambda scratch: personaliser.save(scratch, segmenter_folder),
        personalise_signature(personaliser, example),
        example,
        requirements,
    )
