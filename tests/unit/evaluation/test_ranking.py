"""Unit tests of personalab.evaluation on small hand-built frames whose answers are known.

The main case (``RECS`` / ``RELEVANT``, k = 5) has four users:

* ``ua``: relevant {a, b, c}; top-5 is a, x, y, b, z (c is only at rank 6), so the
  hits are at ranks 1 and 4.
* ``ub``: relevant {d, e}, fewer than k; only 3 recommendations x, d, y (hit at rank 2).
* ``uc``: recommendations but no relevant items: left out of every mean.
* ``ud``: relevant {f} but no recommendations: counts as 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from personalab.evaluation import EvaluationError
from personalab.evaluation.coverage import catalogue_coverage, novelty
from personalab.evaluation.ranking import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)
from personalab.evaluation.topk import top_k_from_scores

LOG2_3 = math.log2(3)
LOG2_5 = math.log2(5)


def frame(rows: list[tuple], columns: tuple[str, ...] = ("user_id", "item_id", "rank")):
    return pd.DataFrame(rows, columns=list(columns))


RECS = frame(
    [("ua", "a", 1), ("ua", "x", 2), ("ua", "y", 3), ("ua", "b", 4), ("ua", "z", 5), ("ua", "c", 6)]
    + [("ub", "x", 1), ("ub", "d", 2), ("ub", "y", 3)]
    + [("uc", "a", 1), ("uc", "b", 2)]
)
RELEVANT = frame(
    [("ua", "a"), ("ua", "b"), ("ua", "c"), ("ub", "d"), ("ub", "e"), ("ud", "f")],
    ("user_id", "item_id"),
)

# ua at k=5: hits at ranks 1 and 4, 3 relevant items
#   precision = 2/5 = 0.4;  recall = 2/3
#   DCG  = 1/log2(2) + 1/log2(5) = 1 + 0.430677 = 1.430677
#   IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) (min(5, 3) = 3 terms) = 2.130930
#   NDCG = 1.430677 / 2.130930 = 0.671386
#   AP   = (1/1 + 2/4) / min(5, 3) = 1.5 / 3 = 0.5
UA_NDCG = (1 + 1 / LOG2_5) / (1 + 1 / LOG2_3 + 1 / 2)
# ub at k=5: hit at rank 2, 2 relevant items, 3 recommendations
#   precision = 1/5 = 0.2 (always / k);  recall = 1/2
#   NDCG = (1/log2(3)) / (1 + 1/log2(3)) = 0.630930 / 1.630930 = 0.386853
#   AP   = (1/2) / min(5, 2) = 0.25
UB_NDCG = (1 / LOG2_3) / (1 + 1 / LOG2_3)
# ud: relevant item, no recommendations -> 0 everywhere; uc: no relevant -> not averaged.
# means over ua, ub, ud:
EXPECTED_AT_5 = {
    "precision_at_5": (0.4 + 0.2 + 0) / 3,  # 0.2
    "recall_at_5": (2 / 3 + 1 / 2 + 0) / 3,  # 7/18
    "ndcg_at_5": (UA_NDCG + UB_NDCG + 0) / 3,  # 0.352746
    "map_at_5": (0.5 + 0.25 + 0) / 3,  # 0.25
    "hit_rate_at_5": 2 / 3,
}
METRICS = {
    "precision_at_5": precision_at_k,
    "recall_at_5": recall_at_k,
    "ndcg_at_5": ndcg_at_k,
    "map_at_5": map_at_k,
    "hit_rate_at_5": hit_rate_at_k,
}


def only(recs: pd.DataFrame, *users: str) -> pd.DataFrame:
    return recs.loc[recs["user_id"].isin(users)].reset_index(drop=True)


# ------------------------------------------------------------------ accuracy metrics


def test_hand_computed_constants():
    assert abs(UA_NDCG - 0.671386) < 1e-6
    assert abs(UB_NDCG - 0.386853) < 1e-6
    assert EXPECTED_AT_5["ndcg_at_5"] == pytest.approx(0.352746, abs=1e-6)
    assert EXPECTED_AT_5["recall_at_5"] == pytest.approx(7 / 18)


@pytest.mark.parametrize("key", list(METRICS))
def test_mean_over_users_at_5(key):
    assert METRICS[key](RECS, RELEVANT, 5) == pytest.approx(EXPECTED_AT_5[key])


def test_user_with_three_relevant_hits_at_ranks_1_and_4():
    recs, rel = only(RECS, "ua"), only(RELEVANT, "ua")
    assert precision_at_k(recs, rel, 5) == pytest.approx(0.4)
    assert recall_at_k(recs, rel, 5) == pytest.approx(2 / 3)
    assert ndcg_at_k(recs, rel, 5) == pytest.approx(0.671386, abs=1e-6)
    assert map_at_k(recs, rel, 5) == pytest.approx(0.5)
    assert hit_rate_at_k(recs, rel, 5) == 1.0
    # c is relevant at rank 6: it counts at k=6 (3 hits at ranks 1, 4, 6)
    assert recall_at_k(recs, rel, 6) == pytest.approx(1.0)
    assert map_at_k(recs, rel, 6) == pytest.approx((1 / 1 + 2 / 4 + 3 / 6) / 3)


def test_k_smaller_than_number_of_relevant_items():
    recs, rel = only(RECS, "ua"), only(RELEVANT, "ua")
    # k=2: one hit (rank 1); IDCG and AP use min(2, 3) = 2
    assert precision_at_k(recs, rel, 2) == pytest.approx(1 / 2)
    assert recall_at_k(recs, rel, 2) == pytest.approx(1 / 3)
    assert ndcg_at_k(recs, rel, 2) == pytest.approx(1 / (1 + 1 / LOG2_3))  # 0.613147
    assert map_at_k(recs, rel, 2) == pytest.approx(1 / 2)


def test_user_with_fewer_relevant_items_than_k():
    recs, rel = only(RECS, "ub"), only(RELEVANT, "ub")
    assert precision_at_k(recs, rel, 5) == pytest.approx(1 / 5)  # divides by k, not by 3 recs
    assert recall_at_k(recs, rel, 5) == pytest.approx(1 / 2)  # divides by 2 relevant items
    assert ndcg_at_k(recs, rel, 5) == pytest.approx(0.386853, abs=1e-6)
    assert map_at_k(recs, rel, 5) == pytest.approx(0.25)


def test_user_without_relevant_items_is_excluded_from_the_mean():
    without_uc = only(RECS, "ua", "ub")
    for metric in METRICS.values():
        assert metric(RECS, RELEVANT, 5) == pytest.approx(metric(without_uc, RELEVANT, 5))
    # had uc counted as a fourth user with precision 0, the mean would be 0.6 / 4 = 0.15
    assert precision_at_k(RECS, RELEVANT, 5) == pytest.approx(0.6 / 3)
    assert precision_at_k(RECS, RELEVANT, 5) != pytest.approx(0.6 / 4)


def test_user_with_relevant_items_but_no_recommendations_counts_zero():
    rel_ud = only(RELEVANT, "ud")
    for metric in METRICS.values():
        assert metric(RECS, rel_ud, 5) == 0.0
    # adding ud to ua's case divides ua's values by two
    rel = only(RELEVANT, "ua", "ud")
    assert ndcg_at_k(RECS, rel, 5) == pytest.approx(UA_NDCG / 2)
    assert hit_rate_at_k(RECS, rel, 5) == pytest.approx(0.5)


def test_perfect_ranking_scores_one():
    recs = frame([("p", "a", 1), ("p", "b", 2), ("p", "c", 3), ("p", "x", 4), ("p", "y", 5)])
    rel = frame([("p", "a"), ("p", "b"), ("p", "c")], ("user_id", "item_id"))
    assert ndcg_at_k(recs, rel, 5) == pytest.approx(1.0)
    assert map_at_k(recs, rel, 5) == pytest.approx(1.0)
    assert recall_at_k(recs, rel, 5) == pytest.approx(1.0)
    assert precision_at_k(recs, rel, 5) == pytest.approx(3 / 5)
    # more relevant items than k, top-5 all relevant: ideal DCG has 5 terms
    many = frame([("q", f"i{n}", n + 1) for n in range(5)])
    rel_many = frame([("q", f"i{n}") for n in range(7)], ("user_id", "item_id"))
    assert ndcg_at_k(many, rel_many, 5) == pytest.approx(1.0)
    assert map_at_k(many, rel_many, 5) == pytest.approx(1.0)
    assert precision_at_k(many, rel_many, 5) == pytest.approx(1.0)
    assert recall_at_k(many, rel_many, 5) == pytest.approx(5 / 7)


def test_ranks_derived_from_scores_break_ties_by_item_id():
    scored = frame(
        [("u", "b", 0.9), ("u", "c", 0.5), ("u", "a", 0.9), ("u", "d", 0.1)],
        ("user_id", "item_id", "score"),
    )
    # order: a (0.9, id a < b), b (0.9), c (0.5), d (0.1)
    rel_a = frame([("u", "a")], ("user_id", "item_id"))
    rel_b = frame([("u", "b")], ("user_id", "item_id"))
    assert precision_at_k(scored, rel_a, 1) == 1.0
    assert precision_at_k(scored, rel_b, 1) == 0.0
    assert ndcg_at_k(scored, rel_b, 2) == pytest.approx(1 / LOG2_3)
    # row order does not matter
    shuffled = scored.sample(frac=1.0, random_state=3)
    assert ndcg_at_k(shuffled, rel_b, 2) == pytest.approx(1 / LOG2_3)


def test_scores_and_ranks_give_the_same_metrics():
    scored = RECS.assign(score=1.0 / RECS["rank"]).drop(columns="rank")
    for key, metric in METRICS.items():
        assert metric(scored, RELEVANT, 5) == pytest.approx(EXPECTED_AT_5[key])


def test_rank_column_wins_over_score_and_gaps_are_kept():
    # score says b first, rank says a first; rank is used
    recs = frame([("u", "a", 1, 0.1), ("u", "b", 3, 0.9)], ("user_id", "item_id", "rank", "score"))
    rel = frame([("u", "b")], ("user_id", "item_id"))
    assert ndcg_at_k(recs, rel, 3) == pytest.approx(1 / math.log2(4))  # b at rank 3, not 2
    assert hit_rate_at_k(recs, rel, 2) == 0.0


def test_duplicate_relevant_pairs_count_once():
    rel = pd.concat([RELEVANT, RELEVANT.iloc[[0, 0]]], ignore_index=True)
    assert recall_at_k(RECS, rel, 5) == pytest.approx(EXPECTED_AT_5["recall_at_5"])


def test_custom_column_names():
    names = {"user_id": "visitor", "item_id": "product", "rank": "position"}
    value = ndcg_at_k(
        RECS.rename(columns=names),
        RELEVANT.rename(columns=names),
        5,
        user_col="visitor",
        item_col="product",
        rank_col="position",
    )
    assert value == pytest.approx(EXPECTED_AT_5["ndcg_at_5"])


def test_inputs_are_not_mutated():
    recs, rel = RECS.copy(), RELEVANT.copy()
    ranking_report(recs, rel, rel, 5, 10)
    scored = RECS.assign(score=1.0 / RECS["rank"]).drop(columns="rank")
    before = scored.copy()
    ndcg_at_k(scored, rel, 5)
    pd.testing.assert_frame_equal(recs, RECS)
    pd.testing.assert_frame_equal(rel, RELEVANT)
    pd.testing.assert_frame_equal(scored, before)


def test_ndcg_agrees_with_sklearn_when_every_user_has_k_relevant_items():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 20, 15, 5
    n_relevant = rng.integers(k, 11, size=n_users)
    position = rng.random((n_users, n_items)).argsort(axis=1).argsort(axis=1)
    y_true = (position < n_relevant[:, None]).astype(int)
    scores = rng.random((n_users, n_items))
    users = [f"u{u}" for u in range(n_users)]
    items = [f"i{i:02d}" for i in range(n_items)]
    rows, cols = np.nonzero(y_true)
    relevant = pd.DataFrame({"user_id": np.array(users)[rows], "item_id": np.array(items)[cols]})
    expected = ndcg_score(y_true, scores, k=k)

    top = top_k_from_scores(users, items, scores, k)
    assert ndcg_at_k(top, relevant, k) == pytest.approx(expected, rel=1e-12)
    every_pair = pd.DataFrame(
        {
            "user_id": np.repeat(users, n_items),
            "item_id": np.tile(items, n_users),
            "score": scores.ravel(),
        }
    )
    assert ndcg_at_k(every_pair, relevant, k) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ coverage and novelty

COVERAGE_RECS = frame(
    [("r1", "a", 1), ("r1", "b", 2), ("r1", "c", 3), ("r2", "a", 1), ("r2", "d", 2)]
)


def test_catalogue_coverage_with_a_size():
    # top-2 items: {a, b} and {a, d} -> 3 distinct
    assert catalogue_coverage(COVERAGE_RECS, 10, 2) == pytest.approx(3 / 10)
    # top-3 adds c -> 4 distinct
    assert catalogue_coverage(COVERAGE_RECS, 10, 3) == pytest.approx(4 / 10)
    assert catalogue_coverage(COVERAGE_RECS, np.int64(4), 3) == pytest.approx(1.0)


def test_catalogue_coverage_with_an_item_list():
    # catalogue {a, b, c, d, e} (a listed twice): a, b, d recommended -> 3 / 5
    assert catalogue_coverage(COVERAGE_RECS, ["a", "b", "c", "d", "e", "a"], 2) == pytest.approx(
        3 / 5
    )
    # d is not in this catalogue and is not counted: a, b -> 2 / 3
    assert catalogue_coverage(COVERAGE_RECS, pd.Series(["a", "b", "c"]), 2) == pytest.approx(2 / 3)


def test_catalogue_coverage_rejects_bad_catalogues():
    with pytest.raises(EvaluationError, match="catalogue size is 2"):
        catalogue_coverage(COVERAGE_RECS, 2, 2)
    with pytest.raises(EvaluationError, match=">= 1"):
        catalogue_coverage(COVERAGE_RECS, 0, 2)
    with pytest.raises(EvaluationError, match="empty"):
        catalogue_coverage(COVERAGE_RECS, [], 2)
    with pytest.raises(EvaluationError, match="number of items or a list"):
        catalogue_coverage(COVERAGE_RECS, "abc", 2)


# 4 training users; t1 interacted with a twice (counts once)
TRAIN = frame(
    [("t1", "a"), ("t1", "a"), ("t1", "b"), ("t1", "c"), ("t2", "a"), ("t2", "b")]
    + [("t3", "a"), ("t4", "a")],
    ("user_id", "item_id"),
)
# p(a) = 4/4 -> 0 bits; p(b) = 2/4 -> 1 bit; p(c) = 1/4 -> 2 bits;
# z unseen in train -> max self-information log2(4 users) = 2 bits
NOVELTY_RECS = frame(
    [("r1", "a", 1), ("r1", "b", 2), ("r1", "c", 3), ("r2", "c", 1), ("r2", "z", 2)]
)


def test_novelty_on_a_tiny_train_set():
    # top-2 rows: a, b, c, z -> (0 + 1 + 2 + 2) / 4
    assert novelty(NOVELTY_RECS, TRAIN, 2) == pytest.approx(1.25)
    # top-3 adds r1's c -> (0 + 1 + 2 + 2 + 2) / 5
    assert novelty(NOVELTY_RECS, TRAIN, 3) == pytest.approx(1.4)
    # only the most popular item: no novelty
    assert novelty(NOVELTY_RECS, TRAIN, 1) == pytest.approx((0 + 2) / 2)
    only_a = frame([("r1", "a", 1)])
    assert novelty(only_a, TRAIN, 5) == 0.0


def test_novelty_rejects_empty_inputs():
    with pytest.raises(EvaluationError, match="train has no rows"):
        novelty(NOVELTY_RECS, TRAIN.iloc[:0], 2)
    with pytest.raises(EvaluationError, match="no rows in the top-2"):
        novelty(NOVELTY_RECS.iloc[:0], TRAIN, 2)


def test_ranking_report_keys_and_values():
    report = ranking_report(RECS, RELEVANT, TRAIN, 5, 10)
    assert list(report) == [*EXPECTED_AT_5, "coverage", "novelty"]
    for key, value in EXPECTED_AT_5.items():
        assert report[key] == pytest.approx(value)
    # top-5 items: a, x, y, b, z, d (c is at rank 6) -> 6 distinct of 10
    assert report["coverage"] == pytest.approx(6 / 10)
    assert report["novelty"] == novelty(RECS, TRAIN, 5)
    assert all(isinstance(v, float) for v in report.values())
    assert "ndcg_at_10" in ranking_report(RECS, RELEVANT, TRAIN, 10, 10)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("metric", list(METRICS.values()))
@pytest.mark.parametrize("k", [0, -1, 2.5, True, "5"])
def test_bad_k_is_rejected(metric, k):
    with pytest.raises(EvaluationError, match="k must be an integer >= 1"):
        metric(RECS, RELEVANT, k)


def test_bad_k_is_rejected_by_the_other_metrics():
    with pytest.raises(EvaluationError, match="k must be an integer >= 1"):
        catalogue_coverage(RECS, 10, 0)
    with pytest.raises(EvaluationError, match="k must be an integer >= 1"):
        novelty(RECS, TRAIN, 0)
    with pytest.raises(EvaluationError, match="k must be an integer >= 1"):
        ranking_report(RECS, RELEVANT, TRAIN, 0, 10)


@pytest.mark.parametrize("metric", list(METRICS.values()))
def test_missing_columns_are_named(metric):
    with pytest.raises(EvaluationError, match="recommendations has no column 'item_id'"):
        metric(RECS.drop(columns="item_id"), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="relevant has no column 'user_id'"):
        metric(RECS, RELEVANT.drop(columns="user_id"), 5)
    with pytest.raises(EvaluationError, match="rank column 'rank' or a score column 'score'"):
        metric(RECS.drop(columns="rank"), RELEVANT, 5)


def test_missing_columns_are_named_by_coverage_novelty_and_report():
    with pytest.raises(EvaluationError, match="train has no column 'item_id'"):
        novelty(RECS, TRAIN.drop(columns="item_id"), 5)
    with pytest.raises(EvaluationError, match="recommendations has no column 'user_id'"):
        catalogue_coverage(RECS.drop(columns="user_id"), 10, 5)
    with pytest.raises(EvaluationError, match="'visitor'"):
        ranking_report(RECS, RELEVANT, TRAIN, 5, 10, user_col="visitor")


@pytest.mark.parametrize("metric", list(METRICS.values()))
def test_duplicate_recommendations_are_rejected(metric):
    duplicated = pd.concat([RECS, frame([("ua", "x", 7)])], ignore_index=True)
    with pytest.raises(EvaluationError, match=r"1 duplicate \(user_id, item_id\) rows.*'ua', 'x'"):
        metric(duplicated, RELEVANT, 5)
    with pytest.raises(EvaluationError, match="duplicate"):
        catalogue_coverage(duplicated, 10, 5)
    with pytest.raises(EvaluationError, match="duplicate"):
        novelty(duplicated, TRAIN, 5)


def test_bad_ranks_and_scores_are_rejected():
    with pytest.raises(EvaluationError, match="integers >= 1"):
        ndcg_at_k(RECS.assign(rank=RECS["rank"] - 1), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="integers >= 1"):
        ndcg_at_k(RECS.assign(rank=RECS["rank"] + 0.5), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="same 'rank'"):
        ndcg_at_k(RECS.assign(rank=1), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="'rank' has 1 missing values"):
        ndcg_at_k(RECS.assign(rank=RECS["rank"].where(RECS.index != 0)), RELEVANT, 5)
    scored = RECS.assign(score=1.0 / RECS["rank"]).drop(columns="rank")
    with pytest.raises(EvaluationError, match="'score' has 1 missing values"):
        ndcg_at_k(scored.assign(score=scored["score"].where(scored.index != 0)), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="'score' must be numeric"):
        ndcg_at_k(scored.assign(score="high"), RELEVANT, 5)
    with pytest.raises(EvaluationError, match="'item_id' has 1 missing values"):
        ndcg_at_k(RECS.assign(item_id=RECS["item_id"].where(RECS.index != 0)), RELEVANT, 5)


def test_ids_of_different_dtypes_are_an_error():
    recs = RECS.assign(user_id=RECS["user_id"].str[1:].map({"a": 1, "b": 2, "c": 3}))
    rel = RELEVANT.loc[RELEVANT["user_id"] != "ud"]
    with pytest.raises(EvaluationError, match="same dtype in both frames"):
        ndcg_at_k(recs, rel, 5)


def test_no_relevant_items_at_all_is_an_error():
    with pytest.raises(EvaluationError, match="relevant has no rows"):
        ndcg_at_k(RECS, RELEVANT.iloc[:0], 5)
