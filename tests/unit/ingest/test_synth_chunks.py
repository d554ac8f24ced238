import numpy as np
import pandas as pd
import pytest

from personalab.ingest.synth import SynthConfig, generate_log, write_chunked_log
from personalab.ingest.synth.__main__ import main
from personalab.ingest.synth.chunks import (
    arrival_keys,
    chunk_rng,
    generate_chunk,
    make_catalogue,
    plan_chunks,
)

SMALL = SynthConfig(seed=3, n_users=900, n_items=200, n_days=20, bot_users=3, late_rate=0.01)
CHUNK_USERS = 250  # SMALL in 4 chunks: 250, 250, 250, 150 users
LATENESS = pd.Timedelta(minutes=60)


def _stamps(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["timestamp"], utc=True, errors="coerce", format="ISO8601")


def flag_late(stamps: pd.Series, lateness: pd.Timedelta) -> np.ndarray:
    """The ingest late rule on rows in file order: more than ``lateness`` behind the max before.

    Kept here (as it read in ``personalab.ingest.validation`` before the rules moved to Ibis)
    so this test of the generator does not depend on the ingest engine.
    """
    ns = stamps.to_numpy(dtype="datetime64[ns]").astype("int64")  # NaT: int64 min
    before = np.concatenate([[np.iinfo(np.int64).min], np.maximum.accumulate(ns)[:-1]])
    return (
        stamps.notna().to_numpy()
        & (before > np.iinfo(np.int64).min)
        & (ns < before - lateness.value)
    )


def _chunk_logs(config: SynthConfig, chunk_users: int) -> list:
    """Each chunk's log on its own, as the writer generates them."""
    items, taste, rng = make_catalogue(config)
    logs, first_event = [], 0
    for spec in plan_chunks(config, chunk_users):
        gen = rng if spec.index == 0 else chunk_rng(config.seed, spec.index)
        log = generate_chunk(config, spec, items, taste, gen, first_event)
        first_event += log.counts["rows"] - log.counts["duplicates"]
        logs.append(log)
    return logs


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chunked")
    result = write_chunked_log(
        SMALL,
        folder / "log.parquet",
        chunk_users=CHUNK_USERS,
        memory_limit="512MB",
        threads=1,
        truth_path=folder / "truth.parquet",
    )
    return {
        "result": result,
        "events": pd.read_parquet(folder / "log.parquet"),
        "truth": pd.read_parquet(folder / "truth.parquet"),
        "folder": folder,
    }


DRIFT = {"at_day": 8, "type_share": 0.3, "price_factor": 1.2, "surge_category": "books",
         "surge_share": 0.2}  # fmt: skip
DRIFTED = SynthConfig(**{**SMALL.model_dump(), "drift": DRIFT})


@pytest.mark.parametrize("config", [SMALL, DRIFTED], ids=["plain", "drifted"])
def test_one_chunk_is_generate_log(tmp_path, config):
    result = write_chunked_log(
        config, tmp_path / "log.parquet", chunk_users=1000, truth_path=tmp_path / "truth.parquet"
    )
    log = generate_log(config)
    assert result["chunks"] == 1
    assert result["events"] == len(log.events)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "log.parquet"), log.events)
    truth = log.truth.astype({"favourite_category": "str"})  # bots' None reads back as NaN
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "truth.parquet"), truth)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet", "truth.parquet"]


def test_plan_splits_users_and_bots():
    specs = plan_chunks(SMALL, CHUNK_USERS)
    assert [s.n_users for s in specs] == [250, 250, 250, 150]
    assert [s.first_user for s in specs] == [0, 250, 500, 750]
    assert [s.n_bots for s in specs] == [1, 1, 1, 0]
    assert [s.first_bot for s in specs] == [0, 1, 2, 3]
    assert len(plan_chunks(SMALL, 900)) == 1
    with pytest.raises(ValueError, match="chunk_users"):
        plan_chunks(SMALL, 0)


def test_chunks_share_the_catalogue_and_differ_in_users():
    logs = _chunk_logs(SMALL, CHUNK_USERS)
    assert all(log.items is logs[0].items for log in logs)
    views = [log.events[log.events["event_type"] == "view"] for log in logs]
    assert set(views[1]["item_id"]) <= set(logs[0].items["item_id"])
    # chunk 1 is not a copy of chunk 0 under other ids
    assert len(logs[0].events) != len(logs[1].events)


def test_ids_do_not_collide_across_chunks(chunked):
    events, truth = chunked["events"], chunked["truth"]
    logs = _chunk_logs(SMALL, CHUNK_USERS)
    assert len(events) == sum(len(log.events) for log in logs) == chunked["result"]["events"]
    # the only repeated event ids are the dirt's re-sends, chunk by chunk
    assert events["event_id"].duplicated().sum() == sum(log.counts["duplicates"] for log in logs)
    ids = [set(log.events["event_id"]) for log in logs]
    assert sum(len(i) for i in ids) == len(set().union(*ids))
    # users: unique over the whole log, and a user's events all come from one chunk
    assert truth["user_id"].is_unique
    assert len(truth) == SMALL.n_users + SMALL.bot_users
    assert truth["user_id"].tolist()[: SMALL.n_users] == [f"u{k:06d}" for k in range(SMALL.n_users)]
    assert truth["is_bot"].tolist() == [False] * SMALL.n_users + [True] * SMALL.bot_users
    users = [set(log.events["user_id"].dropna()) for log in logs]
    assert sum(len(u) for u in users) == len(set().union(*users))
    assert set(events["user_id"].dropna()) <= set(truth["user_id"])
    assert set(events["user_id"].dropna()) == set().union(*users)


def test_rows_are_in_arrival_order(chunked):
    events = chunked["events"]
    logs = _chunk_logs(SMALL, CHUNK_USERS)
    late = flag_late(_stamps(events), LATENESS)
    per_chunk = sum(flag_late(_stamps(log.events), LATENESS).sum() for log in logs)
    assert late.sum() == per_chunk  # the merge makes no row late that was on time in its chunk
    assert late.mean() == pytest.approx(SMALL.late_rate, rel=0.3)
    # each chunk's rows keep their order
    for log in logs:
        mine = events[events["event_id"].isin(log.events["event_id"])]
        assert mine["event_id"].tolist() == log.events["event_id"].tolist()
    # what the merge avoids: chunks one after another look late by the hundred
    stacked = pd.concat([log.events for log in logs], ignore_index=True)
    assert flag_late(_stamps(stacked), LATENESS).mean() > 10 * SMALL.late_rate


def test_arrival_keys_are_the_running_max():
    stamps = pd.Series(
        [
            "not-a-date",
            "2026-01-01T00:10:00.000Z",
            "2026-01-01T00:05:00.000Z",
            None,
            "2026-01-01T01:00:00.000Z",
        ]
    )
    keys = arrival_keys(stamps)
    minutes = (keys - keys[1]) / 60e6
    assert minutes.tolist() == [0, 0, 0, 0, 50]
    assert arrival_keys(pd.Series([], dtype="str")).size == 0
    assert np.all(np.diff(keys) >= 0)


def test_wide_event_ids_grow_past_eight_digits():
    items, taste, rng = make_catalogue(SMALL)
    spec = plan_chunks(SMALL, CHUNK_USERS)[1]
    log = generate_chunk(SMALL, spec, items, taste, chunk_rng(SMALL.seed, 1), 99_999_990)
    assert log.events["event_id"].min() == "e100000000"  # 100 M: 9 digits, first one
    assert log.events["user_id"].dropna().min() == "u000250"


def test_cli_uses_the_chunked_writer_above_one_chunk(tmp_path, capsys):
    out = tmp_path / "log.csv"
    code = main(
        [str(out), "--events", "20000", "--days", "5", "--items", "50", "--chunk-users", "1500"]
        + ["--threads", "1", "--rename", "user_id=visitor"]
    )
    assert code == 0
    assert "(3 chunks" in capsys.readouterr().out  # 20000 events over 5 days: 4000 users
    frame = pd.read_csv(out)
    assert "visitor" in frame.columns and "user_id" not in frame.columns
    users = frame["visitor"].dropna().str.slice(1).astype(int)
    assert users[users < 4000].floordiv(1500).nunique() == 3  # users of every chunk
    assert users.max() >= 4000  # and bots, numbered after the users
    with pytest.raises(SystemExit):
        main(
            [str(tmp_path / "log.txt"), "--events", "20000", "--days", "5", "--chunk-users", "1500"]
        )
    assert not (tmp_path / "log.txt").exists()
