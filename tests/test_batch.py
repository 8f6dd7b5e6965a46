"""One batch end to end: plan -> simulate -> tables -> snapshot -> PostgreSQL -> validate."""

import datetime as dt
import re
import shutil

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import schemas
from aquagen.check import validate
from aquagen.model.calendar import batch_draw
from aquagen.model.domain import MAX_EGGS, MIN_EGGS
from aquagen.model.fleet import PlannedBatch, area_conflict, station_conflict
from aquagen.profiles import get
from aquagen.run.generate import add_batch
from aquagen.snapshot import Snapshot, SnapshotWriter
from loaders import postgres

from .conftest import run_cli, shared_snapshot

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory):
    """A completed Faroe batch and a Scottish one still at sea."""
    out = tmp_path_factory.mktemp("b") / "snap"
    add_batch(
        out,
        start_date=dt.date(2023, 9, 1),
        eggs=3_500_000,
        geography="Faroe Islands",
        station="FI-FW-01",
        sea_area="FI-SEA-01",
        batch_name="FI-2023-001",
        as_of=AS_OF,
    )
    snap, _ = add_batch(out, start_date=dt.date(2024, 11, 1), eggs=2_000_000, geography="Scotland")
    return snap


def failed(snap_or_source) -> list[str]:
    """The checks a snapshot (or a source) fails. On a snapshot, a check's value is taken from an earlier
    run of the same check over the same bytes when there was one (``_value``): a snapshot with one table
    rewritten runs again only the checks that name it."""
    if not isinstance(snap_or_source, Snapshot):
        return [r.check.name for r in validate.run(snap_or_source) if not r.ok]
    src = validate.SnapshotSource(snap_or_source)
    files = {n: tuple(f["sha256"] for f in t["files"]) for n, t in snap_or_source.manifest["tables"].items()}
    checks = validate.checks(get(src.profile), src.as_of, src.as_of_time)
    return [c.name for c in checks if _value(src, files, c.sql) != c.expected]


_VALUES: dict[tuple, int] = {}


def _value(src: validate.SnapshotSource, files: dict[str, tuple[str, ...]], sql: str) -> int:
    """A check's value over a snapshot, kept by its SQL, the profile, the as-of moment and the digests of
    the files of every table the SQL names (it reads no other: the SQL context holds only the tables)."""
    named = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)) & files.keys())
    key = (src.profile, src.as_of, src.as_of_time, sql, tuple((n, files[n]) for n in named))
    if key not in _VALUES:
        _VALUES[key] = src.scalar(sql)
    return _VALUES[key]


def test_two_batches_pass_every_check(two_batches):
    assert failed(two_batches) == []
    b = two_batches.read("batch_batch").sort("id")
    assert b["batch_number"].to_list() == ["FI-2023-001", "SCO-2024-001"]
    assert b["status"].to_list() == ["COMPLETED", "ACTIVE"]
    life = batch_draw(42, 0, dt.date(2023, 9, 1), "Faroe Islands").calendar.life_days  # the batch's own calendar
    assert b["actual_end_date"][0] == dt.date(2023, 9, 1) + dt.timedelta(days=life - 1)
    assert b["lifecycle_stage_id"].to_list() == [6, 6]


def test_row_counts_of_a_full_life(two_batches):
    a = two_batches.read("batch_batchcontainerassignment")
    full = a.filter(pl.col("batch_id") == 1)
    assert full.height == 70 and full["is_active"].sum() == 0
    assert full.group_by("lifecycle_stage_id").len().sort("lifecycle_stage_id")["len"].to_list() == [10] * 5 + [20]
    t = two_batches.read("batch_batchtransfer").filter(pl.col("source_batch_id") == 1)
    assert t.height == 60  # 4 x 10 freshwater moves + 10 tanks split into 20 rings
    r = two_batches.read("environmental_environmentalreading").filter(pl.col("batch_id") == 1)
    assert 150_000 < r.height < 250_000
    # every reading's sensor measures the reading's parameter on the reading's container
    sensors = two_batches.read("infrastructure_sensor").select("id", "container_id", "name")
    params = two_batches.read("environmental_environmentalparameter").select(parameter_id="id", pname="name")
    j = r.join(sensors, left_on="sensor_id", right_on="id").join(params, on="parameter_id")
    assert (j["container_id"] == j["container_id_right"]).all()
    assert j.select(pl.col("name").str.ends_with(pl.col("pname")).all()).item()


def test_history_rows(two_batches):
    h = two_batches.read("batch_historicalbatch").filter(pl.col("id") == 1).sort("history_date")
    assert h["history_type"].to_list() == ["+"] + ["~"] * 6  # 5 stage changes, completion
    assert h["lifecycle_stage_id"].to_list() == [1, 2, 3, 4, 5, 6, 6]
    assert h["status"][-1] == "COMPLETED"
    bca = two_batches.read("batch_historicalbatchcontainerassignment")
    assert bca.filter(pl.col("history_type") == "+").height == two_batches.rows("batch_batchcontainerassignment")
    ids = bca["history_id"]
    assert ids.n_unique() == ids.len() and ids.min() == 1 and ids.max() == ids.len()
    # every history_date is simulated time inside the batch's life
    assert bca["history_date"].dt.date().max() <= AS_OF
    fe = two_batches.read("inventory_historicalfeedingevent")
    assert fe.height == two_batches.rows("inventory_feedingevent") and set(fe["history_type"]) == {"+"}


def test_loads_into_postgres_with_every_constraint(two_batches, empty_db):
    postgres.load(two_batches, empty_db)
    with psycopg.connect(empty_db) as conn:
        assert [r.check.name for r in validate.run(validate.DatabaseSource(conn, AS_OF)) if not r.ok] == []
        linked = conn.execute(
            "SELECT count(*) FILTER (WHERE batch_id IS NOT NULL) * 100.0 / count(*) "
            "FROM environmental_environmentalreading"
        ).fetchone()[0]
        assert float(linked) == 100.0
        # the partial unique index holds and is enforced
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO batch_batchcontainerassignment (population_count, biomass_kg, assignment_date, "
                "is_active, notes, created_at, updated_at, batch_id, container_id, lifecycle_stage_id) "
                "SELECT 1, 0, assignment_date, true, '', now(), now(), batch_id, container_id, "
                "lifecycle_stage_id FROM batch_batchcontainerassignment WHERE is_active LIMIT 1"
            )


def _rewrite(snap: Snapshot, tmp_path, table: str, change) -> Snapshot:
    """A copy of ``snap`` with one table rewritten by ``change`` (a deliberately broken snapshot)."""
    out = tmp_path / f"broken-{table}"
    shutil.copytree(snap.path, out)
    base = Snapshot.open(out)
    meta = {k: v for k, v in base.manifest.items() if k not in ("tables", "format_version", "schema")}
    df = change(base.read(table))
    w = SnapshotWriter(out, meta, base=base)
    for f in base.files(table):
        (w.tmp / f.relative_to(out)).unlink()
    w._files[table] = []
    w.write(table, df, "rewritten")
    return w.commit()


def test_broken_snapshots_fail_exactly_their_check(two_batches, tmp_path):
    bca = "batch_batchcontainerassignment"
    # a reading a day after its assignment left
    broken = _rewrite(
        two_batches,
        tmp_path,
        "environmental_environmentalreading",
        lambda df: df.with_columns(
            reading_time=pl.when(pl.col("id") == 1)
            .then(pl.col("reading_time") + pl.duration(days=200))
            .otherwise(pl.col("reading_time"))
        ),
    )
    assert failed(broken) == ["readings outside their assignment"]
    # batch 2's first tray placed in a ring batch 1 occupies at the time
    asg = two_batches.read(bca)
    ring = asg.filter((pl.col("batch_id") == 1) & (pl.col("lifecycle_stage_id") == 6)).sort("id")["container_id"][0]
    tray = asg.filter(pl.col("batch_id") == 2).sort("id")["id"][0]
    broken = _rewrite(
        two_batches,
        tmp_path,
        bca,
        lambda df: df.with_columns(
            container_id=pl.when(pl.col("id") == tray)
            .then(pl.lit(ring, dtype=pl.Int64))
            .otherwise(pl.col("container_id"))
        ),
    )
    assert {"containers holding two assignments at once", "halls or sea areas holding two batches at once"} <= set(
        failed(broken)
    )
    # fish appearing from nowhere
    broken = _rewrite(
        two_batches,
        tmp_path,
        "batch_mortalityevent",
        lambda df: df.with_columns(
            count=pl.when(pl.col("id") == 1).then(pl.col("count") + 1).otherwise(pl.col("count"))
        ),
    )
    assert failed(broken) == [
        "batches where eggs <> alive + deaths + transfer losses + harvested",
        "(batch, day) where mortality records <> mortality events",
    ]


def test_cli_batch_errors_write_nothing(tmp_path):
    out = tmp_path / "snap"
    r = run_cli(
        "batch",
        "--start-date",
        "2024-01-01",
        "--eggs",
        "100000",
        "--geography",
        "faroe",  # as a user may type it: the manifest names it as the application does
        "--station",
        "FI-FW-02",
        "--as-of",
        "2025-01-01",
        "--out",
        out,
    )
    assert r.returncode == 0, r.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    existing = [PlannedBatch.from_json(b) for b in Snapshot.open(out).manifest["planned_batches"]]
    assert [b.geography for b in existing] == ["Faroe Islands"]
    free = station_conflict(
        existing, "FI-FW-02", dt.date(2024, 2, 1), batch_draw(42, 1, dt.date(2024, 2, 1), "Faroe Islands").calendar, 42
    )[1]
    cases = [
        (["--eggs", "0", "--geography", "Scotland"], "--eggs 0 must be a whole number of eggs from 1,000"),
        (["--eggs", "999", "--geography", "Scotland"], "--eggs 999 must be a whole number of eggs from 1,000"),
        (["--eggs", "abc", "--geography", "Scotland"], "not a valid integer"),
        (["--eggs", "1000", "--geography", "Norway"], "valid: 'Scotland', 'Faroe Islands'"),
        (["--eggs", "1000", "--geography", "Scotland", "--station", "X-1"], "valid in Scotland: S-FW-01..S-FW-06"),
        (["--eggs", "1000", "--geography", "Scotland", "--station", "FI-FW-01"], "is in Faroe Islands"),
        (["--eggs", "1000", "--geography", "Scotland", "--sea-area", "FI-SEA-01"], "is in Faroe Islands"),
        (
            ["--eggs", "1000", "--geography", "Faroe Islands", "--station", "FI-FW-02"],
            f"batch FI-2024-001 occupies its halls; it is free for a batch starting on or after {free}",
        ),
        (["--eggs", "1000", "--geography", "Faroe Islands", "--batch-name", "FI-2024-001"], "already exists"),
    ]
    for args, message in cases:
        r = run_cli("batch", "--start-date", "2024-02-01", *args, "--out", out)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = run_cli("batch", "--start-date", "2025-02-01", "--eggs", "1000", "--geography", "Scotland", "--out", out)
    assert r.returncode == 2 and "after the as-of date 2025-01-01" in r.stderr
    scotland = ["--start-date", "2024-02-01", "--eggs", "1000", "--geography", "Scotland"]
    r = run_cli("batch", *scotland, "--out", "s3://b/x", cwd=tmp_path)
    assert r.returncode == 2 and "batch writes a local folder, not a URL" in r.stderr  # it wrote ./s3:/b/x
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_adding_a_batch_keeps_the_report_and_files_beside_the_snapshot(tmp_path):
    """A folder's files besides the snapshot's own (a report/ of ``aquagen report``, a user's notes) stay
    when a batch is added: the snapshot was rebuilt and put in place of the folder, and they were gone."""
    out = tmp_path / "snap"
    add_batch(out, start_date=dt.date(2024, 1, 1), eggs=1000, geography="Scotland", as_of=dt.date(2024, 2, 1))
    (out / "report").mkdir()
    (out / "report" / "index.html").write_text("<html>the report</html>")
    (out / "notes.txt").write_text("mine")
    r = run_cli("batch", "--start-date", "2024-01-15", "--eggs", "1000", "--geography", "faroe", "--out", out)
    assert r.returncode == 0, r.stderr
    assert f"kept {out / 'report'}, the report of the snapshot before: rerun aquagen report" in r.stdout
    snap = Snapshot.open(out)
    assert len(snap.manifest["batches"]) == 2
    assert (out / "report" / "index.html").read_text() == "<html>the report</html>"
    assert (out / "notes.txt").read_text() == "mine"
    assert snap.unlisted() == ["notes.txt"]  # what validate flags: a report is part of a snapshot's folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_busy_sea_area_names_batch_and_free_date(tmp_path):
    out = tmp_path / "s"
    add_batch(
        out,
        start_date=dt.date(2024, 1, 1),
        eggs=1000,
        geography="Scotland",
        sea_area="S-SEA-03",
        as_of=dt.date(2024, 3, 1),
    )
    r = run_cli(
        "batch",
        "--start-date",
        "2024-02-01",
        "--eggs",
        "1000",
        "--geography",
        "Scotland",
        "--sea-area",
        "S-SEA-03",
        "--out",
        out,
    )
    existing = [PlannedBatch.from_json(b) for b in Snapshot.open(out).manifest["planned_batches"]]
    until = area_conflict(
        existing, "S-SEA-03", dt.date(2024, 2, 1), batch_draw(42, 1, dt.date(2024, 2, 1), "Scotland").calendar, 42
    )[1]
    assert r.returncode == 2 and f"batch SCO-2024-001 occupies it until {until}" in r.stderr


def test_an_as_of_before_a_batch_of_the_snapshot_starts_is_refused(tmp_path_factory, tmp_path):
    """``batch --as-of`` earlier than what plans the snapshot's later batches: they would be lost (the run
    failed half-way on their missing files, as a user error, and left DIR.partial behind)."""
    from .test_fleet import ARGS, AS_OF

    out = tmp_path / "snap"
    shutil.copytree(shared_snapshot(tmp_path_factory, "fleet-4-batches", as_of=AS_OF, workers=1, **ARGS).path, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    snap = Snapshot.open(out)
    last = max(PlannedBatch.from_json(b).start_date for b in snap.manifest["planned_batches"])
    earliest = last - dt.timedelta(days=get(snap.profile).plan_ahead_days)  # what plans it
    first = ARGS["first_start"]
    r = run_cli(
        "batch", "--start-date", first, "--eggs", "100000", "--geography", "Scotland", "--as-of", first, "--out", out
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"starts ({last}) and 2 more; give an as-of no earlier than {earliest}" in r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_a_fleet_at_sea_in_freshwater_and_mid_transition_passes_every_check(tmp_path_factory):
    """test_fleet's shared fleet (four batches: at sea, in freshwater, one mid-transition) passes every check.
    Its bytes are made again by test_fleet, with 2 workers (``test_same_bytes_for_any_number_of_workers``) and
    after a kill (``test_resume_after_kill_gives_the_same_bytes``): the same seed gives the same bytes."""
    from .test_fleet import ARGS, AS_OF

    a = shared_snapshot(tmp_path_factory, "fleet-4-batches", as_of=AS_OF, workers=1, **ARGS)
    assert failed(a) == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.dates(dt.date(2020, 1, 1), dt.date(2025, 6, 1)),
    eggs=st.integers(MIN_EGGS, MAX_EGGS),  # what --eggs accepts
    geo=st.sampled_from(["Scotland", "Faroe Islands"]),
    cut=st.integers(0, 870),
)
@example(start=dt.date(2025, 4, 1), eggs=10_000, geo="Scotland", cut=610)  # a cut after the real today
@example(start=dt.date(2020, 1, 1), eggs=6_894_860, geo="Scotland", cut=792)  # 245k fish in a ring: lots vs biomass
# 1,000 alevins: a month's gain of a few grams stores 0.00 kg of growth, which had an FCR beside it
@example(start=dt.date(2024, 11, 28), eggs=1_000, geo="Faroe Islands", cut=183)
def test_any_batch_any_cut_passes_every_check(tmp_path_factory, start, eggs, geo, cut):
    out = tmp_path_factory.mktemp("h") / "s"
    # cuts reach 2027-10-19: generated as if now were after them (a later as-of than now is refused)
    as_of, now = start + dt.timedelta(days=cut), dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    snap, _ = add_batch(out, start_date=start, eggs=eggs, geography=geo, as_of=as_of, now=now)
    assert failed(snap) == []
    for name in ("batch_batchcontainerassignment", "inventory_feedingevent", "batch_growthsample"):
        df = snap.read(name)
        for c in schemas.table(name).columns:
            if not c.nullable:
                assert df[c.name].null_count() == 0
