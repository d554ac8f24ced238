"""Unit tests of personalab.segments.candidates: the choice rule on a hand-made comparison."""

from __future__ import annotations

import pandas as pd

from personalab.segments.candidates import choose_candidate
from personalab.segments.params import ChoiceRule
from tests.unit.segments.helpers import NAN


def comparison(rows: list[dict]) -> pd.DataFrame:
    defaults = {"bic": NAN, "calinski_harabasz": 100.0, "n_clusters": 4.0}
    return pd.DataFrame([{**defaults, **row} for row in rows])


#: 0 best silhouette but unstable; 1 second best but a tiny cluster; 2 and 3 clear the floors;
#: 4 a single group (no scores)
HAND = comparison(
    [
        {"candidate": "a", "silhouette": 0.90, "davies_bouldin": 0.30, "stability_ari": 0.50, "min_cluster_share": 0.20},
        {"candidate": "b", "silhouette": 0.85, "davies_bouldin": 0.40, "stability_ari": 0.95, "min_cluster_share": 0.01},
        {"candidate": "c", "silhouette": 0.60, "davies_bouldin": 0.80, "stability_ari": 0.90, "min_cluster_share": 0.10},
        {"candidate": "d", "silhouette": 0.50, "davies_bouldin": 0.60, "stability_ari": 0.95, "min_cluster_share": 0.20},
        {"candidate": "e", "silhouette": NAN, "davies_bouldin": NAN, "stability_ari": 1.00, "min_cluster_share": 1.00, "n_clusters": 1.0},
    ]
)  # fmt: skip


def test_choice_floors_exclude_unstable_and_tiny_cluster_candidates():
    assert choose_candidate(HAND, ChoiceRule()) == (2, False)


def test_choice_without_floors_takes_the_best_silhouette():
    rule = ChoiceRule(min_stability=0.0, min_cluster_share=0.0)
    assert choose_candidate(HAND, rule) == (0, False)


def test_choice_by_davies_bouldin_takes_the_lowest_that_clears_the_floors():
    assert choose_candidate(HAND, ChoiceRule(metric="davies_bouldin")) == (3, False)


def test_choice_falls_back_to_the_best_by_metric_when_nothing_clears_the_floors():
    rule = ChoiceRule(min_stability=0.99)
    assert choose_candidate(HAND, rule) == (0, True)
    rule = ChoiceRule(metric="davies_bouldin", min_cluster_share=0.5)
    assert choose_candidate(HAND, rule) == (0, True)


def test_choice_ignores_single_group_candidates_and_is_none_when_only_those_exist():
    rule = ChoiceRule(metric="calinski_harabasz", min_stability=0.99)
    # e has the best stability and share but only one group: never chosen
    assert choose_candidate(HAND, rule)[0] != 4
    assert choose_candidate(HAND.iloc[[4]], ChoiceRule()) is None
    assert choose_candidate(HAND.iloc[:0], ChoiceRule()) is None


def test_choice_by_bic_takes_the_lowest():
    table = HAND.iloc[:4].assign(bic=[50.0, 10.0, 40.0, 30.0])
    assert choose_candidate(table, ChoiceRule(metric="bic")) == (3, False)
    assert choose_candidate(table, ChoiceRule(metric="bic", min_cluster_share=0.0)) == (1, False)
