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

On a few users PSI is large whatever happens (ten users fill ten bins unevenly), so with a
``significance`` a change also needs its test: the distributions' (``pvalue``: KS for numeric
columns, a chi-square test of the binned counts for the others) or, for the missing share,
Fisher's exact test (``missing_pvalue``), below it once all the comparison's p-values are
adjusted for their number (Benjamini–Hochberg). On thousands of users a PSI of 0.2 is far
beyond chance and the tests change nothing.

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
COLUMNS = ["feature", "psi", "js", "ks", "pvalue", "missing_reference", "missing_current",
           "missing_pvalue"]  # fmt: skip


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
    """PSI, Jensen–Shannon distance and KS of one column with the p-value of the distributions'
    test; the reference and current shares of missing values, and the p-value of their change."""
    from scipy.stats import fisher_exact

    ref_counts, cur_counts = binned(reference, current, bins)
    statistic, pvalue = ks(reference, current)
    if np.isnan(statistic):
        pvalue = chi_square_pvalue(ref_counts, cur_counts)
    missing = [[int(side.isna().sum()), int(side.notna().sum())] for side in (reference, current)]
    return {
        "psi": psi(ref_counts, cur_counts),
        "js": js_distance(ref_counts, cur_counts),
        "ks": statistic,
        "pvalue": pvalue,
        "missing_reference": float(reference.isna().mean()) if len(reference) else float("nan"),
        "missing_current": float(current.isna().mean()) if len(current) else float("nan"),
        "missing_pvalue": float(fisher_exact(missing).pvalue)
        if len(reference) and len(current)
        else float("nan"),
    }


def chi_square_pvalue(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """The p-value of a chi-square test that both binned counts come from one distribution
    (1 when fewer than two bins hold values, NaN when a side has none)."""
    from scipy.stats import chi2_contingency

    if not ref_counts.sum() or not cur_counts.sum():
        return float("nan")
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table).pvalue)


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    statistic: str = "psi",
    threshold: float = 0.2,
    bins: int = 10,
    missing_change: float = 0.1,
    significance: float | None = None,
) -> pd.DataFrame:
    """One row per feature: its statistics and ``drifted`` (``statistic`` >= ``threshold``, or
    the share of missing values moved by ``missing_change`` or more; with a ``significance``,
    each only when its test's p-value is below it), the most drifted first."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown drift statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    rows = [
        {"feature": name, **column_drift(reference[name], current[name], bins)} for name in features
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    moved = (table["missing_current"] - table["missing_reference"]).abs() >= missing_change
    shifted = table[statistic].fillna(0.0) >= threshold
    if significance is not None:
        pvalues = adjusted(table[["pvalue", "missing_pvalue"]])
        shifted &= pvalues["pvalue"] < significance
        moved &= pvalues["missing_pvalue"] < significance
    table["drifted"] = shifted | moved
    return table.sort_values([statistic, "feature"], ascending=[False, True]).reset_index(drop=True)


def adjusted(pvalues: pd.DataFrame) -> pd.DataFrame:
    """The p-values of every test of one comparison adjusted together for their number
    (Benjamini–Hochberg, :func:`scipy.stats.false_discovery_control`): of 17 features that do
    not move, one has p < 0.05 more often than not. A missing p-value counts as 1."""
    from scipy.stats import false_discovery_control

    values = pvalues.fillna(1.0).to_numpy(dtype=float)
    if not values.size:
        return pvalues
    flat = false_discovery_control(np.clip(values.ravel(), 0.0, 1.0))
    return pd.DataFrame(flat.reshape(values.shape), index=pvalues.index, columns=pvalues.columns)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
