"""Unit tests of personalab.recommend.sessions and .next_item_eval: session sequences, the
time split, Sequential Rules, next-item lists and their evaluation against popularity."""

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.evaluation.topk import select_top
from personalab.recommend.arrays import ModelArrays
from personalab.recommend.next_item_eval import (
    evaluate_next_item,
    next_items,
    popular_next_items,
)
from personalab.recommend.params import RecommendError
from personalab.recommend.sessions import (
    NO_SESSIONS,
    NO_TRANSITION,
    SEQUENTIAL_RULES,
    NextItemParams,
    fit_next_item,
    next_item_gap,
    session_sequences,
    split_sessions,
    tied_steps,
)

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def clicks(rows):
    """rows: (session, item, minute) -> events with the columns of data/interim/events.parquet
    that sequences read (and a user id and event type, as the log has)."""
    frame = pd.DataFrame(rows, columns=["session_id", "item_id", "minute"])
    return pd.DataFrame(
        {
            "user_id": "session:" + frame["session_id"],
            "session_id": frame["session_id"],
            "timestamp": T0 + pd.to_timedelta(frame["minute"], unit="min"),
            "event_type": "view",
            "item_id": frame["item_id"],
        }
    )


def walks(sessions, start=0):
    """[[item, ...], ...] -> events, session s starting at minute start + 10 s, a step a minute."""
    return clicks(
        [
            (f"s{start + s:04d}", item, 10 * (start + s) + j)
            for s, items in enumerate(sessions)
            for j, item in enumerate(items)
        ]  # fmt: skip
    )


def dense(model):
    """The rules as a dense matrix."""
    a, n = model.arrays, model.n_items
    out = np.zeros((n, n))
    for row in range(n):
        span = slice(a["sim_indptr"][row], a["sim_indptr"][row + 1])
        out[row, a["sim_indices"][span]] = a["sim_data"][span]
    return out


def fitted(sessions, **options):
    return fit_next_item(session_sequences(walks(sessions)), NextItemParams(**options))


# --- sequences ----------------------------------------------------------------------------------


def test_sequences_order_by_time_keep_input_order_on_ties_and_collapse_repeats():
    events = clicks(
        [
            ("s2", "B", 5), ("s1", "C", 3), ("s1", "A", 1), ("s1", "A", 2),  # A, A in a row: once
            ("s1", "B", 3),  # same minute as C, after it in the log: after C
            ("s1", "A", 4),  # A again, not in a row: a step
            ("s3", "D", 0),  # a single step: kept
        ]
    )  # fmt: skip
    events.loc[len(events)] = ["session:s1", "s1", T0, "search", None]  # no item: left out
    seq = session_sequences(events)
    assert seq.columns.tolist() == ["session_id", "position", "item_id", "timestamp"]
    assert list(zip(seq["session_id"], seq["position"], seq["item_id"], strict=True)) == [
        ("s1", 0, "A"), ("s1", 1, "C"), ("s1", 2, "B"), ("s1", 3, "A"),
        ("s2", 0, "B"), ("s3", 0, "D"),
    ]  # fmt: skip
    assert seq["timestamp"].tolist()[:2] == [T0 + pd.Timedelta(minutes=m) for m in (1, 3)]


def test_sequences_name_a_missing_column_and_missing_times():
    events = clicks([("s1", "A", 0)])
    with pytest.raises(RecommendError, match="'session_id'"):
        session_sequences(events.drop(columns="session_id"))
    events.loc[0, "timestamp"] = pd.NaT
    with pytest.raises(RecommendError, match="'timestamp'.*missing"):
        session_sequences(events)


# --- split --------------------------------------------------------------------------------------


def test_split_holds_out_the_latest_sessions_by_start_whatever_the_row_order():
    rng = np.random.default_rng(3)
    events = walks([list(rng.choice(list("ABCDEFG"), rng.integers(1, 5))) for _ in range(40)])
    params = NextItemParams(test_share=0.25)
    train, test = split_sessions(session_sequences(events), params)
    assert sorted(test["session_id"].unique()) == [f"s{s:04d}" for s in range(30, 40)]
    assert set(train["session_id"]) == {f"s{s:04d}" for s in range(30)}
    for seed in range(3):  # shuffled rows: the same split, frame for frame
        shuffled = events.sample(frac=1, random_state=seed)
        again = split_sessions(session_sequences(shuffled), params)
        pd.testing.assert_frame_equal(again[0], train)
        pd.testing.assert_frame_equal(again[1], test)
        reordered = session_sequences(events).sample(frac=1, random_state=seed)
        pd.testing.assert_frame_equal(split_sessions(reordered, params)[1], test)


def test_split_goes_by_start_time_not_by_session_id():
    seq = session_sequences(
        clicks([("z", "A", 0), ("z", "B", 30), ("a", "B", 10), ("m", "C", 20), ("m", "A", 21)])
    )  # z starts first but ends last
    train, test = split_sessions(seq, NextItemParams(test_share=0.34))
    assert set(test["session_id"]) == {"m"} and set(train["session_id"]) == {"a", "z"}


def test_split_breaks_start_ties_by_session_id_and_never_holds_out_everything():
    seq = session_sequences(clicks([("b", "A", 0), ("a", "B", 0), ("c", "A", 0), ("c", "B", 1)]))
    train, test = split_sessions(seq, NextItemParams(test_share=0.34))
    assert set(test["session_id"]) == {"c"} and set(train["session_id"]) == {"a", "b"}
    train, test = split_sessions(seq, NextItemParams(test_share=0.9))  # 3 of 3 -> 2
    assert set(train["session_id"]) == {"a"}
    single = session_sequences(clicks([("a", "A", 0), ("a", "B", 1)]))
    train, test = split_sessions(single, NextItemParams())
    assert test.empty and len(train) == 2


# --- Sequential Rules ---------------------------------------------------------------------------


def test_sequential_rules_weights_equal_a_hand_computation():
    model = fitted([["A", "B", "C", "D"], ["A", "C"], ["B", "A"]], steps=2, neighbours=None)
    assert model.arrays["item_ids"].tolist() == ["A", "B", "C", "D"]
    # s1 gap 1: A>B, B>C, C>D (1 each); gap 2: A>C, B>D (1/2 each); s2: A>C 1; s3: B>A 1
    expected = np.array(
        [
            [0, 1, 1.5, 0],
            [1, 0, 1, 0.5],
            [0, 0, 0, 1],
            [0, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(dense(model), expected)
    assert model.algorithm == SEQUENTIAL_RULES and model.scalars["family"] == "item_similarity"
    # the share of training sessions holding each item: A in 3 of 3, B 2, C 2, D 1
    np.testing.assert_allclose(model.arrays["item_scores"], [1, 2 / 3, 2 / 3, 1 / 3])


@pytest.mark.parametrize(
    ("weighting", "weights"),
    [
        ("inverse", [1, 1 / 2, 1 / 3]),
        ("quadratic", [1, 1 / 4, 1 / 9]),
        ("log", [1, 1 / np.log2(3), 1 / 2]),
        ("linear", [1, 2 / 3, 1 / 3]),
        ("same", [1, 1, 1]),
    ],
)
def test_each_weighting_weighs_the_gaps_as_documented(weighting, weights):
    model = fitted([["A", "B", "C", "D", "E"]], steps=3, weighting=weighting, neighbours=None)
    got = dense(model)
    assert got[0, 1:4].tolist() == pytest.approx(weights)  # A>B gap 1, A>C gap 2, A>D gap 3
    assert got[0, 4] == 0  # gap 4 is beyond steps


def test_neighbours_keep_each_items_strongest_rules_ties_by_item_id():
    sessions = [["B", "C"], ["B", "A"], ["B", "D"], ["B", "D"], ["A", "C"]]
    full = dense(fitted(sessions, steps=1, neighbours=None))
    assert full[1].tolist() == [1, 0, 1, 2]  # B>A 1, B>C 1, B>D 2
    pruned = dense(fitted(sessions, steps=1, neighbours=2))
    assert pruned[1].tolist() == [1, 0, 0, 2]  # D, then A over C (a tie: lower id)
    assert pruned[0].tolist() == full[0].tolist()


def test_many_tied_rules_keep_the_lowest_item_ids():
    followers = [f"j{i:02d}" for i in range(60)]
    rng = np.random.default_rng(1)
    sessions = [["a", item] for item in rng.permutation(followers)] + [["a", "j59"]]
    rules = dense(fitted(sessions, steps=1, neighbours=5))
    assert rules[0].nonzero()[0].tolist() == [1, 2, 3, 4, 60]  # j00..j03 tied, then j59 (2)
    assert rules[0, 60] == 2


def test_the_model_saves_and_loads_as_arrays(tmp_path):
    model = fitted([["A", "B", "C"], ["B", "C"], ["C", "A"]])
    loaded = ModelArrays.load(model.save(tmp_path / "rules.npz"))
    assert loaded.scalars == model.scalars and loaded.n_users == 0
    contexts = [["A"], ["B", "A"], ["zz"]]
    pd.testing.assert_frame_equal(
        next_items(loaded, contexts, 2, fill=True), next_items(model, contexts, 2, fill=True)
    )


# --- next items ---------------------------------------------------------------------------------


def expected_lists(model, contexts, k, decay, exclude=True):
    """The rules' top-k by a dense computation, one context at a time."""
    ids = model.arrays["item_ids"].tolist()
    rules = dense(model)
    rows = []
    for r, context in enumerate(contexts):
        known = [ids.index(i) for i in context if i in ids]
        known = [c for j, c in enumerate(known) if j == 0 or c != known[j - 1]]
        weights = np.zeros(len(ids))
        for d, c in enumerate(reversed(known)):
            weights[c] += decay**d
        scores = weights @ rules
        if exclude:
            scores[known] = 0
        scores[scores <= 0] = -np.inf
        order = select_top(scores[None, :], len(ids))[0]
        rows += [(r, ids[c], scores[c]) for c in order[:k] if scores[c] > -np.inf]
    return rows


@pytest.mark.parametrize("exclude", [True, False])
def test_next_items_equal_a_dense_computation(exclude):
    rng = np.random.default_rng(0)
    items = [f"i{i:02d}" for i in range(25)]
    sessions = [list(rng.choice(items, rng.integers(2, 7))) for _ in range(120)]
    model = fitted(sessions, steps=3, weighting="same", context_decay=0.5, neighbours=6)
    contexts = [list(rng.choice([*items, "new1", "new2"], rng.integers(1, 6))) for _ in range(60)]
    contexts += [["new1"], [], ["i03", "i03", "new2", "i03"]]
    got = next_items(model, contexts, 5, exclude_context=exclude, block_size=7)
    want = expected_lists(model, contexts, 5, 0.5, exclude)
    assert list(zip(got["request"], got["item_id"], strict=True)) == [(r, i) for r, i, _ in want]
    np.testing.assert_allclose(got["score"], [s for *_, s in want])
    assert (got["source"] == "rules").all()
    assert (
        got.groupby("request")["rank"]
        .apply(list)
        .map(lambda r: r == list(range(1, len(r) + 1)))
        .all()
    )
    if exclude:
        asked = {(r, i) for r, context in enumerate(contexts) for i in context}
        assert not asked & set(zip(got["request"], got["item_id"], strict=True))


@pytest.mark.parametrize("exclude", [True, False])
def test_a_few_requests_summed_densely_give_the_sparse_products_lists_exactly(exclude, monkeypatch):
    """A served request's rule scores are summed in a dense block, a batch's by scipy's sparse
    product: the same items, ranks and score floats, repeats and unknown items included."""
    from personalab.recommend import next_item_eval

    rng = np.random.default_rng(1)
    items = [f"i{i:02d}" for i in range(40)]
    sessions = [list(rng.choice(items, rng.integers(2, 8))) for _ in range(300)]
    model = fitted(sessions, steps=4, weighting="inverse", context_decay=0.7, neighbours=9)
    contexts = [list(rng.choice([*items, "new"], rng.integers(1, 9))) for _ in range(50)]
    contexts += [["i01", "i02", "i01", "i02", "i01"], ["new"], []]
    dense_lists = next_items(model, contexts, 6, exclude_context=exclude, block_size=3)
    monkeypatch.setattr(next_item_eval, "DENSE_CELLS", 0)
    sparse_lists = next_items(model, contexts, 6, exclude_context=exclude, block_size=3)
    pd.testing.assert_frame_equal(dense_lists, sparse_lists, check_exact=True)


def test_unknown_items_are_ignored_and_only_unknown_gets_popularity_when_filling():
    model = fitted([["A", "B", "C"], ["A", "C"], ["B", "A"]], steps=2, neighbours=None)
    plain = next_items(model, [["A"], ["A", "zz"], ["zz"], []], 3)
    assert plain[plain["request"] == 0]["item_id"].tolist() == ["C", "B"]
    assert plain[plain["request"] == 1]["item_id"].tolist() == ["C", "B"]
    assert set(plain["request"]) == {0, 1}  # nothing from the rules for unknown or empty
    filled = next_items(model, [["A"], ["zz"], ["C"]], 3, fill=True)
    rows = list(
        zip(filled["request"], filled["item_id"], filled["source"], filled["rank"], strict=True)
    )
    assert rows == [
        (0, "C", "rules", 1), (0, "B", "rules", 2),  # A is asked: excluded, nothing left
        (1, "A", "popularity", 1), (1, "B", "popularity", 2), (1, "C", "popularity", 3),
        (2, "A", "popularity", 1), (2, "B", "popularity", 2),  # C has no rules
    ]  # fmt: skip
    none = next_items(model, [], 3, fill=True)
    assert none.empty and none.columns.tolist() == [*filled.columns]
    popular = popular_next_items(model, [["A"], ["zz"]], 2, exclude_context=False)
    assert popular["item_id"].tolist() == ["A", "B", "A", "B"]  # B and C tie: lower id first


def test_next_items_reject_a_bad_request_or_model():
    model = fitted([["A", "B"], ["B", "C"]])
    with pytest.raises(RecommendError, match=r"contexts\[1\]"):
        next_items(model, [["A"], "AB"], 2)
    with pytest.raises(RecommendError, match="k must be"):
        next_items(model, [["A"]], 0)
    other = ModelArrays(dict(model.arrays), {**model.scalars, "family": "factors"})
    with pytest.raises(RecommendError, match="item_similarity"):
        next_items(other, [["A"]], 2)


# --- evaluation ---------------------------------------------------------------------------------


def test_evaluation_equals_a_hand_computation():
    model = fitted([["A", "B", "C"], ["A", "C"], ["B", "A"]], steps=2, neighbours=None)
    test = session_sequences(
        walks([["A", "B"], ["A", "C"], ["A", "C"], ["C", "B"], ["B", "A", "B"], ["E"], ["A", "E"]])
    )
    got = evaluate_next_item(model, test, 2)
    # lists (k=2), context excluded; model: rules, then popularity (A 1, B 2/3, C 2/3):
    #   A     -> C, B     target B: rank 2 | popularity B, C: rank 1
    #   A     -> C, B     target C: rank 1 | popularity B, C: rank 2 (twice)
    #   C     -> A, B     target B: rank 2 | popularity A, B: rank 2
    #   B, A  -> C        target B: in the context, a miss for both
    #   (E alone: not evaluated)
    #   A     -> C, B     target E: unseen, a miss for both
    assert got["sessions"] == 6 and got["k"] == 2 and got["exclude_context"] is True
    assert got["model"] == pytest.approx({"hit_rate_at_2": 4 / 6, "mrr_at_2": 3 / 6})
    assert got["popularity"] == pytest.approx({"hit_rate_at_2": 4 / 6, "mrr_at_2": 2.5 / 6})
    assert got["rules_answered"] == pytest.approx(5 / 6)  # C has no rules
    assert got["targets_in_context"] == pytest.approx(1 / 6)
    assert got["targets_unseen"] == pytest.approx(1 / 6)
    kept = evaluate_next_item(model, test, 2, exclude_context=False)
    # A -> B, C (A's rules: C 1.5, B 1; B, A -> C 2.0, B 1.0, A 0.5): session 5 now hits B at 2
    assert kept["exclude_context"] is False
    assert kept["model"]["hit_rate_at_2"] == pytest.approx(5 / 6)


def test_evaluation_needs_a_session_of_two_items():
    model = fitted([["A", "B"]])
    with pytest.raises(RecommendError, match="two or more items"):
        evaluate_next_item(model, session_sequences(walks([["A"], ["B"]])), 10)


def zipf_items(rng, n_items, size):
    weights = 1 / np.arange(1, n_items + 1)
    return rng.choice(n_items, size=size, p=weights / weights.sum())


def chain_sessions(n=600, n_chains=12, length=5, noise=0.15, seed=0):
    """Walks along item chains (c0 > c1 > ... > c4), chains by Zipf popularity, each step
    replaced by a popular random item with probability ``noise``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        chain = zipf_items(rng, n_chains, 1)[0]
        first = rng.integers(0, length - 1)
        steps = rng.integers(2, length - first + 1)
        walk = [chain * length + first + j for j in range(steps)]
        walk = [
            zipf_items(rng, n_chains * length, 1)[0] if rng.random() < noise else i for i in walk
        ]
        out.append([f"i{i:02d}" for i in walk])
    return out


def popular_sessions(n=600, n_items=60, seed=0):
    """Sessions of 2-5 items drawn by popularity alone: no order to learn."""
    rng = np.random.default_rng(seed)
    return [[f"i{i:02d}" for i in zipf_items(rng, n_items, rng.integers(2, 6))] for _ in range(n)]


def run(sessions, k=10, **options):
    params = NextItemParams(**options)
    sequences = session_sequences(walks(sessions))
    assert next_item_gap(sequences, params) is None
    train, test = split_sessions(sequences, params)
    return evaluate_next_item(fit_next_item(train, params), test, k)


def test_on_item_chains_the_rules_beat_popularity_clearly():
    got = run(chain_sessions())
    model, popular = got["model"], got["popularity"]
    assert got["sessions"] == 120
    assert model["hit_rate_at_10"] == pytest.approx(0.783, abs=1e-3)  # popularity 0.525
    assert model["mrr_at_10"] == pytest.approx(0.686, abs=1e-3)  # popularity 0.223
    assert model["hit_rate_at_10"] > popular["hit_rate_at_10"] + 0.2
    assert model["mrr_at_10"] > 2.5 * popular["mrr_at_10"]


def test_without_order_the_rules_are_not_far_from_popularity():
    got = run(popular_sessions())
    model, popular = got["model"], got["popularity"]
    assert got["sessions"] == 117
    assert abs(model["hit_rate_at_10"] - popular["hit_rate_at_10"]) < 0.05
    assert abs(model["mrr_at_10"] - popular["mrr_at_10"]) < 0.05


# --- what the log lets the model learn ----------------------------------------------------------


def test_gap_names_why_the_log_cannot_teach_or_evaluate():
    params = NextItemParams(min_sessions=3, test_share=0.25)
    empty = session_sequences(clicks([("s1", None, 0)]))
    assert next_item_gap(empty, params) == NO_SESSIONS
    singles = session_sequences(walks([["A"], ["B"], ["A", "A"]]))
    assert next_item_gap(singles, params) == NO_TRANSITION
    few = session_sequences(walks([["A", "B"], ["B", "C"], ["C"], ["A", "C"]]))
    assert "sessions.min_sessions 3" in next_item_gap(few, params)
    untestable = session_sequences(walks([["A", "B"], ["B", "C"], ["C", "A"], ["A"]]))
    assert "held-out" in next_item_gap(untestable, params)
    assert next_item_gap(untestable, NextItemParams(min_sessions=2, test_share=0.5)) is None


def daily(sessions, tie_every=1):
    """:func:`walks` with coarse clocks: within each session, every ``tie_every``-th step comes
    at the time of the step before it (1: the whole session at one time, as with dates)."""
    rows = []
    for s, items in enumerate(sessions):
        minute = 10 * s
        for j, item in enumerate(items):
            minute += 0 if j and j % tie_every == 0 else (1 if j else 0)
            rows.append((f"s{s:04d}", item, minute))
    return clicks(rows)


def test_a_log_whose_clock_cannot_order_a_sessions_steps_teaches_no_next_item():
    # 40 sessions of three items, each session at one time (a log of dates; a basket)
    items = [["A", "B", "C"], ["B", "C", "D"], ["C", "D", "A"], ["D", "A", "B"]] * 10
    params = NextItemParams(min_sessions=3)
    tied = session_sequences(daily(items))
    assert tied_steps(tied) == (80, 80)
    gap = next_item_gap(tied, params)
    assert gap.startswith("80 of the 80 steps from one item to the next in a session (100%)")
    assert "sessions.max_tied_steps 0.5" in gap and "only the file's order" in gap
    # every other step tied: 40 of 80, within the default share; stricter params leave it out
    half = session_sequences(daily(items, tie_every=2))
    assert tied_steps(half) == (40, 80)
    assert next_item_gap(half, params) is None
    assert "(50%)" in next_item_gap(half, NextItemParams(min_sessions=3, max_tied_steps=0.4))
    # 1 trusts the file's order; a clock that orders every step never ties
    assert next_item_gap(tied, NextItemParams(min_sessions=3, max_tied_steps=1.0)) is None
    assert tied_steps(session_sequences(walks(items))) == (0, 80)


def test_params_are_strict_and_named():
    assert NextItemParams().model_dump() == {
        "enabled": True, "test_share": 0.2, "steps": 10, "weighting": "inverse",
        "context_decay": 0.5, "min_sessions": 20, "neighbours": 50, "exclude_context": True,
        "max_tied_steps": 0.5,
    }  # fmt: skip
    for bad in ({"stepz": 3}, {"test_share": 1.0}, {"weighting": "div"}, {"context_decay": 2}):
        with pytest.raises(ValueError):
            NextItemParams(**bad)


# --- the documented sessions shape, through ingest ----------------------------------------------


@pytest.fixture(scope="module")
def yoochoose_events(tmp_path_factory):
    """tests.shapes' ``sessions`` log (YooChoose clicks: session, time, item, category) read and
    processed by the ingest stage: the rows data/interim/events.parquet would hold."""
    from personalab.ingest.params import IngestParams
    from personalab.ingest.pipeline import process_events
    from personalab.ingest.sources.read import read_source
    from tests.shapes import write_shapes

    root = tmp_path_factory.mktemp("shapes") / "data"
    source = write_shapes(root, ["sessions"])["sessions"]
    raw = read_source("yoochoose", root / "sessions")
    params = IngestParams.from_mapping({"source": {**source, "path": "data/sessions"}})
    return process_events(raw, params).events


def test_the_yoochoose_shape_goes_from_events_to_an_evaluated_model(yoochoose_events):
    events = yoochoose_events
    assert {"user_id", "session_id", "item_id", "event_type", "timestamp"} <= set(events)
    assert events["user_id"].str.startswith("session:").all()
    params = NextItemParams()
    sequences = session_sequences(events)
    assert sequences["session_id"].nunique() == events["session_id"].nunique()
    assert next_item_gap(sequences, params) is None
    train, test = split_sessions(sequences, params)
    assert train["timestamp"].min() <= test["timestamp"].min()
    model = fit_next_item(train, params)
    got = evaluate_next_item(model, test, 10)
    lengths = test.groupby("session_id").size()
    assert got["sessions"] == int((lengths >= 2).sum())
    # users of a few tastes: the items of a visit point to its next one better than popularity
    assert got["model"]["hit_rate_at_10"] > got["popularity"]["hit_rate_at_10"]
    assert got["model"]["mrr_at_10"] > got["popularity"]["mrr_at_10"]
    assert got["rules_answered"] > 0.9


def test_params_reject_unknown_keys_through_the_stage_loader():
    from personalab.core.params import StageParams

    class Holder(StageParams):
        sessions: NextItemParams = NextItemParams()

    with pytest.raises(ParamsError, match="sessions"):
        Holder.from_mapping({"sessions": {"neighbors": 10}})
