"""aquagen advance: a database loaded at D1 and advanced to D2 equals a fresh load at D2, table
by table, ids and sequences included, also through days cut part-way (an as-of moment); rows added
through the application are kept; a kill leaves the database at D1. And a snapshot generated
today (an injected "now"): nothing after the moment of generation, recorded in its manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import uuid

import polars as pl
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from aquagen.check import validate
from aquagen.errors import AquagenError
from aquagen.model.fleet import PlannedBatch
from aquagen.profiles import get
from aquagen.run import ahead
from aquagen.run.generate import add_batch, generate
from loaders.advance import advance
from loaders.postgres import LOAD_LOG, load
from loaders.purge import purge

from .conftest import ROW_DIGEST, drop_database, fingerprint, new_database, run_cli, run_forked, shared_snapshot

pytestmark = [pytest.mark.db, pytest.mark.slow]

# batch 0 is harvested from day 850, batch 1 moves to sea on day 450: the window D1 -> D2
# crosses a harvest, a sea transfer and a month end
FIRST = dt.date(2023, 1, 1)
ARGS = dict(seed=4, batches=2, stagger_days=400, first_start=FIRST)
D1 = FIRST + dt.timedelta(days=845)  # 2025-04-25
D2 = FIRST + dt.timedelta(days=857)  # 2025-05-07
# "now" on the day batch 1 moves to sea (09:00) and batch 0's harvest starts: a generation at it is
# cut at 13:00 (floored to the hour)
NOW = dt.datetime.combine(FIRST + dt.timedelta(days=851), dt.time(13, 47), dt.UTC)
MOMENT = NOW.replace(minute=0)


def contents(dsn: str) -> dict[str, tuple[int, str]]:
    """Per table: rows and a digest of every row's text (``ROW_DIGEST``, ids included); and every
    sequence's position."""
    out = {}
    with psycopg.connect(dsn) as c:
        for name in get().tables:
            out[name] = c.execute(f"SELECT {ROW_DIGEST.format(row='x::text')} FROM public.{name} x").fetchone()
        out["sequences"] = c.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'public' AND sequencename NOT LIKE 'aquagen%' "
            "ORDER BY 1"
        ).fetchall()
    return out


@pytest.fixture(scope="module")
def template_d1(pg_admin, tmp_path_factory):
    """A database loaded at D1, used as the template of each test's copy."""
    name = f"aquagen_advance_{os.getpid()}"
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    load(shared_snapshot(tmp_path_factory, "advance-d1", as_of=D1, **ARGS), make_conninfo(pg_admin, dbname=name))
    yield name
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def farm_cache(tmp_path_factory):
    """The farm generated ahead, shared by the module's advances: the first one builds it."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def loaded_d1(template_d1, pg_admin):
    name = f"{template_d1}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_d1}"')
    yield make_conninfo(pg_admin, dbname=name)
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_advance_equals_a_fresh_load_at_the_later_date(tmp_path_factory, loaded_d1, pg_admin, farm_cache):
    middle = D1 + dt.timedelta(days=6)
    first = advance(loaded_d1, middle, cache=farm_cache)
    assert first.rows and first.updated.get("batch_batchcontainerassignment") and not first.moved
    # sensors calibrated in the window: moved on, with their history rows
    assert first.updated.get("infrastructure_sensor") and first.rows.get("infrastructure_historicalsensor")
    second = advance(loaded_d1, D2, cache=farm_cache)
    assert second.from_date == middle and second.to_date == D2 and not second.generated  # cut from the cache
    assert second.rows.get("inventory_feedingevent") and second.rows.get("environmental_environmentalreading")
    assert second.updated.get("infrastructure_sensor")

    name = psycopg.conninfo.conninfo_to_dict(loaded_d1)["dbname"] + "_fresh"
    fresh = make_conninfo(pg_admin, dbname=name)
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        load(shared_snapshot(tmp_path_factory, "advance-d2", as_of=D2, **ARGS), fresh)
        got, want = contents(loaded_d1), contents(fresh)
        assert [n for n in want if got[n] != want[n]] == []
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_full_farm_advanced_equals_a_fresh_load(tmp_path, pg_admin, monkeypatch):
    """A full farm (no --batches) is planned from the seed and the calendar, never the as-of date:
    advanced day by day over new egg intakes, it equals a fresh load at the last date."""
    monkeypatch.setattr(ahead, "AHEAD_DAYS", 30)
    args = dict(seed=4, batches=None, first_start=dt.date(2025, 2, 1), geography="Faroe Islands")
    # FI-2025-004 starts on 2025-04-09 (planned at d1), FI-2025-005 (05-04) is planned from 04-04 on
    d1, d2 = dt.date(2025, 3, 30), dt.date(2025, 4, 10)
    dbs = {k: f"aquagen_farm_{k}_{uuid.uuid4().hex[:8]}" for k in ("advanced", "fresh")}
    with psycopg.connect(pg_admin, autocommit=True) as c:
        for name in dbs.values():
            c.execute(f'CREATE DATABASE "{name}"')
    dsn = {k: make_conninfo(pg_admin, dbname=name) for k, name in dbs.items()}
    try:
        at_d1 = generate(tmp_path / "d1", as_of=d1, **args)
        at_d2 = generate(tmp_path / "d2", as_of=d2, **args)
        early, late = at_d1.manifest["batches"], at_d2.manifest["batches"]
        assert late[: len(early)] == early and len(late) > len(early)  # the same plan; a batch starts in the window
        load(at_d1, dsn["advanced"])
        for day in (d1 + dt.timedelta(days=4), d2):
            advance(dsn["advanced"], day, cache=tmp_path / "cache")
        load(at_d2, dsn["fresh"])
        got, want = contents(dsn["advanced"]), contents(dsn["fresh"])
        assert [n for n in want if got[n] != want[n]] == []
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as c:
            for name in dbs.values():
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_full_farm_with_a_batch_added_advances(tmp_path, pg_admin, monkeypatch):
    """``aquagen batch`` on a full farm: the farm's later intakes make way for the added batch (its station and
    sea area, its shard, id and name), so advance plans on from the snapshot's batches, the added one included.
    The farm ahead planned without it: its next intake on the added batch's station and sea area, with its
    shard, id and name, and the advance failed on the database's unique keys. (That the farm generated ahead
    and cut equals a fresh load: ``test_a_full_farm_advanced_equals_a_fresh_load``.)"""
    monkeypatch.setattr(ahead, "AHEAD_DAYS", 10)
    # the farm's next intake (2025-05-09) was due on the added batch's station and sea area, as FI-2025-004
    d1, d2 = dt.date(2025, 5, 5), dt.date(2025, 5, 10)
    farm = generate(
        tmp_path / "farm", seed=4, batches=None, first_start=dt.date(2025, 3, 1), as_of=d1, geography="faroe"
    )
    snap, pb = add_batch(farm.path, start_date=dt.date(2025, 3, 20), eggs=1000, geography="faroe")
    meta = {k: v for k, v in snap.manifest.items() if k != "tables"}
    later = [PlannedBatch.from_json(b) for b in ahead.planned(meta, d2)]
    assert later[: len(meta["planned_batches"])] == [PlannedBatch.from_json(b) for b in meta["planned_batches"]]
    new = later[len(meta["planned_batches"]) :]
    assert [(b.shard, b.batch_id) for b in new] == [(pb.shard + 1, pb.batch_id + 1)]
    assert new[0].station != pb.station and new[0].sea_area != pb.sea_area and new[0].start_date <= d2
    assert len({b.batch_number for b in later}) == len(later)
    name = f"aquagen_added_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(pg_admin, dbname=name)
    try:
        load(snap, dsn)
        assert advance(dsn, d2, cache=tmp_path / "cache").rows
        with psycopg.connect(dsn) as c:
            got = c.execute("SELECT id, batch_number FROM batch_batch ORDER BY id").fetchall()
        assert got == [(b.batch_id, b.batch_number) for b in later]
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    """The fleet generated "today" (at NOW): the default as-of date, cut at the moment of generation."""
    return generate(tmp_path_factory.mktemp("today") / "snapshot", now=NOW, **ARGS)


def test_today_is_cut_at_the_moment_of_generation(today, tmp_path):
    assert today.manifest["arguments"]["as_of"] == NOW.date().isoformat()
    assert today.manifest["arguments"]["as_of_time"] == "13:00"
    on_the_day, latest = 0, {}
    for name in today.manifest["tables"]:
        df = today.scan(name).collect()
        for col, kind in df.schema.items():
            if isinstance(kind, pl.Datetime) and df.height and df[col].max() is not None:
                latest[f"{name}.{col}"] = df[col].max()
                on_the_day += df.filter(pl.col(col).dt.date() == NOW.date()).height
    assert [c for c, t in latest.items() if t >= MOMENT] == []  # nothing at or after the moment
    assert on_the_day > 0 and max(latest.values()) >= MOMENT - dt.timedelta(hours=4)  # but the morning is there
    assert [r.check.name for r in validate.run_snapshot(today) if not r.ok] == []
    # the day's mortality is counted with the 20:00 batch update: not yet in at 13:00
    deaths = today.scan("batch_mortalityevent").filter(pl.col("event_date") == NOW.date()).collect()
    assert deaths.height == 0
    # the same moment given explicitly, with another worker count: the same bytes
    again = generate(tmp_path / "again", as_of=MOMENT.replace(tzinfo=None), workers=2, **ARGS)
    assert again.manifest["arguments"] == today.manifest["arguments"]
    assert _digests(again.path) == _digests(today.path)


def _digests(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.parquet")}


def test_a_later_day_or_moment_than_now_is_refused(tmp_path):
    with pytest.raises(AquagenError, match=r"--as-of 2025-05-02 is after today \(2025-05-01 UTC\)"):
        generate(tmp_path / "a", as_of=NOW.date() + dt.timedelta(days=1), now=NOW, **ARGS)
    with pytest.raises(AquagenError, match="--as-of 2025-05-01T13:48 is after the moment of generation"):
        generate(tmp_path / "b", as_of=NOW.replace(minute=48, tzinfo=None), now=NOW, **ARGS)
    with pytest.raises(AquagenError, match="is not a whole minute"):
        generate(tmp_path / "c", as_of=MOMENT.replace(second=30), now=NOW, **ARGS)
    assert not any(tmp_path.iterdir())  # nothing written


def test_advance_through_part_days_equals_a_fresh_load_at_the_moment(loaded_d1, pg_admin, farm_cache, today):
    """From D1's end to a morning before the sea transfer (the transfer's 09:00 move not yet made, the
    day's mortality not yet booked), to that evening, to "now" the next day (a part-day window on both
    sides: the rows cut from its first day come with the ids they were given)."""
    transfer_day = FIRST + dt.timedelta(days=850)
    steps = [dt.datetime.combine(transfer_day, dt.time(8)), dt.datetime.combine(transfer_day, dt.time(20, 30))]
    for moment in steps:
        result = advance(loaded_d1, moment, cache=farm_cache, now=NOW)
        assert result.until == moment.strftime("%Y-%m-%dT%H:%M") and result.rows
    last = advance(loaded_d1, cache=farm_cache, now=NOW)  # to "now": today at 13:00
    assert last.since == "2025-04-30T20:30" and last.until == "2025-05-01T13:00"
    assert advance(loaded_d1, MOMENT, cache=farm_cache, now=NOW).noop
    with pytest.raises(
        AquagenError, match="--to 2025-05-01T12:00 is before the database's as-of date 2025-05-01T13:00"
    ):
        advance(loaded_d1, MOMENT - dt.timedelta(hours=1), cache=farm_cache, now=NOW)

    name = psycopg.conninfo.conninfo_to_dict(loaded_d1)["dbname"] + "_fresh"
    fresh = make_conninfo(pg_admin, dbname=name)
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        load(today, fresh)
        got, want = contents(loaded_d1), contents(fresh)
        assert [n for n in want if got[n] != want[n]] == []
        with psycopg.connect(loaded_d1) as conn:  # the load log's moment: validate reads that day up to it
            assert [r.check.name for r in validate.run(validate.DatabaseSource(conn, NOW.date())) if not r.ok] == []
            # and on any later day (the default: today), the cut's day is still read only up to its moment
            later = validate.DatabaseSource(conn, NOW.date() + dt.timedelta(days=30))
            assert later.partial_day == NOW.date() and [r.check.name for r in validate.run(later) if not r.ok] == []
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_zero_days_is_a_no_op_and_going_back_is_refused(loaded_d1, farm_cache):
    before = fingerprint(loaded_d1)
    assert advance(loaded_d1, D1, cache=farm_cache).noop
    with pytest.raises(AquagenError, match=f"--to {D1 - dt.timedelta(days=1)} is before the database's as-of date"):
        advance(loaded_d1, D1 - dt.timedelta(days=1), cache=farm_cache)
    assert fingerprint(loaded_d1) == before


def test_a_farm_purged_is_refused_until_loaded_again(loaded_d1, farm_cache, tmp_path_factory):
    """A batch purged: the farm's new rows would reference it and its lots would draw for its feedings, so
    advance refuses in one line naming it (before generating the farm ahead, from the load log, and, when
    the log lists no batches, from the farm itself), the database left as it was; and so is the batch loaded
    back with --skip-existing. The ways on it names: the snapshot loaded again with --replace (it advances,
    a batch renamed through the application too), or every batch purged and a snapshot of a later date
    loaded (it advances); a snapshot of the earlier date is refused then, in one line naming the date the
    farm is at (its sensors and feed stock would go back under the later weather)."""
    with psycopg.connect(loaded_d1) as c:
        name = c.execute("SELECT batch_number FROM batch_batch ORDER BY id LIMIT 1").fetchone()[0]
        listed = c.execute(f"SELECT batches FROM {LOAD_LOG}").fetchone()[0]
    purge(loaded_d1, batch_names=[name])
    before = fingerprint(loaded_d1)
    two_days = D1 + dt.timedelta(days=2)
    args = ["advance", "--dsn", loaded_d1, "--to", str(two_days), "--cache", farm_cache]
    for log_lists_it in (True, False):
        if not log_lists_it:
            with psycopg.connect(loaded_d1) as c:
                c.execute(f"UPDATE {LOAD_LOG} SET batches = NULL")
        r = run_cli(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (r.stdout, r.stderr)
        assert f"lacks 1 batch of its farm ({name}: purged?)" in r.stderr and "--reset-inventory" in r.stderr
        assert fingerprint(loaded_d1) == before
    # loaded back with --skip-existing, its rows numbered past the other batch's (rows of another snapshot
    # had its ids; from its own snapshot they keep theirs: the next test): refused as well (advance would
    # take the other batch's rows as moved too). The load log as such a load leaves it: the batch kept
    # listed as skipped, the ids moved
    with psycopg.connect(loaded_d1) as c:
        c.execute(
            f"UPDATE {LOAD_LOG} SET batches = %s, skipped = %s, id_segments = %s",
            (Jsonb(listed), Jsonb([b for b in listed if b != name]), Jsonb({"batch_batch": [[1, 2]]})),
        )
    r = run_cli(*args)
    assert r.returncode == 2 and "last load skipped 1 batch already there (--skip-existing)" in r.stderr, r.stderr
    assert f"load a snapshot of this farm as of {D1} with --replace first" in r.stderr
    at_d1 = shared_snapshot(tmp_path_factory, "advance-d1", as_of=D1, **ARGS)
    # the first way on: the snapshot loaded again with --replace, every batch from it
    back = load(at_d1, loaded_d1, replace=True)  # the purged batch loaded, the other replaced
    assert back.replaced_batches == [b for b in listed if b != name]
    with psycopg.connect(loaded_d1) as c:  # a batch renamed through the application is no batch missing
        c.execute("UPDATE batch_batch SET batch_number = 'RENAMED-1' WHERE batch_number = %s", (name,))
    assert advance(loaded_d1, two_days, cache=farm_cache).rows
    # the other: every batch purged with the inventory reset, then a snapshot of a later date (an earlier one
    # is refused)
    purge(loaded_d1, all=True, reset_inventory=True)
    before = fingerprint(loaded_d1)
    with pytest.raises(
        AquagenError, match=f"farm is at {two_days} .* is of {D1}: .* generate it as of {two_days} or later"
    ):
        load(at_d1, loaded_d1)
    assert fingerprint(loaded_d1) == before
    load(shared_snapshot(tmp_path_factory, "advance-d2", as_of=D2, **ARGS), loaded_d1)
    later = D2 + dt.timedelta(days=1)
    assert advance(loaded_d1, later, cache=farm_cache).rows
    with psycopg.connect(loaded_d1) as conn:
        assert [r.check.name for r in validate.run(validate.DatabaseSource(conn, later)) if not r.ok] == []


def test_a_batch_purged_and_loaded_back_keeps_its_ids_and_advances(
    loaded_d1, template_d1, pg_admin, farm_cache, tmp_path_factory
):
    """A batch purged and loaded back from its snapshot with --skip-existing: its rows and their history
    take their ids again (they are free), so the database is as its first load left it (rows, ids,
    sequences; the feed lots the purge gave back to take the snapshot's values again), the load log
    records no ids moved, and advance moves it on. A later snapshot's --skip-existing load is refused."""
    with psycopg.connect(loaded_d1) as c:
        first, other = (n for (n,) in c.execute("SELECT batch_number FROM batch_batch ORDER BY id"))
    # a later snapshot of the farm cannot skip its batches: the feedings here of the one still fed (the other
    # fasts before its harvest) end earlier than its feed lots' draws (the database failed validate,
    # delivered <> fed + remaining); advance is the way
    before = fingerprint(loaded_d1)
    with pytest.raises(AquagenError, match=f"--skip-existing: the feedings of batch {other} in the data"):
        load(shared_snapshot(tmp_path_factory, "advance-d2", as_of=D2, **ARGS), loaded_d1, skip_existing=True)
    assert fingerprint(loaded_d1) == before
    purge(loaded_d1, batch_names=[first])
    assert load(
        shared_snapshot(tmp_path_factory, "advance-d1", as_of=D1, **ARGS), loaded_d1, skip_existing=True
    ).skipped_batches == [other]
    assert contents(loaded_d1) == contents(make_conninfo(pg_admin, dbname=template_d1))
    with psycopg.connect(loaded_d1) as c:
        assert c.execute(f"SELECT skipped, id_segments FROM {LOAD_LOG}").fetchone() == ([other], {})
    assert advance(loaded_d1, D1 + dt.timedelta(days=2), cache=farm_cache).rows


def test_a_damaged_farm_cache_is_built_again(loaded_d1, farm_cache, tmp_path, monkeypatch):
    """The farm generated ahead with a table file deleted, truncated or its record garbled (deleting any of
    it is always safe): built again, where its reading failed with an internal error."""
    advance(loaded_d1, D1 + dt.timedelta(days=1), cache=farm_cache)  # the module's cache, built once
    (folder,) = [f for f in farm_cache.iterdir() if (f / ahead.INFO).is_file()]
    assert ahead.Ahead.intact(folder)
    meta = ahead.Ahead.open(folder).manifest

    class Rebuilt(Exception):
        pass

    def rebuilt(*args, **kwargs):
        raise Rebuilt

    monkeypatch.setattr(ahead, "regenerate", rebuilt)
    shutil.copytree(folder, tmp_path / "intact" / folder.name)  # as it is: used
    assert ahead.ahead(meta, D1 + dt.timedelta(days=1), tmp_path / "intact")[1] is False
    for damage in ("deleted", "truncated", "garbled"):
        root = tmp_path / damage
        shutil.copytree(folder, root / folder.name)
        table = root / folder.name / "tables" / "batch_mortalityevent.parquet"
        if damage == "deleted":
            table.unlink()
        elif damage == "truncated":
            table.write_bytes(table.read_bytes()[:100])
        else:
            (root / folder.name / ahead.INFO).write_text("{")
        assert not ahead.Ahead.intact(root / folder.name)
        with pytest.raises(Rebuilt):
            ahead.ahead(meta, D1 + dt.timedelta(days=1), root)


def test_the_default_profile_advances_after_a_replacing_load(pg_admin, tmp_path_factory, tmp_path):
    """At cb41030 (what the application's users run), a database whose batches a later snapshot replaced
    (their ids numbered past the first load's) advances across the sea transfer and the harvest, every batch
    pinning its own projection run: a changing row named a row of a table mapped after its own by the first
    load's id (a transfer workflow its planned activity, a batch its projection run: advance failed on the
    foreign key, blaming the application). No test advanced a database of this profile before."""
    kw = dict(ARGS, profile="aquamind@cb41030")
    first = shared_snapshot(tmp_path_factory, "advance-cb-d1", as_of=D1, **kw)
    later = shared_snapshot(tmp_path_factory, "advance-cb-d1-next", as_of=D1 + dt.timedelta(days=1), **kw)
    dsn = new_database(pg_admin)
    try:
        load(first, dsn)
        assert load(later, dsn, replace=True).replaced_batches
        done = advance(dsn, D2, cache=tmp_path)
        assert done.rows
        with psycopg.connect(dsn) as c:
            pinned = c.execute(
                "SELECT count(*) FROM batch_batch b JOIN scenario_projection_run r "
                "ON r.run_id = b.pinned_projection_run_id JOIN scenario s ON s.scenario_id = r.scenario_id "
                "AND s.batch_id = b.id"
            ).fetchone()[0]
            assert pinned == c.execute("SELECT count(*) FROM batch_batch").fetchone()[0] == 2
            assert [r.check.name for r in validate.run(validate.DatabaseSource(c, D2, kw["profile"])) if not r.ok] == []
    finally:
        drop_database(pg_admin, dsn)


def test_rows_added_through_the_application_are_kept(loaded_d1, farm_cache):
    with psycopg.connect(loaded_d1) as c:  # a feeding someone entered in the UI, with the next id
        c.execute(
            "INSERT INTO inventory_feedingevent (feeding_date, feeding_time, amount_kg, batch_biomass_kg, "
            "feeding_percentage, method, notes, created_at, updated_at, batch_id, container_id, feed_id, "
            "batch_assignment_id, recorded_by_id, feed_cost) SELECT feeding_date, feeding_time, 1.5, "
            "batch_biomass_kg, 0.1, 'MANUAL', 'entered by hand', now(), now(), batch_id, container_id, "
            "feed_id, batch_assignment_id, recorded_by_id, 3.0 FROM inventory_feedingevent ORDER BY id DESC "
            "LIMIT 1"
        )
        mine = c.execute("SELECT max(id) FROM inventory_feedingevent").fetchone()[0]
    result = advance(loaded_d1, D1 + dt.timedelta(days=3), cache=farm_cache)
    assert result.moved.get("inventory_feedingevent") == 1
    with psycopg.connect(loaded_d1) as c:
        assert (
            c.execute("SELECT notes FROM inventory_feedingevent WHERE id = %s", (mine,)).fetchone()[0]
            == "entered by hand"
        )
        n = c.execute("SELECT count(*) FROM inventory_feedingevent WHERE id > %s", (mine,)).fetchone()[0]
    assert n == result.rows["inventory_feedingevent"]


def test_a_killed_advance_leaves_the_database_at_the_old_date(loaded_d1, farm_cache):
    before = fingerprint(loaded_d1)
    env = {**os.environ, "AQUAGEN_CACHE": str(farm_cache)}
    args = ["advance", "--dsn", loaded_d1, "--to", str(D1 + dt.timedelta(days=2)), "--workers", "1"]
    r = run_forked(*args, kill_at="final", env=env)
    assert r.returncode == -9
    assert fingerprint(loaded_d1) == before
    r = run_cli(*args, env=env)
    assert r.returncode == 0 and "advanced from 2025-04-25 to 2025-04-27" in r.stdout, r.stderr
    with psycopg.connect(loaded_d1) as c:
        assert (
            c.execute(f"SELECT meta->'arguments'->>'as_of' FROM {LOAD_LOG} ORDER BY loaded_at DESC LIMIT 1").fetchone()[
                0
            ]
            == "2025-04-27"
        )


def test_no_load_log_is_one_line(empty_db):
    r = subprocess.run([sys.executable, "-m", "aquagen", "advance", "--dsn", empty_db], capture_output=True, text=True)
    assert (
        r.returncode == 2
        and r.stderr.strip() == "error: this database has no aquagen load log: load a snapshot first (aquagen load)"
    )


def test_batches_a_replacing_load_did_not_bring_are_refused(loaded_d1, farm_cache, tmp_path_factory):
    """The fleet loaded, then a snapshot of its first batch alone with --replace: the other batch stays (from
    the first load) but the farm ahead is the last load's, so advance moved the first on and left the other
    at the load's date, fed and sampled no more, and validate did not notice. Refused in one line naming it,
    the database left as it was."""
    with psycopg.connect(loaded_d1) as c:
        first, other = (n for (n,) in c.execute("SELECT batch_number FROM batch_batch ORDER BY id"))
    one = shared_snapshot(tmp_path_factory, "advance-d1-first", as_of=D1, **{**ARGS, "batches": 1})
    assert load(one, loaded_d1, replace=True).replaced_batches == [first]
    before = fingerprint(loaded_d1)
    r = run_cli("advance", "--dsn", loaded_d1, "--to", str(D1 + dt.timedelta(days=2)), "--cache", farm_cache)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"holds 1 batch of an earlier load ({other}) that its last load did not bring" in r.stderr
    assert fingerprint(loaded_d1) == before
