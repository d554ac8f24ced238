"""Requests by user id to models/personalise: the row is folded from the online store and the
request's live events, and answered as the features stage's row would be; feature rows keep
working beside them; through MLflow, the live events pass the signature."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personalab.core.errors import InputError
from personalab.export.live_rules import LiveRules
from personalab.export.personalise import Personaliser
from personalab.export.pyfunc import online_example, personalise_signature, serve_request
from personalab.features.build import features_at
from personalab.intent.calibrate import Calibrator
from personalab.intent.columns import FeatureEncoder
from personalab.intent.model import IntentModel
from personalab.online.features import OnlineFeatures
from personalab.online.parity import live_events
from personalab.online.store import FILE
from tests.unit.online.helpers import instants, plan_for, shape, store_of

NO_TRIGGERS = LiveRules(cart_reminder=False, category_views=0)
INTENT = ["days_since_last_event", "events_7d", "sessions_total", "view_to_cart", "rfm_segment"]


@pytest.fixture(scope="module")
def world(parts, tmp_path_factory):
    """The funnel log's store at S, an intent model on its features, the export's other parts."""
    import xgboost as xgb

    events = shape("funnel")
    as_of, at = instants(events)
    past = events[events["timestamp"] < as_of]
    plan = plan_for(past)
    path = tmp_path_factory.mktemp("online") / FILE
    store = store_of(past, plan, as_of, path)
    train = features_at(past, as_of - pd.Timedelta(days=2), plan)
    encoder = FeatureEncoder(categorical=["rfm_segment"]).fit(train[INTENT])
    label = (train["events_7d"] > train["events_7d"].median()).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1},
        xgb.DMatrix(encoder.transform(train), label=label, enable_categorical=True),
        num_boost_round=4,
    )
    rule = Personaliser(
        IntentModel(encoder, booster, Calibrator("none"), 0.5),
        None,
        [],
        {},
        parts["recommender"],
        parts["trending"],
        0.5,
        3,
        online=OnlineFeatures(store),
        live_rules=NO_TRIGGERS,  # the tests of triggers set their own
    )
    return rule, events, past, as_of, at, plan


def active(events, as_of, at, n=4):
    live = events[(events["timestamp"] >= as_of) & (events["timestamp"] < at)]
    return live, live["user_id"].value_counts().index[:n].tolist()


def test_a_request_by_id_with_live_events_is_answered_as_the_features_stage_row(world):
    rule, events, past, as_of, at, plan = world
    live, users = active(events, as_of, at)
    for user in users:
        mine = live[live["user_id"] == user]
        by_id = pd.DataFrame(
            {"user_id": [user], "events": [live_events(mine)], "at": [at.isoformat()]}
        )
        row = features_at(pd.concat([past, mine]), at, plan)
        row = row[row["user_id"] == user].drop(columns="cutoff")
        expected = serve_request(rule, row)
        answer = serve_request(rule, by_id)
        pd.testing.assert_frame_equal(answer, expected, check_exact=False, rtol=1e-9)
        assert answer["intent_score"].notna().all()


def test_feature_rows_and_requests_by_id_are_answered_together_in_request_order(world):
    rule, events, past, as_of, at, plan = world
    live, (first, second, *_) = active(events, as_of, at)
    row = features_at(past, as_of, plan)
    row = row[row["user_id"] == second].drop(columns="cutoff")
    visit = live_events(live[live["user_id"] == first])
    mixed = pd.concat(
        [
            pd.DataFrame({"user_id": [first], "events": [visit]}),
            row,
            pd.DataFrame({"user_id": ["stranger"]}),
        ],
        ignore_index=True,
    )
    answer = serve_request(rule, mixed, {"k": 2})
    assert answer["user_id"].drop_duplicates().tolist() == [first, second, "stranger"]
    alone = serve_request(rule, mixed.iloc[[0]][["user_id", "events"]], {"k": 2})
    pd.testing.assert_frame_equal(answer.iloc[:2].reset_index(drop=True), alone)
    stranger = answer[answer["user_id"] == "stranger"]
    assert stranger["intent_score"].isna().all()  # nothing to describe them by
    assert (stranger["strategy"] == "popular").all()


def test_a_visitor_with_live_events_is_scored_from_them(world):
    rule, events, _, as_of, at, _ = world
    live, (user, *_) = active(events, as_of, at)
    visit = live_events(live[live["user_id"] == user])
    answer = serve_request(rule, pd.DataFrame({"user_id": ["new-visitor"], "events": [visit]}))
    assert answer["intent_score"].notna().all()
    assert (answer["strategy"] == "popular").all()  # the recommender does not know them
    # the popular items, less those the visit has just shown them
    viewed = rule.recommender.popular.index[:2].tolist()
    start = pd.Timestamp(rule.online.store.as_of_ns, tz="UTC") + pd.Timedelta(minutes=1)
    visit = [
        {"timestamp": (start + pd.Timedelta(seconds=s)).isoformat(), "event_type": "view",
         "item_id": item}
        for s, item in enumerate(viewed)
    ]  # fmt: skip
    answer = serve_request(rule, pd.DataFrame({"user_id": ["new-visitor"], "events": [visit]}))
    assert (answer["strategy"] == "popular").all() and len(answer) == rule.k
    assert not set(viewed) & set(answer["item_id"])
    assert answer["item_id"].tolist() == rule.recommender.popular.index[2 : 2 + rule.k].tolist()


def test_requests_that_mix_up_the_two_forms_are_refused_clearly(world, parts):
    rule, events, past, as_of, at, plan = world
    row = features_at(past, as_of, plan).drop(columns="cutoff").head(1)
    visit = [{"timestamp": at.isoformat(), "event_type": "view"}]
    with pytest.raises(InputError, match=r"row\(s\) \[0\].*send both feature values and events"):
        serve_request(rule, row.assign(events=[visit]))
    with pytest.raises(InputError, match=r"lack required column\(s\) \['events_7d'\]"):
        serve_request(rule, row.drop(columns="events_7d"))
    offline = Personaliser(
        rule.intent, None, [], {}, parts["recommender"], parts["trending"], 0.5, 3
    )
    with pytest.raises(InputError, match="no online store"):
        serve_request(offline, pd.DataFrame({"user_id": ["u1"], "events": [visit]}))


def test_the_exported_rule_serves_requests_by_id_through_mlflow(world, tmp_path):
    import mlflow.pyfunc

    from personalab.export.pyfunc import request_rows, save_personalise

    rule = world[0]
    example = pd.DataFrame({"user_id": [world[1]["user_id"].iloc[0]]})
    folder = save_personalise(rule, example, None, tmp_path / "personalise")
    inputs = {c.name: c for c in personalise_signature(rule).inputs.inputs}
    assert not inputs["events"].required and not inputs["at"].required
    assert not inputs["events_7d"].required  # a request by id sends no feature
    by_id = online_example(rule, example)
    loaded = mlflow.pyfunc.load_model(str(folder))
    answer = loaded.predict(by_id, params={"k": 2})
    expected = rule.personalise(request_rows(rule, by_id), 2)
    pd.testing.assert_frame_equal(answer, expected)
    bad = by_id.assign(events=[[{"timestamp": "soon", "event_type": "view"}]] * len(by_id))
    with pytest.raises(Exception, match="event 0's timestamp is not an ISO 8601 time"):
        loaded.predict(bad)


def test_post_personalise_answers_as_invocations_does_without_the_dataframe_protocol(world):
    """`make serve`'s lean route: the same rows, refusals in one line naming the cause."""
    from personalab.export.serving import GuardedApp
    from tests.unit.export.test_serving import call

    rule, events, _, as_of, at, _ = world
    live, (first, second, *_) = active(events, as_of, at)
    visit = live_events(live[live["user_id"] == first])

    async def no_mlflow(scope, receive, send):
        raise AssertionError("the lean route does not reach MLflow's app")

    app = GuardedApp(no_mlflow, 10**6, personaliser=rule)

    def post(body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, content = call(app, ("POST", "/personalise", data, {}))[0]
        return status, json.loads(content)

    status, answer = post({"user_id": first, "events": visit, "k": 2})
    assert status == 200, answer
    expected = serve_request(rule, pd.DataFrame({"user_id": [first], "events": [visit]}), {"k": 2})
    got = pd.DataFrame(answer["predictions"])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)
    status, answer = post([{"user_id": first, "events": visit}, {"user_id": second}])
    assert status == 200
    assert pd.DataFrame(answer["predictions"])["user_id"].drop_duplicates().tolist() == [
        first, second,
    ]  # fmt: skip
    for body, cause in (
        (b"{not json", "not valid JSON"),
        ([], "non-empty list"),
        ({"user": first}, "request 0 has unknown key(s) ['user']"),
        ({"events": visit}, "request 0 has no user_id"),
        ({"user_id": first, "k": 0}, "k must be from 1 to"),
        ({"user_id": first, "events": [{"event_type": "view"}]}, "event 0 has no timestamp"),
    ):
        status, answer = post(body)
        assert status == 400 and cause in answer["message"], answer
    status, _ = call(app, ("GET", "/personalise", b"", {}))[0]
    assert status == 405


def visit_event(at, minutes, kind, item=None, **extra):
    event = {"timestamp": (at + pd.Timedelta(minutes=minutes)).isoformat(), "event_type": kind}
    return event | ({"item_id": item} if item is not None else {}) | extra


def test_a_cart_left_in_the_visit_triggers_a_reminder_of_those_items(world):
    rule, events, _, as_of, at, _ = world
    live, (user, *_) = active(events, as_of, at)
    rule.live_rules = LiveRules()
    visit = [
        visit_event(at, 1, "add_to_cart", "i1"),
        visit_event(at, 2, "add_to_cart", "i2"),
        visit_event(at, 3, "add_to_cart", "i3"),
        visit_event(at, 4, "purchase", "i2"),  # bought: no reminder of it
    ]
    answer = serve_request(rule, pd.DataFrame({"user_id": [user], "events": [visit]}))
    assert answer["strategy"].unique().tolist() == ["cart_reminder"]
    assert answer["item_id"].tolist() == ["i3", "i1"]  # most recent first
    assert answer["score_kind"].unique().tolist() == ["cart_item"]
    assert "left 2 item(s) in the cart" in answer["reason"].iloc[0]
    # a cart in an earlier session of the visit is not this session's: no reminder
    later = [*visit[:1], visit_event(at, 90, "view", "i4")]
    answer = serve_request(rule, pd.DataFrame({"user_id": [user], "events": [later]}))
    rule.live_rules = NO_TRIGGERS
    assert "cart_reminder" not in set(answer["strategy"])


def test_a_category_viewed_often_in_the_visit_gets_its_popular_items(world):
    rule, events, _, as_of, at, _ = world
    ranked = [("i3", 0.5), ("i1", 0.4), ("i5", 0.3)]
    rule.live_rules = LiveRules(category_views=2, category_items={"books": ranked})
    try:
        looks = [visit_event(at, m, "view", "i1", category="books") for m in (1, 2)]
        answer = serve_request(rule, pd.DataFrame({"user_id": ["someone"], "events": [looks]}))
        assert answer["strategy"].unique().tolist() == ["category_interest"]
        assert answer["item_id"].tolist() == ["i3", "i5"]  # i1 was viewed in the visit
        assert "viewed books 2 times this visit (at least 2)" in answer["reason"].iloc[0]
        once = looks[:1]
        answer = serve_request(rule, pd.DataFrame({"user_id": ["someone"], "events": [once]}))
        assert "category_interest" not in set(answer["strategy"])
    finally:
        rule.live_rules = NO_TRIGGERS


def test_the_visit_steers_a_personalised_list_and_is_left_out_of_it(world):
    rule, events, _, as_of, at, _ = world
    user = rule.recommender.model.users[0]  # known to the recommender, not to the store
    rule.threshold = 0.0  # everyone gets their personalised list
    try:
        scroll = [visit_event(at, 1, "scroll", scroll_depth=0.5)]  # a visit without items
        plain = serve_request(rule, pd.DataFrame({"user_id": [user], "events": [scroll]}), {"k": 3})
        first = plain["item_id"].iloc[0]
        visit = [*scroll, visit_event(at, 2, "view", first), visit_event(at, 3, "click", first)]
        steered = serve_request(
            rule, pd.DataFrame({"user_id": [user], "events": [visit]}), {"k": 3}
        )
    finally:
        rule.threshold = 0.5
    assert plain["strategy"].unique().tolist() == ["personalised"]
    assert plain["score_kind"].unique().tolist() != ["fused_rank"]
    assert steered["strategy"].unique().tolist() == ["personalised"]
    assert first not in set(steered["item_id"]) and len(steered) == 3
    assert steered["score_kind"].unique().tolist() == ["fused_rank"]
    assert "steered by this visit's items" in steered["reason"].iloc[0]


def test_a_visitor_unknown_to_the_recommender_gets_the_items_after_the_visit_s_items():
    from personalab.export.live_rules import session_items
    from personalab.online.visit import Visit
    from personalab.recommend.next_item_eval import Lists

    class Sessions:  # the recommender's next-item part, as next_lists answers
        next_item = object()

        def next_lists(self, contexts, k):
            assert contexts == [["i1", "i2"]]
            return Lists(
                np.zeros(2, dtype=np.int64),
                np.array(["i7", "i9"]),
                np.array([0.6, 0.2]),
                np.array([True, False]),
            )

    visit = Visit(("i1", "i2"), (), ())
    override = session_items(Sessions(), visit, 2)
    assert override.strategy == "session_items" and override.items.tolist() == ["i7", "i9"]
    assert override.kind == "next_item_rules"
    assert "the items that follow this visit's items" in override.reason
    assert session_items(Sessions(), Visit((), (), ()), 2) is None  # no items: nothing to follow
    Sessions.next_item = None
    assert session_items(Sessions(), visit, 2) is None  # no next-item model


def test_the_visit_s_rules_work_without_an_intent_model(world, parts):
    """A rule with a recommender alone (no threshold): a trigger still names itself."""
    rule, events, _, as_of, at, _ = world
    alone = Personaliser(
        None, None, [], {}, parts["recommender"], parts["trending"], None, 3,
        online=rule.online, live_rules=LiveRules(),
    )  # fmt: skip
    visit = [visit_event(at, 1, "add_to_cart", "i1")]
    answer = serve_request(alone, pd.DataFrame({"user_id": ["u1"], "events": [visit]}))
    assert answer["strategy"].tolist() == ["cart_reminder"]
    assert answer["intent_score"].isna().all()
    assert "left 1 item(s) in the cart" in answer["reason"].iloc[0]


def test_the_saved_rule_keeps_the_recommender_s_next_item_model(parts, tmp_path):
    """Saved and loaded back (as MLflow loads the folder), the rule still has the sessions'
    next-item model the visit's rules read: a visitor the recommender does not know gets the
    items that follow the visit's items."""
    from personalab.export.live_rules import session_items
    from personalab.online.features import VISIT
    from personalab.online.visit import Visit
    from personalab.recommend.served import Recommender
    from personalab.recommend.sessions import NextItemParams, fit_next_item

    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s1", "s2", "s2", "s3", "s3"],
            "position": [0, 1, 0, 1, 0, 1],
            "item_id": ["i1", "i2", "i1", "i2", "i3", "i5"],
        }
    )
    base = parts["recommender"]
    rec = Recommender(
        base.model.model, base.popular, base.config, fit_next_item(sessions, NextItemParams())
    )
    rule = Personaliser(None, None, [], {}, rec, parts["trending"], None, 3)
    files = rule.save(tmp_path / "rule", None)
    loaded = Personaliser.load({name: str(path) for name, path in files.items()})
    assert loaded.recommender.next_item is not None
    visit = Visit(("i1",), (), ())
    override = session_items(loaded.recommender, visit, 1)
    assert override.strategy == "session_items" and override.items.tolist() == ["i2"]
    # a known user's list steered by the rules: u0 (who rated i0, i1, i2, i4) viewing i3
    steered = loaded.personalise(
        pd.DataFrame({"user_id": ["u0"], VISIT: [Visit(("i3",), (), ())]}), 3
    )
    assert steered["score_kind"].unique().tolist() == ["fused_rank"]
    assert "i5" in set(steered["item_id"])  # what follows i3
    assert not {"i0", "i1", "i2", "i3", "i4"} & set(steered["item_id"])  # seen or in the visit
