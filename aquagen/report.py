"""``aquagen report``: an HTML page of PNG charts and the validation table, for a
snapshot or a loaded database.

One data-access layer serves both sources: every chart's data is one SQL query
written once, run by Polars' SQL engine over the Parquet files of a snapshot
(lazily, streaming) or by PostgreSQL over a database. The queries aggregate
(per batch and day, per stage, per geography and day, ...), so what reaches
Python is small whatever the fleet's size: readings, feedings and history rows
are never collected row by row. The validation table is ``aquagen.validate.run``
on the same source, exactly what ``aquagen validate`` prints.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import polars.selectors as cs

import schemas

from .check import validate as V
from .errors import AquagenError
from .snapshot import Snapshot

MAX_BATCHES = 12  # per-batch charts show at most this many batches (small multiples)
MAX_FEED_CONTAINERS = 6  # feed containers drawn one by one (half silos, half barges)
DPI = 100

BCA = "batch_batchcontainerassignment"
HBCA = "batch_historicalbatchcontainerassignment"
HSTOCK = "inventory_historicalfeedcontainerstock"

# container -> geography and environment (freshwater hall or sea area), as a SQL subquery
GEO = ("(SELECT c.id AS container_id, COALESCE(fs.geography_id, ar.geography_id) AS geography_id, "
       "CASE WHEN c.hall_id IS NULL THEN 'sea' ELSE 'freshwater' END AS env "
       "FROM infrastructure_container c LEFT JOIN infrastructure_hall h ON h.id = c.hall_id "
       "LEFT JOIN infrastructure_freshwaterstation fs ON fs.id = h.freshwater_station_id "
       "LEFT JOIN infrastructure_area ar ON ar.id = c.area_id)")

STAGE_COLORS = {1: "#fde3c8", 2: "#fbd0a8", 3: "#dcefd4", 4: "#b9e0c6", 5: "#d3e3f3", 6: "#aed0ea"}
GEO_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
TYPE_COLORS = {"SILO": "#8c6d31", "BARGE": "#3182bd", "TANK": "#31a354", "OTHER": "#756bb1"}


# --- data access: one interface over a snapshot or a database ---------------------------------------------

def _floats(df: pl.DataFrame) -> pl.DataFrame:
    """Decimal columns as Float64 (charts need floats; both engines return decimals for numeric)."""
    return df.with_columns(cs.decimal().cast(pl.Float64))


def _date(d: dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


def _ids(ids) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


class ReportSource:
    """Runs the report's SQL; ``frame`` returns a small, already aggregated frame."""

    label: str
    as_of: dt.date  # the validation's as-of date
    end: dt.date  # the charts' last day: open assignments and stock lots are drawn up to it

    def frame(self, sql: str) -> pl.DataFrame: ...

    def validation_source(self) -> V.Source: ...

    def row_counts(self) -> dict[str, int]: ...

    def info(self) -> list[tuple[str, str]]: ...


class SnapshotData(ReportSource):
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.ctx = pl.SQLContext({name: snapshot.scan(name) for name in snapshot.manifest["tables"]})
        self.as_of = self.end = dt.date.fromisoformat(snapshot.manifest["arguments"]["as_of"])
        self.label = f"snapshot {snapshot.path}"

    def frame(self, sql: str) -> pl.DataFrame:
        return _floats(self.ctx.execute(sql).collect(engine="streaming"))

    def validation_source(self) -> V.Source:
        return V.SnapshotSource(self.snapshot)

    def row_counts(self) -> dict[str, int]:
        return {name: entry["rows"] for name, entry in self.snapshot.manifest["tables"].items()}

    def info(self) -> list[tuple[str, str]]:
        m = self.snapshot.manifest
        args = m.get("arguments", {})
        out = [("source", f"snapshot {self.snapshot.path}"), ("schema profile", str(m.get("schema"))),
               ("generator", str(m.get("generator", "?"))), ("seed", str(m.get("seed")))]
        out += [(k.replace("_", " "), str(v)) for k, v in args.items()]
        return out


class DatabaseData(ReportSource):
    def __init__(self, conn, dsn_label: str, as_of: dt.date | None = None):
        self.conn = conn
        self.validation = V.DatabaseSource(conn, as_of)  # sets the session time zone to UTC
        self.as_of = self.validation.as_of
        self.label = f"database {dsn_label}"
        if conn.execute("SELECT to_regclass('public.batch_batch')").fetchone()[0] is None:
            raise AquagenError(f"the database {dsn_label} has no AquaMind schema (table batch_batch is missing)")
        if as_of is None:  # the charts end with the data, not with today
            last = conn.execute(f"SELECT MAX(CAST(history_date AS DATE)) FROM {HBCA}").fetchone()[0]
            self.end = min(last, self.as_of) if last else self.as_of
        else:
            self.end = as_of

    def frame(self, sql: str) -> pl.DataFrame:
        cur = self.conn.execute(sql)
        cols = [d.name for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            return pl.DataFrame(schema={c: pl.Null for c in cols})
        return _floats(pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None))

    def validation_source(self) -> V.Source:
        return self.validation

    def row_counts(self) -> dict[str, int]:
        out = {}
        for name in schemas.tables():
            if self.conn.execute("SELECT to_regclass(%s)", (f"public.{name}",)).fetchone()[0] is not None:
                out[name] = self.conn.execute(f"SELECT COUNT(*) FROM public.{name}").fetchone()[0]
        return out

    def info(self) -> list[tuple[str, str]]:
        out = [("source", self.label), ("as of (validation)", self.as_of.isoformat()),
               ("charts up to", self.end.isoformat())]
        if self.conn.execute("SELECT to_regclass('public.aquagen_load_log')").fetchone()[0] is not None:
            for snap, seed, at in self.conn.execute(
                    "SELECT snapshot, seed, loaded_at FROM public.aquagen_load_log ORDER BY loaded_at").fetchall():
                out.append(("loaded snapshot", f"{snap} (seed {seed}, loaded {at:%Y-%m-%d %H:%M} UTC)"))
        return out


# --- queries ---------------------------------------------------------------------------------------------

def _last_of_day(history: str, where: str = "") -> str:
    """SQL: the history_id of each object's last history row of each day (latest history_date, then the highest
    history_id: several updates may share a timestamp)."""
    w = f" WHERE {where}" if where else ""
    return (f"(SELECT x.id, MAX(x.history_id) AS hid FROM {history} x JOIN (SELECT id, MAX(history_date) AS hd "
            f"FROM {history}{w} GROUP BY id, CAST(history_date AS DATE)) m ON m.id = x.id AND m.hd = x.history_date "
            "GROUP BY x.id, x.history_date)")


def batches(src: ReportSource) -> pl.DataFrame:
    """One row per batch, by start date: number, status, stage, geography, station, sea area, eggs."""
    b = src.frame(
        "SELECT b.id AS batch_id, b.batch_number, b.status, b.start_date, b.actual_end_date, s.name AS stage "
        "FROM batch_batch b LEFT JOIN batch_lifecyclestage s ON s.id = b.lifecycle_stage_id")
    if b.height == 0:
        return b
    sites = src.frame(
        f"SELECT a.batch_id, MIN(g.name) AS geography, MIN(st.name) AS station, MIN(ar.name) AS sea_area "
        f"FROM {BCA} a JOIN infrastructure_container c ON c.id = a.container_id JOIN {GEO} x "
        "ON x.container_id = a.container_id JOIN infrastructure_geography g ON g.id = x.geography_id "
        "LEFT JOIN infrastructure_hall h ON h.id = c.hall_id "
        "LEFT JOIN infrastructure_freshwaterstation st ON st.id = h.freshwater_station_id "
        "LEFT JOIN infrastructure_area ar ON ar.id = c.area_id GROUP BY a.batch_id")
    eggs = src.frame(
        f"SELECT h.batch_id, SUM(CAST(h.population_count AS BIGINT)) AS eggs FROM {HBCA} h "
        "JOIN batch_batch b ON b.id = h.batch_id WHERE h.history_type = '+' AND h.assignment_date = b.start_date "
        "GROUP BY h.batch_id")
    for extra in (sites, eggs):
        if extra.height:
            b = b.join(extra, on="batch_id", how="left")
    for col, dtype in (("geography", pl.String), ("station", pl.String), ("sea_area", pl.String), ("eggs", pl.Int64)):
        if col not in b.columns:
            b = b.with_columns(pl.lit(None, dtype).alias(col))
    return b.sort("start_date", "batch_id")


def pick(b: pl.DataFrame, n: int = MAX_BATCHES) -> pl.DataFrame:
    """At most ``n`` batches, evenly spread over the start dates (all when there are fewer)."""
    if b.height <= n:
        return b
    idx = sorted(set(np.linspace(0, b.height - 1, n).round().astype(int).tolist()))
    return b[idx]


def growth(src: ReportSource, ids) -> pl.DataFrame:
    """Per batch and day: population, biomass and mean weight over the assignments live at day's end
    (each assignment's last history row of the day)."""
    where = f"batch_id IN ({_ids(ids)})"
    df = src.frame(
        "SELECT h.batch_id, CAST(h.history_date AS DATE) AS day, "
        "SUM(CAST(h.population_count AS BIGINT)) AS population, "
        f"SUM(h.biomass_kg) AS biomass_kg FROM {HBCA} h JOIN {_last_of_day(HBCA, where)} k ON k.hid = h.history_id "
        f"WHERE h.is_active AND h.history_type <> '-' "
        "GROUP BY h.batch_id, CAST(h.history_date AS DATE)")
    if df.height == 0:
        return df
    return df.with_columns(
        (pl.col("biomass_kg") * 1000 / pl.col("population")).alias("avg_weight_g")).sort("batch_id", "day")


def stage_spans(src: ReportSource, ids) -> pl.DataFrame:
    """Per batch and stage: first assignment date and last day (departure, or the charts' end)."""
    return src.frame(
        f"SELECT a.batch_id, s.\"order\" AS stage_order, s.name AS stage, MIN(a.assignment_date) AS start, "
        f"MAX(COALESCE(a.departure_date, {_date(src.end)})) AS stop FROM {BCA} a "
        "JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        f"WHERE a.batch_id IN ({_ids(ids)}) GROUP BY a.batch_id, s.\"order\", s.name")


def mortality(src: ReportSource, ids) -> pl.DataFrame:
    df = src.frame(
        "SELECT batch_id, event_date AS day, SUM(CAST(count AS BIGINT)) AS deaths FROM batch_mortalityevent "
        f"WHERE batch_id IN ({_ids(ids)}) GROUP BY batch_id, event_date")
    if df.height == 0:
        return df
    return df.sort("batch_id", "day").with_columns(pl.col("deaths").cum_sum().over("batch_id").alias("cumulative"))


def feed_by_stage(src: ReportSource) -> pl.DataFrame:
    """Per stage and geography: feed (kg), biomass gain (kg: each assignment's last minus first biomass) and FCR."""
    feed = src.frame(
        "SELECT s.\"order\" AS stage_order, s.name AS stage, g.name AS geography, SUM(f.amount_kg) AS feed_kg "
        f"FROM inventory_feedingevent f JOIN {BCA} a ON a.id = f.batch_assignment_id "
        f"JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id JOIN {GEO} x ON x.container_id = a.container_id "
        "JOIN infrastructure_geography g ON g.id = x.geography_id GROUP BY s.\"order\", s.name, g.name")
    gain = src.frame(
        "SELECT s.\"order\" AS stage_order, s.name AS stage, g.name AS geography, "
        f"SUM(a.biomass_kg - p.biomass_kg) AS gain_kg FROM {BCA} a JOIN (SELECT id, biomass_kg FROM {HBCA} "
        "WHERE history_type = '+') p ON p.id = a.id JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        f"JOIN {GEO} x ON x.container_id = a.container_id JOIN infrastructure_geography g ON g.id = x.geography_id "
        "GROUP BY s.\"order\", s.name, g.name")
    if gain.height == 0:
        return gain
    keys = ["stage_order", "stage", "geography"]
    df = gain.join(feed, on=keys, how="left") if feed.height else gain.with_columns(pl.lit(0.0).alias("feed_kg"))
    df = df.with_columns(pl.col("feed_kg").fill_null(0.0))
    return df.with_columns(
        pl.when((pl.col("gain_kg") > 0) & (pl.col("feed_kg") > 0)).then(pl.col("feed_kg") / pl.col("gain_kg"))
        .otherwise(None).alias("fcr")).sort("stage_order", "geography")


def temperature(src: ReportSource) -> pl.DataFrame:
    """Daily mean temperature per geography and environment (freshwater halls / sea areas), from the readings,
    aggregated in the query (first per container and day, then per geography and day)."""
    return src.frame(
        "SELECT g.name AS geography, x.env, r.day, SUM(r.total) / SUM(r.n) AS mean, SUM(r.n) AS readings FROM "
        "(SELECT container_id, CAST(reading_time AS DATE) AS day, SUM(value) AS total, COUNT(*) AS n "
        "FROM environmental_environmentalreading WHERE parameter_id IN "
        "(SELECT id FROM environmental_environmentalparameter WHERE name = 'Temperature') "
        "GROUP BY container_id, CAST(reading_time AS DATE)) r "
        f"JOIN {GEO} x ON x.container_id = r.container_id JOIN infrastructure_geography g ON g.id = x.geography_id "
        "GROUP BY g.name, x.env, r.day")


def feed_containers(src: ReportSource) -> pl.DataFrame:
    """Every feed container with its number of stock changes (history rows) and whether fish used its site."""
    fcs = src.frame(
        "SELECT fc.id AS feed_container_id, fc.name, fc.container_type, fc.capacity_kg, fc.hall_id, fc.area_id, "
        "COALESCE(n.changes, 0) AS changes FROM infrastructure_feedcontainer fc "
        f"LEFT JOIN (SELECT feed_container_id, COUNT(*) AS changes FROM {HSTOCK} GROUP BY feed_container_id) n "
        "ON n.feed_container_id = fc.id")
    if fcs.height == 0:
        return fcs
    used = src.frame(f"SELECT DISTINCT c.hall_id, c.area_id FROM {BCA} a "
                     "JOIN infrastructure_container c ON c.id = a.container_id")
    halls = set(used["hall_id"].drop_nulls().to_list()) if used.height else set()
    areas = set(used["area_id"].drop_nulls().to_list()) if used.height else set()
    return fcs.with_columns((pl.col("hall_id").is_in(list(halls)) | pl.col("area_id").is_in(list(areas)))
                            .fill_null(False).cast(pl.Int8).alias("used"))


def stock_lot_days(src: ReportSource) -> pl.DataFrame:
    """Each stock lot's quantity at the end of every day it changed (0 once deleted); lots without history
    count from their entry date with their current quantity."""
    hist = src.frame(
        "SELECT h.id AS lot_id, h.feed_container_id, CAST(h.history_date AS DATE) AS day, "
        "CASE WHEN h.history_type = '-' THEN 0 ELSE h.quantity_kg END AS quantity_kg "
        f"FROM {HSTOCK} h JOIN {_last_of_day(HSTOCK)} k ON k.hid = h.history_id")
    base = src.frame(
        "SELECT s.id AS lot_id, s.feed_container_id, CAST(s.entry_date AS DATE) AS day, s.quantity_kg "
        f"FROM inventory_feedcontainerstock s LEFT JOIN (SELECT DISTINCT id FROM {HSTOCK}) h ON h.id = s.id "
        "WHERE h.id IS NULL")
    parts = [p.cast({"lot_id": pl.Int64, "feed_container_id": pl.Int64, "day": pl.Date, "quantity_kg": pl.Float64})
             for p in (hist, base) if p.height]
    if not parts:
        return pl.DataFrame(schema={"lot_id": pl.Int64, "feed_container_id": pl.Int64, "day": pl.Date,
                                    "quantity_kg": pl.Float64})
    return pl.concat(parts).unique(["lot_id", "day"], keep="last", maintain_order=True).sort("lot_id", "day")


def stock_levels(lots: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Stock per ``keys`` and day (a step series) from the lots' end-of-day quantities."""
    if lots.height == 0:
        return pl.DataFrame(schema={**{k: lots.schema[k] for k in keys}, "day": pl.Date, "stock_kg": pl.Float64})
    delta = lots.with_columns((pl.col("quantity_kg") - pl.col("quantity_kg").shift(1, fill_value=0.0)
                               .over("lot_id")).alias("delta"))
    return (delta.group_by([*keys, "day"]).agg(pl.col("delta").sum()).sort([*keys, "day"])
            .with_columns(pl.col("delta").cum_sum().over(keys).alias("stock_kg")).drop("delta"))


def purchases(src: ReportSource) -> pl.DataFrame:
    """Each purchase with the feed container its (first) stock lot went into."""
    return src.frame(
        "SELECT p.id AS purchase_id, p.purchase_date AS day, p.quantity_kg, "
        "MIN(s.feed_container_id) AS feed_container_id "
        "FROM inventory_feedpurchase p LEFT JOIN inventory_feedcontainerstock s ON s.feed_purchase_id = p.id "
        "GROUP BY p.id, p.purchase_date, p.quantity_kg")


def occupancy(src: ReportSource) -> pl.DataFrame:
    """Per batch and site (hall or sea area): first assignment date and last day there."""
    occ = src.frame(
        "SELECT a.batch_id, c.hall_id, c.area_id, MIN(a.assignment_date) AS start, "
        f"MAX(COALESCE(a.departure_date, {_date(src.end)})) AS stop FROM {BCA} a "
        "JOIN infrastructure_container c ON c.id = a.container_id GROUP BY a.batch_id, c.hall_id, c.area_id")
    if occ.height == 0:
        return occ
    halls = src.frame(
        "SELECT h.id AS hall_id, h.name AS site, g.name AS geography, st.name AS station FROM infrastructure_hall h "
        "JOIN infrastructure_freshwaterstation st ON st.id = h.freshwater_station_id "
        "JOIN infrastructure_geography g ON g.id = st.geography_id")
    areas = src.frame(
        "SELECT a.id AS area_id, a.name AS site, g.name AS geography FROM infrastructure_area a "
        "JOIN infrastructure_geography g ON g.id = a.geography_id")
    h = occ.filter(pl.col("hall_id").is_not_null()).join(halls, on="hall_id", how="left").with_columns(
        pl.lit(0).alias("kind"))
    a = occ.filter(pl.col("hall_id").is_null()).join(areas, on="area_id", how="left").with_columns(
        pl.col("site").alias("station"), pl.lit(1).alias("kind"))
    cols = ["batch_id", "site", "geography", "station", "kind", "start", "stop"]
    return pl.concat([h.select(cols), a.select(cols)])


# --- charts ----------------------------------------------------------------------------------------------

def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=DPI, layout="constrained")


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})  # no version stamp: same input, same bytes


def _empty(path: Path, title: str, message: str) -> None:
    fig = _figure(8, 2.5)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#666", transform=ax.transAxes)
    _save(fig, path)


def _grid(n: int, w: float = 4.6, h: float = 3.0):
    cols = min(n, 4 if n > 6 else 3)
    rows = -(-n // cols)
    fig = _figure(w * cols, h * rows + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def _date_axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _stage_bands(ax, spans: pl.DataFrame, batch_id: int) -> None:
    s = spans.filter(pl.col("batch_id") == batch_id).sort("stage_order")
    starts, stops, orders = s["start"].to_list(), s["stop"].to_list(), s["stage_order"].to_list()
    for i, (start, order) in enumerate(zip(starts, orders)):
        end = starts[i + 1] if i + 1 < len(starts) else stops[i]
        ax.axvspan(start, end, color=STAGE_COLORS.get(order, "#eee"), zorder=0, lw=0)


def _stage_legend(fig, spans: pl.DataFrame) -> None:
    from matplotlib.patches import Patch

    names = spans.select("stage_order", "stage").unique().sort("stage_order")
    fig.legend([Patch(color=STAGE_COLORS.get(o, "#eee")) for o in names["stage_order"]], names["stage"].to_list(),
               loc="outside lower center", ncols=len(names), frameon=False, title="lifecycle stage (background)")


def _title(row: dict) -> str:
    geo = f" · {row['geography']}" if row.get("geography") else ""
    return f"{row['batch_number']}{geo}"


def chart_growth(path: Path, shown: pl.DataFrame, g: pl.DataFrame, spans: pl.DataFrame) -> str:
    title = "Average weight by day"
    if g.height == 0:
        _empty(path, title, "no assignment history: no batches")
        return "No batches."
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    weights = g["avg_weight_g"].drop_nulls()
    lo = min(0.1, float(weights.min()) / 1.5) if weights.len() else 0.1
    hi = max(10_000.0, float(weights.max()) * 1.5) if weights.len() else 10_000.0
    fig, axes = _grid(shown.height)
    for ax, row in zip(axes, shown.iter_rows(named=True)):
        d = g.filter(pl.col("batch_id") == row["batch_id"])
        _stage_bands(ax, spans, row["batch_id"])
        ax.plot(d["day"].to_list(), d["avg_weight_g"].to_list(), color="#08306b", lw=1.4)
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)  # one scale for every batch, so that panels compare
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_minor_locator(NullLocator())  # (minor log ticks cost most of the drawing time)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _grams(v)))
        ax.set_title(_title(row), fontsize=10)
        ax.set_ylabel("mean weight (log scale)")
        ax.grid(True, which="major", axis="y", alpha=0.3)
        if d.height:
            last = d.row(-1, named=True)
            ax.annotate(_grams(last["avg_weight_g"]), (last["day"], last["avg_weight_g"]), fontsize=8,
                        xytext=(-4, 5), textcoords="offset points", ha="right",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
        _date_axis(ax)
    fig.suptitle(title + " (batch biomass / population, end of day)")
    _stage_legend(fig, spans)
    _save(fig, path)
    return ("Mean weight of each batch by day: the batch's biomass over its population at the end of each day "
            "(each live assignment's last history row of the day), on a log scale, with the lifecycle stages "
            "as background bands (a band starts with the stage's first assignment); one scale for all panels. "
            "The label is the latest weight.")


def _grams(w: float) -> str:
    return f"{w / 1000:.3g} kg" if w >= 1000 else f"{w:.3g} g"


def chart_population(path: Path, shown: pl.DataFrame, g: pl.DataFrame, spans: pl.DataFrame) -> str:
    title = "Population and biomass by day"
    if g.height == 0:
        _empty(path, title, "no assignment history: no batches")
        return "No batches."
    fig, axes = _grid(shown.height)
    for ax, row in zip(axes, shown.iter_rows(named=True)):
        d = g.filter(pl.col("batch_id") == row["batch_id"])
        _stage_bands(ax, spans, row["batch_id"])
        days = d["day"].to_list()
        ax.plot(days, (d["population"] / 1e6).to_list(), color="#08519c", lw=1.4, label="population")
        ax.set_ylabel("population (millions)", color="#08519c")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(days, (d["biomass_kg"] / 1000).to_list(), color="#d94801", lw=1.4, label="biomass")
        ax2.set_ylabel("biomass (t)", color="#d94801")
        ax2.set_ylim(bottom=0)
        ax.set_title(_title(row), fontsize=10)
        _date_axis(ax)
    fig.suptitle(title + " (blue: population, millions; orange: biomass, tonnes)")
    _stage_legend(fig, spans)
    _save(fig, path)
    return ("Population (blue, millions) and biomass (orange, tonnes) of each batch by day: sums over the "
            "batch's live assignments at the end of each day. Population falls with daily mortality, "
            "transfer losses and harvest; biomass grows with the fish and drops to zero with the harvest.")


def chart_mortality(path: Path, shown: pl.DataFrame, m: pl.DataFrame, spans: pl.DataFrame) -> str:
    title = "Cumulative mortality"
    if m.height == 0:
        _empty(path, title, "no mortality events")
        return "No mortality events."
    fig = _figure(11, 5.5)
    ax = fig.add_subplot()
    import matplotlib as mpl

    cmap = mpl.colormaps["tab20" if shown.height > 10 else "tab10"]
    for i, row in enumerate(shown.iter_rows(named=True)):
        d = m.filter(pl.col("batch_id") == row["batch_id"])
        if d.height == 0:
            continue
        x = [(day - row["start_date"]).days for day in d["day"].to_list()]
        eggs = row.get("eggs")
        y = (d["cumulative"] / eggs * 100).to_list() if eggs else d["cumulative"].to_list()
        ax.step(x, y, where="post", color=cmap(i % cmap.N), lw=1.3,
                label=f"{row['batch_number']} ({y[-1]:.1f}{' %' if eggs else ''})")
    if spans.height:  # where the stages start, in days since the start (median over the batches shown)
        starts = shown.select("batch_id", pl.col("start_date").alias("b0"))
        offsets = (spans.join(starts, on="batch_id").with_columns(((pl.col("start") - pl.col("b0")).dt.total_days())
                   .alias("offset")).group_by("stage_order", "stage").agg(pl.col("offset").median())
                   .sort("stage_order"))
        for r in offsets.iter_rows(named=True):
            ax.axvline(r["offset"], color="#999", ls=":", lw=1)
            ax.annotate(r["stage"], (r["offset"], 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                        textcoords="offset points", va="top", fontsize=8, color="#555", rotation=90)
    ax.set_xlabel("days since the batch started (dotted: stage starts)")
    ax.set_ylabel("cumulative deaths (% of eggs)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, ncols=2 if shown.height > 6 else 1, loc="lower right", title="batch (latest)")
    ax.set_title(title + " (batch_mortalityevent)")
    _save(fig, path)
    return ("Cumulative deaths of each batch from its daily mortality events, as a percentage of the eggs it "
            "started with, against days since the batch started (transfer handling losses and harvest are not "
            "deaths and are not included).")


def chart_feed(path: Path, f: pl.DataFrame) -> str:
    title = "Feed and FCR per stage"
    if f.height == 0:
        _empty(path, title, "no assignments")
        return "No assignments."
    stages = f.select("stage_order", "stage").unique().sort("stage_order")
    geos = sorted(f["geography"].unique().to_list())
    fig = _figure(14, 4.8)
    ax, ax2 = fig.subplots(1, 2)
    width = 0.8 / max(len(geos), 1)
    x0 = np.arange(stages.height)
    for j, geo in enumerate(geos):
        d = stages.join(f.filter(pl.col("geography") == geo), on=["stage_order", "stage"], how="left")
        x = x0 - 0.4 + width * (j + 0.5)
        color = GEO_COLORS[j % len(GEO_COLORS)]
        tonnes = (d["feed_kg"].fill_null(0) / 1000).to_list()
        ax.bar(x, tonnes, width * 0.92, color=color, alpha=0.75, label=geo)
        for xi, v in zip(x, tonnes):
            if v > 0:
                ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.2g}", (xi, v), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)
        fcr = [np.nan if v is None else v for v in d["fcr"].to_list()]
        ax2.bar(x, fcr, width * 0.92, color=color, alpha=0.75, label=geo)
        for xi, v in zip(x, fcr):
            if not np.isnan(v):
                ax2.annotate(f"{v:.2f}", (xi, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    for a in (ax, ax2):
        a.set_xticks(x0, stages["stage"].to_list())
        a.grid(True, axis="y", alpha=0.3)
        a.legend(fontsize=8, loc="upper left")
    if f["feed_kg"].max() and f["feed_kg"].max() > 0:
        ax.set_yscale("log")
    ax.set_ylabel("feed (t, log scale)")
    ax.set_title("Feed given per stage (t)", fontsize=10)
    top = f["fcr"].drop_nulls()
    ax2.set_ylim(0, max(1.5, float(top.max()) * 1.2) if top.len() else 1.5)
    ax2.set_ylabel("FCR = feed / biomass gain")
    ax2.set_title("FCR per stage", fontsize=10)
    fig.suptitle(title + " (all batches, by geography)")
    _save(fig, path)
    return ("Left: feed given per lifecycle stage and geography (tonnes, log scale: the feeding events of the "
            "stage's assignments). Right: the stage's FCR, feed over biomass gain, the gain being each "
            "assignment's final (or current) biomass minus its biomass when it opened, so fish lost to mortality "
            "count as feed without gain (economic FCR). Egg&Alevin is not fed.")


def chart_temperature(path: Path, t: pl.DataFrame) -> str:
    title = "Temperature by geography through the year"
    if t.height == 0:
        _empty(path, title, "no temperature readings")
        return "No temperature readings."
    t = t.with_columns(pl.col("day").dt.ordinal_day().alias("doy"))
    by = (t.group_by("geography", "env", "doy").agg(pl.col("mean").mean().alias("mean"),
                                                    pl.col("mean").min().alias("lo"), pl.col("mean").max().alias("hi"))
          .sort("geography", "env", "doy"))
    fig = _figure(11, 5)
    ax = fig.add_subplot()
    for j, geo in enumerate(sorted(by["geography"].unique().to_list())):
        color = GEO_COLORS[j % len(GEO_COLORS)]
        for env, style in (("sea", "-"), ("freshwater", "--")):
            d = by.filter((pl.col("geography") == geo) & (pl.col("env") == env))
            if d.height == 0:
                continue
            ax.fill_between(d["doy"].to_list(), d["lo"].to_list(), d["hi"].to_list(), color=color, alpha=0.12, lw=0)
            ax.plot(d["doy"].to_list(), d["mean"].to_list(), style, color=color, lw=1.3,
                    label=f"{geo}, {'sea areas' if env == 'sea' else 'freshwater halls'}")
    starts = [dt.date(2001, m, 1).timetuple().tm_yday for m in range(1, 13)]
    ax.set_xticks(starts, [dt.date(2001, m, 1).strftime("%b") for m in range(1, 13)])
    ax.set_xlim(1, 366)
    ax.set_ylabel("°C")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title)
    _save(fig, path)
    years = t["day"].dt.year().unique().sort().to_list()
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
    return (f"Daily mean water temperature by day of the year ({int(t['readings'].sum()):,} Temperature readings, "
            f"{span}), per geography: sea areas (solid) and freshwater halls (dashed). The line is the mean over the "
            "years of each day's mean; the shaded band spans the years' daily means (coldest to warmest).")


def chart_feed_stock(path: Path, fcs: pl.DataFrame, lots: pl.DataFrame, buys: pl.DataFrame, end: dt.date) -> str:
    title = "Feed stock and purchases"
    if fcs.height == 0:
        _empty(path, title, "no feed containers")
        return "No feed containers."
    types = fcs.select("feed_container_id", "container_type", "name", "capacity_kg")
    lots = lots.join(types.select("feed_container_id", "container_type"), on="feed_container_id", how="left")
    fleet = stock_levels(lots, ["container_type"])
    buys = buys.join(types.select("feed_container_id", "container_type"), on="feed_container_id", how="left")
    chosen = _representative(fcs)
    per = stock_levels(lots.filter(pl.col("feed_container_id").is_in(chosen["feed_container_id"].to_list())),
                       ["feed_container_id"])

    fig = _figure(14, 4.2 + 3.2 * (-(-chosen.height // 3)))
    rows = 2 + (-(-chosen.height // 3))
    gs = fig.add_gridspec(rows, 3, height_ratios=[1.2, 0.8] + [1.0] * (rows - 2))
    ax = fig.add_subplot(gs[0, :])
    for ctype in sorted(fleet["container_type"].unique().to_list()):
        d = fleet.filter(pl.col("container_type") == ctype)
        x, y = _extend(d["day"].to_list(), (d["stock_kg"] / 1000).to_list(), end)
        ax.step(x, y, where="post", color=TYPE_COLORS.get(ctype, "#555"), lw=1.5,
                label=f"{ctype} ({types.filter(pl.col('container_type') == ctype).height} containers)")
    ax.set_ylabel("stock (t)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    ax.set_title("Fleet feed stock by container type (sum of all stock lots)", fontsize=10)
    _date_axis(ax)
    axp = fig.add_subplot(gs[1, :], sharex=ax)
    if buys.height:
        monthly = (buys.with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
                   .group_by("container_type", "month").agg(pl.col("quantity_kg").sum(), pl.len().alias("n"))
                   .sort("month"))
        bottom: dict = {}
        for ctype in sorted(monthly["container_type"].drop_nulls().unique().to_list()):
            d = monthly.filter(pl.col("container_type") == ctype)
            months = d["month"].to_list()
            tonnes = (d["quantity_kg"] / 1000).to_list()
            axp.bar(months, tonnes, width=25, align="edge", bottom=[bottom.get(m, 0) for m in months],
                    color=TYPE_COLORS.get(ctype, "#555"), alpha=0.8, label=f"{ctype}: {int(d['n'].sum())} purchases")
            for m, v in zip(months, tonnes):
                bottom[m] = bottom.get(m, 0) + v
        axp.legend(fontsize=8, loc="upper left")
    axp.set_ylabel("purchased (t/month)")
    axp.grid(True, alpha=0.3)
    axp.set_title("Feed purchases per month", fontsize=10)
    _date_axis(axp)
    for i, row in enumerate(chosen.iter_rows(named=True)):
        a = fig.add_subplot(gs[2 + i // 3, i % 3], sharex=ax)
        d = per.filter(pl.col("feed_container_id") == row["feed_container_id"])
        x, y = _extend(d["day"].to_list(), (d["stock_kg"] / 1000).to_list(), end)
        color = TYPE_COLORS.get(row["container_type"], "#555")
        a.step(x, y, where="post", color=color, lw=1.1)
        a.fill_between(x, y, step="post", color=color, alpha=0.15)
        cap = (row["capacity_kg"] or 0) / 1000
        if cap and y and max(y) >= 0.25 * cap:  # else the capacity line would flatten the curve
            a.axhline(cap, color="#999", ls=":", lw=1)
        b = buys.filter(pl.col("feed_container_id") == row["feed_container_id"])
        if b.height:
            a.plot(b["day"].to_list(), (b["quantity_kg"] / 1000).to_list(), "v", color="black", ms=4,
                   label=f"{b.height} purchases (t)")
            a.legend(fontsize=7, loc="upper left")
        a.set_ylim(bottom=0)
        cap_t = f" · capacity {cap:,.0f} t" if cap else ""
        a.set_title(f"{row['name']}{cap_t}\n{row['changes']:,} stock changes", fontsize=9)
        a.set_ylabel("stock (t)")
        _date_axis(a)
    fig.suptitle(title)
    _save(fig, path)
    return (f"Top: the fleet's feed stock by feed container type (sum over all stock lots, from the stock lots' "
            f"history: each lot's quantity at the end of every day it changed). Middle: purchases per month. "
            f"Bottom: {chosen.height} representative feed containers (those with the most stock changes, silos and "
            "barges; triangles: purchases delivered into the container; dotted line: its capacity, when the stock "
            "comes near it).")


def _extend(x: list, y: list, end: dt.date) -> tuple[list, list]:
    """A step series carried to ``end`` (the last level holds until the charts' last day)."""
    if x and x[-1] < end:
        return x + [end], y + [y[-1]]
    return x, y


def _representative(fcs: pl.DataFrame) -> pl.DataFrame:
    ranked = fcs.sort(["changes", "used", "feed_container_id"], descending=[True, True, False])
    half = MAX_FEED_CONTAINERS // 2
    picked = pl.concat([ranked.filter(pl.col("container_type") == t).head(half) for t in ("SILO", "BARGE")])
    if picked.height < MAX_FEED_CONTAINERS:
        rest = ranked.filter(~pl.col("feed_container_id").is_in(picked["feed_container_id"].to_list()))
        picked = pl.concat([picked, rest.head(MAX_FEED_CONTAINERS - picked.height)])
    return picked


def chart_occupancy(path: Path, occ: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> str:
    title = "Hall and sea-area occupancy"
    if occ.height == 0:
        _empty(path, title, "no assignments")
        return "No assignments."
    import matplotlib as mpl
    import matplotlib.dates as mdates

    sites = (occ.select("geography", "kind", "station", "site").unique()
             .sort("geography", "kind", "station", "site", descending=[True, False, False, False]))
    row_of = {s: i for i, s in enumerate(sites["site"].to_list())}
    n = len(row_of)
    per_row = 0.26 if n <= 40 else 0.16
    fig = _figure(14, min(2.0 + per_row * n, 40))
    ax = fig.add_subplot()
    order = {bid: i for i, bid in enumerate(b["batch_id"].to_list())}
    number = dict(zip(b["batch_id"].to_list(), b["batch_number"].to_list()))
    cmap = mpl.colormaps["tab20"]  # dark shades for 10 batches in a row, then the light ones
    fs = 7 if n <= 40 else 5
    for r in occ.iter_rows(named=True):
        y = row_of[r["site"]]
        start = mdates.date2num(r["start"])
        width = max(mdates.date2num(r["stop"]) - start, 1)
        i = order.get(r["batch_id"], 0)
        color = cmap((2 * i) % 20 + (i // 10) % 2)
        ax.barh(y, width, left=start, height=0.8, color=color, edgecolor="black", lw=0.3)
        if r["kind"] == 1 or n <= 40:
            ax.text(start + width / 2, y, number.get(r["batch_id"], str(r["batch_id"])), ha="center",
                    va="center", fontsize=fs, clip_on=True)
    ax.set_yticks(range(n), sites["site"].to_list(), fontsize=fs + 1)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(mdates.date2num(end), color="red", ls="--", lw=1)
    ax.xaxis_date()
    _date_axis(ax)
    ax.grid(True, axis="x", alpha=0.3)
    for geo, grp in sites.with_row_index().group_by("geography", maintain_order=True):
        first = int(grp["index"].min())
        if first:
            ax.axhline(first - 0.5, color="black", lw=0.8)
        ax.annotate(geo[0], (1.0, first - 0.45), xycoords=("axes fraction", "data"), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="top", fontsize=9, fontweight="bold",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="black", lw=0.5))
    ax.set_title(f"{title}: {n} sites used, {occ['batch_id'].n_unique()} batches (red line: {end.isoformat()})")
    _save(fig, path)
    return ("Which batch occupies each freshwater hall and sea area over time, across the whole fleet (all batches): "
            "a bar runs from the batch's first assignment in the site to its last departure (open assignments to "
            "the red line). Bars in one row never overlap (invariant 2). Only sites used by some batch are listed, "
            "grouped by geography: halls by station, then sea areas.")


# --- page ------------------------------------------------------------------------------------------------

@dataclass
class Chart:
    file: str
    title: str
    caption: str


@dataclass
class Report:
    path: Path
    charts: list[Chart]
    results: list  # validate.Result
    batches: int
    shown_batches: int
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)


CHART_FILES = ("growth.png", "population_biomass.png", "mortality.png", "feed_fcr.png", "temperature.png",
               "feed_stock.png", "occupancy.png")


def build(src: ReportSource, out: Path) -> Report:
    """Write ``out`` (the HTML page) and its PNG charts beside it."""
    out = Path(out)
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AquagenError(f"cannot create the report folder {folder}: {e.strerror}") from None
    b = batches(src)
    shown = pick(b)
    ids = shown["batch_id"].to_list() if b.height else []
    g = growth(src, ids)
    spans = stage_spans(src, ids)
    charts = []

    def add(file: str, title: str, caption: str) -> None:
        charts.append(Chart(file, title, caption))

    add("growth.png", "Growth", chart_growth(folder / "growth.png", shown, g, spans))
    add("population_biomass.png", "Population and biomass",
        chart_population(folder / "population_biomass.png", shown, g, spans))
    add("mortality.png", "Cumulative mortality",
        chart_mortality(folder / "mortality.png", shown, mortality(src, ids), spans))
    add("feed_fcr.png", "Feed and FCR per stage", chart_feed(folder / "feed_fcr.png", feed_by_stage(src)))
    add("temperature.png", "Temperature by geography", chart_temperature(folder / "temperature.png", temperature(src)))
    add("feed_stock.png", "Feed stock and purchases",
        chart_feed_stock(folder / "feed_stock.png", feed_containers(src), stock_lot_days(src), purchases(src), src.end))
    add("occupancy.png", "Occupancy (Gantt)", chart_occupancy(folder / "occupancy.png", occupancy(src), b, src.end))
    results = V.run(src.validation_source())
    counts = src.row_counts()
    rep = Report(out, charts, results, b.height, shown.height, counts)
    out.write_text(_html(src, rep, b, shown), encoding="utf-8")
    return rep


def _esc(v) -> str:
    return html.escape("" if v is None else str(v))


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 1400px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; } th, td { padding: 0.25em 0.7em; text-align: left; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
tr.ok td.status { background: #d9f2d9; color: #14631c; font-weight: bold; }
tr.fail td { background: #fde2e1 !important; } tr.fail td.status { color: #a50f15; font-weight: bold; }
.summary { font-size: 1.1em; padding: 0.5em 0.8em; display: inline-block; border-radius: 4px; }
.summary.ok { background: #d9f2d9; } .summary.fail { background: #fde2e1; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; max-width: 1100px; margin-top: 0.4em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; } dt { font-weight: bold; }
.note { background: #fff7dc; padding: 0.4em 0.8em; display: inline-block; }
"""


def _html(src: ReportSource, rep: Report, b: pl.DataFrame, shown: pl.DataFrame) -> str:
    passed = len(rep.results) - rep.failed
    p = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>aquagen report</title>"
         f"<style>{CSS}</style></head><body>",
         f"<h1>aquagen report</h1><p>{_esc(src.label)}</p>"]
    cls = "ok" if rep.failed == 0 else "fail"
    p.append(f"<p><a href='#validation' class='summary {cls}'>validation: {len(rep.results)} checks, "
             f"{passed} passed, {rep.failed} failed</a></p>")
    p.append("<h2>Source</h2><dl>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in src.info())
             + f"<dt>batches found</dt><dd>{rep.batches}</dd>"
             + f"<dt>rows</dt><dd>{sum(rep.row_counts.values()):,}</dd></dl>")
    p.append("<h2>Batches</h2>")
    if b.height:
        cols = [("batch_number", "batch"), ("status", "status"), ("stage", "stage"), ("geography", "geography"),
                ("station", "station"), ("sea_area", "sea area"), ("start_date", "start"),
                ("actual_end_date", "end"), ("eggs", "eggs")]
        shown_ids = set(shown["batch_id"].to_list())
        p.append("<table><tr>" + "".join(f"<th>{h}</th>" for _, h in cols) + "<th>charted</th></tr>")
        for r in b.iter_rows(named=True):
            cells = "".join(f"<td class='n'>{r[c]:,}</td>" if c == "eggs" and r[c] is not None
                            else f"<td>{_esc(r[c])}</td>" for c, _ in cols)
            p.append(f"<tr>{cells}<td>{'yes' if r['batch_id'] in shown_ids else ''}</td></tr>")
        p.append("</table>")
    else:
        p.append("<p>No batches (infrastructure and master data only).</p>")
    p.append("<h2>Charts</h2>")
    if rep.batches > rep.shown_batches:
        p.append(f"<p class='note'>Per-batch charts (growth, population and biomass, mortality) show "
                 f"{rep.shown_batches} of the {rep.batches} batches, evenly spread over their start dates "
                 f"(the 'charted' column above); the other charts cover the whole fleet.</p>")
    for c in rep.charts:
        p.append(f"<figure id='{_esc(Path(c.file).stem)}'><h3>{_esc(c.title)}</h3>"
                 f"<img src='{_esc(c.file)}' alt='{_esc(c.title)}'><figcaption>{_esc(c.caption)}</figcaption></figure>")
    p.append(f"<h2 id='validation'>Validation</h2><p>The checks of <code>aquagen validate</code> "
             f"(the plan's counts and DESIGN.md's invariants; as of {src.as_of.isoformat()}): expected against "
             f"actual. <span class='summary {cls}'>{passed} passed, {rep.failed} failed</span></p>")
    p.append(validation_table(rep.results))
    p.append("<h2>Rows per table</h2><table><tr><th>table</th><th>rows</th></tr>")
    for name, n in sorted(rep.row_counts.items()):
        p.append(f"<tr><td>{_esc(name)}</td><td class='n'>{n:,}</td></tr>")
    p.append(f"<tr><th>total</th><th class='n'>{sum(rep.row_counts.values()):,}</th></tr></table>")
    p.append("</body></html>\n")
    return "\n".join(p)


def validation_table(results: list) -> str:
    """The HTML table of ``aquagen.validate.run``'s results: one row per check, passed green, failed red."""
    p = ["<table><tr><th>group</th><th>check</th><th>expected</th><th>actual</th><th>status</th></tr>"]
    for r in results:
        p.append(f"<tr class='{'ok' if r.ok else 'fail'}'><td>{_esc(r.check.group)}</td><td>{_esc(r.check.name)}</td>"
                 f"<td class='n'>{r.check.expected:,}</td><td class='n'>{r.actual:,}</td>"
                 f"<td class='status'>{'pass' if r.ok else 'FAIL'}</td></tr>")
    p.append("</table>")
    return "\n".join(p)


# --- entry points ----------------------------------------------------------------------------------------

DEFAULT_DB_OUT = Path("output") / "report" / "index.html"


def _target(out: str | os.PathLike | None, default: Path) -> Path:
    if out is None:
        return default
    out = Path(out)
    return out if out.suffix.lower() in (".html", ".htm") else out / "index.html"


def report_snapshot(path: str | os.PathLike, out: str | os.PathLike | None = None) -> Report:
    """The report of a snapshot; written to ``out`` (an .html file, or a folder for index.html),
    by default ``<snapshot>/report/index.html``."""
    snap = Snapshot.open(path)
    return build(SnapshotData(snap), _target(out, snap.path / "report" / "index.html"))


def report_database(dsn: str, out: str | os.PathLike | None = None, as_of: dt.date | None = None) -> Report:
    """The report of a loaded database; by default written to ``output/report/index.html``."""
    from loaders.postgres import connect, redact

    with connect(dsn) as conn:
        return build(DatabaseData(conn, redact(dsn), as_of), _target(out, DEFAULT_DB_OUT))
