"""Distribution drift between a reference sample and a current one, per feature.

Each feature is binned on the reference (``bins`` quantile bins of a numeric column, open at
both ends; each category of a text or boolean column) over the known values, and the two binned distributions
are compared by the population stability index (PSI) and the Jensen–Shannon distance (base 2,
0..1, :func:`scipy.spatial.distance.jensenshannon`); numeric columns also get the two-sample
Kolmogorov–Smirnov statistic (:func:`scipy.stats.ks_2samp`). The shares of missing values
(e.g. the average order value of users who bought nothing) are reported beside them, and a
change of that share by ``missing_change`` or more drifts the feature too. A feature has drifted when the
statistic named in the params reaches its threshold. PSI's usual reading: under 0.1 stable,
0.1–0.2 a moderate shift, 0.2 or more a shift worth acting on.

Evidently and NannyML were the libraries asked for; neither installs against this project's
pins (Evidently 0.7 fails to import on pandas 3; NannyML 0.13 needs an older python-dateutil),
so the statistics are SciPy's and the binning is the only code here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: the floor of a bin's share, so an empty bin on one side gives a large but finite PSI
EPSILON = 1e-4
STATISTICS = ("psi", "js", "ks")
COLUMNS = ["feature", "psi", "js", "ks", "ks_pvalue", "missing_reference", "missing_current"]


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.clip(shares, EPSILON, None)


def binned(reference: pd.Series, current: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ``reference`` and ``current`` in the same bins, fixed on the reference."""
    if _is_numeric(reference) and _is_numeric(current):
        ref = pd.to_numeric(reference, errors="coerce").astype(float).to_numpy()
        cur = pd.to_numeric(current, errors="coerce").astype(float).to_numpy()
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])) if ref.size else []

        def count(values: np.ndarray) -> np.ndarray:
            return np.bincount(
                np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
            )

        return count(ref), count(cur)
    ref, cur = reference.dropna().astype("string"), current.dropna().astype("string")
    levels = sorted(set(ref.unique()) | set(cur.unique()))
    return (
        ref.value_counts().reindex(levels, fill_value=0).to_numpy(),
        cur.value_counts().reindex(levels, fill_value=0).to_numpy(),
    )


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """The population stability index of two binned distributions: sum (c - r) ln(c / r)
    (NaN when either side has no value)."""
    if not ref_counts.sum() or not cur_counts.sum():
        return float("nan")
    r, c = _shares(ref_counts), _shares(cur_counts)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    if not ref_counts.sum() or not cur_counts.sum():
        return float("nan")
    return float(jensenshannon(ref_counts, cur_counts, base=2))


def ks(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """The two-sample KS statistic and p-value of the known values (NaN for text columns)."""
    from scipy.stats import ks_2samp

    if not (_is_numeric(reference) and _is_numeric(current)):
        return float("nan"), float("nan")
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    if not ref.size or not cur.size:
        return float("nan"), float("nan")
    result = ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def column_drift(reference: pd.Series, current: pd.Series, bins: int) -> dict[str, float]:
    """PSI, Jensen–Shannon distance and KS of one column; the reference and current shares of
    missing values."""
    ref_counts, cur_counts = binned(reference, current, bins)
    statistic, pvalue = ks(reference, current)
    return {
        "psi": psi(ref_counts, cur_counts),
        "js": js_distance(ref_counts, cur_counts),
        "ks": statistic,
        "ks_pvalue": pvalue,
        "missing_reference": float(reference.isna().mean()) if len(reference) else float("nan"),
        "missing_current": float(current.isna().mean()) if len(current) else float("nan"),
    }


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    statistic: str = "psi",
    threshold: float = 0.2,
    bins: int = 10,
    missing_change: float = 0.1,
) -> pd.DataFrame:
    """One row per feature: its statistics and ``drifted`` (``statistic`` >= ``threshold``, or
    the share of missing values moved by ``missing_change`` or more), the most drifted first."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown drift statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    rows = [
        {"feature": name, **column_drift(reference[name], current[name], bins)} for name in features
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    moved = (table["missing_current"] - table["missing_reference"]).abs() >= missing_change
    table["drifted"] = (table[statistic].fillna(0.0) >= threshold) | moved
    return table.sort_values([statistic, "feature"], ascending=[False, True]).reset_index(drop=True)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
