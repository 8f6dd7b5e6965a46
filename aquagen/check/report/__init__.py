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

from aquagen.check import validate as V
from aquagen.errors import AquagenError
from aquagen.snapshot import Snapshot

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
    "report_database",
    "report_snapshot",
    "validation_table",
]

CHARTS = ("today-fleet", "lifecycle", "growth", "mortality", "feed-fcr", "sensors", "feed-stock", "occupancy")


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
            "lifecycle",
            "Batches by stage",
            f"Every batch started by {end.isoformat()} ({n}), one row each: a "
            "band per lifecycle stage from its first assignment to the next stage's start (the last stage to "
            "harvest or to the report's day). Hover for dates.",
            C.lifecycle(spans, b, end),
            "No batches.",
        ),
        Chart(
            "growth",
            "Growth",
            "Mean weight (biomass / population at the end of each day, log scale) against "
            f"days since the batch started: the median over the batches alive that day, the band from the "
            f"{C.LOW:.0%} to the {C.HIGH:.0%} batch, and {min(n, C.BATCH_LINES)} batches spread over the start "
            "dates (click a legend entry to hide or show it). Dotted: median stage starts.",
            C.growth(g, b, spans, end),
            "No assignment history: no batches.",
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
            C.feed_fcr(Q.feed_by_batch_stage(src), b),
            "No assignments.",
        ),
        Chart(
            "sensors",
            "Sensors",
            "Daily mean of every environmental parameter's readings, per geography: sea "
            "areas solid, freshwater halls dotted. Drag to zoom (the panels share the time axis), double-click "
            "to reset.",
            C.sensors(Q.sensors(src), end),
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
    out.write_text(render(page), encoding="utf-8")
    return Report(out, charts, results, n, end)


# --- entry points ----------------------------------------------------------------------------------------

DEFAULT_DB_OUT = Path("output") / "report" / "index.html"


def _target(out: str | os.PathLike | None, default: Path) -> Path:
    if out is None:
        return default
    out = Path(out)
    return out if out.suffix.lower() in (".html", ".htm") else out / "index.html"


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
