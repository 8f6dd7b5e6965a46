"""The report's data: one interface over a snapshot or a database, and the queries behind every chart.

Every query is SQL written once, run by Polars' SQL engine over the Parquet files of a snapshot (lazily,
streaming) or by PostgreSQL over a database. The queries aggregate (per batch and day, per stage, per
parameter, geography and day, ...), so what reaches Python is small whatever the fleet's size: readings,
feedings and history rows are never collected row by row. Every query is cut at the report's last day
(``src.end``): nothing dated later is read, open periods end there.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Protocol

import polars as pl
import polars.selectors as cs

import schemas
from aquagen.check import validate as V
from aquagen.errors import AquagenError
from aquagen.snapshot import Snapshot

BCA = "batch_batchcontainerassignment"
HBCA = "batch_historicalbatchcontainerassignment"
HSTOCK = "inventory_historicalfeedcontainerstock"

# container -> geography and environment (freshwater hall or sea area), as a SQL subquery
GEO = (
    "(SELECT c.id AS container_id, COALESCE(fs.geography_id, ar.geography_id) AS geography_id, "
    "CASE WHEN c.hall_id IS NULL THEN 'sea' ELSE 'freshwater' END AS env "
    "FROM infrastructure_container c LEFT JOIN infrastructure_hall h ON h.id = c.hall_id "
    "LEFT JOIN infrastructure_freshwaterstation fs ON fs.id = h.freshwater_station_id "
    "LEFT JOIN infrastructure_area ar ON ar.id = c.area_id)"
)


def _floats(df: pl.DataFrame) -> pl.DataFrame:
    """Decimal columns as Float64 (charts need floats; both engines return decimals for numeric)."""
    return df.with_columns(cs.decimal().cast(pl.Float64))


# a database column's Polars type by its PostgreSQL type (numbers as the report charts them)
_PG_TYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int2": pl.Int64(),
    "int4": pl.Int64(),
    "int8": pl.Int64(),
    "float4": pl.Float64(),
    "float8": pl.Float64(),
    "numeric": pl.Float64(),
    "date": pl.Date(),
    "timestamptz": pl.Datetime("us", "UTC"),
    "timestamp": pl.Datetime("us"),
}


def _date(d: dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


class ReportSource(Protocol):
    """Runs the report's SQL; ``frame`` returns a small, already aggregated frame."""

    label: str
    as_of: dt.date  # the validation's as-of date
    end: dt.date  # the report's last day: nothing later is shown, open assignments and stock lots end here

    def frame(self, sql: str) -> pl.DataFrame: ...

    def columns(self, table: str) -> set[str]:
        """The columns of ``table``; empty when the source has no such table (a profile without it)."""

    def validation_source(self) -> V.Source: ...

    def table_sizes(self) -> pl.DataFrame:
        """table, rows, bytes of every table of the profile (the whole source, not cut at ``end``)."""

    def info(self) -> list[tuple[str, str]]: ...


class SnapshotData(ReportSource):
    def __init__(self, snapshot: Snapshot, as_of: dt.date | None = None):
        self.snapshot = snapshot
        self.ctx = pl.SQLContext({name: snapshot.scan(name) for name in snapshot.manifest["tables"]})
        self.as_of = dt.date.fromisoformat(snapshot.manifest["arguments"]["as_of"])
        if as_of is not None and as_of > self.as_of:
            raise AquagenError(
                f"--as-of {as_of.isoformat()} is after the snapshot's as-of date "
                f"{self.as_of.isoformat()}; give a date up to it"
            )
        self.end = as_of or self.as_of
        self.label = f"snapshot {snapshot.path}"

    def frame(self, sql: str) -> pl.DataFrame:
        return _floats(self.ctx.execute(sql).collect(engine="streaming"))

    def columns(self, table: str) -> set[str]:
        if table not in self.snapshot.manifest["tables"]:
            return set()
        return set(self.snapshot.scan(table).collect_schema().names())

    def validation_source(self) -> V.Source:
        return V.SnapshotSource(self.snapshot)

    def table_sizes(self) -> pl.DataFrame:
        names = list(self.snapshot.manifest["tables"])
        return pl.DataFrame(
            {
                "table": names,
                "rows": [self.snapshot.manifest["tables"][n]["rows"] for n in names],
                "bytes": [sum(os.path.getsize(p) for p in self.snapshot.files(n)) for n in names],
            },
            schema={"table": pl.String, "rows": pl.Int64, "bytes": pl.Int64},
        )

    def info(self) -> list[tuple[str, str]]:
        m = self.snapshot.manifest
        args = m.get("arguments", {})
        out = [
            ("source", f"snapshot {self.snapshot.path}"),
            ("schema profile", str(m.get("schema"))),
            ("generator", str(m.get("generator", "?"))),
            ("seed", str(m.get("seed"))),
        ]
        out += [
            (k.replace("_", " "), "all" if v is None and k == "geography" else "—" if v is None else str(v))
            for k, v in args.items()
        ]
        return out


class DatabaseData(ReportSource):
    """A loaded database. ``as_of`` cuts the report; the validation checks the whole database as it is, as
    of today (as ``aquagen validate --dsn`` does), or as of ``as_of`` when that is later: a report on an
    earlier day views the past of a database whose rows go further, which is no invariant broken."""

    def __init__(self, conn, dsn_label: str, as_of: dt.date | None = None):
        from loaders.catalog import database_profile

        self.conn = conn
        today = dt.date.today()
        # checked with the profile whose tables the database holds; session time zone: UTC
        self.validation = V.DatabaseSource(conn, max(as_of, today) if as_of else None, database_profile(conn))
        self.as_of = self.validation.as_of
        self.label = f"database {dsn_label}"
        if conn.execute("SELECT to_regclass('public.batch_batch')").fetchone()[0] is None:
            raise AquagenError(
                f"the database {dsn_label} has no AquaMind schema (table batch_batch is missing): load a snapshot "
                "first (aquagen load output/snapshot)"
            )
        last = self._last_day(today)
        if as_of is None:  # the report ends with the data, not with today
            self.end = last or today
        elif last is not None and as_of > last:
            raise AquagenError(
                f"--as-of {as_of.isoformat()} is after the database's last day with data, {last.isoformat()}; "
                "give a date up to it"
            )
        else:
            self.end = as_of

    def _last_day(self, today: dt.date) -> dt.date | None:
        """The database's last day with data: the farm's as-of date the load log records (its weather, sensors
        and feed stock reach it, with or without batches) or the last day of an assignment's history (rows
        the application added since), whichever is later, never after today; None for a database without
        either."""
        from loaders.loadlog import farm_moment

        farm = farm_moment(self.conn)
        history = self.conn.execute(f"SELECT MAX(CAST(history_date AS DATE)) FROM {HBCA}").fetchone()[0]
        days = [d for d in (farm and farm[0], history) if d is not None]
        return min(max(days), today) if days else None

    def frame(self, sql: str) -> pl.DataFrame:
        cur = self.conn.execute(sql)
        cols = [d.name for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            return pl.DataFrame(schema={c: pl.Null for c in cols})
        df = _floats(pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None))
        # a column whose every value is NULL (no batch at sea yet: no sea area) takes its SQL type
        types = {
            d.name: self.conn.adapters.types.get(d.type_code) for d in cur.description if df.schema[d.name] == pl.Null
        }
        return df.cast({c: _PG_TYPES.get(t.name, pl.String()) if t else pl.String() for c, t in types.items()})

    def columns(self, table: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
            (table,),
        ).fetchall()
        return {r[0] for r in rows}

    def validation_source(self) -> V.Source:
        return self.validation

    def table_sizes(self) -> pl.DataFrame:
        rows = []
        for name in schemas.tables(self.validation.profile):
            if self.conn.execute("SELECT to_regclass(%s)", (f"public.{name}",)).fetchone()[0] is not None:
                n, size = self.conn.execute(
                    f"SELECT COUNT(*), pg_total_relation_size('public.{name}') FROM public.{name}"
                ).fetchone()
                rows.append((name, n, size))
        return pl.DataFrame(rows, schema={"table": pl.String, "rows": pl.Int64, "bytes": pl.Int64}, orient="row")

    def info(self) -> list[tuple[str, str]]:
        out = [("source", self.label), ("validation as of", self.as_of.isoformat())]
        if self.conn.execute("SELECT to_regclass('public.aquagen_load_log')").fetchone()[0] is not None:
            for snap, seed, at in self.conn.execute(
                "SELECT snapshot, seed, loaded_at FROM public.aquagen_load_log ORDER BY loaded_at"
            ).fetchall():
                out.append(("loaded snapshot", f"{snap} (seed {seed}, loaded {at:%Y-%m-%d %H:%M} UTC)"))
        return out


# --- queries ---------------------------------------------------------------------------------------------


def _last_of_day(history: str, end: dt.date) -> str:
    """SQL: the history_id of each object's last history row of each day up to ``end`` (latest history_date,
    then the highest history_id: several updates may share a timestamp)."""
    return (
        f"(SELECT x.id, MAX(x.history_id) AS hid FROM {history} x JOIN (SELECT id, MAX(history_date) AS hd "
        f"FROM {history} WHERE CAST(history_date AS DATE) <= {_date(end)} "
        "GROUP BY id, CAST(history_date AS DATE)) m "
        "ON m.id = x.id AND m.hd = x.history_date GROUP BY x.id, x.history_date)"
    )


def _last_until(history: str, end: dt.date) -> str:
    """SQL: the history_id of each object's last history row up to ``end``: its state on that day."""
    return (
        f"(SELECT x.id, MAX(x.history_id) AS hid FROM {history} x JOIN (SELECT id, MAX(history_date) AS hd "
        f"FROM {history} WHERE CAST(history_date AS DATE) <= {_date(end)} GROUP BY id) m "
        "ON m.id = x.id AND m.hd = x.history_date GROUP BY x.id)"
    )


def _stop(col: str, end: dt.date) -> str:
    """SQL: a period's last day, open periods and periods ending later cut at ``end``."""
    e = _date(end)
    return f"CASE WHEN {col} IS NULL OR {col} > {e} THEN {e} ELSE {col} END"


def _typed(df: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """``df`` with ``schema``'s types (an empty result of PostgreSQL has Null columns)."""
    if df.height == 0:
        return pl.DataFrame(schema=schema)
    return df.cast({k: v for k, v in schema.items() if k in df.columns})


# the columns batches() adds to batch_batch's
EXTRA = pl.Schema(
    {
        "stage_order": pl.Int64,
        "stage": pl.String,
        "geography": pl.String,
        "station": pl.String,
        "sea_area": pl.String,
        "eggs": pl.Int64,
    }
)


def batches(src: ReportSource) -> pl.DataFrame:
    """One row per batch started by the report's last day, by start date: number, status and stage on that
    day (ACTIVE until harvested; the stage of its latest assignment), geography, station, sea area, eggs."""
    e = _date(src.end)
    b = src.frame(
        "SELECT b.id AS batch_id, b.batch_number, b.start_date, "
        f"CASE WHEN b.actual_end_date <= {e} THEN b.actual_end_date END AS actual_end_date, "
        f"CASE WHEN b.actual_end_date <= {e} THEN b.status ELSE 'ACTIVE' END AS status "
        f"FROM batch_batch b WHERE b.start_date <= {e}"
    )
    schema = {
        "batch_id": pl.Int64,
        "batch_number": pl.String,
        "start_date": pl.Date,
        "actual_end_date": pl.Date,
        "status": pl.String,
    }
    b = _typed(b, schema)
    if b.height == 0:
        return b.with_columns(*[pl.lit(None, t).alias(c) for c, t in EXTRA.items()])
    stage = src.frame(
        f'SELECT a.batch_id, s."order" AS stage_order, s.name AS stage FROM {BCA} a '
        f'JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id JOIN (SELECT batch_id, MAX(s2."order") AS o '
        f"FROM {BCA} a2 JOIN batch_lifecyclestage s2 ON s2.id = a2.lifecycle_stage_id WHERE a2.assignment_date <= {e} "
        'GROUP BY batch_id) m ON m.batch_id = a.batch_id AND m.o = s."order" '
        'GROUP BY a.batch_id, s."order", s.name'
    )
    sites = src.frame(
        f"SELECT a.batch_id, MIN(g.name) AS geography, MIN(st.name) AS station, MIN(ar.name) AS sea_area "
        f"FROM {BCA} a JOIN infrastructure_container c ON c.id = a.container_id JOIN {GEO} x "
        "ON x.container_id = a.container_id JOIN infrastructure_geography g ON g.id = x.geography_id "
        "LEFT JOIN infrastructure_hall h ON h.id = c.hall_id "
        "LEFT JOIN infrastructure_freshwaterstation st ON st.id = h.freshwater_station_id "
        f"LEFT JOIN infrastructure_area ar ON ar.id = c.area_id WHERE a.assignment_date <= {e} GROUP BY a.batch_id"
    )
    # eggs: the largest population of each assignment opened on the start day (cb41030 creates them empty,
    # planned, and fills them when the eggs arrive; 8f2ab39 creates them full), summed per batch
    eggs = src.frame(
        "SELECT m.batch_id, SUM(m.eggs) AS eggs FROM (SELECT h.id, h.batch_id, "
        f"MAX(CAST(h.population_count AS BIGINT)) AS eggs FROM {HBCA} h JOIN batch_batch b ON b.id = h.batch_id "
        "WHERE h.assignment_date = b.start_date GROUP BY h.id, h.batch_id) m GROUP BY m.batch_id"
    )
    for extra in (stage, sites, eggs):
        if extra.height:
            b = b.join(extra.cast({"batch_id": pl.Int64}), on="batch_id", how="left")
    for col, dtype in EXTRA.items():
        if col not in b.columns:
            b = b.with_columns(pl.lit(None, dtype).alias(col))
    return b.cast(EXTRA).sort("start_date", "batch_id")


def growth(src: ReportSource) -> pl.DataFrame:
    """Per batch and day up to the last day: population, biomass and mean weight over the assignments live at
    day's end (each assignment's last history row of the day)."""
    df = src.frame(
        "SELECT h.batch_id, CAST(h.history_date AS DATE) AS day, "
        "SUM(CAST(h.population_count AS BIGINT)) AS population, "
        f"SUM(h.biomass_kg) AS biomass_kg FROM {HBCA} h JOIN {_last_of_day(HBCA, src.end)} k ON k.hid = h.history_id "
        "WHERE h.is_active AND h.history_type <> '-' GROUP BY h.batch_id, CAST(h.history_date AS DATE)"
    )
    df = _typed(df, {"batch_id": pl.Int64, "day": pl.Date, "population": pl.Int64, "biomass_kg": pl.Float64})
    return df.with_columns((pl.col("biomass_kg") * 1000 / pl.col("population")).alias("avg_weight_g")).sort(
        "batch_id", "day"
    )


def stage_spans(src: ReportSource) -> pl.DataFrame:
    """Per batch and stage: first assignment date and last day (departure, or the report's last day)."""
    e = _date(src.end)
    df = src.frame(
        f'SELECT a.batch_id, s."order" AS stage_order, s.name AS stage, MIN(a.assignment_date) AS start, '
        f"MAX({_stop('a.departure_date', src.end)}) AS stop FROM {BCA} a "
        f"JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id WHERE a.assignment_date <= {e} "
        'GROUP BY a.batch_id, s."order", s.name'
    )
    return _typed(
        df, {"batch_id": pl.Int64, "stage_order": pl.Int64, "stage": pl.String, "start": pl.Date, "stop": pl.Date}
    )


def mortality(src: ReportSource) -> pl.DataFrame:
    """Per batch and day: deaths and the cumulative deaths (batch_mortalityevent up to the last day)."""
    df = src.frame(
        "SELECT batch_id, event_date AS day, SUM(CAST(count AS BIGINT)) AS deaths FROM batch_mortalityevent "
        f"WHERE event_date <= {_date(src.end)} GROUP BY batch_id, event_date"
    )
    df = _typed(df, {"batch_id": pl.Int64, "day": pl.Date, "deaths": pl.Int64})
    return df.sort("batch_id", "day").with_columns(pl.col("deaths").cum_sum().over("batch_id").alias("cumulative"))


def feed_by_batch_stage(src: ReportSource) -> pl.DataFrame:
    """Per batch and stage: feed (kg) up to the last day, biomass gain (kg: each assignment's biomass on the
    last day, or at departure, minus its biomass when it opened) and FCR = feed / gain."""
    e = _date(src.end)
    feed = src.frame(
        'SELECT a.batch_id, s."order" AS stage_order, s.name AS stage, SUM(f.amount_kg) AS feed_kg '
        f"FROM inventory_feedingevent f JOIN {BCA} a ON a.id = f.batch_assignment_id "
        f"JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id WHERE f.feeding_date <= {e} "
        'GROUP BY a.batch_id, s."order", s.name'
    )
    gain = src.frame(
        'SELECT a.batch_id, s."order" AS stage_order, s.name AS stage, SUM(h.biomass_kg - p.biomass_kg) AS gain_kg '
        f"FROM {HBCA} h JOIN {_last_until(HBCA, src.end)} k ON k.hid = h.history_id "
        f"JOIN (SELECT id, biomass_kg FROM {HBCA} WHERE history_type = '+') p ON p.id = h.id "
        f"JOIN {BCA} a ON a.id = h.id JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        "WHERE h.history_type <> '-' GROUP BY a.batch_id, s.\"order\", s.name"
    )
    schema = {"batch_id": pl.Int64, "stage_order": pl.Int64, "stage": pl.String}
    gain = _typed(gain, {**schema, "gain_kg": pl.Float64})
    feed = _typed(feed, {**schema, "feed_kg": pl.Float64})
    df = gain.join(feed, on=list(schema), how="full", coalesce=True).with_columns(
        pl.col("feed_kg").fill_null(0.0), pl.col("gain_kg").fill_null(0.0)
    )
    return df.with_columns(
        pl.when((pl.col("gain_kg") > 0) & (pl.col("feed_kg") > 0))
        .then(pl.col("feed_kg") / pl.col("gain_kg"))
        .otherwise(None)
        .alias("fcr")
    ).sort("batch_id", "stage_order")


def sensors(src: ReportSource) -> pl.DataFrame:
    """Daily mean of every environmental parameter per geography and environment (freshwater halls / sea
    areas), aggregated in the query into a few groups per day (names joined after: a third less memory)."""
    df = src.frame(
        "SELECT p.name AS parameter, p.unit, g.name AS geography, a.env, a.day, a.total / a.readings AS mean, "
        "a.readings FROM (SELECT r.parameter_id, x.geography_id, x.env, CAST(r.reading_time AS DATE) AS day, "
        "SUM(r.value) AS total, COUNT(*) AS readings FROM environmental_environmentalreading r "
        f"JOIN {GEO} x ON x.container_id = r.container_id WHERE CAST(r.reading_time AS DATE) <= {_date(src.end)} "
        "GROUP BY r.parameter_id, x.geography_id, x.env, CAST(r.reading_time AS DATE)) a "
        "JOIN environmental_environmentalparameter p ON p.id = a.parameter_id "
        "JOIN infrastructure_geography g ON g.id = a.geography_id"
    )
    return _typed(
        df,
        {
            "parameter": pl.String,
            "unit": pl.String,
            "geography": pl.String,
            "env": pl.String,
            "day": pl.Date,
            "mean": pl.Float64,
            "readings": pl.Int64,
        },
    ).sort("parameter", "geography", "env", "day")


def feed_containers(src: ReportSource) -> pl.DataFrame:
    """Every feed container with its type."""
    df = src.frame(
        "SELECT id AS feed_container_id, name, container_type, capacity_kg FROM infrastructure_feedcontainer"
    )
    return _typed(
        df, {"feed_container_id": pl.Int64, "name": pl.String, "container_type": pl.String, "capacity_kg": pl.Float64}
    )


def stock_lot_days(src: ReportSource) -> pl.DataFrame:
    """Each stock lot's quantity at the end of every day it changed up to the last day (0 once deleted); lots
    without history count from their entry date with their current quantity."""
    e = _date(src.end)
    hist = src.frame(
        "SELECT h.id AS lot_id, h.feed_container_id, CAST(h.history_date AS DATE) AS day, "
        "CASE WHEN h.history_type = '-' THEN 0 ELSE h.quantity_kg END AS quantity_kg "
        f"FROM {HSTOCK} h JOIN {_last_of_day(HSTOCK, src.end)} k ON k.hid = h.history_id"
    )
    base = src.frame(
        "SELECT s.id AS lot_id, s.feed_container_id, CAST(s.entry_date AS DATE) AS day, s.quantity_kg "
        f"FROM inventory_feedcontainerstock s LEFT JOIN (SELECT DISTINCT id FROM {HSTOCK}) h ON h.id = s.id "
        f"WHERE h.id IS NULL AND CAST(s.entry_date AS DATE) <= {e}"
    )
    schema = pl.Schema({"lot_id": pl.Int64, "feed_container_id": pl.Int64, "day": pl.Date, "quantity_kg": pl.Float64})
    parts = [p.cast(schema) for p in (hist, base) if p.height]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).unique(["lot_id", "day"], keep="last", maintain_order=True).sort("lot_id", "day")


def stock_levels(lots: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Stock per ``keys`` and day (a step series) from the lots' end-of-day quantities."""
    if lots.height == 0:
        return pl.DataFrame(schema={**{k: lots.schema[k] for k in keys}, "day": pl.Date, "stock_kg": pl.Float64})
    delta = lots.with_columns(
        (pl.col("quantity_kg") - pl.col("quantity_kg").shift(1, fill_value=0.0).over("lot_id")).alias("delta")
    )
    return (
        delta.group_by([*keys, "day"])
        .agg(pl.col("delta").sum())
        .sort([*keys, "day"])
        .with_columns(pl.col("delta").cum_sum().over(keys).alias("stock_kg"))
        .drop("delta")
    )


def purchases(src: ReportSource) -> pl.DataFrame:
    """Each purchase up to the last day with the feed container its (first) stock lot went into."""
    df = src.frame(
        "SELECT p.id AS purchase_id, p.purchase_date AS day, p.quantity_kg, "
        "MIN(s.feed_container_id) AS feed_container_id "
        "FROM inventory_feedpurchase p LEFT JOIN inventory_feedcontainerstock s ON s.feed_purchase_id = p.id "
        f"WHERE p.purchase_date <= {_date(src.end)} GROUP BY p.id, p.purchase_date, p.quantity_kg"
    )
    return _typed(
        df, {"purchase_id": pl.Int64, "day": pl.Date, "quantity_kg": pl.Float64, "feed_container_id": pl.Int64}
    )


def occupancy(src: ReportSource) -> pl.DataFrame:
    """Per batch and site (hall or sea area): first assignment date and last day there (cut at the last day)."""
    occ = src.frame(
        "SELECT a.batch_id, c.hall_id, c.area_id, MIN(a.assignment_date) AS start, "
        f"MAX({_stop('a.departure_date', src.end)}) AS stop FROM {BCA} a "
        "JOIN infrastructure_container c ON c.id = a.container_id "
        f"WHERE a.assignment_date <= {_date(src.end)} GROUP BY a.batch_id, c.hall_id, c.area_id"
    )
    cols = pl.Schema(
        {
            "batch_id": pl.Int64,
            "site": pl.String,
            "geography": pl.String,
            "station": pl.String,
            "kind": pl.Int64,
            "start": pl.Date,
            "stop": pl.Date,
        }
    )
    if occ.height == 0:
        return pl.DataFrame(schema=cols)
    halls = src.frame(
        "SELECT h.id AS hall_id, h.name AS site, g.name AS geography, st.name AS station FROM infrastructure_hall h "
        "JOIN infrastructure_freshwaterstation st ON st.id = h.freshwater_station_id "
        "JOIN infrastructure_geography g ON g.id = st.geography_id"
    )
    areas = src.frame(
        "SELECT a.id AS area_id, a.name AS site, g.name AS geography FROM infrastructure_area a "
        "JOIN infrastructure_geography g ON g.id = a.geography_id"
    )
    h = (
        occ.filter(pl.col("hall_id").is_not_null())
        .join(halls, on="hall_id", how="left")
        .with_columns(pl.lit(0).alias("kind"))
    )
    a = (
        occ.filter(pl.col("hall_id").is_null())
        .join(areas, on="area_id", how="left")
        .with_columns(pl.col("site").alias("station"), pl.lit(1).alias("kind"))
    )
    return pl.concat([h.select(list(cols)).cast(cols), a.select(list(cols)).cast(cols)])


def today(src: ReportSource) -> dict:
    """The state on the report's last day: live fish and biomass, containers occupied per environment."""
    e = _date(src.end)
    live = src.frame(
        "SELECT SUM(CAST(h.population_count AS BIGINT)) AS fish, SUM(h.biomass_kg) AS biomass_kg "
        f"FROM {HBCA} h JOIN {_last_until(HBCA, src.end)} k ON k.hid = h.history_id "
        f"WHERE h.is_active AND h.history_type <> '-' AND (h.departure_date IS NULL OR h.departure_date > {e})"
    )
    occ = src.frame(
        "SELECT x.env, COUNT(*) AS containers, SUM(CASE WHEN o.container_id IS NULL THEN 0 ELSE 1 END) AS occupied "
        f"FROM {GEO} x LEFT JOIN (SELECT DISTINCT container_id FROM {BCA} WHERE assignment_date <= {e} "
        f"AND (departure_date IS NULL OR departure_date > {e})) o ON o.container_id = x.container_id GROUP BY x.env"
    )
    fish, biomass = live.row(0) if live.height else (None, None)
    return {
        "fish": int(fish or 0),
        "biomass_kg": float(biomass or 0.0),
        "occupancy": {r["env"]: (int(r["occupied"]), int(r["containers"])) for r in occ.iter_rows(named=True)},
    }


# --- the farm's variety, occupancy and capacity (issue 13), health, harvest and weather (issue 14) ----------


def _has(src: ReportSource, *tables: str) -> bool:
    """Whether the source has every one of ``tables`` (a profile may lack some: cb41030 has no harvest app)."""
    return all(src.columns(t) for t in tables)


def stage_exits(src: ReportSource) -> pl.DataFrame:
    """Per batch and stage: fish and biomass of the assignments that left the stage by the last day (a row
    keeps its population and biomass at departure), and their mean weight. Leaving the last stage is harvest."""
    df = src.frame(
        'SELECT a.batch_id, s."order" AS stage_order, s.name AS stage, '
        "SUM(CAST(a.population_count AS BIGINT)) AS fish, SUM(a.biomass_kg) AS biomass_kg "
        f"FROM {BCA} a JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        f'WHERE a.departure_date <= {_date(src.end)} GROUP BY a.batch_id, s."order", s.name'
    )
    df = _typed(
        df,
        {"batch_id": pl.Int64, "stage_order": pl.Int64, "stage": pl.String, "fish": pl.Int64, "biomass_kg": pl.Float64},
    )
    return df.with_columns(
        pl.when(pl.col("fish") > 0).then(pl.col("biomass_kg") * 1000 / pl.col("fish")).alias("avg_weight_g")
    ).sort("batch_id", "stage_order")


def last_stage(src: ReportSource) -> int:
    """The order of the last lifecycle stage: fish leaving it are harvested."""
    df = src.frame('SELECT MAX("order") AS o FROM batch_lifecyclestage')
    return int(df.item() or 0) if df.height else 0


def occupancy_today(src: ReportSource) -> pl.DataFrame:
    """Containers per site (freshwater station or sea area) and stage of the assignment holding fish on the
    last day (the later stage if two share it on a transfer day; null: empty), with geography and environment:
    a few rows per site."""
    e = _date(src.end)
    df = src.frame(
        "SELECT g.name AS geography, x.env, COALESCE(st.name, ar.name) AS site, o.stage_order, ls.name AS stage, "
        "COUNT(*) AS containers FROM infrastructure_container c JOIN "
        f"{GEO} x ON x.container_id = c.id "
        "LEFT JOIN infrastructure_geography g ON g.id = x.geography_id "
        "LEFT JOIN infrastructure_hall h ON h.id = c.hall_id "
        "LEFT JOIN infrastructure_freshwaterstation st ON st.id = h.freshwater_station_id "
        "LEFT JOIN infrastructure_area ar ON ar.id = c.area_id "
        'LEFT JOIN (SELECT a.container_id, MAX(s."order") AS stage_order '
        f"FROM {BCA} a JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id WHERE a.assignment_date <= {e} "
        f"AND (a.departure_date IS NULL OR a.departure_date > {e}) GROUP BY a.container_id) o "
        'ON o.container_id = c.id LEFT JOIN batch_lifecyclestage ls ON ls."order" = o.stage_order '
        "GROUP BY g.name, x.env, COALESCE(st.name, ar.name), o.stage_order, ls.name"
    )
    return _typed(
        df,
        {
            "geography": pl.String,
            "env": pl.String,
            "site": pl.String,
            "stage_order": pl.Int64,
            "stage": pl.String,
            "containers": pl.Int64,
        },
    ).sort("geography", "env", "site", "stage_order", nulls_last=True)


def capacity(src: ReportSource) -> pl.DataFrame:
    """Per assignment opened by the last day: its peak biomass (the largest of its history rows up to that
    day), its container's max_biomass_kg and volume, its stage: the peak share of capacity and kg/m³."""
    e = _date(src.end)
    df = src.frame(
        'SELECT a.id AS assignment_id, s."order" AS stage_order, s.name AS stage, p.peak_kg, '
        "c.max_biomass_kg, c.volume_m3 FROM (SELECT id, MAX(biomass_kg) AS peak_kg FROM "
        f"{HBCA} WHERE CAST(history_date AS DATE) <= {e} AND history_type <> '-' GROUP BY id) p "
        f"JOIN {BCA} a ON a.id = p.id JOIN infrastructure_container c ON c.id = a.container_id "
        "JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id"
    )
    df = _typed(
        df,
        {
            "assignment_id": pl.Int64,
            "stage_order": pl.Int64,
            "stage": pl.String,
            "peak_kg": pl.Float64,
            "max_biomass_kg": pl.Float64,
            "volume_m3": pl.Float64,
        },
    )
    return df.with_columns(
        pl.when(pl.col("max_biomass_kg") > 0).then(pl.col("peak_kg") * 100 / pl.col("max_biomass_kg")).alias("pct"),
        pl.when(pl.col("volume_m3") > 0).then(pl.col("peak_kg") / pl.col("volume_m3")).alias("kg_m3"),
    ).sort("stage_order", "assignment_id")


# adult female lice in cb41030's per-type rows: L. salmonis and unidentified (Caligus is counted apart)
ADULT_FEMALE = "t.gender = 'female' AND t.development_stage = 'adult' AND t.species <> 'Caligus elongatus'"


def lice(src: ReportSource) -> pl.DataFrame:
    """One row per lice count (container and day) up to the last day: geography, adult female lice and fish
    sampled. A count is the legacy row (``adult_female_count``) and, where the profile has them, the rows per
    lice type (``lice_type_id``, ``count_value``: one row a type, each repeating the fish sampled)."""
    schema = {"container_id": pl.Int64, "day": pl.Date, "geography": pl.String, "adult_female": pl.Int64}
    schema |= {"fish": pl.Int64}
    cols = src.columns("health_licecount")
    if not cols:
        return pl.DataFrame(schema=schema)
    typed = {"lice_type_id", "count_value"} <= cols and bool(src.columns("health_licetype"))
    via_assignment = "assignment_id" in cols
    af = "COALESCE(l.adult_female_count, 0)"
    if typed:
        af += f" + CASE WHEN {ADULT_FEMALE} THEN COALESCE(l.count_value, 0) ELSE 0 END"
    container = "COALESCE(l.container_id, a.container_id)" if via_assignment else "l.container_id"
    rows = (
        f"SELECT {container} AS cid, CAST(l.count_date AS DATE) AS day, {af} AS af, l.fish_sampled "
        "FROM health_licecount l "
        + (f"LEFT JOIN {BCA} a ON a.id = l.assignment_id " if via_assignment else "")
        + ("LEFT JOIN health_licetype t ON t.id = l.lice_type_id " if typed else "")
        + f"WHERE CAST(l.count_date AS DATE) <= {_date(src.end)}"
    )
    df = src.frame(
        "SELECT q.cid AS container_id, q.day, g.name AS geography, SUM(CAST(q.af AS BIGINT)) AS adult_female, "
        f"MAX(q.fish_sampled) AS fish FROM ({rows}) q JOIN {GEO} x ON x.container_id = q.cid "
        "JOIN infrastructure_geography g ON g.id = x.geography_id GROUP BY q.cid, q.day, g.name"
    )
    return _typed(df, schema).sort("geography", "day", "container_id")


def treatments(src: ReportSource) -> pl.DataFrame:
    """Treatments per day and type (delousing: physical or medication; vaccination) up to the last day."""
    schema = {"day": pl.Date, "treatment_type": pl.String, "treatments": pl.Int64}
    if not _has(src, "health_treatment"):
        return pl.DataFrame(schema=schema)
    df = src.frame(
        "SELECT CAST(treatment_date AS DATE) AS day, treatment_type, COUNT(*) AS treatments FROM health_treatment "
        f"WHERE CAST(treatment_date AS DATE) <= {_date(src.end)} GROUP BY CAST(treatment_date AS DATE), treatment_type"
    )
    return _typed(df, schema).sort("day", "treatment_type")


def harvests(src: ReportSource) -> pl.DataFrame:
    """One row per harvest event up to the last day: batch, day, fish and live weight of its lots."""
    schema = {"event_id": pl.Int64, "batch_id": pl.Int64, "day": pl.Date, "fish": pl.Int64, "live_kg": pl.Float64}
    if not _has(src, "harvest_harvestevent", "harvest_harvestlot"):
        return pl.DataFrame(schema=schema)
    df = src.frame(
        "SELECT e.id AS event_id, e.batch_id, CAST(e.event_date AS DATE) AS day, "
        "SUM(CAST(l.unit_count AS BIGINT)) AS fish, SUM(l.live_weight_kg) AS live_kg "
        "FROM harvest_harvestevent e JOIN harvest_harvestlot l ON l.event_id = e.id "
        f"WHERE CAST(e.event_date AS DATE) <= {_date(src.end)} GROUP BY e.id, e.batch_id, CAST(e.event_date AS DATE)"
    )
    return _typed(df, schema).sort("day", "event_id")


def harvest_grades(src: ReportSource) -> pl.DataFrame:
    """Harvest lots up to the last day per product grade (in the grades' order): lots, fish, live and gutted
    weight."""
    schema = {"grade_id": pl.Int64, "code": pl.String, "grade": pl.String, "lots": pl.Int64, "fish": pl.Int64}
    schema |= {"live_kg": pl.Float64, "gutted_kg": pl.Float64}
    if not _has(src, "harvest_harvestevent", "harvest_harvestlot", "harvest_productgrade"):
        return pl.DataFrame(schema=schema)
    df = src.frame(
        "SELECT MIN(p.id) AS grade_id, p.code, p.name AS grade, COUNT(*) AS lots, SUM(CAST(l.unit_count AS BIGINT)) AS fish, "
        "SUM(l.live_weight_kg) AS live_kg, SUM(l.gutted_weight_kg) AS gutted_kg FROM harvest_harvestlot l "
        "JOIN harvest_harvestevent e ON e.id = l.event_id JOIN harvest_productgrade p ON p.id = l.product_grade_id "
        f"WHERE CAST(e.event_date AS DATE) <= {_date(src.end)} GROUP BY p.code, p.name"
    )
    return _typed(df, schema).sort("grade_id")


def weather(src: ReportSource) -> pl.DataFrame:
    """Per geography and day up to the last day: mean air temperature, mean and highest wind speed over the
    weather observations of its sea areas."""
    schema = {"geography": pl.String, "day": pl.Date, "air_c": pl.Float64, "wind_ms": pl.Float64}
    schema |= {"wind_max_ms": pl.Float64}
    if not _has(src, "environmental_weatherdata"):
        return pl.DataFrame(schema=schema)
    df = src.frame(
        'SELECT g.name AS geography, CAST(w."timestamp" AS DATE) AS day, '
        "AVG(CAST(w.temperature AS DOUBLE PRECISION)) AS air_c, AVG(CAST(w.wind_speed AS DOUBLE PRECISION)) "
        "AS wind_ms, MAX(CAST(w.wind_speed AS DOUBLE PRECISION)) AS wind_max_ms FROM environmental_weatherdata w "
        "JOIN infrastructure_area a ON a.id = w.area_id JOIN infrastructure_geography g ON g.id = a.geography_id "
        f'WHERE CAST(w."timestamp" AS DATE) <= {_date(src.end)} GROUP BY g.name, CAST(w."timestamp" AS DATE)'
    )
    return _typed(df, schema).sort("geography", "day")


# --- scenarios (issue 14/15): the plan each batch is measured against --------------------------------------


def _projection_rows(src: ReportSource) -> str | None:
    """SQL: the projection rows in use per scenario (scenario_id, day_number, average_weight, population):
    8f2ab39's rows hang off the scenario; cb41030's off projection runs, of which the application's charts
    read the scenario's latest (highest run_number). None: no projection table in the source."""
    cols = src.columns("scenario_scenarioprojection")
    if "scenario_id" in cols:
        return "SELECT scenario_id, day_number, average_weight, population FROM scenario_scenarioprojection"
    if "projection_run_id" in cols and _has(src, "scenario_projection_run"):
        return (
            "SELECT r.scenario_id, p.day_number, p.average_weight, p.population FROM scenario_scenarioprojection p "
            "JOIN scenario_projection_run r ON r.run_id = p.projection_run_id JOIN (SELECT scenario_id, "
            "MAX(run_number) AS run_number FROM scenario_projection_run GROUP BY scenario_id) m "
            "ON m.scenario_id = r.scenario_id AND m.run_number = r.run_number"
        )
    return None


def scenarios(src: ReportSource) -> pl.DataFrame:
    """One row per scenario starting by the last day (a batch's scenario starts with it): batch, start,
    duration, initial fish and weight, its TGC, FCR and mortality models, and its projection in use (days,
    the last day's weight and population)."""
    schema = {"scenario_id": pl.Int64, "name": pl.String, "batch_id": pl.Int64, "start_date": pl.Date}
    schema |= {"duration_days": pl.Int64, "initial_count": pl.Int64, "initial_weight": pl.Float64}
    schema |= {"tgc": pl.String, "fcr": pl.String, "mortality": pl.String, "days": pl.Int64}
    schema |= {"final_weight_g": pl.Float64, "final_population": pl.Int64}
    rows = _projection_rows(src)
    if rows is None or not _has(src, "scenario", "scenario_tgcmodel", "scenario_fcrmodel", "scenario_mortalitymodel"):
        return pl.DataFrame(schema=schema)
    df = src.frame(
        "SELECT s.scenario_id, s.name, s.batch_id, s.start_date, s.duration_days, s.initial_count, "
        "CAST(s.initial_weight AS DOUBLE PRECISION) AS initial_weight, t.name AS tgc, f.name AS fcr, "
        "m.name AS mortality, n.days, CAST(p.average_weight AS DOUBLE PRECISION) AS final_weight_g, "
        "CAST(p.population AS BIGINT) AS final_population FROM scenario s "
        "JOIN scenario_tgcmodel t ON t.model_id = s.tgc_model_id JOIN scenario_fcrmodel f ON f.model_id = s.fcr_model_id "
        "JOIN scenario_mortalitymodel m ON m.model_id = s.mortality_model_id "
        f"LEFT JOIN (SELECT scenario_id, COUNT(*) AS days, MAX(day_number) AS last_day FROM ({rows}) q "
        "GROUP BY scenario_id) n ON n.scenario_id = s.scenario_id "
        f"LEFT JOIN ({rows}) p ON p.scenario_id = s.scenario_id AND p.day_number = n.last_day "
        f"WHERE s.start_date <= {_date(src.end)}"
    )
    return _typed(df, schema).sort("start_date", "scenario_id")


def projection(src: ReportSource, scenario_ids: list[int]) -> pl.DataFrame:
    """The projection in use of each of ``scenario_ids`` (a few: what the chart draws), one row per day:
    the plan over the scenario's whole duration, ahead of the last day too (it is a forecast, not an event)."""
    schema = {"scenario_id": pl.Int64, "day_number": pl.Int64, "average_weight": pl.Float64}
    rows = _projection_rows(src)
    if rows is None or not scenario_ids:
        return pl.DataFrame(schema=schema)
    ids = ", ".join(str(int(i)) for i in scenario_ids)
    df = src.frame(
        "SELECT scenario_id, day_number, CAST(average_weight AS DOUBLE PRECISION) AS average_weight "
        f"FROM ({rows}) q WHERE scenario_id IN ({ids})"
    )
    return _typed(df, schema).sort("scenario_id", "day_number")
