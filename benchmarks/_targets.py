"""The targets a benchmark states, checked: each missed one is named on stderr and fails the run.

A benchmark lists its checks as ``(name, measured, comparison, target)``, e.g.
``("seconds_total", 95.2, "<", 90)``, prints its JSON object with
``"meets_target": not missed`` and returns :func:`exit_code` (0 when every target
is met, 1 otherwise), so ``make bench`` stops at the first benchmark that misses one.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterable

COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


def missed_targets(checks: Iterable[tuple[str, float, str, float]]) -> list[str]:
    """One line per missed target, naming it, what was measured and the target."""
    return [
        f"missed target: {name} = {_figure(measured)}, target {op} {_figure(target)}"
        for name, measured, op, target in checks
        if not COMPARISONS[op](measured, target)
    ]


def exit_code(missed: list[str]) -> int:
    """Print each missed target on stderr (stdout keeps the JSON); 1 if any, else 0."""
    for line in missed:
        print(line, file=sys.stderr)
    return 1 if missed else 0


def _figure(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"
