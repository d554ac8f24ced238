"""The personalisation rule's files: :func:`save_rule` writes each part the rule has and
``personalise.json`` (threshold, k, segment names, trending, the visit's rules);
:func:`load_rule` reads them back (``Personaliser.save`` / ``Personaliser.load``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from personalab.export.live_rules import LiveRules
from personalab.export.params import ExportError
from personalab.export.personalise import Personaliser
from personalab.intent.model import IntentModel
from personalab.online.features import OnlineFeatures
from personalab.recommend.served import DEFAULT_MAX_K, Recommender


def save_rule(
    rule: Personaliser, folder: Path | str, segmenter_folder: Path | str | None
) -> dict[str, Path]:
    """The parts the rule has, by artifact name (``intent_*``, ``recommender_*``,
    ``segmenter``), and ``personalise.json`` (threshold, k, segment names, trending)."""
    from personalab.core.storage import write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    if rule.intent is not None:
        saved = rule.intent.save(folder / "intent")
        files |= {f"intent_{name}": path for name, path in saved.items()}
    if rule.recommender is not None:
        saved = rule.recommender.save(folder / "recommender")
        files |= {f"recommender_{name}": path for name, path in saved.items()}
    if rule.segmenter is not None:
        if segmenter_folder is None:
            raise ExportError("a rule with a segmenter needs the segments stage's model folder")
        files["segmenter"] = Path(shutil.copytree(segmenter_folder, folder / "segmenter"))
    if rule.online is not None:
        files["online_store"] = Path(
            shutil.copyfile(rule.online.store.path, folder / rule.online.store.path.name)
        )
    files["personalise"] = write_json(
        {
            "threshold": rule.threshold,
            "k": rule.k,
            "max_k": rule.max_k,
            "segment_features": rule.segment_features,
            "segment_names": rule.segment_names,
            "trending": [[str(item), float(s)] for item, s in rule.trending.items()],
            "live_rules": rule.live_rules.to_json(),
        },
        folder / "personalise.json",
    )
    return files


def load_rule(artifacts: Mapping[str, str]) -> Personaliser:
    """The rule from :meth:`save`'s files (a part whose files are absent stays None)."""
    import mlflow.sklearn

    settings = json.loads(Path(artifacts["personalise"]).read_text(encoding="utf-8"))
    trending = pd.Series(
        [s for _, s in settings["trending"]],
        index=pd.Index([item for item, _ in settings["trending"]], name="item_id"),
        name="score",
        dtype=float,
    )
    intent = recommender = segmenter = None
    if "intent_config" in artifacts:
        intent = IntentModel.load(
            artifacts["intent_config"], artifacts.get("intent_booster")
        ).single_threaded()
    if "recommender_model" in artifacts:
        recommender = Recommender.load(  # with its next-item model (the visit's rules)
            artifacts["recommender_model"],
            artifacts["recommender_config"],
            artifacts.get("recommender_next_item"),
        )
    if "segmenter" in artifacts:
        segmenter = mlflow.sklearn.load_model(artifacts["segmenter"])
    online = None
    if "online_store" in artifacts:  # or the Redis store PERSONALAB_ONLINE_STORE names
        from personalab.online.redis_store import open_store

        online = OnlineFeatures(open_store(artifacts["online_store"]))
    return Personaliser(
        intent,
        segmenter,
        settings["segment_features"],
        settings["segment_names"],
        recommender,
        trending,
        settings["threshold"],
        settings["k"],
        settings.get("max_k", DEFAULT_MAX_K),
        online,
        LiveRules.from_json(settings.get("live_rules")),
    )
