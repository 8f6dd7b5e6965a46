"""aquagen report: one self-contained interactive page, on a snapshot and on a loaded database; ``--as-of``
cuts every query; the page renders in a real headless Chromium; broken snapshots fail exactly the matching
invariant in the report's validation table."""

from __future__ import annotations

import datetime as dt
import errno
import html
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import schemas
from aquagen.check import report, validate
from aquagen.check.report import charts, queries
from aquagen.profiles import get
from aquagen.snapshot import Snapshot, to_arrow

from .conftest import run_cli, shared

pytestmark = pytest.mark.slow  # fleets, databases, processes: minutes in all

AS_OF = dt.date(2026, 1, 15)
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "output" / "test-report" / "top.png"


@pytest.fixture(scope="session")
def fleet(lifecycle_fleet):
    """conftest's lifecycle fleet: one batch harvested (harvest charts), one at sea (live fish, lice), one in
    freshwater; the first is still at sea when the last one starts (test_as_of_cuts_everything)."""
    return lifecycle_fleet


@pytest.fixture(scope="session")
def fleet_report(fleet, tmp_path_factory):
    """The report written into the shared snapshot (one worker at a time)."""
    with shared(tmp_path_factory, "lifecycle"):
        return report.report_snapshot(fleet.path)


def _validation_rows(page: str) -> list[tuple[str, str, str, str]]:
    """(status class, group, check, status text) of every row of a validation table."""
    return re.findall(r"<tr class='(ok|fail)'><td>(.*?)</td><td>(.*?)</td>.*?<td class='status'>(.*?)</td></tr>", page)


def _body(page: str) -> str:
    """The page without the embedded plotly.js in its head (the figures' own scripts stay)."""
    return page[page.index("</head>") :]


def _text(page: str) -> str:
    """The body without scripts: what people read."""
    return re.sub(r"<script>.*?</script>", "", _body(page), flags=re.DOTALL)


def _assert_page(path: Path, results: list, as_of: dt.date) -> str:
    """One self-contained file: Plotly's JavaScript inside, nothing fetched; a figure for every chart; the full
    validation table lists every check of ``aquagen.validate`` in its order with the status of ``results``."""
    page = path.read_text(encoding="utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing beside it
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.min.js is embedded
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", page), "a resource fetched"
    assert not re.search(r"(https?:)?//", _text(page)), "a link to the network"
    assert re.findall(r"<div id=\"chart-([a-z-]+)\"", page) == list(report.CHARTS)
    assert "class='nothing'" not in page
    text = _text(page)
    assert ">None<" not in text and "None" not in re.sub(r"<[^>]+>", " ", text)
    full = text[text.index("id='all-checks'") :]
    checks = validate.checks(get(), as_of)
    rows = _validation_rows(full)
    assert [(g, n) for _, g, n, _ in rows] == [(html.escape(c.group), html.escape(c.name)) for c in checks]
    assert [(cls, t) for cls, _, _, t in rows] == [("ok", "pass") if r.ok else ("fail", "FAIL") for r in results]
    return page


def test_snapshot_report(fleet, fleet_report):
    rep = fleet_report
    assert rep.path == fleet.path / "report" / "index.html"
    assert [c.key for c in rep.charts] == list(report.CHARTS)
    page = _assert_page(rep.path, rep.results, AS_OF)
    assert rep.failed == 0 and rep.batches == 3 and rep.end == AS_OF
    assert f"all {len(rep.results)} checks passed" in page
    for b in fleet.manifest["batches"]:
        assert b["batch_number"] in page
        assert f"<td class='n'>{b['eggs']:,}</td>" in page  # eggs for people: 3,071,400
    assert "seed</dt><dd>3</dd>" in page and "aquagen report · 2026-01-15" in page
    # the "today" summary: the tables with rows and MB, empty ones flagged
    for name, entry in fleet.manifest["tables"].items():
        assert f"<td>{name}" in page and f"<td class='n'>{entry['rows']:,}</td>" in page
    empty = [n for n, e in fleet.manifest["tables"].items() if e["rows"] == 0]
    assert empty and f"{len(empty)} empty tables" in page
    assert "freshwater containers occupied" in page and "live fish" in page and "feed on hand" in page
    assert "containers hold fish" in page


def test_today(fleet):
    """The summary's figures equal what the tables hold on the report's day."""
    src = report.SnapshotData(fleet)
    now = queries.today(src)
    a = fleet.read("batch_batchcontainerassignment")
    live = a.filter(pl.col("is_active"))
    assert now["fish"] == live["population_count"].sum() > 0
    assert now["biomass_kg"] == pytest.approx(float(live["biomass_kg"].cast(pl.Float64).sum()))
    occupied = sum(o for o, _ in now["occupancy"].values())
    assert occupied == live["container_id"].n_unique()
    assert sum(t for _, t in now["occupancy"].values()) == fleet.manifest["tables"]["infrastructure_container"]["rows"]
    sizes = src.table_sizes()
    assert sizes["rows"].sum() == sum(e["rows"] for e in fleet.manifest["tables"].values())
    assert (sizes.filter(pl.col("rows") > 0)["bytes"] > 0).all()


def test_chart_data(fleet):
    """The aggregates behind the charts are plausible and small."""
    src = report.SnapshotData(fleet)
    b = queries.batches(src)
    assert b["batch_number"].to_list() == [x["batch_number"] for x in fleet.manifest["batches"]]
    assert b["eggs"].to_list() == [x["eggs"] for x in fleet.manifest["batches"]]
    assert b["geography"].null_count() == 0 and b["stage"].null_count() == 0
    g = queries.growth(src)
    first = g.group_by("batch_id").agg(pl.all().sort_by("day").first())
    assert (first["population"] < b.sort("batch_id")["eggs"]).all()  # the first evening, after a day's deaths
    assert g["avg_weight_g"].max() > 1000
    s = queries.sensors(src)
    params = fleet.read("environmental_environmentalparameter")["name"].to_list()
    assert sorted(s["parameter"].unique().to_list()) == sorted(params) and len(params) > 1  # every parameter
    temp = s.filter(pl.col("parameter") == "Temperature", pl.col("env") == "sea")
    # Scottish marine heatwaves reach 15-17 °C (environment.py: the sea's soft ceiling is 18 °C)
    assert set(temp["geography"]) == {"Scotland", "Faroe Islands"} and 3 < temp["mean"].min() < temp["mean"].max() < 18
    assert s["readings"].sum() == fleet.manifest["tables"]["environmental_environmentalreading"]["rows"]
    f = queries.feed_by_batch_stage(src).filter(pl.col("fcr").is_not_null())
    assert f.height >= 3 * 4 and f["fcr"].is_between(0.5, 2.0).all()
    occ = queries.occupancy(src)
    assert occ.height >= 3 * 5 and occ["geography"].null_count() == 0


def test_variety_and_health_data(fleet):
    """The aggregates behind the new sections equal what the tables hold: occupancy on the day, peak densities,
    stage exits (leaving the last stage = the harvest's fish), lice, treatments, harvest, weather."""
    src = report.SnapshotData(fleet)
    a = fleet.read("batch_batchcontainerassignment")
    occ = queries.occupancy_today(src)
    assert occ["containers"].sum() == fleet.manifest["tables"]["infrastructure_container"]["rows"]
    held = occ.filter(pl.col("stage").is_not_null())
    assert held["containers"].sum() == a.filter(pl.col("is_active"))["container_id"].n_unique() > 0
    assert set(held["env"]) == {"freshwater", "sea"} and occ["site"].null_count() == 0
    cap = queries.capacity(src)
    assert cap.height == a.height and (cap["pct"] > 0).all() and (cap["kg_m3"] > 0).all()
    peak = cap.join(a.select(pl.col("id").alias("assignment_id"), "biomass_kg"), on="assignment_id")
    assert (peak["peak_kg"] >= peak["biomass_kg"].cast(pl.Float64) - 1e-9).all()
    exits = queries.stage_exits(src)
    last = queries.last_stage(src)
    lots = fleet.read("harvest_harvestlot")
    assert last == 6 and exits.filter(pl.col("stage_order") == last)["fish"].sum() == lots["unit_count"].sum() > 0
    rising = exits.group_by("batch_id").agg(pl.col("avg_weight_g").sort_by("stage_order").diff().drop_nulls().min())
    assert exits["avg_weight_g"].min() > 0 and (rising["avg_weight_g"] > 0).all()  # fish leave each stage heavier
    h = queries.harvests(src)
    assert (
        h.height == fleet.manifest["tables"]["harvest_harvestevent"]["rows"]
        and h["fish"].sum() == lots["unit_count"].sum()
    )
    assert (h["live_kg"] / h["fish"]).is_between(2.0, 8.0).all()  # kg per fish at harvest
    g = queries.harvest_grades(src)
    assert g["lots"].sum() == lots.height and g["live_kg"].sum() == pytest.approx(h["live_kg"].sum())
    assert g["grade_id"].is_sorted()
    counts = fleet.read("health_licecount")
    lc = queries.lice(src)
    assert lc.height == counts.select("container_id", pl.col("count_date").dt.date()).n_unique()
    assert lc["adult_female"].sum() == counts["adult_female_count"].sum() and lc["geography"].null_count() == 0
    t = queries.treatments(src)
    assert t["treatments"].sum() == fleet.manifest["tables"]["health_treatment"]["rows"] > 0
    assert {"physical", "vaccination"} <= set(t["treatment_type"])
    w = queries.weather(src)
    assert set(w["geography"]) == {"Scotland", "Faroe Islands"} and w["day"].max() == AS_OF
    assert -10 < w["air_c"].min() < w["air_c"].max() < 25 and (w["wind_max_ms"] >= w["wind_ms"]).all()


def test_scenarios_data(fleet):
    """The scenarios section: one row per batch's scenario with its models, its projection's days and last
    weight; the projection rows of the scenarios drawn, whole (a forecast runs past the report's day)."""
    src = report.SnapshotData(fleet)
    sc = queries.scenarios(src)
    rows = fleet.read("scenario")
    assert sc.height == rows.height == 3 and sorted(sc["batch_id"]) == sorted(queries.batches(src)["batch_id"])
    assert (sc["days"] == sc["duration_days"]).all() and sc["tgc"].null_count() == 0
    proj = fleet.read("scenario_scenarioprojection")
    last = proj.sort("day_number").group_by("scenario_id").agg(pl.col("average_weight").last())
    both = sc.join(last, on="scenario_id")
    assert both.height == 3 and (both["final_weight_g"] == both["average_weight"].cast(pl.Float64)).all()
    assert (sc["final_weight_g"] > 4000).all()
    one = queries.projection(src, sc["scenario_id"].head(1).to_list())
    assert one.height == sc["duration_days"][0] and one["day_number"].to_list() == list(range(1, one.height + 1))
    assert queries.projection(src, []).height == 0


def test_scenarios_in_both_layouts():
    """cb41030's projections hang off projection runs: the section reads the scenario's latest run (the
    application's chart does); no scenario tables: no data."""
    day = dt.date(2025, 1, 1)
    models = {
        f"scenario_{m}model": pl.DataFrame({"model_id": [1], "name": [f"{m} model"]})
        for m in ("tgc", "fcr", "mortality")
    }
    scen = pl.DataFrame(
        {
            "scenario_id": [7],
            "name": ["Baseline"],
            "batch_id": [1],
            "start_date": [day],
            "duration_days": [2],
            "initial_count": [1000],
            "initial_weight": [0.1],
            "tgc_model_id": [1],
            "fcr_model_id": [1],
            "mortality_model_id": [1],
        }
    )
    runs = pl.DataFrame({"run_id": [70, 71], "scenario_id": [7, 7], "run_number": [1, 2]})
    proj = pl.DataFrame(
        {
            "projection_run_id": [70, 70, 71, 71],
            "day_number": [1, 2, 1, 2],
            "average_weight": [0.1, 0.2, 0.1, 0.3],
            "population": [1000, 999, 1000, 998],
        }
    )
    tables = {**models, "scenario": scen, "scenario_projection_run": runs, "scenario_scenarioprojection": proj}
    src = FramesData(tables, dt.date(2025, 3, 1))
    got = queries.scenarios(src)
    assert got.select("days", "final_weight_g", "final_population").rows() == [(2, 0.3, 998)]
    assert queries.projection(src, [7])["average_weight"].to_list() == [0.1, 0.3]
    assert queries.scenarios(FramesData(tables, day - dt.timedelta(days=1))).height == 0  # not started yet
    assert queries.scenarios(FramesData(_site_tables(), day)).height == 0
    assert charts.scenarios(queries.scenarios(FramesData(_site_tables(), day)), proj, proj, proj, day) is None


class FramesData(report.SnapshotData):
    """The report's SQL over a few frames held in memory (a profile's table layout written by hand)."""

    def __init__(self, tables: dict[str, pl.DataFrame], end: dt.date):
        self.tables = tables
        self.ctx = pl.SQLContext({k: v.lazy() for k, v in tables.items()})
        self.end = self.as_of = end

    def columns(self, table: str) -> set[str]:
        return set(self.tables[table].columns) if table in self.tables else set()


def _site_tables() -> dict[str, pl.DataFrame]:
    """One sea area with two rings (ids 10, 11) in one geography, and one assignment in ring 11."""
    return {
        "infrastructure_geography": pl.DataFrame({"id": [1], "name": ["Scotland"]}),
        "infrastructure_area": pl.DataFrame({"id": [5], "name": ["S-SEA-01"], "geography_id": [1]}),
        "infrastructure_hall": pl.DataFrame({"id": [7], "name": ["H"], "freshwater_station_id": [8]}),
        "infrastructure_freshwaterstation": pl.DataFrame({"id": [8], "name": ["S-FW-01"], "geography_id": [1]}),
        "infrastructure_container": pl.DataFrame(
            {"id": [10, 11], "hall_id": [None, None], "area_id": [5, 5]}, schema_overrides={"hall_id": pl.Int64}
        ),
        "batch_batchcontainerassignment": pl.DataFrame({"id": [100], "container_id": [11]}),
    }


def test_lice_in_both_layouts():
    """cb41030 counts lice per type (one row a type, each with the fish sampled; the ring through the
    assignment): adult females are the female adult L. salmonis and unidentified ones, not Caligus; a legacy
    row (8f2ab39's layout, also valid in cb41030) counts its adult_female_count."""
    day = dt.datetime(2025, 9, 1, 10, tzinfo=dt.UTC)
    types = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "species": ["Lepeophtheirus salmonis", "Unknown", "Caligus elongatus", "Lepeophtheirus salmonis"],
            "gender": ["female", "female", "female", "male"],
            "development_stage": ["adult", "adult", "adult", "adult"],
        }
    )
    counts = pl.DataFrame(
        {
            "count_date": [day] * 5,
            "adult_female_count": [3, None, None, None, None],
            "fish_sampled": [10, 20, 20, 20, 20],
            "container_id": [10, None, None, None, None],
            "assignment_id": [None, 100, 100, 100, 100],
            "lice_type_id": [None, 1, 2, 3, 4],
            "count_value": [None, 2, 1, 5, 4],
        },
        schema_overrides={"adult_female_count": pl.Int32, "container_id": pl.Int64, "assignment_id": pl.Int64},
    )
    cb = FramesData({**_site_tables(), "health_licecount": counts, "health_licetype": types}, dt.date(2025, 9, 30))
    got = queries.lice(cb).select("container_id", "adult_female", "fish").sort("container_id").rows()
    assert got == [(10, 3, 10), (11, 3, 20)]
    legacy = FramesData(
        {**_site_tables(), "health_licecount": counts.head(1).drop("assignment_id", "lice_type_id", "count_value")},
        dt.date(2025, 9, 30),
    )
    assert queries.lice(legacy).select("container_id", "adult_female", "fish").rows() == [(10, 3, 10)]
    assert queries.lice(FramesData(_site_tables(), dt.date(2025, 8, 31))).height == 0  # no such table: no data
    for q in (queries.treatments, queries.harvests, queries.harvest_grades, queries.weather):
        assert q(FramesData(_site_tables(), dt.date(2025, 9, 30))).height == 0, q.__name__


def test_as_of_cuts_everything(fleet, tmp_path):
    """A report on an earlier day: no later date anywhere, a batch started later is absent, open periods end
    on that day, and the snapshot's validation still passes."""
    starts = sorted(dt.date.fromisoformat(x["start_date"]) for x in fleet.manifest["batches"])
    cut = starts[-1] - dt.timedelta(days=1)  # the day before the last batch starts
    src = report.SnapshotData(fleet, cut)
    b = queries.batches(src)
    assert b.height == len(starts) - 1 and b["start_date"].max() <= cut
    assert b["actual_end_date"].null_count() == b.height and set(b["status"]) == {"ACTIVE"}
    for name, df, cols in (
        ("growth", queries.growth(src), ["day"]),
        ("spans", queries.stage_spans(src), ["start", "stop"]),
        ("mortality", queries.mortality(src), ["day"]),
        ("sensors", queries.sensors(src), ["day"]),
        ("lots", queries.stock_lot_days(src), ["day"]),
        ("purchases", queries.purchases(src), ["day"]),
        ("occupancy", queries.occupancy(src), ["start", "stop"]),
        ("lice", queries.lice(src), ["day"]),
        ("treatments", queries.treatments(src), ["day"]),
        ("weather", queries.weather(src), ["day"]),
        ("scenarios", queries.scenarios(src), ["start_date"]),
    ):
        assert df.height, name
        for c in cols:
            assert df[c].max() <= cut, (name, c)
    spans = queries.stage_spans(src)
    assert spans.group_by("batch_id").agg(pl.col("stop").max())["stop"].to_list() == [cut] * b.height
    assert queries.occupancy(src)["stop"].max() == cut
    assert queries.harvests(src).height == 0 and queries.stage_exits(src).filter(pl.col("stage_order") == 6).height == 0
    held = queries.occupancy_today(src).filter(pl.col("stage").is_not_null())
    assert held["containers"].sum() == sum(o for o, _ in queries.today(src)["occupancy"].values())
    rep = report.report_snapshot(fleet.path, tmp_path / "cut.html", as_of=cut)
    assert rep.failed == 0 and rep.batches == len(starts) - 1 and rep.end == cut
    page = rep.path.read_text(encoding="utf-8")
    assert fleet.manifest["batches"][-1]["batch_number"] not in _text(page).split("id='source'")[0]
    # the figures end on the cut: every date in the chart data is at most the cut
    dates = set(re.findall(r'"(\d{4}-\d{2}-\d{2})', _body(page)))  # (the figures' data, not plotly.js)
    assert dates and max(dates) <= cut.isoformat()


def test_band_across_batches():
    """Median and 10–90 % band per day since the start, values carried over days without rows, each batch
    up to its harvest or the report's day."""
    b = pl.DataFrame(
        {
            "batch_id": [1, 2, 3],
            "start_date": [dt.date(2025, 1, 1)] * 3,
            "actual_end_date": [dt.date(2025, 1, 3), None, None],
        }
    )
    v = pl.DataFrame(
        {"batch_id": [1, 2, 3, 2], "day": [dt.date(2025, 1, 1)] * 3 + [dt.date(2025, 1, 4)], "x": [1.0, 2.0, 3.0, 20.0]}
    )
    aged = charts.by_age(v, "x", b, dt.date(2025, 1, 5))
    assert aged.group_by("batch_id").agg(pl.len()).sort("batch_id")["len"].to_list() == [3, 5, 5]
    s = charts.spread(aged, "x")
    assert s["age"].to_list() == [0, 1, 2, 3, 4]  # day 3 and 4: two batches left
    assert s["median"].to_list() == [2.0, 2.0, 2.0, 11.5, 11.5] and s["n"].to_list() == [3, 3, 3, 2, 2]
    assert s["lo"][0] == pytest.approx(1.0, abs=0.5) and s["hi"][0] == pytest.approx(3.0, abs=0.5)
    assert charts.pick(pl.DataFrame({"batch_id": range(1, 51)}))["batch_id"].to_list() == [1, 13, 25, 38, 50]


def test_an_out_in_the_snapshot_is_refused_but_in_its_report_folder(master_snapshot, tmp_path):
    """``--out`` in a snapshot's folder goes in its report/ folder, where the default report goes; elsewhere
    there it is refused in one line, before anything is read or written (the page went there and
    ``aquagen validate`` failed on it: "files the manifest does not list")."""
    snap = tmp_path / "snap"
    shutil.copytree(master_snapshot.path, snap)
    before = sorted(snap.rglob("*"))
    for args in (
        [snap, "--out", snap],
        [snap, "--out", snap / "page.html"],
        [snap, "--out", snap / "auth_user"],
        [snap, "--out", f"{snap}/../snap/"],
        ["--dsn", "postgresql://x@127.0.0.1:9/y", "--out", snap],
    ):
        r = run_cli("report", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"into the snapshot {snap}, which holds its own files and a report/ folder only" in r.stderr
    assert sorted(snap.rglob("*")) == before
    assert run_cli("report", snap, "--out", snap / "report" / "june.html").returncode == 0
    r = run_cli("validate", snap)
    assert r.returncode == 0 and "0 failed" in r.stdout, r.stdout


def test_cli(master_snapshot, fleet, tmp_path):
    """The command on a snapshot without batches: every chart is there, saying there is nothing to draw;
    bad input is one line on stderr."""
    out = tmp_path / "cli-report"
    r = run_cli("report", master_snapshot.path, "--out", out)
    assert r.returncode == 0, r.stderr
    assert str(out / "index.html") in r.stdout and "0 failed" in r.stdout
    page = (out / "index.html").read_text()
    nothing = re.findall(r"<section class='chart' id='([a-z-]+)'><h2>[^<]*</h2>\n<div class='nothing'>", page)
    # master data has containers (all empty), weather and feed stock; everything else says there is nothing
    assert set(nothing) == set(report.CHARTS) - {"occupancy-today", "weather", "feed-stock"}
    assert "No batches" in page and "No data: no harvest events" in page and "No data: no lice counts" in page
    assert "No data: no scenarios" in page
    bad = (
        ["report", tmp_path / "no-such-snapshot"],
        ["report", fleet.path, "--dsn", "postgresql://x@127.0.0.1:9/y"],
        ["report", fleet.path, "--as-of", "2026-01-16"],
    )
    for args in bad:
        r = run_cli(*args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr  # one line, no traceback
    assert "2026-01-16" in lines[0] and "2026-01-15" in lines[0]


def test_a_full_disk_keeps_the_old_report(master_snapshot, tmp_path, monkeypatch):
    """A full disk while the page is written: one line naming the report's folder (not the current folder's
    device), the old report as it was and no temporary file left."""
    out = tmp_path / "full"
    out.mkdir()
    (out / "index.html").write_text("the old report")
    write = Path.write_text

    def full(self, data, *args, **kwargs):
        write(self, data[:1000], *args, **kwargs)  # a full disk cuts the write short
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write() names no file

    monkeypatch.setattr(Path, "write_text", full)
    r = run_cli("report", master_snapshot.path, "--out", out)
    assert (
        r.returncode == 2
        and r.stderr == f"error: no space left in {out}: free some space and rerun; nothing was published\n"
    )
    assert [p.name for p in out.iterdir()] == ["index.html"] and (out / "index.html").read_text() == "the old report"


# --- a real browser --------------------------------------------------------------------------------------


def _chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Chromium is not installed: apt-get install chromium (.ci/run does)"
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            *args,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )


# a drawn mark: a bar or a point (a path in a point group), a line, a filled band or a box
MARK = re.compile(r'<g class="point"><path d="M|<path class="(?:point|js-line|js-fill|box)"[^>]*? d="M')


def test_page_in_browser(fleet_report):
    """Headless Chromium opens the file offline: no console message (errors included), every chart drawn
    (an svg with traces in each chart's div, and marks in them: bars, points, lines, boxes), and a screenshot
    of the top of the page."""
    url = fleet_report.path.as_uri()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    # one browser start for both: the page's DOM once drawn, then its screenshot
    r = _chromium("--window-size=1440,1600", f"--screenshot={SCREENSHOT}", "--dump-dom", url)
    assert r.returncode == 0, r.stderr[-2000:]
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    dom = r.stdout
    parts = re.split(r'<div id="chart-([a-z-]+)"', dom)[1:]
    drawn = {
        key: (body.count('class="main-svg"'), len(re.findall(r'class="trace[ "]', body)), len(MARK.findall(body)))
        for key, body in zip(parts[::2], parts[1::2], strict=True)
    }
    assert list(drawn) == list(report.CHARTS)
    assert all(svgs >= 1 and traces >= 1 and marks >= 1 for svgs, traces, marks in drawn.values()), drawn
    # the sections of issues 13 and 14 draw a mark per site, stage, batch, week or month
    for key in ("occupancy-today", "batch-spread", "capacity", "lice", "harvest", "weather"):
        assert drawn[key][2] >= 10, (key, drawn[key])
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1440, 1600)
    assert len(data) > 50_000  # a drawn page, not a blank one


# --- a database -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def loaded_db(lifecycle_db):
    """The fleet loaded once into a database of its own (the database tests only read it)."""
    return lifecycle_db


def test_database_report_matches_snapshot(fleet, loaded_db, tmp_path):
    from loaders.postgres import connect

    r = run_cli("report", "--dsn", loaded_db, "--as-of", AS_OF.isoformat(), "--out", tmp_path / "db")
    assert r.returncode == 0, r.stderr
    snap = report.SnapshotData(fleet)
    with connect(loaded_db) as conn:
        db = report.DatabaseData(conn, "test", AS_OF)
        # the report validated the database: every check passed (not run a second time here), and its page
        # shows each of them green
        checks = validate.checks(get(), db.as_of)
        assert f"validation: {len(checks)} passed, 0 failed" in r.stdout, r.stdout
        passed = [validate.Result(c, c.expected) for c in checks]
        page = _assert_page(tmp_path / "db" / "index.html", passed, db.as_of)
        assert "loaded snapshot" in page and str(fleet.path) in page
        # the same queries give the same aggregates on both sources
        assert db.end == snap.end == AS_OF
        for q in (
            queries.batches,
            queries.feed_by_batch_stage,
            queries.sensors,
            queries.occupancy,
            queries.purchases,
            queries.stock_lot_days,
            queries.feed_containers,
            queries.growth,
            queries.mortality,
            queries.stage_spans,
            queries.stage_exits,
            queries.occupancy_today,
            queries.capacity,
            queries.lice,
            queries.treatments,
            queries.harvests,
            queries.harvest_grades,
            queries.weather,
            queries.scenarios,
            lambda src: queries.projection(src, queries.scenarios(snap)["scenario_id"].to_list()),
        ):
            a, b = q(snap), q(db)
            key = a.columns[: min(3, len(a.columns))]
            assert_frame_equal(a.sort(key), b.sort(key), check_dtypes=False, check_exact=False, rel_tol=1e-9)
        t_db, t_snap = queries.today(db), queries.today(snap)
        assert t_db["fish"] == t_snap["fish"] and t_db["occupancy"] == t_snap["occupancy"]
        sizes = db.table_sizes()
        for name, n in fleet.manifest["tables"].items():
            assert sizes.filter(pl.col("table") == name)["rows"].item() == n["rows"], name
        # without --as-of the report ends with the data (here: the as-of day, batches still live)
        assert report.DatabaseData(conn, "test").end == AS_OF


def test_database_report_on_an_earlier_day(loaded_db, tmp_path):
    """The README's example: a database holding data after --as-of gives a green report cut at --as-of (the
    validation checks the whole database as it is, not a past day it cannot see)."""
    cut = dt.date(2025, 6, 1)
    r = run_cli("report", "--dsn", loaded_db, "--as-of", cut.isoformat(), "--out", tmp_path / "early.html")
    assert r.returncode == 0, r.stderr
    assert "0 failed" in r.stdout and "up to 2025-06-01" in r.stdout
    page = (tmp_path / "early.html").read_text(encoding="utf-8")
    dates = set(re.findall(r'"(\d{4}-\d{2}-\d{2})', _body(page)))
    assert dates and max(dates) <= cut.isoformat()
    assert f"as of {dt.date.today().isoformat()}" in page  # the validation's day


def test_database_report_ends_with_the_data(master_snapshot, empty_db, tmp_path):
    """A database without batches (no assignment history): by default the report ends on the farm's as-of day
    the load log records (its weather and feed stock end there), not today; a later --as-of is refused in one
    line, nothing written."""
    from loaders import postgres

    postgres.load(master_snapshot, empty_db)
    r = run_cli("report", "--dsn", empty_db, "--out", tmp_path / "r.html")
    assert r.returncode == 0 and f"up to {AS_OF.isoformat()}" in r.stdout, r.stdout
    r = run_cli("report", "--dsn", empty_db, "--as-of", "2026-01-16", "--out", tmp_path / "later.html")
    assert r.returncode == 2 and r.stderr == (
        "error: --as-of 2026-01-16 is after the database's last day with data, 2026-01-15; give a date up to it\n"
    )
    assert not (tmp_path / "later.html").exists()


def test_database_without_schema(empty_db, tmp_path):
    r = run_cli("report", "--dsn", empty_db, "--out", tmp_path / "x")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "no AquaMind schema" in r.stderr


# --- broken snapshots: exactly the matching invariant's rows are red ------------------------------------------


def _broken_copy(fleet: Snapshot, dest) -> Snapshot:
    shutil.copytree(fleet.path, dest, ignore=shutil.ignore_patterns("report"))
    return Snapshot.open(dest)


_REWRITTEN: dict[str, set[str]] = {}  # a broken copy's folder -> the tables rewritten in it


def _rewrite(snap: Snapshot, name: str, change, first_part_only: bool = False) -> None:
    """Apply ``change`` to the table's part files in place (the manifest's checksums then no longer match;
    validation does not read them)."""
    _REWRITTEN.setdefault(str(snap.path), set()).add(name)
    for i, path in enumerate(snap.files(name)):
        if first_part_only and i:
            break
        df = change(pl.read_parquet(path))
        pq.write_table(to_arrow(schemas.table(name), df), path, compression="zstd")


def _red_rows(snap: Snapshot, fleet: Snapshot) -> list[tuple[str, str]]:
    """(group, check) of the failed (red) rows of the report's validation table for ``snap``, a copy of
    ``fleet`` with tables rewritten (``_rewrite``): a check whose SQL names none of them reads the same
    rows as on ``fleet``, its value is the fleet's (computed once per process, ``_fleet_values``)."""
    rewritten = _REWRITTEN[str(snap.path)]
    source = validate.SnapshotSource(snap)
    names = lambda sql: set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    before = _fleet_values(fleet)
    results = [
        validate.Result(c, source.scalar(c.sql) if names(c.sql) & rewritten else before[c.sql])
        for c in validate.checks(get(source.profile), source.as_of, source.as_of_time)
    ]
    table = report.validation_table(results)
    return [(html.unescape(g), html.unescape(n)) for cls, g, n, _ in _validation_rows(table) if cls == "fail"]


_FLEET_VALUES: dict[str, dict[str, int]] = {}


def _fleet_values(fleet: Snapshot) -> dict[str, int]:
    """Every check's value on the fleet as it is, by its SQL."""
    if str(fleet.path) not in _FLEET_VALUES:
        source = validate.SnapshotSource(fleet)
        checks = validate.checks(get(source.profile), source.as_of, source.as_of_time)
        _FLEET_VALUES[str(fleet.path)] = {c.sql: source.scalar(c.sql) for c in checks}
    return _FLEET_VALUES[str(fleet.path)]


def test_broken_overlapping_occupancy(fleet, tmp_path):
    """A second batch's assignment in a container while the first batch is in it."""
    snap = _broken_copy(fleet, tmp_path / "overlap")
    a = snap.read("batch_batchcontainerassignment").filter(pl.col("batch_id") == 1).sort("id")
    victim = a.filter(pl.col("lifecycle_stage_id") == 2).row(0, named=True)
    new_id = int(snap.scan("batch_batchcontainerassignment").select(pl.col("id").max()).collect().item()) + 1
    day = victim["assignment_date"] + dt.timedelta(days=5)
    intruder = a.filter(pl.col("id") == victim["id"]).with_columns(  # a copy of it, for batch 2
        pl.lit(new_id, pl.Int64).alias("id"),
        pl.lit(2, pl.Int64).alias("batch_id"),
        pl.lit(0, pl.Int32).alias("population_count"),
        pl.lit(0).cast(pl.Decimal(10, 2)).alias("biomass_kg"),
        pl.lit(day).alias("assignment_date"),
        pl.lit(day + dt.timedelta(days=3)).alias("departure_date"),
        pl.lit(False).alias("is_active"),
        pl.lit(None, pl.Date).alias("last_weighing_date"),
    )
    _rewrite(snap, "batch_batchcontainerassignment", lambda df: pl.concat([df, intruder]), first_part_only=True)
    hist = snap.read("batch_historicalbatchcontainerassignment")
    h = (
        hist.filter(pl.col("id") == victim["id"], pl.col("history_type") == "+")
        .head(1)
        .with_columns(
            pl.lit(new_id, pl.Int64).alias("id"),
            pl.lit(int(hist["history_id"].max()) + 1, pl.Int32).alias("history_id"),
            *[intruder[c].alias(c) for c in intruder.columns if c in hist.columns and c != "id"],
        )
    )
    _rewrite(
        snap,
        "batch_historicalbatchcontainerassignment",
        lambda df: pl.concat([df, h.select(df.columns)]),
        first_part_only=True,
    )
    assert _red_rows(snap, fleet) == [
        ("2 occupancy", "containers holding two assignments at once"),
        ("2 occupancy", "halls or sea areas holding two batches at once"),
    ]


def test_broken_reading_outside_assignment(fleet, tmp_path):
    """A reading moved to its (closed) assignment's departure day."""
    snap = _broken_copy(fleet, tmp_path / "reading")
    a = (
        snap.read("batch_batchcontainerassignment")
        .filter(pl.col("departure_date").is_not_null())
        .sort("id")
        .row(0, named=True)
    )
    r = (
        snap.scan("environmental_environmentalreading")
        .filter(pl.col("batch_container_assignment_id") == a["id"])
        .select(pl.col("id").min())
        .collect()
        .item()
    )
    moved = dt.datetime.combine(a["departure_date"], dt.time(6), tzinfo=dt.UTC)
    _rewrite(
        snap,
        "environmental_environmentalreading",
        lambda df: df.with_columns(
            pl.when(pl.col("id") == r)
            .then(pl.lit(moved).dt.cast_time_unit("us"))
            .otherwise(pl.col("reading_time"))
            .alias("reading_time")
        ),
    )
    assert _red_rows(snap, fleet) == [("1 live assignment", "readings outside their assignment")]


def test_broken_negative_stock(fleet, tmp_path):
    """A stock lot (and its history) with a negative quantity."""
    snap = _broken_copy(fleet, tmp_path / "stock")
    lot = int(snap.read("inventory_feedcontainerstock")["id"].min())
    minus = pl.lit(-100).cast(pl.Decimal(10, 2))
    for name in ("inventory_feedcontainerstock", "inventory_historicalfeedcontainerstock"):
        _rewrite(
            snap,
            name,
            lambda df: df.with_columns(
                pl.when(pl.col("id") == lot).then(minus).otherwise(pl.col("quantity_kg")).alias("quantity_kg")
            ),
        )
    assert _red_rows(snap, fleet) == [("5 feed stock", "stock lots (or lot history rows) below zero")]
