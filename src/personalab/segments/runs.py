"""What the stage records in MLflow besides its own run: one nested run per candidate
clustering, from when it was fitted to when it was scored, and the choice among them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.segments.build import SegmentsResult


def log_candidate_runs(result: SegmentsResult) -> list[str]:
    """One nested MLflow run per candidate (its algorithm, ``k`` and scores), the chosen one
    tagged ``chosen=true``, and the choice on the stage run: ``chosen.candidate``,
    ``chosen.algorithm``, ``chosen.k`` (``auto`` when the algorithm finds it) and
    ``chosen.fallback`` (whether no candidate cleared the floors). Returns the nested runs' ids."""
    from personalab.core.nested_runs import log_child_run, log_choice

    ids, chosen = [], None
    for candidate, row in zip(result.candidates, result.comparison.to_dict("records"), strict=True):
        params = {"algorithm": candidate.algorithm, "k": _k(candidate.k)}
        metrics = {
            k: v for k, v in row.items() if k not in ("candidate", "algorithm", "k") and pd.notna(v)
        }
        run_id = log_child_run(
            candidate.name,
            params,
            metrics,
            tags={"candidate": candidate.name},
            started=None if pd.isna(candidate.started) else candidate.started,
            ended=None if pd.isna(candidate.ended) else candidate.ended,
        )
        ids.append(run_id)
        if candidate is result.chosen:
            chosen = run_id
    choice = {
        "candidate": result.chosen.name,
        "algorithm": result.chosen.algorithm,
        "k": _k(result.chosen.k),
        "fallback": result.fallback,
    }
    log_choice(choice, chosen)
    return ids


def _k(k: Any) -> Any:
    return "auto" if k is None or pd.isna(k) else int(k)
