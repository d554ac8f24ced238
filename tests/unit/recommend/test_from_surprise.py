"""Unit tests of personalab.recommend.from_surprise: top-k from a fitted Surprise model, and
the rated pairs of a trainset."""

from surprise import SVD

from personalab.recommend.from_surprise import rated_pairs, recommend_top_k


def test_recommend_top_k_ranks_unseen_items_by_the_vectorised_score(trainset):
    algo = SVD(n_factors=8, n_epochs=10, random_state=0).fit(trainset)
    top = recommend_top_k(algo, 5, block_size=7)
    assert top.groupby("user_id").size().eq(5).all()
    assert top["user_id"].nunique() == trainset.n_users
    seen = {(trainset.to_raw_uid(u), trainset.to_raw_iid(i)) for u, i, _ in trainset.all_ratings()}
    assert not any(pair in seen for pair in zip(top["user_id"], top["item_id"], strict=True))
    user = trainset.to_raw_uid(3)
    unseen = [
        (algo.predict(user, trainset.to_raw_iid(i)).est, trainset.to_raw_iid(i))
        for i in range(trainset.n_items)
        if (user, trainset.to_raw_iid(i)) not in seen
    ]
    best = sorted(unseen, key=lambda t: (-t[0], t[1]))[:5]
    mine = top[top["user_id"] == user]
    assert mine["item_id"].tolist() == [item for _, item in best]
    assert mine["rank"].tolist() == [1, 2, 3, 4, 5]
    only = recommend_top_k(algo, 3, users=[user, "nobody"])
    assert only["user_id"].unique().tolist() == [user]  # unknown users are skipped


def test_rated_pairs_lists_every_rating(trainset):
    users, items = rated_pairs(trainset)
    assert len(users) == trainset.n_ratings
    expected = sorted((u, i) for u, i, _ in trainset.all_ratings())
    assert sorted(zip(users.tolist(), items.tolist(), strict=True)) == expected
