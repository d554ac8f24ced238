"""``models/personalise`` as an MLflow pyfunc folder: a served request checked and answered by
:class:`~personalab.export.personalise.Personaliser` (the model from code in ``pyfunc_model.py``
is a thin adapter around :func:`serve_request`), its signature (a user id with its feature row
in, the intent model's columns only when it has one; request param ``k``; the labelled answer
out), an input example showing each strategy, pinned requirements and this package's code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.export.personalise import Personaliser


def serve_request(
    personaliser: Personaliser, frame: pd.DataFrame, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """A served request: every row needs a user id, the intent model's required columns may not
    be null, ``k`` is from 1 to the rule's ``max_k``; then the rule's answer."""
    from personalab.intent.pyfunc import check_required_values
    from personalab.recommend.served import requested_k, requested_users

    requested_users(frame)
    if personaliser.intent is not None:
        check_required_values(frame, personaliser.intent.encoder)
    k = requested_k(params, personaliser.k, personaliser.max_k)
    return personaliser.personalise(frame, k)


#: the answer's columns as the signature declares them (type, name); ``segment`` may be null
OUTPUT_SCHEMA = [
    ("string", "user_id"),
    ("double", "intent_score"),
    ("string", "segment"),
    ("string", "strategy"),
    ("long", "rank"),
    ("string", "item_id"),
    ("double", "score"),
    ("string", "score_kind"),
    ("string", "reason"),
]


def personalise_signature(personaliser: Personaliser) -> Any:
    """user_id (string) and the intent model's columns as it defines them (optional ones may be
    left out; none without an intent model); segment columns the intent model does not use are
    optional (the segmenter imputes). Declared, not inferred from an example."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    from personalab.intent.pyfunc import input_schema

    intent = personaliser.intent
    intent_inputs = [] if intent is None else input_schema(intent.encoder).inputs
    names = {c.name for c in intent_inputs}
    extra = [
        ColSpec("double", name, required=False)
        for name in personaliser.segment_features
        if name not in names
    ]
    outputs = [ColSpec(kind, name, required=name != "segment") for kind, name in OUTPUT_SCHEMA]
    return ModelSignature(
        inputs=Schema([ColSpec("string", "user_id"), *intent_inputs, *extra]),
        outputs=Schema(outputs),
        params=ParamSchema([ParamSpec("k", "long", personaliser.k)]),
    )


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
    the table has them, so the example shows each branch of the rule, and none with a null in
    a column the intent model requires (a served request would be refused). The columns:
    user_id, the intent model's (as it encodes them), then the segmenter's other columns."""
    latest = latest_users(table, personaliser)
    if personaliser.intent is not None:
        specs = personaliser.intent.encoder.columns_
        required = [s.name for s in specs if not s.optional and s.name in latest]
        complete = latest[required].notna().all(axis=1)
        latest = latest[complete] if complete.any() else latest
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
    from personalab.segments.io import MODEL_MODULES

    requirements = sorted({*model_requirements(), *pinned_requirements("cloudpickle")})
    return save_pyfunc(
        folder,
        str(Path(__file__).with_name("pyfunc_model.py")),  # the model from code
        lambda scratch: personaliser.save(scratch, segmenter_folder),
        personalise_signature(personaliser),
        example,
        requirements,
        modules=MODEL_MODULES,  # the segmenter's pickle, unpickled with this folder's code
    )
