"""Loading a small fleet: the parallel staged load into an empty database, the
verified path into an existing schema (with --rebuild-indexes), batches already
there (refused, --skip-existing, --replace), and kill -9 at several points."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

import schemas
from aquagen import timing
from aquagen.errors import AquagenError
from aquagen.profiles import get
from aquagen.snapshot import Snapshot
from loaders import loadlog, postgres, rebuild, session, staged
from loaders.catalog import row_counts
from loaders.purge import purge

from .conftest import FLEET, ROW_DIGEST, cloned, fingerprint, run_cli, run_forked, shared_snapshot

pytestmark = pytest.mark.slow  # fleets, databases, processes: minutes in all

AS_OF = dt.date(2026, 1, 15)
ROOT = Path(__file__).resolve().parents[1]
PROFILE_TABLES = list(schemas.tables())


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory):
    """The fleet's first batch alone: the same farm, seed and date (a snapshot of fewer of its batches)."""
    return shared_snapshot(tmp_path_factory, "fleet-first", **{**FLEET, "batches": 1})


def counts(dsn) -> dict[str, int]:
    with psycopg.connect(dsn) as c:
        return row_counts(c, PROFILE_TABLES)


def catalog(dsn) -> dict:
    with psycopg.connect(dsn) as c:
        return rebuild.signature(c, PROFILE_TABLES)


def aquagen(*args, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """The CLI from the checkout's root: in a process of its own when it is to be killed at ``kill_at``
    (``AQUAGEN_KILL_AT``), else in this process."""
    if not kill_at:
        return run_cli(*args, cwd=ROOT)
    return run_forked(*args, kill_at=kill_at, cwd=ROOT)


def renamed(snapshot: Snapshot, dest: Path, note: str) -> Snapshot:
    """The same rows under another manifest digest (a different snapshot to the load log)."""
    shutil.copytree(snapshot.path, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["note"] = note
    (dest / "manifest.json").write_text(json.dumps(m, indent=1) + "\n")
    return Snapshot.open(dest)


def failed_checks(dsn) -> list[str]:
    from aquagen.check import validate

    with psycopg.connect(dsn) as c:
        return [r.check.name for r in validate.run(validate.DatabaseSource(c, AS_OF)) if not r.ok]


def contents(dsn) -> dict[str, tuple]:
    """Each loaded table's rows as a digest, ids and references left out (a replace numbers the
    rows afresh)."""
    out = {}
    with psycopg.connect(dsn) as c:
        for name, t in schemas.tables().items():
            cols = [f'"{col}"' for col in t.column_names if col not in ("id", "history_id") and not col.endswith("_id")]
            row = f"({', '.join(cols)})::text" if cols else "''"
            out[name] = c.execute(f"SELECT {ROW_DIGEST.format(row=row)} FROM {name}").fetchone()
    return out


def expected_counts(snapshot: Snapshot) -> dict[str, int]:
    return {n: snapshot.rows(n) for n in PROFILE_TABLES}


def unanalyzed(conn, snapshot: Snapshot) -> list[str]:
    """Loaded tables without planner statistics (never ANALYZEd: reltuples -1)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname = ANY(%s) "
            "AND reltuples < 0 ORDER BY 1",
            ([n for n in PROFILE_TABLES if snapshot.rows(n)],),
        ).fetchall()
    ]


# --- into an empty database ---------------------------------------------------------


def test_fresh_load_builds_the_reference_catalog(fleet, fleet_db, empty_db):
    dsn, result = fleet_db
    assert result.created_schema and not result.already_loaded
    assert counts(dsn) == expected_counts(fleet)
    # the same tables, keys, indexes, constraint names and definitions as the one-shot DDL
    with psycopg.connect(empty_db) as c:
        c.execute(schemas.schema_sql())
    assert catalog(dsn) == catalog(empty_db)
    with psycopg.connect(dsn) as c:
        assert staged.leftovers(c) == []
        assert c.execute("SELECT count(*) FROM pg_constraint WHERE NOT convalidated").fetchone()[0] == 0
        # identity sequences moved past the loaded ids, owned by the public tables
        nxt = c.execute("SELECT nextval(pg_get_serial_sequence('public.batch_batch', 'id'))").fetchone()[0]
        assert nxt == fleet.scan("batch_batch").select("id").collect()["id"].max() + 1
        c.rollback()
        log = c.execute(f"SELECT manifest_sha256, batches, mode, row_counts FROM {loadlog.LOAD_LOG}").fetchall()
        assert len(log) == 1
        digest, batches, mode, rows = log[0]
        assert digest == loadlog.manifest_digest(fleet) and mode == "created"
        assert sorted(batches) == sorted(fleet.read("batch_batch")["batch_number"].to_list())
        assert rows == expected_counts(fleet)
        assert unanalyzed(c, fleet) == []


def test_every_table_built_in_parallel_gives_the_same_catalog(master_snapshot, empty_db, pg_admin, monkeypatch):
    """With every table on the parallel path (keys as unique indexes attached at the end,
    FKs validated per table), the catalog is still the one-shot DDL's."""
    monkeypatch.setattr(staged, "BIG_ROWS", 1)
    postgres.load(master_snapshot, empty_db, workers=3)
    assert counts(empty_db) == expected_counts(master_snapshot)
    with cloned(pg_admin, empty_db) as reference:
        with psycopg.connect(reference) as c:
            c.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            c.execute(schemas.schema_sql())
        assert catalog(empty_db) == catalog(reference)


def test_sort_memory_is_sized_from_this_machine_and_the_connections(empty_db):
    """A server on this machine: each connection's index sorts get a share of the memory
    available here, split between the builds that run at once, within the bounds; the
    worker session runs with it."""
    with psycopg.connect(empty_db, autocommit=True) as c:
        assert session.server_is_local(c)
        one, four = session.sort_memory_mb(c, 1), session.sort_memory_mb(c, 4)
        assert session.SORT_MB_MIN <= four <= one <= session.SORT_MB_MAX
        available = session._available_mb()
        assert available is not None
        expected = available * session.SORT_MEMORY_SHARE / 4
        assert four == session.SORT_MB_MAX or four == session.SORT_MB_MIN or abs(four - expected) < 0.05 * expected
        for stmt in session.worker_sql(c, 4):
            c.execute(stmt)
        kb = int(c.execute("SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem'").fetchone()[0])
        assert abs(kb // 1024 - four) <= 0.05 * four


def test_failed_fresh_load_is_rolled_back_in_one_line(master_snapshot, empty_db, tmp_path):
    """A row breaking a foreign key: found while validating, the staging schema is dropped."""
    import hashlib

    import polars as pl

    bad = tmp_path / "bad"
    shutil.copytree(master_snapshot.path, bad)
    rel = "infrastructure_sensor/master.parquet"
    df = pl.read_parquet(bad / rel)
    df = df.with_columns(container_id=pl.when(pl.col("id") == 7).then(999_999).otherwise(pl.col("container_id")))
    import pyarrow.parquet as pq

    pq.write_table(df.to_arrow().cast(schemas.table("infrastructure_sensor").arrow_schema), bad / rel)
    m = json.loads((bad / "manifest.json").read_text())
    for f in m["tables"]["infrastructure_sensor"]["files"]:
        f["sha256"] = hashlib.sha256((bad / rel).read_bytes()).hexdigest()
    (bad / "manifest.json").write_text(json.dumps(m))
    before = fingerprint(empty_db)
    r = aquagen("load", bad, "--dsn", empty_db)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "rolled back" in r.stderr and "infrastructure_sensor" in r.stderr and "Traceback" not in r.stderr
    assert fingerprint(empty_db) == before
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c) == []


def test_reloading_changes_nothing(fleet, fleet_copy):
    before = fingerprint(fleet_copy)
    r = aquagen("load", fleet.path, "--dsn", fleet_copy)
    assert r.returncode == 0 and "already loaded" in r.stdout, r.stderr
    assert fingerprint(fleet_copy) == before


def test_killed_fresh_load_leaves_public_untouched_and_a_rerun_completes(master_snapshot, empty_db):
    before = fingerprint(empty_db)
    # during a COPY, before a key build, while an index build may be running, before the
    # foreign keys, and inside the final transaction just before COMMIT
    for point in ("copy:3", "keys:4", "index:6+0.02", "fk", "final"):
        r = aquagen("load", master_snapshot.path, "--dsn", empty_db, kill_at=point)
        assert r.returncode == -9, (point, r.stdout, r.stderr)
        assert fingerprint(empty_db) == before, point
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c)  # the killed runs' staging schemas, dropped by the next load
    r = aquagen("load", master_snapshot.path, "--dsn", empty_db)
    assert r.returncode == 0 and "created the schema" in r.stdout, r.stderr
    assert counts(empty_db) == expected_counts(master_snapshot)
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c) == []


# --- into an existing schema ------------------------------------------------------


def _add_extras(dsn, on_batch_tables: bool) -> None:
    """Objects a DBA may have added: a partial index, a clustered index, an unvalidated FK, and
    an index with a comment (which the rebuild leaves in place)."""
    with psycopg.connect(dsn) as c:
        if on_batch_tables:
            c.execute("CREATE INDEX extra_partial ON inventory_feedingevent (feeding_date) WHERE amount_kg > 1")
            c.execute("CREATE INDEX extra_clustered ON environmental_environmentalreading (reading_time DESC)")
            c.execute("ALTER TABLE environmental_environmentalreading CLUSTER ON extra_clustered")
            c.execute(
                "ALTER TABLE batch_growthsample ADD CONSTRAINT extra_fk FOREIGN KEY (assignment_id) "
                "REFERENCES batch_batchcontainerassignment (id) NOT VALID"
            )
            c.execute("CREATE INDEX extra_commented ON batch_mortalityevent (event_date)")
        else:
            c.execute("CREATE INDEX extra_partial ON infrastructure_sensor (name) WHERE active")
            c.execute("CREATE INDEX extra_clustered ON infrastructure_container (name DESC)")
            c.execute("ALTER TABLE infrastructure_container CLUSTER ON extra_clustered")
            c.execute(
                "ALTER TABLE infrastructure_sensor ADD CONSTRAINT extra_fk FOREIGN KEY (container_id) "
                "REFERENCES infrastructure_container (id) NOT VALID"
            )
            c.execute("CREATE INDEX extra_commented ON infrastructure_hall (name)")
        c.execute("COMMENT ON INDEX extra_commented IS 'keep me'")


def test_killed_rebuild_load_leaves_data_and_catalog_as_they_were(master_snapshot, empty_db):
    with psycopg.connect(empty_db) as c:
        c.execute(get(schemas.PROFILE).migrated_sql())
    _add_extras(empty_db, on_batch_tables=False)
    before, cat = fingerprint(empty_db), catalog(empty_db)
    for point in ("copy:2", "index:3+0.02", "fk:2", "final"):
        r = aquagen("load", master_snapshot.path, "--dsn", empty_db, "--rebuild-indexes", kill_at=point)
        assert r.returncode == -9, (point, r.stdout, r.stderr)
        assert fingerprint(empty_db) == before, point
        assert catalog(empty_db) == cat, point
    result = postgres.load(master_snapshot, empty_db, rebuild_indexes=True)
    assert not result.created_schema and result.rebuilt[0] > 20 and result.rebuilt[1] > 10
    assert catalog(empty_db) == cat
    assert counts(empty_db) == expected_counts(master_snapshot)


def test_a_farm_set_up_in_another_month_is_refused(fleet_db, master_snapshot):
    """The master-only snapshot's farm was set up five months after the fleet's: its initial feed stock
    (lots numbered by the set-up month) would stand beside the database's in the same silos and barges,
    which validate fails (186 initial lots of 372); refused in one line, nothing changed."""
    dsn = fleet_db[0]
    before = fingerprint(dsn)
    r = aquagen("load", master_snapshot.path, "--dsn", dsn)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "initial feed stock (186 lots, e.g. LOT-2025" in r.stderr and "set up in another month" in r.stderr
    assert fingerprint(dsn) == before


def test_batches_already_there_refused_skipped_or_replaced(fleet, fleet_copy, tmp_path):
    original = counts(fleet_copy)
    names = sorted(fleet.read("batch_batch")["batch_number"].to_list())
    again = renamed(fleet, tmp_path / "again", "a second snapshot with the same batches")

    before = fingerprint(fleet_copy)
    r = aquagen("load", again.path, "--dsn", fleet_copy)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "already holds batch" in r.stderr and "--skip-existing" in r.stderr and "--replace" in r.stderr
    assert fingerprint(fleet_copy) == before
    with pytest.raises(AquagenError, match="exclude each other"):
        postgres.load(again, fleet_copy, skip_existing=True, replace=True)

    # one batch purged: --skip-existing loads exactly that one back
    purge(fleet_copy, batch_names=[names[1]])
    result = postgres.load(again, fleet_copy, skip_existing=True)
    assert sorted(result.skipped_batches) == [names[0], names[2]]
    assert counts(fleet_copy) == original
    with psycopg.connect(fleet_copy) as c:  # the log says so, and that no loaded row's id moved (advance reads it)
        skipped, segments = c.execute(
            f"SELECT skipped, id_segments FROM {loadlog.LOAD_LOG} ORDER BY loaded_at DESC LIMIT 1"
        ).fetchone()
        assert sorted(skipped) == [names[0], names[2]] and segments == {}
        got = c.execute("SELECT id, batch_number FROM batch_batch ORDER BY batch_number").fetchall()
    # the purged batch's ids were free: its rows took them again
    assert got == fleet.read("batch_batch").sort("batch_number").select("id", "batch_number").rows()
    # --replace right after --skip-existing replaces the skipped batches (not "already loaded");
    # then the snapshot is wholly there and a second --replace changes nothing. Replacing every
    # batch leaves the tables little (master rows) against the rows loaded: the loader builds
    # copies of the tables without the replaced batches' rows, with the snapshot's, and swaps
    # them in (and says so); killed while the copies are filled, nothing changed
    cat, before, rows = catalog(fleet_copy), fingerprint(fleet_copy), contents(fleet_copy)
    r = aquagen("load", again.path, "--dsn", fleet_copy, "--replace", kill_at="copy:2")
    assert r.returncode == -9, (r.stdout, r.stderr)
    assert fingerprint(fleet_copy) == before and catalog(fleet_copy) == cat and contents(fleet_copy) == rows
    result = postgres.load(again, fleet_copy, replace=True)
    assert not result.already_loaded and sorted(result.replaced_batches) == names
    assert "without the rows of the 3 replaced batches and swapped in" in result.method, result.method
    assert catalog(fleet_copy) == cat and contents(fleet_copy) == rows
    assert counts(fleet_copy) == original and result.other_batches == []
    with psycopg.connect(fleet_copy) as c:
        assert staged.leftovers(c) == [] and unanalyzed(c, again) == []
    assert postgres.load(again, fleet_copy, replace=True).already_loaded

    # --replace: every batch purged and loaded again, same counts; with
    # --rebuild-indexes, the catalog (extra objects included) comes back exactly
    third = renamed(fleet, tmp_path / "third", "a third snapshot")
    _add_extras(fleet_copy, on_batch_tables=True)
    cat = catalog(fleet_copy)
    result = postgres.load(third, fleet_copy, replace=True, rebuild_indexes=True)
    assert sorted(result.replaced_batches) == names and result.rebuilt[0] > 100
    assert catalog(fleet_copy) == cat
    assert counts(fleet_copy) == original
    with psycopg.connect(fleet_copy) as c:
        new_ids = dict(c.execute("SELECT batch_number, id FROM batch_batch").fetchall())
        assert sorted(new_ids) == names
        assert len(c.execute(f"SELECT 1 FROM {loadlog.LOAD_LOG}").fetchall()) == 3
    assert failed_checks(fleet_copy) == []  # feed stock included: the lots follow the snapshot

    # rerunning finished loads changes nothing
    before = fingerprint(fleet_copy)
    r = aquagen("load", third.path, "--dsn", fleet_copy, "--replace")
    assert r.returncode == 0 and "already loaded" in r.stdout, r.stderr
    assert postgres.load(third, fleet_copy, skip_existing=True).already_loaded
    assert fingerprint(fleet_copy) == before

    # a batch the snapshot does not carry (renamed here; the one in eggs, unfed: the halls where a fed one
    # ate keep their lots, which the snapshot's batch of its old number would eat from again, and the
    # load is refused): --replace leaves it and says so
    with psycopg.connect(fleet_copy) as c:
        c.execute("UPDATE batch_batch SET batch_number = 'LATER-1' WHERE batch_number = %s", (names[2],))
    r = aquagen("load", fleet.path, "--dsn", fleet_copy, "--replace")
    assert r.returncode == 0, r.stderr
    assert "also holds 1 batch this snapshot does not carry" in r.stdout and ": LATER-1" in r.stdout, r.stdout


# --- into an application's migrated schema (the default path: copies swapped in) -----------

APP_TABLE = "django_admin_log"


def _migrated(dsn) -> None:
    """A database as AquaMind's migrations leave it: the profile's exact DDL and seeded rows,
    plus what an application and its DBA add: a table of its own holding an FK on a loaded
    table (as django_admin_log on auth_user), grants, comments, a sequence moved on, and the
    extra objects of ``_add_extras``."""
    with psycopg.connect(dsn) as c:
        c.execute(get(schemas.PROFILE).migrated_sql())
        c.execute("SELECT setval(pg_get_serial_sequence('public.health_mortalityreason', 'id'), 40)")
        c.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined) VALUES ('!', true, 'site-admin', '', '', '', true, true, now())"
        )
        c.execute(
            f"CREATE TABLE {APP_TABLE} (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            f"user_id integer NOT NULL CONSTRAINT {APP_TABLE}_user_id_fk REFERENCES auth_user (id) "
            "DEFERRABLE INITIALLY DEFERRED, change_message text NOT NULL)"
        )
        c.execute(f"INSERT INTO {APP_TABLE} (user_id, change_message) SELECT id, 'created' FROM auth_user")
        c.execute("COMMENT ON TABLE infrastructure_container IS 'tanks, pens and trays'")
        c.execute("COMMENT ON COLUMN infrastructure_container.name IS 'unique per site'")
        c.execute("COMMENT ON CONSTRAINT infrastructure_container_pkey ON infrastructure_container IS 'the key'")
        c.execute("DO $$ BEGIN CREATE ROLE aquagen_test_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        c.execute("GRANT SELECT ON infrastructure_container, auth_user TO aquagen_test_reader")
        c.execute("GRANT USAGE ON SEQUENCE infrastructure_container_id_seq TO aquagen_test_reader")
    _add_extras(dsn, on_batch_tables=False)


def state(dsn) -> dict:
    """Everything a swap must carry over besides the rows: every index and constraint definition,
    grants, comments, owners, and the identity sequences' names."""
    names = [*PROFILE_TABLES, APP_TABLE]
    identity = [(n, t.identity_column) for n, t in schemas.tables().items() if t.identity_column] + [(APP_TABLE, "id")]
    with psycopg.connect(dsn) as c:
        return {
            "catalog": rebuild.signature(c, names),
            "acl": c.execute(
                "SELECT relname, relkind, relacl::text, pg_get_userbyid(relowner) FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S') AND relname <> %s "
                "ORDER BY 1",
                (loadlog.LOAD_LOG,),
            ).fetchall(),
            "comments": c.execute(
                "SELECT COALESCE(r.relname, k.conname), d.objsubid, d.description FROM pg_description d "
                "LEFT JOIN pg_class r ON d.classoid = 'pg_class'::regclass AND r.oid = d.objoid "
                "LEFT JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND k.oid = d.objoid "
                "WHERE COALESCE(r.relnamespace, k.connamespace) = 'public'::regnamespace ORDER BY 1, 2"
            ).fetchall(),
            "sequences": [
                (t, c.execute("SELECT pg_get_serial_sequence(%s, %s)", (f"public.{t}", col)).fetchone()[0])
                for t, col in identity
            ],
        }


def test_existing_schema_load_swaps_in_exact_copies(master_snapshot, empty_db, monkeypatch):
    """The migrated database's default path: copies built in parallel (every table on the
    big-table path here) and swapped in; the catalog, grants, comments, owners and sequences
    come out as they were, the application's FK on auth_user included, every table analyzed."""
    _migrated(empty_db)
    before, held = state(empty_db), counts(empty_db)
    monkeypatch.setattr(staged, "BIG_ROWS", 1)
    with timing.Collector() as hooks:
        result = postgres.load(master_snapshot, empty_db, workers=3)
    assert "swapped in" in result.method and not result.created_schema, result.method
    phases = [t.phase for t in hooks.records]  # the load's timing hooks: each phase in its steps, a record per task
    steps = [(t.phase, t.table) for t in hooks.records if t.phase != timing.LOAD_TASK]
    assert [p for i, (p, _) in enumerate(steps) if i == 0 or steps[i - 1][0] != p] == [
        timing.LOAD_CHECK,
        timing.LOAD_PREPARE,
        timing.LOAD_FINAL,
    ]
    assert [s for p, s in steps if p == timing.LOAD_PREPARE] == ["plan", "catalog and id maps", "staging schema"]
    assert [s for p, s in steps if p == timing.LOAD_FINAL][-3:] == ["log", "commit", "old tables dropped"]
    assert phases.count(timing.LOAD_TASK) == len(result.phases["tasks"])
    assert state(empty_db) == before
    after = counts(empty_db)
    assert after == {t: held[t] + result.rows[t] for t in PROFILE_TABLES}
    assert result.matched.get("health_mortalityreason") == 1  # the seeded reason, matched by name
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c) == []
        assert unanalyzed(c, master_snapshot) == []
        assert (
            c.execute(
                "SELECT count(*) FROM pg_constraint WHERE conname = %s AND convalidated", (f"{APP_TABLE}_user_id_fk",)
            ).fetchone()[0]
            == 1
        )
        assert (
            c.execute(
                f"SELECT count(*) FROM {APP_TABLE} JOIN auth_user u ON u.id = user_id WHERE u.username = 'site-admin'"
            ).fetchone()[0]
            == 1
        )
        # sequences: never backwards, past every id
        nxt = c.execute("SELECT nextval(pg_get_serial_sequence('public.health_mortalityreason', 'id'))").fetchone()[0]
        top = c.execute("SELECT max(id) FROM health_mortalityreason").fetchone()[0]
        assert nxt > max(40, top)


def test_what_a_copy_would_not_carry_makes_the_load_go_in_place(master_snapshot, empty_db):
    """A view on a loaded table: its copy could not take the view along, so the rows go in place
    (and the load says why); the view still works."""
    _migrated(empty_db)
    with psycopg.connect(empty_db) as c:
        c.execute("CREATE VIEW staff AS SELECT username FROM auth_user WHERE is_staff")
    before = state(empty_db)
    result = postgres.load(master_snapshot, empty_db)
    assert result.method.startswith("in place") and "auth_user has a view on it" in result.method, result.method
    assert state(empty_db) == before
    with psycopg.connect(empty_db) as c:
        assert c.execute("SELECT count(*) FROM staff").fetchone()[0] >= 1
        assert unanalyzed(c, master_snapshot) == []


def test_killed_existing_schema_load_leaves_everything_as_it_was(master_snapshot, empty_db):
    _migrated(empty_db)
    before, st = fingerprint(empty_db), state(empty_db)
    # in a COPY, a key or index build, an FK, inside the final transaction before and after the swap
    for point in ("copy:2", "keys:3", "index:2+0.02", "fk:2", "swap", "final"):
        r = aquagen("load", master_snapshot.path, "--dsn", empty_db, kill_at=point)
        assert r.returncode == -9, (point, r.stdout, r.stderr)
        assert fingerprint(empty_db) == before, point
        assert state(empty_db) == st, point
    # killed once the swap has committed: the load is there; the old tables, moved aside, are
    # dropped by the next load (here one that finds the snapshot already loaded)
    r = aquagen("load", master_snapshot.path, "--dsn", empty_db, kill_at="committed")
    assert r.returncode == -9, (r.stdout, r.stderr)
    assert state(empty_db) == st
    with psycopg.connect(empty_db) as c:
        (left,) = staged.leftovers(c)
        assert left.endswith("_old"), left
        assert c.execute(f"SELECT count(*) FROM {loadlog.LOAD_LOG}").fetchone()[0] == 1
    r = aquagen("load", master_snapshot.path, "--dsn", empty_db)
    assert r.returncode == 0 and "already loaded" in r.stdout, r.stdout + r.stderr
    assert state(empty_db) == st
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c) == []


def test_a_long_reader_stops_the_swap_with_a_bounded_wait(master_snapshot, empty_db):
    """A session reading a loaded table: the load builds its copies, waits 1 s for the swap's
    lock, then stops with one line naming that session; nothing changed."""
    _migrated(empty_db)
    before, st = fingerprint(empty_db), state(empty_db)
    with psycopg.connect(empty_db, application_name="aquamind-report") as reader:
        reader.execute("SELECT count(*) FROM infrastructure_container").fetchone()  # its transaction stays open
        with pytest.raises(AquagenError) as e:
            postgres.load(master_snapshot, empty_db, lock_wait="1s")
        reader.rollback()
    msg = str(e.value)
    assert "aquamind-report" in msg and "locked" in msg and "\n" not in msg, msg
    assert fingerprint(empty_db) == before and state(empty_db) == st
    with psycopg.connect(empty_db) as c:
        assert staged.leftovers(c) == []


def test_replace_with_another_seed_leaves_the_feed_stock_valid(fleet, fleet_copy, tmp_path):
    """The same batch numbers from another seed: other lots, other feedings. The purged feedings'
    feed goes back to the lots the new snapshot does not hold; validate passes."""
    from aquagen.run.generate import generate

    other = generate(tmp_path / "other", **{**FLEET, "seed": 4})
    names = sorted(fleet.read("batch_batch")["batch_number"].to_list())
    assert sorted(other.read("batch_batch")["batch_number"].to_list()) == names
    result = postgres.load(other, fleet_copy, replace=True)
    assert sorted(result.replaced_batches) == names
    assert failed_checks(fleet_copy) == []


@pytest.mark.parametrize("rebuild_indexes", [False, True], ids=["swapped", "in place"])
def test_replace_with_another_seed_whose_lot_is_on_order_leaves_the_feed_stock_valid(
    fleet, fleet_copy, tmp_path_factory, rebuild_indexes
):
    """Seed 21's farm orders lot LOT-202601-032-001 a few days later than the fleet's (seed 3), which has
    it delivered on the as-of date: the purchase of that number takes the snapshot's values, and the
    database's lot of it goes with its history (it stayed, delivered before its purchase, and validate
    failed); by both paths."""
    other = shared_snapshot(tmp_path_factory, "fleet-seed-21", **{**FLEET, "seed": 21})
    lot = "LOT-202601-032-001"
    assert lot in other.read("inventory_feedpurchase")["batch_number"].to_list()
    with psycopg.connect(fleet_copy) as c:
        (had,) = c.execute(
            "SELECT count(*) FROM inventory_feedcontainerstock s JOIN inventory_feedpurchase p "
            "ON p.id = s.feed_purchase_id WHERE p.batch_number = %s",
            (lot,),
        ).fetchone()
    assert had == 1
    result = postgres.load(other, fleet_copy, replace=True, rebuild_indexes=rebuild_indexes)
    assert ("swapped in" in result.method) != rebuild_indexes
    assert failed_checks(fleet_copy) == []


def test_replace_by_fewer_batches_of_the_same_farm_leaves_the_feed_stock_valid(
    fleet, first_batch, fleet_copy, tmp_path
):
    """The fleet's first batch alone (the same farm, seed and date) replaces it in a database holding all
    three: the lots of the halls where the two batches it does not carry fed stay the database's (the snapshot's were drawn for its own feedings only; before, they took its values
    and validate failed on the feed balance), and the database is the fleet's again. A snapshot whose
    feedings at such a hall are not those it replaces is refused, nothing changed."""
    first = first_batch
    (name,) = first.read("batch_batch")["batch_number"].to_list()
    result = postgres.load(first, fleet_copy, replace=True)
    assert "swapped in" in result.method and result.replaced_batches == [name] and len(result.other_batches) == 2
    assert failed_checks(fleet_copy) == []
    assert counts(fleet_copy) == expected_counts(fleet)

    # another batch's feeding in the first batch's hall, whose feedings there are no longer the snapshot's
    with psycopg.connect(fleet_copy) as c:
        hall, container, feeding = c.execute(
            "SELECT c.hall_id, c.id, f.id FROM inventory_feedingevent f JOIN batch_batch b ON b.id = f.batch_id "
            "JOIN infrastructure_container c ON c.id = f.container_id WHERE b.batch_number = %s LIMIT 1",
            (name,),
        ).fetchone()
        c.execute("UPDATE inventory_feedingevent SET amount_kg = amount_kg + 1 WHERE id = %s", (feeding,))
        c.execute(
            "UPDATE inventory_feedingevent SET container_id = %s WHERE id = (SELECT f.id FROM inventory_feedingevent f "
            "JOIN batch_batch b ON b.id = f.batch_id WHERE b.batch_number <> %s LIMIT 1)",
            (container, name),
        )
        (hall_name,) = c.execute("SELECT name FROM infrastructure_hall WHERE id = %s", (hall,)).fetchone()
    before = fingerprint(fleet_copy)
    r = aquagen(
        "load", renamed(first, tmp_path / "again", "the first batch again").path, "--dsn", fleet_copy, "--replace"
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"{hall_name} keeps feedings of batch" in r.stderr and "does not carry" in r.stderr, r.stderr
    assert fingerprint(fleet_copy) == before


def test_a_snapshot_whose_batch_another_replaced_is_loaded_again(fleet, first_batch, fleet_copy):
    """The fleet, then its first batch alone with --replace, then the fleet again with --replace: its
    batches are all there, but one holds the other snapshot's rows, so the load replaces them (it
    answered "already loaded; nothing to do"), and the database is the fleet's again; then a rerun
    changes nothing, and the other snapshot, whose batch the fleet took back, is refused as any batch
    already there."""
    postgres.load(first_batch, fleet_copy, replace=True)
    r = aquagen("load", fleet.path, "--dsn", fleet_copy, "--replace")
    assert r.returncode == 0 and "replaced 3 batches" in r.stdout, (r.stdout, r.stderr)
    assert failed_checks(fleet_copy) == []
    assert counts(fleet_copy) == expected_counts(fleet)
    assert postgres.load(fleet, fleet_copy, replace=True).already_loaded
    r = aquagen("load", first_batch.path, "--dsn", fleet_copy)
    assert r.returncode == 2 and "already holds batch" in r.stderr, (r.stdout, r.stderr)


def test_replace_by_copies_moves_references_without_a_foreign_key(empty_db, tmp_path):
    """A cb41030 fleet replaced by a snapshot of itself through the CLI: the copies number the
    snapshot's rows past the replaced ones, and every reference follows, also those the schema
    leaves without a foreign key (cb41030's readings name their assignment; the suite's fleets
    are of 8f2ab39, where that reference has one). Before, the readings kept ids of assignments that
    were gone."""
    from aquagen.check import validate
    from aquagen.run.generate import generate
    from loaders.catalog import database_profile

    cb = schemas.NEWEST
    snap = generate(
        tmp_path / "s", seed=2, batches=1, as_of=AS_OF, first_start=AS_OF - dt.timedelta(days=40), profile=cb
    )
    postgres.load(snap, empty_db)
    r = aquagen("load", renamed(snap, tmp_path / "again", "the same fleet again").path, "--dsn", empty_db, "--replace")
    assert r.returncode == 0 and "swapped in" in r.stdout, (r.stdout, r.stderr)
    with psycopg.connect(empty_db) as c:
        assert c.execute("SELECT min(id) > 1 FROM batch_batchcontainerassignment").fetchone()[0]
        assert database_profile(c) == cb
        results = validate.run(validate.DatabaseSource(c, AS_OF, cb))
    assert [r.check.name for r in results if not r.ok] == []


def test_a_report_of_batches_not_yet_at_sea(fleet, fleet_db, tmp_path):
    """The fleet's three batches are all in freshwater: every sea-area column of the report's queries is
    NULL in the database, and still typed (by its SQL type: an internal error before); the report agrees
    with the snapshot's."""
    from polars.testing import assert_frame_equal

    from aquagen.check import report
    from aquagen.check.report import queries

    r = run_cli("report", "--dsn", fleet_db[0], "--out", tmp_path / "freshwater.html")
    assert r.returncode == 0 and ", 0 failed" in r.stdout, (r.stdout, r.stderr)
    snap = report.SnapshotData(fleet, FLEET["as_of"])
    with postgres.connect(fleet_db[0]) as conn:
        db = report.DatabaseData(conn, "test", FLEET["as_of"])
        a, b = queries.occupancy(snap), queries.occupancy(db)
        assert a.height and a["kind"].to_list() == [0] * a.height  # halls only
        assert_frame_equal(a.sort("batch_id", "site"), b.sort("batch_id", "site"))
