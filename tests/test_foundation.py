"""Phases 1-2 end to end: generate -> snapshot -> COPY -> validate, and bad input."""

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import psycopg
import pytest

import schemas
from aquagen.check import validate
from aquagen.errors import AquagenError
from aquagen.model.sites import SITES
from aquagen.run.generate import generate
from aquagen.tables.conform import SchemaViolation, conform
from loaders import postgres

from .conftest import AS_OF, fingerprint, run_cli

PROFILE = schemas.PROFILE


def test_snapshot_counts_and_checks(master_snapshot):
    results = validate.run(validate.SnapshotSource(master_snapshot))
    assert [r.check.name for r in results if not r.ok] == []
    assert master_snapshot.rows("infrastructure_sensor") == SITES.n_sensors
    # a '+' history row at installation, a '~' one per calibration: every sensor commissioned, some visited since
    kinds = master_snapshot.read("infrastructure_historicalsensor")["history_type"].value_counts()
    n = dict(zip(kinds["history_type"], kinds["count"]))
    assert n["+"] == SITES.n_sensors and SITES.n_sensors < n["~"] < 2 * SITES.n_sensors
    m = master_snapshot.manifest
    assert m["schema"] == "aquamind@8f2ab39" and m["seed"] == 11 and m["format_version"] == 1
    for entry in m["tables"].values():
        assert entry["rows"] == sum(f["rows"] for f in entry["files"])


def test_every_not_null_column_filled_and_enums_valid(master_snapshot):
    for name, entry in master_snapshot.manifest["tables"].items():
        if not entry["rows"]:
            continue
        df = master_snapshot.read(name)
        t = schemas.table(name)
        assert df.columns == t.column_names
        for c in t.columns:
            if not c.nullable:
                assert df[c.name].null_count() == 0, (name, c.name)
    sensors = master_snapshot.read("infrastructure_sensor")
    assert set(sensors["sensor_type"]) == {"TEMPERATURE", "OXYGEN", "PH", "CO2", "OTHER"}


def test_timestamps_are_simulated(master_snapshot):
    first_start = dt.date.fromisoformat(master_snapshot.manifest["arguments"]["first_start"])
    created = master_snapshot.read("infrastructure_container")["created_at"].dt.date()
    assert created.min() == first_start - dt.timedelta(days=30)
    assert created.max() < AS_OF


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate(tmp_path / "a", seed=5, as_of=AS_OF)
    b = generate(tmp_path / "b", seed=5, as_of=AS_OF)
    c = generate(tmp_path / "c", seed=6, as_of=AS_OF)
    files = sorted(p.relative_to(a.path) for p in a.path.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.path) for p in b.path.rglob("*") if p.is_file())
    for f in files:
        assert (a.path / f).read_bytes() == (b.path / f).read_bytes(), f
    assert (a.path / "infrastructure_sensor/master.parquet").read_bytes() != (
        c.path / "infrastructure_sensor/master.parquet"
    ).read_bytes()


def test_conform_rejects_overflow_and_nulls():
    now = dt.datetime(2024, 1, 1)
    row = {
        "id": [1],
        "created_at": [now],
        "updated_at": [now],
        "period_start": [now.date()],
        "period_end": [now.date()],
        "total_feed_kg": [1.0],
        "confidence_level": ["HIGH"],
        "data_points": [1],
        "batch_id": [1],
        "container_assignment_id": [1],
    }
    assert conform("inventory_containerfeedingsummary", {**row, "fcr": [99.9994]}, PROFILE)["fcr"][0] == Decimal(
        "99.999"
    )
    with pytest.raises(SchemaViolation, match="decimal precision"):
        conform("inventory_containerfeedingsummary", {**row, "fcr": [99.9996]}, PROFILE)  # rounds to 100.000
    with pytest.raises(SchemaViolation, match="not generated"):
        conform("inventory_containerfeedingsummary", {"fcr": [1.0]}, PROFILE)
    ok = {c.name: [None] for c in schemas.table("inventory_batchfeedingsummary").columns}
    with pytest.raises(SchemaViolation, match="NOT NULL"):
        conform("inventory_batchfeedingsummary", pl.DataFrame(ok, schema={k: pl.Int64 for k in ok}), PROFILE)
    base = {
        "id": [1],
        "name": ["x" * 101],
        "description": [""],
        "created_at": [dt.datetime(2024, 1, 1)],
        "updated_at": [dt.datetime(2024, 1, 1)],
    }
    with pytest.raises(SchemaViolation, match="exceeds"):
        conform("infrastructure_geography", base, PROFILE)


def test_numeric_overflow_is_an_error_not_a_clip():
    row = {
        "id": [1],
        "name": ["a"],
        "latitude": [1234.5],
        "longitude": [0.0],
        "max_biomass": [1.0],
        "active": [True],
        "created_at": [dt.datetime(2024, 1, 1)],
        "updated_at": [dt.datetime(2024, 1, 1)],
        "geography_id": [1],
    }
    with pytest.raises(SchemaViolation):
        conform("infrastructure_area", row, PROFILE)


def test_load_into_empty_database(master_snapshot, empty_db):
    result = postgres.load(master_snapshot, empty_db)
    assert result.created_schema
    with psycopg.connect(empty_db) as conn:
        results = validate.run(validate.DatabaseSource(conn))
        assert [r.check.name for r in results if not r.ok] == []
        counts = postgres.row_counts(conn, master_snapshot.manifest["tables"])
        assert counts == {n: e["rows"] for n, e in master_snapshot.manifest["tables"].items()}
        # sequences moved past the loaded ids: the next ORM insert does not collide
        conn.execute("INSERT INTO health_mortalityreason (name, description) VALUES ('x', '')")
        new_id = conn.execute("SELECT id FROM health_mortalityreason WHERE name = 'x'").fetchone()[0]
        assert new_id == 8
        nxt = conn.execute("SELECT nextval(pg_get_serial_sequence('infrastructure_historicalsensor', 'history_id'))")
        assert nxt.fetchone()[0] == master_snapshot.rows("infrastructure_historicalsensor") + 1
        # constraints are really there
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE infrastructure_container SET area_id = 1 WHERE id = 1")
        conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE infrastructure_container SET hall_id = 99999 WHERE id = 1")
            conn.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _migrated_like(dsn):
    """What a database fresh from AquaMind's migrations holds, plus some master rows."""
    with psycopg.connect(dsn) as conn:
        conn.execute(schemas.schema_sql())
        conn.execute("CREATE TABLE django_migrations (id serial primary key, app varchar(255), name varchar(255))")
        conn.execute("INSERT INTO health_mortalityreason (name, description) VALUES ('UNKNOWN', 'Unknown cause')")
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined) VALUES ('!', true, 'admin', '', '', '', true, true, now()), "
            "('!', false, 'vet_01', 'Existing', 'Vet', '', false, true, now())"
        )
        conn.execute(
            "INSERT INTO batch_species (name, scientific_name, description, created_at, updated_at) "
            "VALUES ('Atlantic Salmon', 'Salmo salar', '', now(), now())"
        )
        conn.execute(
            "INSERT INTO environmental_environmentalparameter (name, unit, description, created_at, updated_at) "
            "VALUES ('pH', 'pH', '', now(), now())"
        )
        for name in ("auth_user", "batch_species", "environmental_environmentalparameter"):  # the ORM's '+' rows
            t = schemas.table(name)
            cols = ", ".join(f'"{c}"' for c in t.column_names)
            conn.execute(
                f"INSERT INTO {t.history_table} ({cols}, history_date, history_type) "
                f"SELECT {cols}, now(), '+' FROM {name}"
            )


def test_load_into_existing_schema_matches_natural_keys(master_snapshot, empty_db):
    _migrated_like(empty_db)
    result = postgres.load(master_snapshot, empty_db)
    assert not result.created_schema
    assert result.matched["health_mortalityreason"] == 1 and result.matched["auth_user"] == 1
    with psycopg.connect(empty_db) as conn:
        q = lambda sql: conn.execute(sql).fetchall()
        assert q("SELECT id, name FROM health_mortalityreason WHERE name = 'UNKNOWN'") == [(1, "UNKNOWN")]
        assert q("SELECT count(*) FROM health_mortalityreason") == [(7,)]
        assert q("SELECT count(*) FROM auth_user") == [(5,)]  # admin + our 4, vet_01 reused
        vet = q("SELECT id, first_name FROM auth_user WHERE username = 'vet_01'")
        assert vet == [(2, "Existing")]
        assert q("SELECT count(*) FROM users_userprofile WHERE user_id = 2") == [(1,)]
        assert q("SELECT count(*) FROM batch_species") == [(1,)]
        assert q("SELECT count(*) FROM batch_lifecyclestage WHERE species_id = 1") == [(6,)]
        ph = q("SELECT id FROM environmental_environmentalparameter WHERE name = 'pH'")[0][0]
        assert ph == 1
        assert q("SELECT count(*) FROM environmental_environmentalparameter") == [(7,)]
        # history of the reused rows is not duplicated, the rest is remapped and unique
        assert q("SELECT count(*) FROM auth_historicaluser") == [(5,)]
        assert q("SELECT count(DISTINCT id) FROM auth_historicaluser") == [(5,)]
        assert q(
            "SELECT count(*) FROM infrastructure_historicalsensor WHERE history_user_id = "
            "(SELECT id FROM auth_user WHERE username = 'system_admin')"
        ) == [(SITES.n_sensors,)]
        results = validate.run(validate.DatabaseSource(conn))
        assert [r.check.name for r in results if not r.ok] == []
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined) VALUES ('!', false, 'new', '', '', '', false, true, now())"
        )


def test_failed_load_leaves_database_as_it_was(master_snapshot, empty_db):
    _migrated_like(empty_db)
    with psycopg.connect(empty_db) as conn:  # a stage named differently but holding order 1 -> UNIQUE violation
        conn.execute(
            'INSERT INTO batch_lifecyclestage (name, "order", description, created_at, updated_at, '
            "species_id) VALUES ('Egg', 1, '', now(), now(), 1)"
        )
    before = fingerprint(empty_db)
    with pytest.raises(AquagenError, match="rolled back"):
        postgres.load(master_snapshot, empty_db)
    assert fingerprint(empty_db) == before


def test_schema_mismatch_names_every_column(master_snapshot, empty_db):
    with psycopg.connect(empty_db) as conn:
        conn.execute(schemas.schema_sql())
        conn.execute("ALTER TABLE infrastructure_hall ALTER COLUMN area_sqm TYPE numeric(12,2)")
        conn.execute("ALTER TABLE batch_batch DROP COLUMN notes")
    before = fingerprint(empty_db)
    r = run_cli("load", master_snapshot.path, "--dsn", empty_db)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "infrastructure_hall.area_sqm is numeric(12,2), expected numeric(10,2)" in err
    assert "batch_batch.notes is missing" in err
    assert fingerprint(empty_db) == before


def test_corrupted_or_missing_snapshot_is_refused(master_snapshot, tmp_path, empty_db):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(master_snapshot.path, bad)
    f = bad / "infrastructure_sensor" / "master.parquet"
    data = bytearray(f.read_bytes())
    data[100] ^= 0xFF
    f.write_bytes(bytes(data))
    before = fingerprint(empty_db)
    r = run_cli("load", bad, "--dsn", empty_db)
    assert r.returncode == 2 and "checksum of infrastructure_sensor/master.parquet" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (bad / "infrastructure_sensor" / "master.parquet").unlink()
    r = run_cli("load", bad, "--dsn", empty_db)
    assert r.returncode == 2 and "is missing" in r.stderr
    r = run_cli("load", tmp_path / "nothing", "--dsn", empty_db)
    assert r.returncode == 2 and "not a snapshot" in r.stderr
    assert fingerprint(empty_db) == before


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://nobody:secret@127.0.0.1:9/none",
        "postgresql://nobody@127.0.0.1:9/none?password=secret",
        "host=127.0.0.1 port=9 user=nobody password=secret dbname=none",
        "host=127.0.0.1 port=9 password='my secret' dbname=none",
    ],
)
def test_unreachable_database(dsn):
    """In one line, without the password in any of libpq's forms (only the URL's user:pw@ was hidden)."""
    r = run_cli("validate", "--dsn", dsn)
    assert r.returncode == 2
    assert r.stderr.startswith("error: cannot connect") and "secret" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "snap"
    assert run_cli("generate", "--out", out, "--as-of", "2025-06-01", "--batches", "0").returncode == 0
    before = (out / "manifest.json").read_bytes()
    r = run_cli("generate", "--out", out, "--as-of", "2025-06-01", "--seed", "9", "--batches", "0")
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (out / "manifest.json").read_bytes() == before
    r = run_cli("generate", "--out", out, "--as-of", "2025-06-01", "--seed", "9", "--force", "--batches", "0")
    assert r.returncode == 0 and json.loads((out / "manifest.json").read_text())["seed"] == 9
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temporary folders left behind


def test_force_replaces_only_a_snapshot(tmp_path, monkeypatch):
    """--force never deletes a folder of other files: not the current folder an empty --out (an unset shell
    variable) named, which it deleted whole before, nor one named on purpose."""
    (tmp_path / "work" / "notes").mkdir(parents=True)
    (tmp_path / "work" / "notes" / "plan.txt").write_text("mine")
    monkeypatch.chdir(tmp_path / "work")
    for out, message in [
        ("", "--out is empty; give the snapshot's folder"),
        (".", "output folder . holds files but no snapshot (no manifest.json); --force replaces only a snapshot"),
        ("notes", "output folder notes holds files but no snapshot"),
    ]:
        r = run_cli("generate", "--out", out, "--as-of", "2025-06-01", "--batches", "0", "--force")
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert (tmp_path / "work" / "notes" / "plan.txt").read_text() == "mine"
        assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["notes"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--as-of", "2025-13-01"], "not a date"),
        (["--seed", "-1"], "--seed"),
        (["--as-of", "2025-01-01", "--first-start", "2025-02-01"], "after the as-of date"),
        (  # one batch, in the singular
            ["--as-of", "2025-06-01", "--first-start", "2025-05-01", "--batches", "3", "--stagger-days", "400"],
            "--batches 3: only 1 batch can start every 400 days from 2025-05-01",
        ),
        (  # no shorter stagger than a day to suggest
            ["--as-of", "2025-05-10", "--first-start", "2025-05-09", "--batches", "100", "--stagger-days", "1"],
            "only 2 batches can start every 1 day from 2025-05-09 to 2025-05-10; "
            "use fewer batches or an earlier --first-start",
        ),
    ],
)
def test_bad_generate_arguments(tmp_path, args, message):
    r = run_cli("generate", "--out", tmp_path / "x", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_a_later_snapshot_brings_its_calibrations(master_snapshot, empty_db, tmp_path):
    """Loaded over an earlier load of the same farm, a snapshot ten months later takes its sensors'
    state and calibration history (as the feed stock does), and the database passes."""
    later = AS_OF + dt.timedelta(days=300)  # most sensors had their first yearly visit since
    first_start = dt.date.fromisoformat(master_snapshot.manifest["arguments"]["first_start"])
    snap = generate(tmp_path / "later", seed=11, batches=0, as_of=later, first_start=first_start)
    postgres.load(master_snapshot, empty_db)
    postgres.load(snap, empty_db)
    with psycopg.connect(empty_db) as conn:
        got = pl.DataFrame(
            conn.execute("SELECT id, last_calibration_date FROM infrastructure_sensor ORDER BY id").fetchall(),
            schema=["id", "last_calibration_date"],
            orient="row",
        )
        n = conn.execute("SELECT count(*) FROM infrastructure_historicalsensor").fetchone()[0]
        failed = [r.check.name for r in validate.run(validate.DatabaseSource(conn, later)) if not r.ok]
    want = snap.read("infrastructure_sensor").select("id", "last_calibration_date").sort("id")
    before = master_snapshot.read("infrastructure_sensor").select("id", "last_calibration_date").sort("id")
    assert got.equals(want) and (want["last_calibration_date"] > before["last_calibration_date"]).mean() > 0.5
    assert n == snap.rows("infrastructure_historicalsensor") > master_snapshot.rows("infrastructure_historicalsensor")
    assert failed == []


def test_cli_load_and_validate(master_snapshot, empty_db):
    r = run_cli("load", master_snapshot.path, "--dsn", empty_db)
    assert r.returncode == 0, r.stderr
    assert "created the schema" in r.stdout
    r = run_cli("validate", "--dsn", empty_db)
    assert r.returncode == 0 and " 0 failed" in r.stdout
    with psycopg.connect(empty_db) as conn:
        conn.execute("DELETE FROM infrastructure_sensor WHERE id = 5")
        conn.execute("DELETE FROM infrastructure_historicalsensor WHERE id = 5")
    r = run_cli("validate", "--dsn", empty_db)
    assert r.returncode == 1 and "1 failed" in r.stdout
    # checks run at once on several connections: the same results, in the same order
    one = run_cli("validate", "--dsn", empty_db, "-j", "1")
    assert one.returncode == 1 and one.stdout == r.stdout == run_cli("validate", "--dsn", empty_db, "-j", "3").stdout


def test_reloading_is_a_no_op_and_other_batches_are_refused(tmp_path, empty_db):
    from aquagen.run.generate import add_batch

    snap, _ = add_batch(
        tmp_path / "a", start_date=dt.date(2024, 1, 1), eggs=1000, geography="Scotland", as_of=dt.date(2024, 3, 1)
    )
    postgres.load(snap, empty_db)
    before = fingerprint(empty_db)
    r = run_cli("load", snap.path, "--dsn", empty_db)
    assert r.returncode == 0 and "already loaded" in r.stdout
    assert fingerprint(empty_db) == before
    other, _ = add_batch(
        tmp_path / "b", start_date=dt.date(2024, 1, 1), eggs=2000, geography="Scotland", as_of=dt.date(2024, 3, 1)
    )
    r = run_cli("load", other.path, "--dsn", empty_db)
    assert r.returncode == 2 and "already holds batch SCO-2024-001" in r.stderr
    assert fingerprint(empty_db) == before
