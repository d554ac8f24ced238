"""The logistic-regression baseline, on the rows the booster reads, saved as numbers.

:class:`LinearScorer` reads :meth:`~personalab.intent.columns.FeatureEncoder.matrix` (floats in
the learned column order, categories as codes, missing or unseen as NaN) and turns it into the
design scikit-learn's usual pipeline would: each number imputed with its training median, with
a missing-value indicator where training had missing values, both standardised; each category
one-hot (its own column for missing, none for unseen). ``LogisticRegression`` is fitted on that
design. The whole model is a few arrays, so it is saved as JSON beside the encoder and served
without pickle, on the same matrix as the booster: the intent stage serves it when it beats
the tuned model on the test rows beyond noise (:mod:`personalab.intent.choice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class LinearScorer:
    """``probabilities(matrix)``: a logistic regression on :meth:`design`."""

    categories: list[int]  # per column: its number of categories (0: a number)
    medians: np.ndarray  # per column (categorical columns: unused)
    indicated: np.ndarray  # the number columns with a missing-value indicator
    means: np.ndarray  # of the standardised design columns (numbers, then indicators)
    scales: np.ndarray
    coef: np.ndarray  # per design column
    intercept: float
    centre: np.ndarray  # the training rows' mean of each design column (for contributions)

    kind = "logistic_regression"

    @classmethod
    def fit(
        cls, matrix: np.ndarray, y: np.ndarray, categories: list[int], seed: int = 0
    ) -> LinearScorer:
        """Learn the imputation, scaling and coefficients from training rows ``matrix``."""
        from sklearn.linear_model import LogisticRegression

        numeric = _numeric(categories)
        block = matrix[:, numeric]
        seen = ~np.isnan(block).all(axis=0)
        medians = np.zeros(len(categories))
        if seen.any():
            medians[numeric[seen]] = np.nanmedian(block[:, seen], axis=0)
        indicated = numeric[np.isnan(block).any(axis=0)]
        scaled = _scaled_block(matrix, numeric, medians, indicated)
        means, scales = scaled.mean(axis=0), scaled.std(axis=0)
        scales[scales == 0] = 1.0
        model = cls(categories, medians, indicated, means, scales, np.zeros(0), 0.0, np.zeros(0))
        design = model.design(matrix)
        fitted = LogisticRegression(max_iter=2000, random_state=seed).fit(design, y)
        model.coef, model.intercept = fitted.coef_[0].copy(), float(fitted.intercept_[0])
        model.centre = design.mean(axis=0)
        return model

    def design(self, matrix: np.ndarray) -> np.ndarray:
        """The standardised numbers and indicators, then each category column's one-hot block."""
        numeric = _numeric(self.categories)
        scaled = _scaled_block(matrix, numeric, self.medians, self.indicated)
        parts = [(scaled - self.means) / self.scales]
        for j, count in enumerate(self.categories):
            if count:
                parts.append(_one_hot(matrix[:, j], count))
        return np.hstack(parts)

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        """Log-odds of each row."""
        return self.design(matrix) @ self.coef + self.intercept

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.margin(matrix)))

    __call__ = probabilities

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Each column's share of the log-odds, then the bias: the SHAP values of a linear
        model, coefficient times (value - its training mean) summed over the column's design
        columns (value, indicator, one-hot), the bias the log-odds of a training-mean row.
        Rows sum to :meth:`margin`."""
        design = (self.design(matrix) - self.centre) * self.coef
        out = np.zeros((len(matrix), len(self.categories) + 1))
        numeric = _numeric(self.categories)
        out[:, numeric] = design[:, : numeric.size]
        at = numeric.size
        for j in self.indicated:
            out[:, j] += design[:, at]
            at += 1
        for j, count in enumerate(self.categories):
            if count:
                out[:, j] = design[:, at : at + count + 1].sum(axis=1)
                at += count + 1
        out[:, -1] = self.intercept + float(self.centre @ self.coef)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "categories": list(self.categories),
            "medians": self.medians.tolist(),
            "indicated": self.indicated.tolist(),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "centre": self.centre.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearScorer:
        return cls(
            [int(c) for c in data["categories"]],
            np.asarray(data["medians"], dtype=float),
            np.asarray(data["indicated"], dtype=int),
            np.asarray(data["means"], dtype=float),
            np.asarray(data["scales"], dtype=float),
            np.asarray(data["coef"], dtype=float),
            float(data["intercept"]),
            np.asarray(data["centre"], dtype=float),
        )


def _numeric(categories: list[int]) -> np.ndarray:
    return np.array([j for j, count in enumerate(categories) if not count], dtype=int)


def _scaled_block(
    matrix: np.ndarray, numeric: np.ndarray, medians: np.ndarray, indicated: np.ndarray
) -> np.ndarray:
    """The number columns with missing values imputed, then their missing-value indicators."""
    block = matrix[:, numeric]
    filled = np.where(np.isnan(block), medians[numeric], block)
    return np.hstack([filled, np.isnan(matrix[:, indicated]).astype(float)])


def _one_hot(codes: np.ndarray, count: int) -> np.ndarray:
    """One column per category and a last one for missing; a code outside them (unseen at
    fit time) gets none."""
    out = np.zeros((codes.size, count + 1))
    known = ~np.isnan(codes)
    at = codes[known].astype(int)
    inside = (at >= 0) & (at < count)
    rows = np.flatnonzero(known)
    out[rows[inside], at[inside]] = 1.0
    out[~known, count] = 1.0
    return out
