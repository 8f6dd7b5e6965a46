"""Purge (plan phase 4) on a loaded fleet: dry run, one batch, every batch with the
initial feed stock restored, and refused input."""

from __future__ import annotations

import re

import polars as pl
import psycopg
import pytest

import schemas
from aquagen.errors import AquagenError
from aquagen.model.sites import SITES
from loaders.purge import purge

from .conftest import fingerprint
from .test_load import aquagen, counts, failed_checks

pytestmark = pytest.mark.slow  # fleets, databases, processes: minutes in all

BATCH_LINKED = [n for n, t in schemas.tables().items() if not t.history_of and "batch_id" in t.column_names]


def test_dry_run_then_purge_one_batch(fleet, fleet_copy):
    batches = fleet.read("batch_batch").sort("id")
    bid, name = batches["id"][0], batches["batch_number"][0]
    original, before = counts(fleet_copy), fingerprint(fleet_copy)

    r = aquagen("purge", "--dsn", fleet_copy, "--batch-name", name, "--dry-run")
    assert r.returncode == 0 and "would delete" in r.stdout and "nothing changed" in r.stdout, r.stderr
    assert fingerprint(fleet_copy) == before
    dry = purge(fleet_copy, batch_names=[name], dry_run=True)
    assert fingerprint(fleet_copy) == before

    done = purge(fleet_copy, batch_ids=[bid])
    assert done.batches == dry.batches == [(bid, name)]
    assert done.deleted == dry.deleted
    # exactly the batch's rows went, history included (the load kept the snapshot's ids)
    for t in BATCH_LINKED:
        n = fleet.scan(t).filter(pl.col("batch_id") == bid).select(pl.len()).collect().item()
        assert done.deleted.get(t, 0) == n, t
        h = schemas.table(t).history_table
        if h:
            n = fleet.scan(h).filter(pl.col("batch_id") == bid).select(pl.len()).collect().item()
            assert done.deleted.get(h, 0) == n, h
    assert done.deleted["batch_batch"] == 1 and done.deleted["batch_historicalbatch"] > 1
    assert done.deleted["batch_growthsample"] > 0 and done.deleted["batch_historicalgrowthsample"] > 0
    after = counts(fleet_copy)
    assert after == {t: n - done.deleted.get(t, 0) for t, n in original.items()}
    assert done.preserved == {t: original[t] for t in done.preserved}
    assert {"infrastructure_container", "auth_user", "inventory_feed"} <= set(done.preserved)
    assert after["inventory_feedcontainerstock"] == original["inventory_feedcontainerstock"]  # no --reset-inventory
    with psycopg.connect(fleet_copy) as c:
        assert (
            c.execute(
                "SELECT count(*) FROM batch_historicalbatchcontainerassignment WHERE batch_id = %s", (bid,)
            ).fetchone()[0]
            == 0
        )
    assert failed_checks(fleet_copy) == []


def test_bare_dry_run_shows_the_plan_for_everything(fleet, fleet_db):
    """The plan's "always dry-run first": --dry-run alone is --all --dry-run."""
    dsn = fleet_db[0]
    before = fingerprint(dsn)
    bare = aquagen("purge", "--dsn", dsn, "--dry-run")
    assert bare.returncode == 0, bare.stderr
    assert "would delete" in bare.stdout and "of 3 batches" in bare.stdout and "nothing changed" in bare.stdout
    every = aquagen("purge", "--dsn", dsn, "--all", "--dry-run")
    assert every.returncode == 0 and every.stdout == bare.stdout
    assert purge(dsn, dry_run=True).deleted == purge(dsn, all=True, dry_run=True).deleted
    assert fingerprint(dsn) == before


def test_purge_all_with_reset_inventory_restores_the_initial_stock(fleet, fleet_copy):
    original = counts(fleet_copy)
    r = aquagen("purge", "--dsn", fleet_copy, "--all", "--reset-inventory", "--confirm")
    assert r.returncode == 0, r.stderr
    assert "deleted" in r.stdout and "reset the feed inventory" in r.stdout and "kept (unchanged)" in r.stdout
    after = counts(fleet_copy)
    for t in BATCH_LINKED + [
        "batch_growthsample",
        "batch_batchtransfer",
        "batch_historicalbatchtransfer",
        "batch_historicalgrowthsample",
        "inventory_historicalfeedingevent",
    ]:
        assert after[t] == 0, t
    # rows that depend on a batch: its own tables and, transitively, whatever references them (health sampling)
    ts = schemas.tables()
    dependent = set(BATCH_LINKED) | {"batch_batchcontainerassignment"}
    while True:
        more = {
            n
            for n, t in ts.items()
            if not t.history_of and any(fk.ref_table in dependent and fk.ref_table != n for fk in t.foreign_keys)
        } - dependent
        if not more:
            break
        dependent |= more
    master = [
        n
        for n, t in ts.items()
        if n.startswith(("infrastructure_", "auth_", "users_", "health_"))
        and n not in dependent
        and not (t.history_of and t.history_of in dependent)
    ]
    assert {t: after[t] for t in master} == {t: original[t] for t in master}
    with psycopg.connect(fleet_copy) as c:
        q = lambda s: c.execute(s).fetchone()[0]
        assert q("SELECT count(*) FROM inventory_feedpurchase") == SITES.n_feed_containers
        assert q("SELECT count(*) FROM inventory_feedpurchase WHERE notes <> 'Initial stock'") == 0
        assert q("SELECT count(*) FROM inventory_feedcontainerstock") == SITES.n_feed_containers
        assert q("SELECT count(*) FROM inventory_historicalfeedcontainerstock") == SITES.n_feed_containers
        assert q("SELECT count(*) FROM inventory_historicalfeedcontainerstock WHERE history_type <> '+'") == 0
        assert q("SELECT count(*) FROM inventory_historicalfeedpurchase") == SITES.n_feed_containers
        assert (
            q(
                "SELECT count(*) FROM inventory_feedcontainerstock s JOIN inventory_historicalfeedcontainerstock h "
                "USING (id) WHERE (s.quantity_kg, s.updated_at) IS DISTINCT FROM (h.quantity_kg, h.updated_at)"
            )
            == 0
        )
    assert failed_checks(fleet_copy) == []
    # nothing left to purge: --all is a no-op, --reset-inventory too
    again = purge(fleet_copy, all=True, reset_inventory=True)
    assert again.total == 0 and again.reset == {}


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "nothing to purge"),
        (["--all"], "--confirm"),
        (["--batch-name", "NOPE", "--confirm"], "no batch 'NOPE'"),
        (["--batch-id", "999", "--dry-run"], "no batch 999"),
        (["--all", "--batch-id", "1", "--confirm"], "--all"),
        # the batches' feedings drew on the stock a reset would take back to its initial lots
        (["--reset-inventory", "--confirm"], "feedings of 2 batches left"),
    ],
)
def test_purge_refuses_bad_input_in_one_line(fleet_db, args, message):
    dsn = fleet_db[0]
    before = fingerprint(dsn)
    r = aquagen("purge", "--dsn", dsn, *args)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert fingerprint(dsn) == before


def test_a_lot_written_off_at_its_expiry_stays_written_off(pg_admin, lifecycle_db):
    """A purge gives a lot back what the purged feedings drew, but a lot written off at its expiry keeps its
    write-off and holds nothing after it: the write-off takes the feed given back (14 such lots of this
    fleet came back holding feed, and a write-off at a feeding's minute went as if it were a draw). A lot
    the purged feedings emptied before its expiry is written off at it; so is an initial lot that
    --reset-inventory refills, when it expires before the farm's date (all 186 held feed past it). And
    --reset-inventory is refused while batches with feedings stay: they drew on later lots too."""
    from .conftest import cloned

    written_off = (
        "SELECT DISTINCT id FROM inventory_historicalfeedcontainerstock "
        "WHERE history_change_reason = 'Expired: written off'"
    )
    with cloned(pg_admin, lifecycle_db) as dsn:
        with psycopg.connect(dsn) as c:
            lots = [r[0] for r in c.execute(written_off).fetchall()]
            first, *others = [r[0] for r in c.execute("SELECT batch_number FROM batch_batch ORDER BY id")]
        assert len(lots) > 100
        before = fingerprint(dsn)
        with pytest.raises(AquagenError, match=re.escape(f"feedings of 2 batches left ({', '.join(others)})")):
            purge(dsn, batch_names=[first], reset_inventory=True)
        assert fingerprint(dsn) == before
        done = purge(dsn, all=True)
        assert "inventory_feedcontainerstock" in done.restored
        with psycopg.connect(dsn) as c:
            now = [r[0] for r in c.execute(written_off).fetchall()]
            held = c.execute(
                "SELECT count(*) FROM inventory_feedcontainerstock WHERE id = ANY(%s) AND quantity_kg > 0", (now,)
            ).fetchone()[0]
            late = c.execute(  # each new write-off at noon UTC on its lot's expiry date, its lot's last row
                "SELECT count(*) FROM inventory_historicalfeedcontainerstock h "
                "JOIN inventory_feedcontainerstock s ON s.id = h.id JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id "
                "WHERE h.history_change_reason = 'Expired: written off' AND (h.history_date <> "
                "(p.expiry_date + time '12:00') AT TIME ZONE 'UTC' OR h.history_date <> s.updated_at)"
            ).fetchone()[0]
        assert set(lots) < set(now) and len(now) - len(lots) == done.written_off
        assert held == 0 and late == 0
        # and a lot the purged feedings had emptied before its expiry is written off at it (37 such lots held
        # feed past their expiry without a write-off before)
        assert failed_checks(dsn) == []
        # the initial lots refilled, each written off at noon UTC on its expiry date (before the farm's date)
        reset = purge(dsn, all=True, reset_inventory=True)
        with psycopg.connect(dsn) as c:
            initial = c.execute("SELECT count(*) FROM inventory_feedcontainerstock").fetchone()[0]
            last = c.execute(
                "SELECT DISTINCT ON (h.id) h.history_change_reason, h.quantity_kg, h.history_date = "
                "(p.expiry_date + time '12:00') AT TIME ZONE 'UTC' AND h.history_date = s.updated_at "
                "FROM inventory_historicalfeedcontainerstock h JOIN inventory_feedcontainerstock s ON s.id = h.id "
                "JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id ORDER BY h.id, h.history_date DESC"
            ).fetchall()
        assert reset.written_off == initial == len(last) > 100
        assert set(last) == {("Expired: written off", 0, True)}
        assert failed_checks(dsn) == []
