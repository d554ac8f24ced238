"""Stage ``export``: the registry's champions as self-contained MLflow models for serving.

The stage takes the versions of ``personalab-intent`` and ``personalab-recommender``
that hold the alias ``champion`` (not simply the newest: a re-run that lost stays a
challenger) and writes three MLflow pyfunc folders, each with a signature, an input
example (``serving_input_example.json``), pinned requirements and this package's
code:

``models/intent``
    feature rows as the features stage writes them in; ``purchase_probability`` and
    ``purchase_intent`` (at the model's decision threshold) out. Columns that had
    missing values in training are optional; a missing required column is refused.
``models/recommender``
    rows with ``user_id`` in (request param ``k``); ranked ``item_id`` with ``score``
    and a ``fallback`` flag (popular items for unknown users) out, scored from the
    exported arrays (:mod:`personalab.serving`).
``models/personalise``
    the decision rule: a user id with its feature row in; the intent score, the
    behavioural segment, the ``strategy`` and ``k`` items out. High-intent users
    (score at or above the threshold) get their personalised recommendations, casual
    browsers the trending items they have not seen, unknown users the popular items.

``reports/summary.md`` records the champions, their metrics, the git and data
versions and MLflow runs they came from, and each stage's time.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.core.paths import upstream
from personalab.intent import IntentModel, float_block
from personalab.serving import Recommender

STAGE = "export"
INTENT_FILES = ("booster.ubj", "intent.json")  # an intent model's artifacts
PERSONALISE_COLUMNS = [
    "user_id",
    "intent_score",
    "segment",
    "strategy",
    "rank",
    "item_id",
    "score",
]
STRATEGIES = ("personalised", "trending", "popular")
PARITY_TOLERANCE = 1e-9


class ExportError(InputError, ValueError):
    """A champion, input or request the export stage cannot use."""


class PersonaliseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high_intent_threshold: float | None = Field(None, ge=0.0, le=1.0)
    trending_window_days: PositiveFloat = 7.0
    trending_items: PositiveInt = 200


class ExportParams(StageParams):
    intent_model: str = "personalab-intent"
    recommender_model: str = "personalab-recommender"
    alias: str = "champion"
    k: PositiveInt = 10
    example_rows: PositiveInt = 3
    personalise: PersonaliseParams = Field(default_factory=PersonaliseParams)


# --- champions from the registry ----------------------------------------------------------------


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
    def data_versions(self) -> dict[str, str]:
        return {k.removeprefix("data."): v for k, v in self.tags.items() if k.startswith("data.")}


def fetch_champion(name: str, alias: str, dest: Path | str) -> Champion:
    """Download the version of ``name`` holding ``alias``, with its run's metrics and tags."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        raise ExportError(
            f"registered model {name!r} has no version with alias {alias!r} in "
            f"{mlflow.get_tracking_uri()}; run the stage that trains it first (dvc repro)"
        ) from None
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
        alias=alias,
        run_id=version.run_id,
        folder=folder,
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        created=created.strftime("%Y-%m-%d %H:%M UTC"),
        version_tags=dict(version.tags),
    )


def load_intent(champion: Champion) -> IntentModel:
    booster, config = (champion.folder / "artifacts" / name for name in INTENT_FILES)
    if not (booster.is_file() and config.is_file()):
        raise ExportError(
            f"{champion.folder}: no {' and '.join(INTENT_FILES)} under artifacts/: version "
            f"{champion.version} of {champion.name!r} is not an intent model this code serves; "
            "re-run `dvc repro intent`"
        )
    return IntentModel.load(booster, config)


def load_recommender(champion: Champion, k: int) -> Recommender:
    from personalab.serving import load_recommender as load

    recommender = load(champion.folder)
    recommender.config["top_n"] = int(k)
    return recommender


# --- the personalisation rule -------------------------------------------------------------------


def trending_items(events: pd.DataFrame, window_days: float, n: int) -> pd.Series:
    """The ``n`` items most users touched in the last ``window_days`` of the log, as the share
    of the users with item events then (ties by item id): the recommend stage's trending
    baseline, over every event kind."""
    from personalab.recommend import popularity

    items = events.loc[events["item_id"].notna(), ["user_id", "item_id", "timestamp"]]
    return popularity(items.astype({"item_id": str}), window_days).head(n)


class Personaliser:
    """Intent model + segmenter + recommender + trending list: the serving decision rule.

    Each request row is a user id with its feature row. The intent score decides the
    strategy: ``personalised`` (the recommender's top-k unseen items) at or above
    ``threshold``, ``trending`` below it (the trending items the user has not seen),
    and ``popular`` for users the recommender does not know (or who have seen every
    item their strategy would offer). The row's segment comes from the segments
    stage's model.
    """

    def __init__(
        self,
        intent: IntentModel,
        segmenter: Any,
        segment_features: Sequence[str],
        segment_names: Mapping[str, str],
        recommender: Recommender,
        trending: pd.Series,
        threshold: float,
        k: int = 10,
    ):
        self.intent, self.segmenter, self.recommender = intent, segmenter, recommender
        self.segment_features = list(segment_features)
        self.segment_names = {str(key): str(value) for key, value in segment_names.items()}
        self.trending, self.threshold, self.k = trending, float(threshold), int(k)
        self._trending_ids = trending.index.to_numpy(dtype=object)
        self._trending_scores = trending.to_numpy(dtype=float)
        in_model = recommender.model.items.get_indexer(pd.Index(self._trending_ids))
        self._trending_at = np.full(len(recommender.model.items), -1)  # item -> trending position
        self._trending_at[in_model[in_model >= 0]] = np.flatnonzero(in_model >= 0)
        self._trending_order = np.argsort(self._trending_ids.astype(str), kind="stable")

    def segments(self, frame: pd.DataFrame) -> np.ndarray:
        labels = self.segmenter.predict(float_block(frame, self.segment_features))
        return np.array([self.segment_names.get(str(label), "unknown") for label in labels])

    def personalise(self, frame: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        k = self.k if k is None else int(k)
        if k < 1:
            raise ExportError(f"k must be at least 1, got {k}")
        if "user_id" not in frame:
            raise ExportError(f"the request has no user_id column (columns: {list(frame.columns)})")
        users = frame["user_id"].to_numpy(dtype=object).astype(str).astype(object)
        _, first = np.unique(users, return_index=True)
        if first.size < users.size:  # one answer per user: their first row
            first.sort()
            frame, users = frame.iloc[first], users[first]
        if users.size == 0:
            return pd.DataFrame(columns=PERSONALISE_COLUMNS)
        score = self.intent.predict_proba(frame)
        segment = self.segments(frame)
        model = self.recommender.model
        inner = model.inner(users)
        strategy = np.where(
            inner < 0, "popular", np.where(score >= self.threshold, "personalised", "trending")
        )
        parts = [
            self._personalised(inner, np.flatnonzero(strategy == "personalised"), k),
            self._trending(inner, np.flatnonzero(strategy == "trending"), k),
        ]
        served = np.zeros(users.size, dtype=bool)
        for part in parts:
            served[part[0]] = True
        strategy[~served] = "popular"  # nothing unseen left to offer them: the popular items
        parts.append(self._popular(np.flatnonzero(strategy == "popular"), k))
        position, rank, items, scores = (np.concatenate(c) for c in zip(*parts, strict=True))
        order = np.lexsort((rank, position))  # the request's order, then rank
        at = position[order]
        return pd.DataFrame(
            {
                "user_id": users[at],
                "intent_score": score[at],
                "segment": segment[at],
                "strategy": strategy[at],
                "rank": rank[order].astype(np.int64),
                "item_id": items[order],
                "score": scores[order].astype(float),
            }
        )

    def _personalised(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """(request position, rank, item, score) of the recommender's top-k unseen items."""
        model = self.recommender.model
        rows, cols, scores, ranks = model.top_k_arrays(inner[who], k)
        return who[rows], ranks, model.item_ids[cols], scores

    def _trending(self, inner: np.ndarray, who: np.ndarray, k: int) -> tuple:
        """The trending items each (known) user has not seen yet, most trending first."""
        from personalab.evaluation.topk import select_top

        scores = np.tile(self._trending_scores, (who.size, 1))
        if who.size:
            seen = self.recommender.model.seen[inner[who]].tocoo()
            at = self._trending_at[seen.col]
            scores[seen.row[at >= 0], at[at >= 0]] = -np.inf
        k_eff = min(k, self._trending_scores.size)
        cols = select_top(scores, k_eff, self._trending_order)
        chosen = np.take_along_axis(scores, cols, axis=1)
        keep = chosen > -np.inf
        rows = np.broadcast_to(np.arange(who.size)[:, None], cols.shape)[keep]
        ranks = np.broadcast_to(np.arange(1, k_eff + 1), cols.shape)[keep]
        return (
            who[rows],
            ranks,
            self._trending_ids[cols[keep]],
            chosen[keep],
        )

    def _popular(self, who: np.ndarray, k: int) -> tuple:
        top = self.recommender.popular.head(k)
        n = len(top)
        return (
            np.repeat(who, n),
            np.tile(np.arange(1, n + 1), who.size),
            np.tile(top.index.to_numpy(dtype=object), who.size),
            np.tile(top.to_numpy(dtype=float), who.size),
        )

    # --- files ---

    def save(self, folder: Path | str, segmenter_folder: Path | str) -> dict[str, Path]:
        from personalab.core.storage import write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            name: path
            for name, path in self.intent.save(folder / "intent").items()
            if name in ("booster", "config")
        }
        files = {f"intent_{name}": path for name, path in files.items()}
        files |= {
            f"recommender_{name}": path
            for name, path in self.recommender.save(folder / "recommender").items()
        }
        files["segmenter"] = Path(shutil.copytree(segmenter_folder, folder / "segmenter"))
        files["personalise"] = write_json(
            {
                "threshold": self.threshold,
                "k": self.k,
                "segment_features": self.segment_features,
                "segment_names": self.segment_names,
                "trending": [[str(item), float(s)] for item, s in self.trending.items()],
            },
            folder / "personalise.json",
        )
        return files

    @classmethod
    def load(cls, artifacts: Mapping[str, str]) -> Personaliser:
        import mlflow.sklearn

        settings = json.loads(Path(artifacts["personalise"]).read_text(encoding="utf-8"))
        trending = pd.Series(
            [s for _, s in settings["trending"]],
            index=pd.Index([item for item, _ in settings["trending"]], name="item_id"),
            name="score",
            dtype=float,
        )
        return cls(
            IntentModel.load(artifacts["intent_booster"], artifacts["intent_config"]),
            mlflow.sklearn.load_model(artifacts["segmenter"]),
            settings["segment_features"],
            settings["segment_names"],
            Recommender.load(artifacts["recommender_model"], artifacts["recommender_config"]),
            trending,
            settings["threshold"],
            settings["k"],
        )


def segmenter_metadata(folder: Path | str) -> tuple[list[str], dict[str, str]]:
    """The segments stage's model's input columns and segment names (from its MLmodel file)."""
    from mlflow.models import Model

    path = upstream(Path(folder) / "MLmodel", "segments", ExportError)
    metadata = Model.load(str(path)).metadata or {}
    missing = [key for key in ("features", "segment_names") if key not in metadata]
    if missing:
        raise ExportError(
            f"{path}: metadata lacks {missing}; re-run the segments stage (dvc repro -f segments)"
        )
    return list(metadata["features"]), dict(metadata["segment_names"])


# --- MLflow pyfunc folders ----------------------------------------------------------------------


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
    left out); segment columns the intent model does not use are optional (the segmenter imputes)."""
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, Schema

    from personalab.intent import input_schema

    intent_inputs = input_schema(personaliser.intent.encoder).inputs
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


def example_rows(table: pd.DataFrame, personaliser: Personaliser, n: int) -> pd.DataFrame:
    """``n`` feature rows of the latest cut-off as a client sends them: one per strategy when
    the table has them, so the example shows each branch of the rule."""
    latest = table[table["cutoff"] == table["cutoff"].max()] if "cutoff" in table else table
    scored = personaliser.personalise(latest.head(2000), k=1)
    picks = scored.drop_duplicates("strategy")["user_id"].tolist()
    rest = latest.loc[~latest["user_id"].astype(str).isin(picks), "user_id"].astype(str)
    chosen = [*picks, *rest.head(max(n - len(picks), 0)).tolist()][:n]
    rows = latest[latest["user_id"].astype(str).isin(chosen)].drop_duplicates("user_id")
    encoded = personaliser.intent.encoder.example(rows)
    extra = [c for c in personaliser.segment_features if c not in encoded]
    out = pd.concat(
        [rows[["user_id"]].astype(str), encoded, rows[extra].astype(float)], axis=1
    ).reset_index(drop=True)
    return out


def save_personalise(
    personaliser: Personaliser,
    example: pd.DataFrame,
    segmenter_folder: Path | str,
    folder: Path | str,
) -> Path:
    from personalab.core.registry import save_pyfunc
    from personalab.core.tracking import pinned_requirements
    from personalab.intent import model_requirements

    requirements = sorted({*model_requirements(), *pinned_requirements("cloudpickle")})
    return save_pyfunc(
        folder,
        _personalise_pyfunc_class()(),
        lambda scratch: personaliser.save(scratch, segmenter_folder),
        personalise_signature(personaliser, example),
        example,
        requirements,
    )


# --- checks, summary and outputs ----------------------------------------------------------------


def parity(
    exported: Path | str, expected: pd.DataFrame, example: pd.DataFrame, **params: Any
) -> float:
    """Largest difference between an exported folder's predictions of ``example`` (loaded
    through ``mlflow.pyfunc``) and ``expected``: absolute for float columns; any other column
    (ids, flags, names) that differs makes it ``inf``."""
    import mlflow.pyfunc

    ours = mlflow.pyfunc.load_model(str(exported)).predict(example, params=params or None)
    theirs = expected
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        return float("inf")
    worst = 0.0
    for name in ours.columns:
        a, b = ours[name].to_numpy(), theirs[name].to_numpy()
        if pd.api.types.is_float_dtype(ours[name]):
            worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)))
        elif not (a == b).all():
            return float("inf")
    return worst


def stage_times(paths: Any) -> pd.DataFrame:
    """Each stage's latest notebook run: its MLflow run id, start and seconds (papermill's own
    timing of the executed notebook; a notebook still running counts until now)."""
    import nbformat

    from personalab.core.paths import STAGES

    now = datetime.now(UTC)
    rows = []
    for stage in STAGES:
        notebook, pointer = paths.executed_notebook(stage), paths.runs / f"{stage}.json"
        if not notebook.is_file():
            continue
        meta = nbformat.read(str(notebook), as_version=4).metadata.get("papermill", {})
        if not meta.get("start_time"):
            continue
        started = datetime.fromisoformat(meta["start_time"])
        seconds = meta.get("duration") or (now - started).total_seconds()
        run_id = json.loads(pointer.read_text())["run_id"] if pointer.is_file() else ""
        rows.append(
            {
                "stage": stage,
                "run_id": run_id,
                "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "seconds": round(float(seconds), 1),
            }
        )
    return pd.DataFrame(rows, columns=["stage", "run_id", "started", "seconds"])


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _champion_section(champion: Champion, keys: Sequence[str]) -> list[str]:
    metrics = {k: champion.metrics[k] for k in keys if k in champion.metrics}
    commit = champion.tags.get("git_commit", "unknown")
    dirty = " (with uncommitted changes)" if champion.tags.get("git_dirty") == "true" else ""
    lines = [
        f"### {champion.name} v{champion.version} (alias `{champion.alias}`)",
        "",
        f"- MLflow run: `{champion.run_id}` ({champion.tags.get('mlflow.runName', '')}), "
        f"registered {champion.created}",
        f"- git commit: `{commit}`{dirty}",
    ]
    if champion.primary_metric:
        value = champion.version_tags.get(champion.primary_metric, "")
        lines.append(f"- primary metric: `{champion.primary_metric}` = {value}")
    if decision := champion.version_tags.get("decision"):
        lines.append(f"- registry decision: {decision}")
    for name, digest in champion.data_versions.items():
        lines.append(f"- data: `{name}` md5 `{digest}`")
    if metrics:
        frame = pd.DataFrame(
            {"metric": list(metrics), "value": [f"{v:.4g}" for v in metrics.values()]}
        )
        lines += ["", _table(frame)]
    return [*lines, ""]


INTENT_KEYS = (
    "test_roc_auc", "test_pr_auc", "test_logloss", "test_brier", "test_ece", "test_f1",
    "test_precision", "test_recall", "threshold", "oracle_roc_auc",
)  # fmt: skip
RECOMMENDER_KEYS = (
    "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10", "coverage",
    "novelty", "rmse", "mae", "popularity_ndcg_at_10", "fallback_share",
)  # fmt: skip


def summary_markdown(
    intent: Champion,
    recommender: Champion,
    exported: Mapping[str, Path],
    times: pd.DataFrame,
    metrics: Mapping[str, Any],
    root: Path,
    algorithm: str = "",
) -> str:
    """``reports/summary.md``: what is served, where it came from, and how long the pipeline took."""
    served = pd.DataFrame(
        {
            "folder": [f"`{Path(p).relative_to(root).as_posix()}`" for p in exported.values()],
            "serves": [
                f"{intent.name} v{intent.version}",
                f"{recommender.name} v{recommender.version}",
                f"intent v{intent.version} + recommender v{recommender.version} + segmenter",
            ],
            "check": [
                f"max abs diff {metrics['intent_parity']:.2g} vs the registry model",
                f"max abs diff {metrics['recommender_parity']:.2g} vs the registry model",
                f"max abs diff {metrics['personalise_parity']:.2g} vs the rule in memory",
            ],
        }
    )
    total = float(times["seconds"].sum()) if len(times) else 0.0
    times = times.assign(run_id=[f"`{r}`" for r in times["run_id"]])
    lines = [
        "# personalab: the served models",
        "",
        f"Written by the `export` stage on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. "
        "Serve one with `make serve MODEL=<name>` (see the README).",
        "",
        "## Exported models",
        "",
        _table(served),
        "",
        f"High-intent threshold of `personalise`: {metrics['high_intent_threshold']:.4f} "
        f"(trending window {metrics['trending_window_days']:g} days).",
        "",
        "## Champions",
        "",
        *_champion_section(intent, INTENT_KEYS),
        *_champion_section(recommender, RECOMMENDER_KEYS),
        "## Pipeline stages (latest notebook run of each, timed by papermill)",
        "",
        _table(times),
        "",
        f"Total: {total:.0f} s of notebook execution (each stage adds a few seconds to start "
        "its kernel and attach the executed notebook to its MLflow run).",
        "",
    ]
    if algorithm:
        at = lines.index("## Champions") + 2
        lines[at:at] = [f"The recommender champion is {algorithm}.", ""]
    return "\n".join(lines)


# --- the stage ----------------------------------------------------------------------------------


def fetch_champions(params: ExportParams, scratch: Path | str) -> tuple[Champion, Champion]:
    """The intent and recommender versions holding ``params.alias``, downloaded to ``scratch``."""
    return (
        fetch_champion(params.intent_model, params.alias, scratch),
        fetch_champion(params.recommender_model, params.alias, scratch),
    )


def champions_table(*champions: Champion) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": c.name,
                "version": c.version,
                "primary metric": c.primary_metric,
                "value": c.version_tags.get(c.primary_metric, ""),
                "run": c.run_id,
                "git commit": c.tags.get("git_commit", "unknown")[:12],
            }
            for c in champions
        ]
    )


def load_features(paths: Any) -> pd.DataFrame:
    return pd.read_parquet(upstream(paths.processed / "features.parquet", "features", ExportError))


def build_personaliser(
    intent: IntentModel,
    recommender: Recommender,
    events: pd.DataFrame,
    params: ExportParams,
    paths: Any,
) -> Personaliser:
    """The decision rule from the champions, the segments stage's model and the recent events."""
    import mlflow.sklearn

    folder = paths.models / "segmenter"
    features, names = segmenter_metadata(folder)
    rule = params.personalise
    threshold = (
        intent.threshold if rule.high_intent_threshold is None else rule.high_intent_threshold
    )
    return Personaliser(
        intent,
        mlflow.sklearn.load_model(str(folder)),
        features,
        names,
        recommender,
        trending_items(events, rule.trending_window_days, rule.trending_items),
        threshold,
        params.k,
    )


def strategy_mix(personaliser: Personaliser, table: pd.DataFrame) -> pd.DataFrame:
    """Share of each strategy per segment for the users of the latest cut-off (one item each)."""
    latest = table[table["cutoff"] == table["cutoff"].max()] if "cutoff" in table else table
    chosen = personaliser.personalise(latest, k=1)
    mix = pd.crosstab(chosen["segment"], chosen["strategy"], margins=True, margins_name="all")
    return mix.reindex(columns=[*[s for s in STRATEGIES if s in mix], "all"], fill_value=0)


@dataclass
class Exported:
    folders: dict[str, Path]
    examples: dict[str, pd.DataFrame]


def export_models(
    intent: IntentModel,
    recommender: Recommender,
    personaliser: Personaliser,
    table: pd.DataFrame,
    params: ExportParams,
    paths: Any,
) -> Exported:
    """Write models/intent, models/recommender and models/personalise (atomically)."""
    from personalab import intent as intent_stage
    from personalab import serving

    people = example_rows(table, personaliser, params.example_rows)
    examples = {
        "intent": people[intent.feature_names],
        "recommender": pd.DataFrame({"user_id": [*people["user_id"], "newcomer"]}),
        "personalise": people,
    }
    folders = {
        "intent": intent_stage.save_serving_model(intent, people, paths.models / "intent"),
        "recommender": serving.save_serving_model(
            recommender, paths.models / "recommender", examples["recommender"]
        ),
        "personalise": save_personalise(
            personaliser, people, paths.models / "segmenter", paths.models / "personalise"
        ),
    }
    return Exported(folders, examples)


def check_exports(
    exported: Exported, intent: Champion, recommender: Champion, personaliser: Personaliser
) -> dict[str, float]:
    """Each exported folder's predictions against the registry's model (and the in-memory rule)."""
    import mlflow.pyfunc

    k, examples, folders = personaliser.k, exported.examples, exported.folders
    registered = {
        name: mlflow.pyfunc.load_model(str(champion.folder))
        for name, champion in (("intent", intent), ("recommender", recommender))
    }
    checks = {
        "intent_parity": parity(
            folders["intent"],
            registered["intent"].predict(examples["intent"]),
            examples["intent"],
        ),
        "recommender_parity": parity(
            folders["recommender"],
            registered["recommender"].predict(examples["recommender"], params={"k": k}),
            examples["recommender"],
            k=k,
        ),
        "personalise_parity": parity(
            folders["personalise"],
            personaliser.personalise(examples["personalise"]),
            examples["personalise"],
        ),
    }
    for name, value in checks.items():
        if not value <= PARITY_TOLERANCE:
            folder = folders[name.removesuffix("_parity")]
            raise ExportError(
                f"{folder}: loaded back, it predicts differently from the model it exports "
                f"({name} = {value}); the export is not trustworthy"
            )
    return checks


def export_metrics(
    intent: Champion,
    recommender: Champion,
    personaliser: Personaliser,
    mix: pd.DataFrame,
    checks: Mapping[str, float],
    params: ExportParams,
) -> dict[str, Any]:
    """The stage's metrics JSON (no timings, so it changes only when the results do)."""
    total = max(int(mix.loc["all", "all"]), 1) if "all" in mix.index else 1
    shares = {
        f"{strategy}_share": float(mix.loc["all", strategy]) / total
        for strategy in STRATEGIES
        if strategy in mix.columns
    }
    return {
        "intent_version": int(intent.version),
        "recommender_version": int(recommender.version),
        **checks,
        "high_intent_threshold": personaliser.threshold,
        "trending_window_days": params.personalise.trending_window_days,
        "trending_items": len(personaliser.trending),
        "k": params.k,
        **shares,
    }


def save_outputs(
    intent: Champion,
    recommender: Champion,
    exported: Exported,
    metrics: Mapping[str, Any],
    algorithm: str,
    paths: Any,
) -> dict[str, Path]:
    """Write reports/metrics/export.json and reports/summary.md."""
    from personalab.core.storage import write_metrics, write_text

    text = summary_markdown(
        intent, recommender, exported.folders, stage_times(paths), metrics, paths.root, algorithm
    )
    return {
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
        "summary": write_text(text, paths.reports / "summary.md"),
    }
