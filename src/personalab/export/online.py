"""The export's online store: every user's features-stage row and history at the end of the log,
shipped inside ``models/personalise`` so a request can send a user id and the current visit's
events instead of the feature row (:mod:`personalab.online`).

The store is built with the features stage's own plan (``params/features.yaml`` on the ingest
stage's events and profile) at ``S``, one microsecond after the log's last event, and the
ingest stage's session gap (``params/ingest.yaml``) for live events without a session id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.status import StageStatus
from personalab.online.features import OnlineFeatures
from personalab.online.store import FILE, OnlineStore, build_store

WHAT = "the online store (requests by user id)"


def build_online(
    paths: Any, scratch: Path, feature_columns: list[str], status: StageStatus
) -> OnlineFeatures | None:
    """The online features of the log, or None (the reason on ``status``) when the features
    stage cannot describe it or its columns lack one the models read."""
    from personalab.core.profile import load_profile
    from personalab.features.io import open_events
    from personalab.features.params import FeaturesParams
    from personalab.features.plan import plan_features
    from personalab.ingest.params import IngestParams

    start = time.perf_counter()
    features = FeaturesParams.from_yaml(paths.params_file("features"))
    gap_minutes = IngestParams.from_yaml(paths.params_file("ingest")).session_gap_minutes
    events = open_events(paths, features.engine_params())
    try:
        plan = plan_features(events, features, load_profile(paths), StageStatus("features"))
        if plan.skip_reason is not None:
            why = f"the features stage cannot describe this log: {plan.skip_reason}"
            status.leave_out(WHAT, why)
            return None
        _, _, last = events.span()
        as_of = last + pd.Timedelta(microseconds=1)
        build_store(events, plan, as_of, scratch / FILE, round(gap_minutes * 60 * 10**9))
    finally:
        events.engine.close()
    online = OnlineFeatures(OnlineStore(scratch / FILE))
    missing = [name for name in feature_columns if name not in online.columns]
    if missing:
        status.leave_out(
            WHAT,
            f"the models read column(s) {missing[:5]} the features stage no longer builds "
            "(params/features.yaml changed since they were trained): run the pipeline again",
        )
        return None
    print(f"{online.describe()}: built in {time.perf_counter() - start:.1f} s")
    return online
