"""aquagen report: the HTML page and its charts, on a snapshot and on a loaded database; broken snapshots
fail exactly the matching invariant in the report's validation table."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import struct

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import schemas
from aquagen import report, validate
from aquagen.snapshot import Snapshot, to_arrow

from .conftest import run_cli

AS_OF = dt.date(2026, 1, 15)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    from aquagen.generate import generate

    return generate(tmp_path_factory.mktemp("report") / "snap", seed=3, batches=3, as_of=AS_OF)


@pytest.fixture(scope="session")
def fleet_report(fleet):
    return report.report_snapshot(fleet.path)


def _validation_rows(page: str) -> list[tuple[str, str, str, str]]:
    """(status class, group, check, status text) of every row of the page's validation table."""
    return re.findall(r"<tr class='(ok|fail)'><td>(.*?)</td><td>(.*?)</td>.*?<td class='status'>(.*?)</td></tr>", page)


def _assert_page(path, results: list, as_of: dt.date) -> str:
    """Every chart a valid, real PNG referenced by the page; the validation table lists every check of
    ``aquagen.validate`` in its order with the status of ``results``."""
    page = path.read_text(encoding="utf-8")
    for f in report.CHART_FILES:
        data = (path.parent / f).read_bytes()
        assert data[:8] == PNG_SIGNATURE, f
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert width >= 600 and height >= 300, (f, width, height)
        assert len(data) > 10_000, f
        assert f"<img src='{f}'" in page
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) == len(report.CHART_FILES)
    assert not [c for c in captions if c.startswith("No ")]  # real charts, not the "no data" panel
    checks = validate.checks(as_of)
    rows = _validation_rows(page)
    assert [(g, n) for _, g, n, _ in rows] == [(html.escape(c.group), html.escape(c.name)) for c in checks]
    assert [(cls, text) for cls, _, _, text in rows] == [("ok", "pass") if r.ok else ("fail", "FAIL") for r in results]
    return page


def test_snapshot_report(fleet, fleet_report):
    rep = fleet_report
    assert rep.path == fleet.path / "report" / "index.html"
    assert [c.file for c in rep.charts] == list(report.CHART_FILES)
    page = _assert_page(rep.path, rep.results, AS_OF)
    assert rep.failed == 0 and rep.batches == 3 and rep.shown_batches == 3
    for b in fleet.manifest["batches"]:
        assert b["batch_number"] in page
    assert "seed</dt><dd>3</dd>" in page and "2026-01-15" in page
    # the row counts table: every table of the manifest with its count
    for name, entry in fleet.manifest["tables"].items():
        assert f"<td>{name}</td><td class='n'>{entry['rows']:,}</td>" in page
    assert "Per-batch charts" not in page  # all 3 batches are charted


def test_chart_data(fleet):
    """The aggregates behind the charts are plausible and small."""
    src = report.SnapshotData(fleet)
    b = report.batches(src)
    assert b["batch_number"].to_list() == [x["batch_number"] for x in fleet.manifest["batches"]]
    assert b["eggs"].to_list() == [x["eggs"] for x in fleet.manifest["batches"]]
    g = report.growth(src, b["batch_id"].to_list())
    first = g.group_by("batch_id").agg(pl.all().sort_by("day").first())
    assert (first["population"] < b.sort("batch_id")["eggs"]).all()  # the first evening, after a day's deaths
    assert g["avg_weight_g"].max() > 3000  # harvest weight
    temp = report.temperature(src)
    sea = temp.filter(pl.col("env") == "sea")
    assert set(sea["geography"]) == {"Scotland", "Faroe Islands"} and 5 < sea["mean"].min() < sea["mean"].max() < 16
    f = report.feed_by_stage(src).filter(pl.col("fcr").is_not_null())
    assert f.height >= 8 and f["fcr"].is_between(0.5, 2.0).all()
    occ = report.occupancy(src)
    assert occ.height == 3 * 6  # 5 halls and 1 sea area per batch


def test_pick_spreads_over_start_dates():
    b = pl.DataFrame({"batch_id": range(1, 51)})
    picked = report.pick(b)["batch_id"].to_list()
    assert len(picked) == report.MAX_BATCHES and picked[0] == 1 and picked[-1] == 50
    assert report.pick(b.head(5))["batch_id"].to_list() == [1, 2, 3, 4, 5]


def test_cli(master_snapshot, fleet, tmp_path):
    """The command on a snapshot without batches (the fleet's page is made through the CLI with --dsn below):
    every chart is there, saying there is nothing to draw."""
    out = tmp_path / "cli-report"
    r = run_cli("report", master_snapshot.path, "--out", out)
    assert r.returncode == 0, r.stderr
    assert str(out / "index.html") in r.stdout and "0 failed" in r.stdout
    page = (out / "index.html").read_text()
    assert "No batches" in page
    for f in report.CHART_FILES:
        assert (out / f).read_bytes()[:8] == PNG_SIGNATURE and f"<img src='{f}'" in page
    bad = (["report", tmp_path / "no-such-snapshot"], ["report", fleet.path, "--dsn", "postgresql://x@127.0.0.1:9/y"],
           ["report", fleet.path, "--as-of", "2026-01-01"])
    for args in bad:
        r = run_cli(*args)
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr  # one line, no traceback
        if len(args) == 2:
            assert "no-such-snapshot" in lines[0]


def test_database_report_matches_snapshot(fleet, empty_db, tmp_path):
    from loaders.postgres import connect, load

    load(fleet, empty_db)
    r = run_cli("report", "--dsn", empty_db, "--as-of", AS_OF.isoformat(), "--out", tmp_path / "db")
    assert r.returncode == 0, r.stderr
    assert "0 failed" in r.stdout
    snap = report.SnapshotData(fleet)
    with connect(empty_db) as conn:
        db = report.DatabaseData(conn, "test", AS_OF)
        page = _assert_page(tmp_path / "db" / "index.html", validate.run(db.validation_source()), AS_OF)
        assert "loaded snapshot" in page and str(fleet.path) in page
        # the same queries give the same aggregates on both sources
        assert db.end == snap.end == AS_OF
        ids = report.batches(snap)["batch_id"].to_list()
        for q in (report.batches, report.feed_by_stage, report.temperature, report.occupancy, report.purchases,
                  report.stock_lot_days, report.feed_containers,
                  lambda s: report.growth(s, ids), lambda s: report.mortality(s, ids),
                  lambda s: report.stage_spans(s, ids)):
            a, b = q(snap), q(db)
            key = a.columns[: min(3, len(a.columns))]
            assert_frame_equal(a.sort(key), b.sort(key), check_dtypes=False, check_exact=False, rel_tol=1e-9)
        counts = db.row_counts()
        for name, n in fleet.manifest["tables"].items():
            assert counts[name] == n["rows"], name
        # without --as-of the charts end with the data (here: the last harvest)
        assert report.DatabaseData(conn, "test").end == report.batches(snap)["actual_end_date"].max()


def test_database_without_schema(empty_db, tmp_path):
    r = run_cli("report", "--dsn", empty_db, "--out", tmp_path / "x")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "no AquaMind schema" in r.stderr


# --- broken snapshots: exactly the matching invariant's rows are red ------------------------------------------

def _broken_copy(fleet: Snapshot, dest) -> Snapshot:
    shutil.copytree(fleet.path, dest, ignore=shutil.ignore_patterns("report"))
    return Snapshot.open(dest)


def _rewrite(snap: Snapshot, name: str, change, first_part_only: bool = False) -> None:
    """Apply ``change`` to the table's part files in place (the manifest's checksums then no longer match;
    validation does not read them)."""
    for i, path in enumerate(snap.files(name)):
        if first_part_only and i:
            break
        df = change(pl.read_parquet(path))
        pq.write_table(to_arrow(schemas.table(name), df), path, compression="zstd")


def _red_rows(snap: Snapshot) -> list[tuple[str, str]]:
    """(group, check) of the failed (red) rows of the report's validation table for ``snap``."""
    table = report.validation_table(validate.run(validate.SnapshotSource(snap)))
    return [(html.unescape(g), html.unescape(n)) for cls, g, n, _ in _validation_rows(table) if cls == "fail"]


def test_broken_overlapping_occupancy(fleet, tmp_path):
    """A second batch's assignment in a container while the first batch is in it."""
    snap = _broken_copy(fleet, tmp_path / "overlap")
    a = snap.read("batch_batchcontainerassignment").filter(pl.col("batch_id") == 1).sort("id")
    victim = a.filter(pl.col("lifecycle_stage_id") == 2).row(0, named=True)
    new_id = int(snap.scan("batch_batchcontainerassignment").select(pl.col("id").max()).collect().item()) + 1
    day = victim["assignment_date"] + dt.timedelta(days=5)
    intruder = a.filter(pl.col("id") == victim["id"]).with_columns(  # a copy of it, for batch 2
        pl.lit(new_id, pl.Int64).alias("id"), pl.lit(2, pl.Int64).alias("batch_id"),
        pl.lit(0, pl.Int32).alias("population_count"), pl.lit(0).cast(pl.Decimal(10, 2)).alias("biomass_kg"),
        pl.lit(day).alias("assignment_date"), pl.lit(day + dt.timedelta(days=3)).alias("departure_date"),
        pl.lit(False).alias("is_active"), pl.lit(None, pl.Date).alias("last_weighing_date"))
    _rewrite(snap, "batch_batchcontainerassignment", lambda df: pl.concat([df, intruder]), first_part_only=True)
    hist = snap.read("batch_historicalbatchcontainerassignment")
    h = hist.filter(pl.col("id") == victim["id"], pl.col("history_type") == "+").head(1).with_columns(
        pl.lit(new_id, pl.Int64).alias("id"), pl.lit(int(hist["history_id"].max()) + 1, pl.Int32).alias("history_id"),
        *[intruder[c].alias(c) for c in ("batch_id", "population_count", "biomass_kg", "assignment_date",
                                          "departure_date", "is_active", "last_weighing_date")])
    _rewrite(snap, "batch_historicalbatchcontainerassignment", lambda df: pl.concat([df, h.select(df.columns)]),
             first_part_only=True)
    assert _red_rows(snap) == [("2 occupancy", "containers holding two assignments at once"),
                               ("2 occupancy", "halls or sea areas holding two batches at once")]


def test_broken_reading_outside_assignment(fleet, tmp_path):
    """A reading moved to its (closed) assignment's departure day."""
    snap = _broken_copy(fleet, tmp_path / "reading")
    a = snap.read("batch_batchcontainerassignment").filter(pl.col("departure_date").is_not_null()).sort("id").row(
        0, named=True)
    r = snap.scan("environmental_environmentalreading").filter(
        pl.col("batch_container_assignment_id") == a["id"]).select(pl.col("id").min()).collect().item()
    moved = dt.datetime.combine(a["departure_date"], dt.time(6), tzinfo=dt.timezone.utc)
    _rewrite(snap, "environmental_environmentalreading", lambda df: df.with_columns(
        pl.when(pl.col("id") == r).then(pl.lit(moved).dt.cast_time_unit("us")).otherwise(pl.col("reading_time"))
        .alias("reading_time")))
    assert _red_rows(snap) == [("1 live assignment", "readings outside their assignment")]


def test_broken_negative_stock(fleet, tmp_path):
    """A stock lot (and its history) with a negative quantity."""
    snap = _broken_copy(fleet, tmp_path / "stock")
    lot = int(snap.read("inventory_feedcontainerstock")["id"].min())
    minus = pl.lit(-100).cast(pl.Decimal(10, 2))
    for name in ("inventory_feedcontainerstock", "inventory_historicalfeedcontainerstock"):
        _rewrite(snap, name, lambda df: df.with_columns(
            pl.when(pl.col("id") == lot).then(minus).otherwise(pl.col("quantity_kg")).alias("quantity_kg")))
    assert _red_rows(snap) == [("5 feed stock", "stock lots (or lot history rows) below zero")]
