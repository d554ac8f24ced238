"""Small synthetic tables whose answers are known, shared by the segments tests.

The main data are four well separated Gaussian blobs in three features (centres at the
origin and ten units along each axis): every sound clusterer must find exactly them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs

from personalab.core.status import StageStatus
from personalab.features.schema import LABEL, SEGMENTS
from personalab.segments.build import SegmentsResult, build_segments
from personalab.segments.params import STAGE, SegmentsParams

T = pd.Timestamp("2024-03-01", tz="UTC")
CUTOFFS = [T - pd.Timedelta(days=14), T - pd.Timedelta(days=7), T]
CENTRES = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
FEATURES = ["f1", "f2", "f3"]
NAN = float("nan")


def blobs(
    n: int = 600, seed: int = 0, centres: np.ndarray = CENTRES
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points around ``centres`` (std 1) and their blob ids."""
    X, y = make_blobs(n_samples=n, centers=centres, cluster_std=1.0, random_state=seed)
    return X, y


def feature_table(
    X: np.ndarray, cutoff: pd.Timestamp = T, users: list[str] | None = None
) -> pd.DataFrame:
    """A features-stage-like table: keys, label, revenue, rule segments and f1..fk."""
    n = X.shape[0]
    users = users if users is not None else [f"u{i:04d}" for i in range(n)]
    frame = pd.DataFrame({"user_id": users, "cutoff": cutoff})
    frame[LABEL] = (np.arange(n) % 3 == 0).astype(int)
    frame["revenue_total"] = np.arange(n, dtype=float)
    for j, name in enumerate(SEGMENTS):
        frame[f"seg_{name}"] = ((np.arange(n) + j) % 2 == 0).astype(bool)
    for j in range(X.shape[1]):
        frame[f"f{j + 1}"] = X[:, j]
    return frame


def build(
    table: pd.DataFrame, params: SegmentsParams, truth: pd.DataFrame | None = None
) -> tuple[SegmentsResult | None, StageStatus]:
    """build_segments with a fresh status: (the result or None when skipped, the status)."""
    status = StageStatus(STAGE)
    return build_segments(table, params, status, truth), status


def seg_params(**values) -> SegmentsParams:
    """Small, fast parameters over f1..f3 (no log1p), kmeans over k = 2..7 unless told."""
    base = {
        "features": FEATURES,
        "log1p": [],
        "algorithms": ["kmeans"],
        "k_min": 2,
        "k_max": 7,
        "fit_sample": 300,
        "agglomerative_sample": 300,
        "silhouette_sample": 300,
        "stability_resamples": 2,
        "stability_sample": 200,
    }
    return SegmentsParams.from_mapping({**base, **values})


# --- several cut-offs: users who move between blobs ---------------------------------------

N_PER_BLOB = 50
USERS = [f"u{i:03d}" for i in range(4 * N_PER_BLOB)]
BLOB_AT_C2 = np.repeat(np.arange(4), N_PER_BLOB)
#: c2 -> c3: the first 10 users of blob 1 move to blob 0
MOVED_LAST = np.arange(N_PER_BLOB, N_PER_BLOB + 10)
#: c1 -> c2: the first 20 users of blob 2 were in blob 3 at c1
MOVED_FIRST = np.arange(2 * N_PER_BLOB, 2 * N_PER_BLOB + 20)
#: users with no row at c1 (all unmoved, in blob 0)
ABSENT_AT_C1 = np.arange(20, 50)


def history_table() -> pd.DataFrame:
    blob_c3 = BLOB_AT_C2.copy()
    blob_c3[MOVED_LAST] = 0
    blob_c1 = BLOB_AT_C2.copy()
    blob_c1[MOVED_FIRST] = 3
    rng = np.random.default_rng(0)
    frames = []
    for cutoff, blob in zip(CUTOFFS, (blob_c1, BLOB_AT_C2, blob_c3), strict=True):
        X = CENTRES[blob] + rng.normal(size=(len(blob), 3))
        frames.append(feature_table(X, cutoff, USERS))
    first = frames[0]
    frames[0] = first[~first["user_id"].isin([USERS[i] for i in ABSENT_AT_C1])]
    return pd.concat(frames, ignore_index=True)


# --- tables with the default feature columns ---------------------------------------------

#: what a ratings-only log gives the features stage: recency and sessions, no behaviour
#: columns (dropped by the features stage or all-NaN) and zero purchases for everyone
RATINGS_DROPPED = ("dwell_mean", "scroll_depth_mean", "clicks_per_view")
RATINGS_EMPTY = ("view_to_cart", "cart_abandonment_rate", "price_sensitivity", "category_entropy")
RATINGS_ZERO = ("orders_total", "revenue_total", "purchases_30d")
RATINGS_KEPT = (
    "days_since_last_event",
    "days_since_first_event",
    "sessions_30d",
    "events_per_session",
    "session_duration_mean",
)


def default_table(
    n: int = 80,
    drop: tuple[str, ...] = (),
    empty: tuple[str, ...] = (),
    zero: tuple[str, ...] = (),
    cutoffs: tuple[pd.Timestamp, ...] = (T,),
    seed: int = 0,
) -> pd.DataFrame:
    """Users of two groups (low and high on every default feature) at ``cutoffs``; the columns
    in ``drop`` are absent, those in ``empty`` all NaN, those in ``zero`` 0 for everyone."""
    from personalab.segments.params import DEFAULT_FEATURES

    rng = np.random.default_rng(seed)
    frames = []
    for cutoff in cutoffs:
        group = np.arange(n) % 2
        values = np.abs(rng.normal(size=(n, len(DEFAULT_FEATURES)))) + 6.0 * group[:, None]
        frame = feature_table(values, cutoff, [f"u{i:04d}" for i in range(n)])
        frame = frame.drop(columns=[f"f{j + 1}" for j in range(len(DEFAULT_FEATURES))])
        for j, name in enumerate(DEFAULT_FEATURES):
            frame[name] = values[:, j]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).drop(columns=list(drop))
    table[list(empty)] = NAN
    table[list(zero)] = 0.0
    return table


def ratings_table(n: int = 80, **values) -> pd.DataFrame:
    """A features table as a ratings-only log gives it (see ``RATINGS_*``), with the attrs the
    features stage writes."""
    table = default_table(n, drop=RATINGS_DROPPED, empty=RATINGS_EMPTY, zero=RATINGS_ZERO, **values)
    table.attrs["left_out"] = {name: "no dwell, scroll or click events" for name in RATINGS_DROPPED}
    return table
