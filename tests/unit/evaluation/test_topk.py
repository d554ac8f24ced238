"""Unit tests of personalab.evaluation.topk: each user's best unseen items from a score matrix,
with ties by item id, exclusions and blocks of users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from personalab.evaluation import EvaluationError
from personalab.evaluation.topk import top_k_from_scores


def frame(rows: list[tuple], columns: tuple[str, ...] = ("user_id", "item_id", "rank")):
    return pd.DataFrame(rows, columns=list(columns))


# ------------------------------------------------------------------- top-k from scores

USERS = ["u1", "u2", "u3", "u4"]
ITEMS = ["c", "a", "b", "d"]  # not sorted: ties must follow item id, not column order
SCORES = np.array(
    [
        [0.9, 0.5, 0.9, 0.1],  # b and c tie at 0.9 -> b, c
        [0.2, 0.8, 0.3, 0.7],  # a excluded -> d, b
        [0.4, 0.3, 0.2, 0.1],  # everything excluded -> no rows
        [0.0, 0.0, 0.0, 0.0],  # all tie -> a, b
    ]
)
EXCLUDED_PAIRS = frame(
    [("u2", "a"), ("u2", "a"), ("u3", "c"), ("u3", "a"), ("u3", "b"), ("u3", "d")]
    + [("u9", "a"), ("u1", "zz")],  # unknown user / item: ignored
    ("user_id", "item_id"),
)
EXCLUDED_MASK = np.array(
    [
        [False, False, False, False],
        [False, True, False, False],
        [True, True, True, True],
        [False, False, False, False],
    ]
)
EXPECTED_TOP_2 = pd.DataFrame(
    {
        "user_id": ["u1", "u1", "u2", "u2", "u4", "u4"],
        "item_id": ["b", "c", "d", "b", "a", "b"],
        "score": [0.9, 0.9, 0.7, 0.3, 0.0, 0.0],
        "rank": np.array([1, 2, 1, 2, 1, 2], dtype=np.int64),
    }
)


@pytest.mark.parametrize(
    "exclude",
    [
        EXCLUDED_MASK,
        sparse.csr_matrix(EXCLUDED_MASK),
        sparse.coo_array(EXCLUDED_MASK.astype(np.float32)),
        EXCLUDED_PAIRS,
    ],
    ids=["mask", "csr_matrix", "coo_array", "pairs"],
)
@pytest.mark.parametrize("block_size", [1, 3, 4096])
def test_top_k_from_scores_with_exclusions(exclude, block_size):
    top = top_k_from_scores(USERS, ITEMS, SCORES, 2, exclude=exclude, block_size=block_size)
    pd.testing.assert_frame_equal(top, EXPECTED_TOP_2, check_dtype=False)
    assert top["rank"].dtype == np.int64


def test_top_k_from_scores_k_larger_than_catalogue():
    top = top_k_from_scores(USERS, ITEMS, SCORES, 10, exclude=EXCLUDED_MASK)
    assert top.loc[top["user_id"] == "u1", "item_id"].tolist() == ["b", "c", "a", "d"]
    assert top.loc[top["user_id"] == "u2", "item_id"].tolist() == ["d", "b", "c"]
    assert "u3" not in set(top["user_id"])
    assert top.loc[top["user_id"] == "u4", "item_id"].tolist() == ["a", "b", "c", "d"]
    assert top.groupby("user_id")["rank"].apply(list).to_dict()["u2"] == [1, 2, 3]


def test_top_k_from_scores_custom_columns_and_integer_ids():
    top = top_k_from_scores(
        [10, 20],
        [7, 3, 5],
        np.array([[1, 2, 2], [3, 1, 2]]),
        1,
        user_col="u",
        item_col="i",
        score_col="s",
        rank_col="r",
    )
    # user 10: items 3 and 5 tie at 2 -> 3; user 20: item 7
    assert top.to_dict("list") == {"u": [10, 20], "i": [3, 7], "s": [2.0, 3.0], "r": [1, 1]}


def reference_top_k(users, items, scores, mask, k) -> pd.DataFrame:
    """Brute force: every allowed pair sorted by score desc, item id asc."""
    rows, cols = np.nonzero(~mask)
    pairs = pd.DataFrame(
        {
            "user_pos": rows,
            "user_id": np.asarray(users)[rows],
            "item_id": np.asarray(items)[cols],
            "score": scores[rows, cols],
        }
    ).sort_values(["user_pos", "score", "item_id"], ascending=[True, False, True])
    pairs["rank"] = pairs.groupby("user_pos").cumcount() + 1
    top = pairs.loc[pairs["rank"] <= k].drop(columns="user_pos")
    return top.reset_index(drop=True)


def test_top_k_from_scores_blocks_agree_with_one_block_and_brute_force():
    rng = np.random.default_rng(7)
    n_users, n_items, k = 50, 30, 6
    users = [f"u{u:02d}" for u in rng.permutation(n_users)]
    items = [f"i{i:02d}" for i in rng.permutation(n_items)]
    scores = rng.integers(0, 5, size=(n_users, n_items)) / 4  # many ties
    mask = rng.random((n_users, n_items)) < 0.3
    mask[0] = True  # a user with everything excluded
    mask[1] = np.arange(n_items) >= 3  # a user with 3 (< k) items left
    one_block = top_k_from_scores(users, items, scores, k, exclude=mask)
    for block_size in (1, 7, 49, 50):
        blocks = top_k_from_scores(users, items, scores, k, exclude=mask, block_size=block_size)
        pd.testing.assert_frame_equal(blocks, one_block)
    expected = reference_top_k(users, items, scores, mask, k)
    pd.testing.assert_frame_equal(one_block, expected, check_dtype=False)
    assert len(one_block) == (n_users - 2) * k + 3
    excluded = pd.DataFrame(
        {
            "user_id": np.asarray(users)[np.nonzero(mask)[0]],
            "item_id": np.asarray(items)[np.nonzero(mask)[1]],
        }
    )
    assert one_block.merge(excluded, on=["user_id", "item_id"]).empty


def test_top_k_from_scores_with_no_users():
    top = top_k_from_scores([], ["a", "b"], np.empty((0, 2)), 3)
    assert top.empty
    assert list(top.columns) == ["user_id", "item_id", "score", "rank"]


def test_top_k_from_scores_validation():
    with pytest.raises(EvaluationError, match=r"scores has shape \(4, 3\)"):
        top_k_from_scores(USERS, ITEMS, SCORES[:, :3], 2)
    with pytest.raises(EvaluationError, match="finite"):
        top_k_from_scores(USERS, ITEMS, np.where(SCORES > 0.85, np.nan, SCORES), 2)
    with pytest.raises(EvaluationError, match="finite"):
        top_k_from_scores(USERS, ITEMS, np.where(SCORES > 0.85, np.inf, SCORES), 2)
    with pytest.raises(EvaluationError, match="k must be an integer >= 1"):
        top_k_from_scores(USERS, ITEMS, SCORES, 0)
    with pytest.raises(EvaluationError, match="block_size must be an integer >= 1"):
        top_k_from_scores(USERS, ITEMS, SCORES, 2, block_size=0)
    with pytest.raises(EvaluationError, match="user_ids has duplicate ids"):
        top_k_from_scores(["u1", "u1", "u3", "u4"], ITEMS, SCORES, 2)
    with pytest.raises(EvaluationError, match="item_ids has duplicate ids"):
        top_k_from_scores(USERS, ["a", "a", "b", "d"], SCORES, 2)
    with pytest.raises(EvaluationError, match="exclude has shape"):
        top_k_from_scores(USERS, ITEMS, SCORES, 2, exclude=EXCLUDED_MASK[:2])
    with pytest.raises(EvaluationError, match="exclude has shape"):
        top_k_from_scores(USERS, ITEMS, SCORES, 2, exclude=sparse.csr_array((3, 4)))
    with pytest.raises(EvaluationError, match="boolean mask"):
        top_k_from_scores(USERS, ITEMS, SCORES, 2, exclude=EXCLUDED_MASK.astype(int))
    with pytest.raises(EvaluationError, match="exclude has no column 'item_id'"):
        top_k_from_scores(USERS, ITEMS, SCORES, 2, exclude=EXCLUDED_PAIRS[["user_id"]])
    with pytest.raises(EvaluationError, match="real numeric"):
        top_k_from_scores(USERS, ITEMS, SCORES > 0.5, 2)
