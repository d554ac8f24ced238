"""What there is to export: the intent model and the recommender (each the champion of the
current data lineage, unless its stage skipped on this log or the registry holds no champion
for this data) and the segments stage's model (unless segments skipped). A missing part is left
out with its reason; the stage skips only when neither model exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.registry import Lineage, current_lineage
from personalab.core.status import StageStatus, skip_reason_of
from personalab.export.champions import (
    Champion,
    NoChampionError,
    champion_row,
    fetch_champion,
    load_intent,
    load_recommender,
)
from personalab.export.params import ExportParams
from personalab.intent.model import IntentModel
from personalab.recommend.served import Recommender

#: each model part: the stage that trains it and its candidate folder under models/candidates
MODEL_STAGES = {"intent": "intent", "recommender": "recommend"}


@dataclass
class ExportParts:
    """The champions and models the export has, and why any part is missing."""

    intent: Champion | None = None
    recommender: Champion | None = None
    intent_model: IntentModel | None = None
    recommender_model: Recommender | None = None
    segmenter: Path | None = None  # the segments stage's model folder
    left_out: dict[str, str] = field(default_factory=dict)  # part -> why

    @property
    def champions(self) -> list[Champion]:
        return [c for c in (self.intent, self.recommender) if c is not None]

    @property
    def algorithm(self) -> str:
        """The recommender's algorithm (empty without one)."""
        return "" if self.recommender_model is None else self.recommender_model.config["algorithm"]


def missing_reason(
    name: str, candidate: Path, stage: str, scratch: Path, alias: str, lineage: Lineage
) -> tuple[Champion | None, str | None]:
    """The champion of ``name``, or why there is none: its stage skipped on this log (the
    candidate folder's SKIPPED.json wins over an older champion of the same lineage, whose
    features or target may not be this run's) or the registry holds none for this data."""
    skipped = skip_reason_of(candidate)
    if skipped is not None:
        return None, f"the {stage} stage skipped ({skipped})"
    try:
        return fetch_champion(name, alias, scratch, lineage), None
    except NoChampionError as err:
        return None, str(err)


def features_label(table: Path) -> str | None:
    """The label column the features table names in its attrs (None without the file or attrs),
    read from the Parquet metadata alone."""
    import json

    import pyarrow.parquet as pq

    if not Path(table).is_file():
        return None
    metadata = pq.read_schema(table).metadata or {}
    attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}") or b"{}")
    return attrs.get("label") if isinstance(attrs, dict) else None


def gather_parts(
    params: ExportParams,
    scratch: Path | str,
    paths: Any,
    status: StageStatus,
    lineage: Lineage | None = None,
) -> ExportParts:
    """The champions of the current data lineage and the segmenter, each left out (noted in
    ``status``) when its stage skipped or no champion exists; ``status`` skips without either
    model."""
    lineage = lineage or current_lineage(paths)
    lineages = {  # an intent model is the champion of its target too (Lineage.for_target)
        "intent": lineage.for_target(features_label(paths.processed / "features.parquet")),
        "recommender": lineage,
    }
    parts = ExportParts()
    names = {"intent": params.intent_model, "recommender": params.recommender_model}
    for part, stage in MODEL_STAGES.items():
        champion, why = missing_reason(
            names[part], paths.candidates / part, stage, Path(scratch), params.alias, lineages[part]
        )
        if why is not None:
            parts.left_out[part] = why
        setattr(parts, part, champion)
    segmenter = paths.models / "segmenter"
    skipped = skip_reason_of(segmenter)
    if skipped is not None:
        parts.left_out["segments"] = f"the segments stage skipped ({skipped})"
    else:
        parts.segmenter = segmenter
    if parts.intent is not None:
        parts.intent_model = load_intent(parts.intent)
    if parts.recommender is not None:
        parts.recommender_model = load_recommender(parts.recommender, params.k, params.max_k)
    note_parts(parts, status)
    return parts


def note_parts(parts: ExportParts, status: StageStatus) -> None:
    """Each missing part in ``status``: left out with its reason, and what the decision rule does
    without it; a skip when neither model exists."""
    why = parts.left_out
    if "intent" in why and "recommender" in why:
        status.skip(
            f"neither model to export: intent model: {why['intent']}; recommender: "
            f"{why['recommender']}"
        )
        return
    if "intent" in why:
        status.leave_out("the intent model (models/intent)", why["intent"])
        status.adapted(
            "models/personalise: without intent gating, every user the recommender knows gets "
            "its recommendations (strategy personalised_no_intent), unknown users the popular "
            "items; requests need no intent features and intent_score is null"
        )
    if "recommender" in why:
        status.leave_out("the recommender (models/recommender)", why["recommender"])
        status.adapted(
            "models/personalise: without a recommender, every user gets the trending items "
            "(strategy trending_no_recommender) with their intent score"
        )
    if "segments" in why:
        status.leave_out("the segments in models/personalise", why["segments"])
        status.adapted("models/personalise: the segment column of every answer is null")


def parts_table(parts: ExportParts) -> pd.DataFrame:
    """One row per part: the champion it exports (version, metric, lineage, run, commit), or
    why it is left out."""
    rows = [
        {"part": part, **champion_row(champion), "left out because": parts.left_out.get(part, "")}
        for part, champion in (("intent", parts.intent), ("recommender", parts.recommender))
    ]
    segments = {**champion_row(None), "model": "" if parts.segmenter is None else "segmenter"}
    rows.append(
        {"part": "segments", **segments, "left out because": parts.left_out.get("segments", "")}
    )
    return pd.DataFrame(rows)
