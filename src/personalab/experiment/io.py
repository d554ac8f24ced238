"""The experiment stage's reads and writes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.core.paths import ProjectPaths, upstream
from personalab.core.status import StageStatus
from personalab.core.storage import write_csv, write_metrics
from personalab.experiment.covariates import (
    CUPAC,
    INTENT_COVARIATE,
    CovariateError,
    covariate_columns,
    covariates_of,
    fit_cupac,
)
from personalab.experiment.params import STAGE, ExperimentError, ExperimentParams
from personalab.experiment.stage import (
    Covariates,
    ExperimentData,
    ExperimentResult,
    read_assignments,
    read_table,
    trending_unseen,
)

EVENT_COLUMNS = ["user_id", "item_id", "event_type", "timestamp", "price"]


def _events(paths: ProjectPaths) -> pd.DataFrame:
    import pyarrow.parquet as pq

    path = upstream(paths.interim / "events.parquet", "ingest", ExperimentError)
    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in EVENT_COLUMNS if c in present])


def _features(paths: ProjectPaths) -> pd.DataFrame:
    return pd.read_parquet(
        upstream(paths.processed / "features.parquet", "features", ExperimentError)
    )


def _covariates(
    paths: ProjectPaths,
    params: ExperimentParams,
    start: pd.Timestamp,
    window: pd.Timedelta,
    events: pd.DataFrame,
    status: StageStatus,
) -> Covariates:
    """The covariates at the experiment's start (:mod:`.covariates`), with the reason for each
    one that cannot be made: ``intent_probability`` from the intent stage's model
    (``models/candidates/intent``) when it made one, ``cupac`` fitted on the features table and
    ``events`` (the log) over ``window``."""
    from personalab.core.status import skip_reason_of
    from personalab.intent.model import CONFIG_FILE, IntentModel

    wanted = params.covariates
    rows, why = features_rows_at(paths, start)
    if rows is None:
        return Covariates(None, dict.fromkeys(covariate_columns(wanted).values(), why))
    missing, predict, cupac, info = {}, None, {}, {}
    if INTENT_COVARIATE in wanted.values():
        folder = paths.candidates / "intent"
        config = folder / "artifacts" / CONFIG_FILE
        if skip_reason_of(folder) is None and config.is_file():
            predict = IntentModel.load(config).predict_proba
        else:
            missing[INTENT_COVARIATE] = "the intent stage made no model"
    metrics = [m for m, c in wanted.items() if c == CUPAC]
    if metrics:
        try:
            cupac, info, unlearned = fit_cupac(
                _features(paths), events, rows, start, window, metrics, status
            )
            missing |= {f"{CUPAC}_{m}": f"CUPAC: {why}" for m, why in unlearned.items()}
        except CovariateError as error:
            missing |= {f"{CUPAC}_{m}": str(error) for m in metrics}
    return Covariates(covariates_of(rows, wanted, predict, cupac), missing, info)


def features_rows_at(paths: ProjectPaths, start: pd.Timestamp) -> tuple[pd.DataFrame | None, str]:
    """Every user's features row at ``start``, by the features stage's own plan; None and why
    when the features stage cannot describe the log or nobody has an event before ``start``."""
    from personalab.core.profile import load_profile
    from personalab.features.build import features_at
    from personalab.features.io import open_events
    from personalab.features.params import FeaturesParams
    from personalab.features.plan import plan_features

    features = FeaturesParams.from_yaml(paths.params_file("features"))
    events = open_events(paths, features.engine_params())
    try:
        plan = plan_features(events, features, load_profile(paths), StageStatus("features"))
        if plan.skip_reason is not None:
            return None, f"the features stage cannot describe this log: {plan.skip_reason}"
        rows = features_at(events, start, plan, events.engine)
    finally:
        events.engine.close()
    if rows.empty:
        return None, "no user has an event before the experiment's start"
    return rows.drop(columns="cutoff").reset_index(drop=True), ""


def load_experiment(
    paths: ProjectPaths, params: ExperimentParams, status: StageStatus
) -> ExperimentData | None:
    """The experiment's tables; None (``status`` skipped, with the reason) when there is none."""
    from personalab.ingest.params import IngestParams

    if params.assignments.path is not None:
        path = paths.root / params.assignments.path
        assignments = read_assignments(path, params)
        impressions = None
        if params.impressions is not None:
            impressions = read_table(paths.root / params.impressions, "impressions table")
            missing = {"user_id", "item_id", "impressions"} - set(impressions.columns)
            if missing:
                raise ExperimentError(
                    f"{paths.root / params.impressions}: column(s) {sorted(missing)} not found"
                )
            impressions = impressions.astype({"user_id": str, "item_id": str})
        start, events = assignments["timestamp"].min(), _events(paths)
        # CUPAC learns each metric over the experiment's window (to the end of the log: that long)
        window = (
            pd.Timedelta(days=params.window_days)
            if params.window_days
            else events["timestamp"].max() - start
        )
        return ExperimentData(
            assignments, events, impressions,
            _covariates(paths, params, start, window, events, status), f"{params.assignments.path}",
        )  # fmt: skip
    ingest = IngestParams.from_yaml(paths.params_file("ingest"))
    if ingest.source.format != "synthetic":
        status.skip(
            "no experiment to analyse: name an assignment table (user, variant, time) in "
            "params/experiment.yaml (assignments.path); only the synthetic data has a simulated one"
        )
        return None
    recommendations = pd.read_parquet(paths.processed / "recommendations.parquet")
    if recommendations.empty:
        status.skip("no personalised lists to test: the recommend stage made none")
        return None
    return simulated_data(paths, params, ingest.synthetic, recommendations, status)


def simulation_arms(
    paths: ProjectPaths, params: ExperimentParams, synthetic: Any, recommendations: pd.DataFrame
) -> tuple[Any, pd.Timestamp]:
    """What each policy would do for each user of the synthetic data (:func:`.simulate.user_arms`:
    the exported personalised lists against the trending items each user has not seen), and
    when the simulated period starts (the log's end)."""
    from personalab.experiment.simulate import type_probabilities, user_arms
    from personalab.ingest.synth.chunks import make_catalogue
    from personalab.ingest.synth.config import USER_TYPES

    sim = params.simulation
    truth = pd.read_parquet(upstream(paths.interim / "truth.parquet", "ingest", ExperimentError))
    items, taste, _ = make_catalogue(synthetic)
    start = synthetic.start_ts + pd.Timedelta(days=synthetic.n_days)
    people = truth.loc[~truth["is_bot"].astype(bool), "user_id"]
    k = int(recommendations.groupby("user_id").size().max())
    lists = {
        sim.control: trending_unseen(_events(paths), people, k),
        sim.treatment: recommendations,
    }
    arms = user_arms(
        truth, items, type_probabilities(taste.cdf), [t.name for t in USER_TYPES], lists,
        start, sim.days, sim.influence, sim.click_rate,
    )  # fmt: skip
    return arms, start


def simulated_data(
    paths: ProjectPaths,
    params: ExperimentParams,
    synthetic: Any,
    recommendations: pd.DataFrame,
    status: StageStatus,
) -> ExperimentData:
    """One simulated experiment on the synthetic data (the stage's default)."""
    from personalab.experiment.simulate import simulate

    sim = params.simulation
    arms, start = simulation_arms(paths, params, synthetic, recommendations)
    simulated = simulate(
        arms, sim.control, sim.treatment, start, sim.days, sim.treatment_share, sim.seed
    )
    window = pd.Timedelta(days=min(params.window_days or sim.days, sim.days))
    covariates = _covariates(paths, params, start, window, _events(paths), status)
    source = (
        f"simulated: {len(arms.user_id):,} users randomised {1 - sim.treatment_share:.0%} "
        f"{sim.control} / {sim.treatment_share:.0%} {sim.treatment}, their next {sim.days:g} days "
        "drawn from their latent types"
    )
    return ExperimentData(
        simulated.assignments, simulated.events, simulated.impressions, covariates, source,
        simulated, sim.control,
    )  # fmt: skip


def save_experiment(
    result: ExperimentResult, paths: ProjectPaths, metrics: dict[str, Any]
) -> dict[str, Any]:
    folder, plots = paths.reports / STAGE, paths.plots_dir(STAGE)
    results = result.analysis.results
    uplift = (
        results[["metric", "uplift", "uplift_ci_lower", "uplift_ci_upper"]]
        if len(results)
        else pd.DataFrame(columns=["metric", "uplift", "uplift_ci_lower", "uplift_ci_upper"])
    )
    return {
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
        "variants": write_csv(result.variants, folder / "variants.csv"),
        "results": write_csv(results, folder / "results.csv"),
        "srm": write_csv(result.analysis.srm, folder / "sample_ratio.csv"),
        "power": write_csv(result.analysis.power, folder / "power.csv"),
        "plot_uplift": write_csv(uplift, plots / "uplift.csv"),
    }


def save_skipped(status: StageStatus, paths: ProjectPaths) -> dict[str, Any]:
    """The outputs of a skipped stage: the metrics (status and reason), the results and plot data
    with their header only, and an empty figures folder (an earlier run's figure is removed)."""
    header = pd.DataFrame(columns=["metric", "uplift", "uplift_ci_lower", "uplift_ci_upper"])
    folder = paths.reports / STAGE
    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    for stale in ("variants", "sample_ratio", "power"):
        (folder / f"{stale}.csv").unlink(missing_ok=True)
    return {
        "metrics": write_metrics(status.metrics(), paths.metrics_file(STAGE)),
        "results": write_csv(header, folder / "results.csv"),
        "plot_uplift": write_csv(header, paths.plots_dir(STAGE) / "uplift.csv"),
    }


def plot_uplift(result: ExperimentResult):
    """Each metric's relative uplift with its confidence interval (CUPED beside the plain one)."""
    import matplotlib.pyplot as plt

    table = result.analysis.results.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(table) + 1.5))
    y = range(len(table))
    ax.errorbar(
        table["uplift"], y,
        xerr=[table["uplift"] - table["uplift_ci_lower"], table["uplift_ci_upper"] - table["uplift"]],
        fmt="o", capsize=4,
    )  # fmt: skip
    truth = result.metrics
    for i, metric in enumerate(table["metric"]):
        true = truth.get(f"true_{metric.removesuffix('_cuped')}_uplift")
        if true is not None:
            ax.plot(true, i, "x", color="tab:red", label="true uplift" if i == 0 else None)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(
        list(y), [f"{t} ({m})" for t, m in zip(table["treatment"], table["metric"], strict=True)]
    )
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set(
        title=f"Uplift against {result.control}, with its confidence interval",
        xlabel="relative uplift",
    )
    if any(f"true_{m.removesuffix('_cuped')}_uplift" in truth for m in table["metric"]):
        ax.legend()
    fig.tight_layout()
    return fig
