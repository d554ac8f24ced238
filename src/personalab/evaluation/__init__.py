"""Metrics, side by side: ranking metrics of top-k lists (:mod:`.ranking`, :mod:`.coverage`),
the top-k selection they judge (:mod:`.topk`), and classification metrics of scores and
probabilities (:mod:`.classification`). Each is a pure function of frames or arrays that
validates its input up front and raises :class:`EvaluationError` naming what is wrong."""

from personalab.evaluation._base import EvaluationError

__all__ = ["EvaluationError"]
