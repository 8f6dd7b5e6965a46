"""``aquagen report``: one self-contained interactive HTML page for a snapshot or a loaded database.

``queries`` reads (the same SQL on both sources, aggregated in the query, cut at the report's last day),
``charts`` draws (Plotly), ``page`` writes the HTML; the validation table is ``aquagen.validate.run``
on the same source, exactly what ``aquagen validate`` prints.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from aquagen import words
from aquagen.check import validate as V
from aquagen.errors import AquagenError
from aquagen.model.health import LICE_THRESHOLD
from aquagen.snapshot import MANIFEST, Snapshot

from . import charts as C
from . import queries as Q
from .page import Chart, Page, Today, render, validation_table
from .queries import DatabaseData, ReportSource, SnapshotData

__all__ = [
    "CHARTS",
    "DatabaseData",
    "Report",
    "ReportSource",
    "SnapshotData",
    "build",
    "page_path",
    "report_database",
    "report_snapshot",
    "validation_table",
]

CHARTS = (
    "today-fleet",
    "occupancy-today",
    "lifecycle",
    "batch-spread",
    "growth",
    "scenarios",
    "mortality",
    "feed-fcr",
    "capacity",
    "lice",
    "harvest",
    "weather",
    "sensors",
    "feed-stock",
    "occupancy",
)


@dataclass
class Report:
    path: Path
    charts: list[Chart]
    results: list  # validate.Result
    batches: int
    end: dt.date

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)


def build(src: ReportSource, out: Path) -> Report:
    """Write ``out``, one HTML file holding everything (no file beside it, no network needed)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AquagenError(f"cannot create the report folder {out.parent}: {e.strerror}") from None
    end = src.end
    b = Q.batches(src)
    g = Q.growth(src)
    spans = Q.stage_spans(src)
    fcs = Q.feed_containers(src)
    lots = Q.stock_lot_days(src)
    now = Q.today(src)
    feed = Q.feed_by_batch_stage(src)
    readings = Q.sensors(src)
    sc = Q.scenarios(src)
    on_hand = lots.sort("day").group_by("lot_id").agg(pl.col("quantity_kg").last())["quantity_kg"].sum()
    active = (
        b.filter(pl.col("actual_end_date").is_null())
        .with_columns(pl.col("geography").fill_null("unknown"), pl.col("stage").fill_null("unknown"))
        .group_by("stage_order", "stage", "geography")
        .agg(pl.len().alias("batches"))
    )
    today = Today(active, now["fish"], now["biomass_kg"], now["occupancy"], float(on_hand or 0.0), src.table_sizes())
    n = b.height
    charts = [
        Chart(
            "today-fleet",
            "Fish and biomass",
            "Live fish (millions) and biomass (tonnes) of the fleet by day, "
            "stacked by geography: sums over the live assignments at the end of each day. Population falls with "
            "mortality, transfer losses and harvest.",
            C.fleet_stock(g, b, end),
            "No batches.",
        ),
        Chart(
            "occupancy-today",
            "Occupancy today",
            f"Every container on {end.isoformat()}, per freshwater station and sea area: stacked by the "
            "lifecycle stage of the batch it holds (an assignment open that day), empty containers grey. The "
            "titles give the share of containers holding fish and how many stations or sea areas are in use.",
            C.occupancy_today(Q.occupancy_today(src), end),
            "No containers.",
        ),
        Chart(
            "lifecycle",
            "Batches by stage",
            f"Every batch started by {end.isoformat()} ({n}), one row each: a "
            "band per lifecycle stage from its first assignment to the next stage's start (the last stage to "
            "harvest or to the report's day). Hover for dates.",
            C.lifecycle(spans, b, end),
            "No batches.",
        ),
        Chart(
            "batch-spread",
            "Batches compared",
            "One point per batch (hover for its number), a box per group (middle half and median): the mean "
            "weight of the fish leaving each stage (biomass / population of its assignments at departure), the "
            "days from a stage's first assignment to the next stage's, survival so far (fish alive on the "
            "report's day plus fish harvested, i.e. leaving the last stage, as % of the eggs) grouped by where the "
            "batch is, and each batch's FCR over all its stages so far (feed / biomass gain), by geography.",
            C.batch_spread(Q.stage_exits(src), spans, g, feed, b, end, Q.last_stage(src)),
            "No batches.",
        ),
        Chart(
            "growth",
            "Growth",
            "Mean weight (biomass / population at the end of each day, log scale) against "
            f"days since the batch started: the median over the batches alive that day, the band from the "
            f"{C.LOW:.0%} to the {C.HIGH:.0%} batch, and "
            f"{words.count(min(n, C.BATCH_LINES), 'batch')} spread over the start "
            "dates (click a legend entry to hide or show it). Dotted: median stage starts.",
            C.growth(g, b, spans, end),
            "No assignment history: no batches.",
        ),
        Chart(
            "scenarios",
            "Scenarios",
            "Top: every scenario of a batch started by the report's day (the application's growth analysis "
            "compares each batch with its scenario): start, duration, fish and weight at the start, its TGC, FCR "
            "and mortality models, and its projection in use (cb41030: the scenario's latest projection run, the "
            "one the batch pins; 8f2ab39: the scenario's own rows): projected days and the last day's weight. "
            f"Bottom, for {words.count(min(sc.height, C.BATCH_LINES), 'batch')} spread over the start dates: "
            "the projected mean "
            "weight over the scenario's whole duration (dashed: a forecast, ahead of the report's day too) against "
            "the measured one up to the report's day (solid, as in Growth), and measured / projected by day.",
            C.scenarios(sc, Q.projection(src, _shown_scenarios(sc, b)), g, b, end),
            "No data: no scenarios (the scenario tables are empty or not in this profile).",
        ),
        Chart(
            "mortality",
            "Mortality",
            "Cumulative deaths from the daily mortality events as % of the eggs a "
            "batch started with, against days since the start: median, band and a few batches as for growth. "
            "Transfer handling losses and harvest are not deaths.",
            C.mortality(Q.mortality(src), b, spans, end),
            "No mortality events.",
        ),
        Chart(
            "feed-fcr",
            "Feed and FCR",
            "Left: feed given per lifecycle stage and geography (tonnes). Right: FCR "
            "per stage, one point per batch (feed over biomass gain, the gain being each assignment's biomass "
            "at departure or on the report's day minus its biomass when it opened: an economic FCR); the box "
            "spans the middle half of the batches, its line the median. Egg&Alevin is not fed.",
            C.feed_fcr(feed, b),
            "No assignments.",
        ),
        Chart(
            "capacity",
            "Densities against capacity",
            "Left: every assignment's peak biomass (the largest of its daily history rows up to the report's day) "
            "as % of its container's max_biomass_kg, stacked by stage in 5 % bins; the red line is 100 %. "
            "Right: the same peak biomass per m³ of the container, per stage (box: quartiles and median, "
            "whiskers: lowest and highest).",
            C.capacity(Q.capacity(src)),
            "No assignments.",
        ),
        Chart(
            "lice",
            "Lice and treatments",
            "Top: adult female lice per fish from the weekly lice counts of the sea rings (per count: adult "
            "females / fish sampled; legacy counts and, where the profile has them, counts per lice type, "
            "L. salmonis and unidentified adult females), the weekly mean per geography and the band from the "
            f"10 % to the 90 % ring; dashed: the treatment threshold ({LICE_THRESHOLD:g} per fish). "
            "Bottom: treatments per month by type (delousing: physical or medication; vaccination).",
            C.lice(Q.lice(src), Q.treatments(src), LICE_THRESHOLD, end),
            "No data: no lice counts and no treatments (health_licecount and health_treatment are empty or "
            "not in this profile).",
        ),
        Chart(
            "harvest",
            "Harvest",
            "From the harvest events and their lots: live weight and fish harvested per month by geography, "
            "the mean weight of the fish of every event (live weight / fish), and the lots' live weight per "
            "product grade (hover: lots and fish).",
            C.harvest(Q.harvests(src), Q.harvest_grades(src), b, end),
            "No data: no harvest events (no batch harvested by this day, or the harvest tables are empty or not "
            "in this profile).",
        ),
        Chart(
            "weather",
            "Weather",
            "Daily per geography: mean air temperature of the weather observations of its sea areas (solid) "
            "with the sea temperature of the sea areas' sensors (dotted), and wind speed (daily mean, the day's "
            "highest observation faint).",
            C.weather(Q.weather(src), readings, end),
            "No data: no weather observations and no sea temperature readings.",
        ),
        Chart(
            "sensors",
            "Sensors",
            "Daily mean of every environmental parameter's readings, per geography: sea "
            "areas solid, freshwater halls dotted. Drag to zoom (the panels share the time axis), double-click "
            "to reset.",
            C.sensors(readings, end),
            "No sensor readings.",
        ),
        Chart(
            "feed-stock",
            "Feed stock",
            "Top: feed on hand by feed-container type, the sum of all stock lots "
            "(each lot's quantity at the end of every day it changed). Bottom: purchases per month.",
            C.feed_stock(fcs, lots, Q.purchases(src), end),
            "No feed stock.",
        ),
        Chart(
            "occupancy",
            "Occupancy",
            "Which batch occupies each freshwater hall and sea area: one bar from a "
            "batch's first assignment in the site to its last departure (open assignments to the red line), "
            "labelled with the batch where the label fits; hover for batch, site and dates. Bars in one row "
            "never overlap (invariant 2).",
            C.occupancy(Q.occupancy(src), b, end),
            "No assignments.",
        ),
    ]
    results = V.run(src.validation_source())
    page = Page(src.label, end, src.as_of, src.info(), today, charts, b, results)
    _publish(out, render(page))
    return Report(out, charts, results, n, end)


def _publish(out: Path, text: str) -> None:
    """Write the page under a temporary name in its folder and rename it into place: a full disk or a
    kill leaves the old report as it was, never a part of the new one. A failure names ``out`` (a write
    cut short by a full disk names no file)."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(out)) from None


def _shown_scenarios(sc: pl.DataFrame, b: pl.DataFrame) -> list[int]:
    """The scenarios whose projection the chart draws: those of the batches ``charts.pick`` spreads over the
    start dates (only their rows are read)."""
    batch = b.select("batch_id", pl.col("start_date").alias("batch_start"))
    with_batch = sc.join(batch, on="batch_id").sort("batch_start")
    return C.pick(with_batch)["scenario_id"].to_list()


# --- entry points ----------------------------------------------------------------------------------------

DEFAULT_DB_OUT = Path("output") / "report" / "index.html"


def _target(out: str | os.PathLike | None, default: Path) -> Path:
    return default if out is None else page_path(out)


def page_path(out: str | os.PathLike) -> Path:
    """The page ``--out`` names: the .html file, or ``index.html`` in the folder. Refused in one line when it
    lies in a snapshot's folder but not in its ``report/`` folder, where the default report goes: a snapshot's
    folder holds its own files and that report (``aquagen validate`` fails on anything else)."""
    out = Path(out)
    page = out if out.suffix.lower() in (".html", ".htm") else out / "index.html"
    real = page.resolve()
    for folder in real.parents:
        if (folder / MANIFEST).is_file() and not real.is_relative_to(folder / "report"):
            try:
                Snapshot.open(folder)
            except AquagenError:
                continue  # another program's manifest.json
            raise AquagenError(
                f"--out {out} would write {page} into the snapshot {folder}, which holds its own files and a report/ "
                f"folder only (aquagen validate fails on others): write it in {folder / 'report'} (a snapshot's report "
                "without --out goes there) or outside the snapshot"
            )
    return page


def report_snapshot(
    path: str | os.PathLike, out: str | os.PathLike | None = None, as_of: dt.date | None = None
) -> Report:
    """The report of a snapshot, up to ``as_of`` (at most the snapshot's own as-of date, its default);
    written to ``out`` (an .html file, or a folder for index.html), by default ``<snapshot>/report/index.html``."""
    snap = Snapshot.open(path)
    return build(SnapshotData(snap, as_of), _target(out, snap.path / "report" / "index.html"))


def report_database(dsn: str, out: str | os.PathLike | None = None, as_of: dt.date | None = None) -> Report:
    """The report of a loaded database up to ``as_of`` (default: its last day with data); by default written
    to ``output/report/index.html``."""
    from loaders.session import connect, redact

    with connect(dsn) as conn:
        return build(DatabaseData(conn, redact(dsn), as_of), _target(out, DEFAULT_DB_OUT))
