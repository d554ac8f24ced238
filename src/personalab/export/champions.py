"""Champions from the registry: the versions of ``personalab-intent`` and
``personalab-recommender`` that hold the alias ``champion`` of the current data lineage
(``champion-<lineage key>``, :mod:`personalab.core.registry`; not simply the newest: a re-run
that lost stays a challenger, and a champion trained on other data is never served), downloaded
with the run that trained them, and the models inside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from personalab.core.registry import Lineage, version_with_alias
from personalab.export.params import ExportError
from personalab.intent.model import CONFIG_FILE, IntentModel
from personalab.recommend.served import Recommender


class NoChampionError(ExportError):
    """The registry holds no version with the alias (in the current data lineage)."""


@dataclass
class Champion:
    """One registered model version and the run that trained it."""

    name: str
    version: str
    alias: str
    run_id: str
    folder: Path  # the downloaded pyfunc folder
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # of the run
    version_tags: dict[str, str] = field(default_factory=dict)
    created: str = ""

    @property
    def primary_metric(self) -> str:
        return self.version_tags.get("primary_metric", "")

    @property
    def lineage(self) -> str:
        """The data lineage it was trained on: readable source and key (or "unknown")."""
        key = self.version_tags.get("lineage")
        if not key:
            return "unknown (registered before lineages were recorded)"
        return f"{self.version_tags.get('lineage.source', '')} (lineage `{key}`)".lstrip()

    @property
    def data_versions(self) -> dict[str, str]:
        return {k.removeprefix("data."): v for k, v in self.tags.items() if k.startswith("data.")}


def fetch_champion(
    name: str, alias: str, dest: Path | str, lineage: Lineage | None = None
) -> Champion:
    """Download the version of ``name`` holding ``alias`` (in ``lineage``: ``<alias>-<key>``),
    with its run's metrics and tags."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    wanted = alias if lineage is None else lineage.alias(alias)
    version = version_with_alias(client, name, wanted)  # a broken registry raises as it is
    if version is None:
        of = "" if lineage is None else f" (the {alias} of data lineage {lineage.source})"
        other = "" if lineage is None else ": a model trained on other data is not served"
        raise NoChampionError(
            f"registered model {name!r} has no version with alias {wanted!r}{of} in "
            f"{mlflow.get_tracking_uri()}{other}; run the stage that trains it first (dvc repro)"
        )
    folder = Path(  # by version: the alias may move while this runs
        mlflow.artifacts.download_artifacts(
            f"models:/{name}/{version.version}", dst_path=str(Path(dest) / name)
        )
    )
    run = client.get_run(version.run_id)
    created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
    return Champion(
        name=name,
        version=str(version.version),
        alias=wanted,
        run_id=version.run_id,
        folder=folder,
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        created=created.strftime("%Y-%m-%d %H:%M UTC"),
        version_tags=dict(version.tags),
    )


def champion_row(champion: Champion | None) -> dict[str, str]:
    """A champion's line in the notebook's table (empty values without one)."""
    c = champion
    return {
        "model": "" if c is None else c.name,
        "version": "" if c is None else c.version,
        "primary metric": "" if c is None else c.primary_metric,
        "value": "" if c is None else c.version_tags.get(c.primary_metric, ""),
        "lineage": "" if c is None else c.version_tags.get("lineage", "unknown"),
        "run": "" if c is None else c.run_id,
        "git commit": "" if c is None else c.tags.get("git_commit", "unknown")[:12],
    }


def load_intent(champion: Champion) -> IntentModel:
    config = champion.folder / "artifacts" / CONFIG_FILE
    try:
        return IntentModel.load(config)
    except FileNotFoundError as err:
        raise ExportError(
            f"{champion.folder}: {err.filename or config} is missing under artifacts/: version "
            f"{champion.version} of {champion.name!r} is not an intent model this code serves; "
            "re-run `dvc repro intent`"
        ) from None


def load_recommender(champion: Champion, k: int, max_k: int) -> Recommender:
    """The champion's recommender, serving ``k`` items by default and at most ``max_k``."""
    from personalab.recommend.served import load_recommender as load

    recommender = load(champion.folder)
    recommender.config["top_n"], recommender.config["max_k"] = int(k), int(max_k)
    return recommender
