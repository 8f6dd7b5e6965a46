"""Table building for one batch: from a simulated life (``simulate.BatchSim``,
local indices, no ids) to rows in the target profile's tables, history included.

This is the layer a later schema profile replaces; the simulation stays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

import schemas

from . import domain as D
from .frames import conform, history, number_history
from .masterdata import SITES
from .simulate import BatchSim

OPERATOR_ID = 2  # operator_01 records feedings and moves
VET_ID = 3  # vet_01 writes the health journal
SYSTEM_ID = 1

# Times of day (UTC) of the events that have no time column of their own.
BATCH_CREATED = dt.timedelta(hours=7)
MOVE_TIME = dt.timedelta(hours=9)
SAMPLE_TIME = dt.timedelta(hours=11)
MORTALITY_TIME = dt.timedelta(hours=13)
GROWTH_UPDATE = dt.timedelta(hours=20)

# tables a batch writes, in the order their ids are assigned
BATCH_TABLES = (
    "batch_batch",
    "batch_batchcontainerassignment",
    "batch_batchtransfer",
    "batch_mortalityevent",
    "batch_growthsample",
    "inventory_feedingevent",
    "environmental_environmentalreading",
    "health_journalentry",
)


@dataclass(frozen=True)
class BatchPlan:
    """Where and as what a simulated batch lands: its id, name and sites."""

    batch_id: int
    batch_number: str
    station_id: int
    area_id: int


def _at(date_col: str, offset: dt.timedelta) -> pl.Expr:
    return (pl.col(date_col).cast(pl.Datetime("us")) + pl.lit(offset)).dt.replace_time_zone("UTC")


def _container_ids(plan: BatchPlan, stage: pl.Expr, slot: pl.Expr) -> pl.Expr:
    """Hall tank of the stage at the batch's station, or ring of its sea area (SITES' id arithmetic)."""
    tank = SITES.tank_id(SITES.hall_id(plan.station_id, stage), slot)
    ring = SITES.ring_id(plan.area_id, slot)
    return pl.when(stage == len(D.STAGES) - 1).then(ring).otherwise(tank).cast(pl.Int64)


def build(plan: BatchPlan, sim: BatchSim, first_id: dict[str, int], first_history_id: dict[str, int]) -> dict[str, pl.DataFrame]:
    """All rows of one batch. ``first_id``/``first_history_id``: the first free id per table."""
    out: dict[str, pl.DataFrame] = {}
    bca0 = first_id["batch_batchcontainerassignment"]
    assignments = sim.assignments.with_columns(
        id=pl.col("assignment_no").cast(pl.Int64) + bca0,
        container_id=_container_ids(plan, pl.col("stage"), pl.col("slot")),
        lifecycle_stage_id=pl.col("stage").cast(pl.Int64) + 1,
    )
    # per assignment: what every child row needs
    link = assignments.select("assignment_no", bca_id="id", container_id="container_id", stage="stage")

    # --- batch ---
    created = dt.datetime.combine(sim.stage_changes["date"][0], dt.time(), dt.timezone.utc) + BATCH_CREATED
    states = sim.stage_changes.with_columns(
        history_date=_at("date", BATCH_CREATED),
        lifecycle_stage_id=pl.col("stage").cast(pl.Int64) + 1,
        status=pl.lit("ACTIVE"),
        actual_end_date=pl.lit(None, dtype=pl.Date),
        history_type=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("+")).otherwise(pl.lit("~")),
    )
    if sim.status == "COMPLETED":
        done = dt.datetime.combine(sim.actual_end_date, dt.time(), dt.timezone.utc) + MOVE_TIME + dt.timedelta(hours=8)
        states = pl.concat([states, pl.DataFrame({
            "date": [sim.actual_end_date], "stage": states["stage"][-1:], "history_date": [done],
            "lifecycle_stage_id": states["lifecycle_stage_id"][-1:], "status": ["COMPLETED"],
            "actual_end_date": [sim.actual_end_date], "history_type": ["~"],
        }, schema=states.schema)])
    batch_states = states.with_columns(
        id=pl.lit(plan.batch_id, dtype=pl.Int64),
        batch_number=pl.lit(plan.batch_number),
        start_date=pl.lit(sim.stage_changes["date"][0]),
        expected_end_date=pl.lit(sim.expected_end_date),
        notes=pl.lit(""),
        created_at=pl.lit(created),
        updated_at=pl.col("history_date"),
        species_id=pl.lit(1, dtype=pl.Int64),
        batch_type=pl.lit("STANDARD"),
    )
    base_cols = schemas.table("batch_batch").column_names
    out["batch_batch"] = conform("batch_batch", batch_states.tail(1).select(base_cols))
    hist = [history("batch_batch", conform("batch_batch", batch_states.select(base_cols)), batch_states["history_date"],
                    "+", SYSTEM_ID).with_columns(history_type=batch_states["history_type"])]
    out["batch_historicalbatch"] = _finish_history("batch_batch", hist, first_history_id)

    # --- assignments: '+' at the move, '~' every 20:00 growth update, '~' at departure ---
    bca_cols = schemas.table("batch_batchcontainerassignment").column_names
    fixed = assignments.select(
        "assignment_no", "id", "container_id", "lifecycle_stage_id", "assignment_date",
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64), notes=pl.lit(""),
        created_at=_at("assignment_date", MOVE_TIME),
    )
    samples_by_day = sim.samples.select("assignment_no", "sample_date").sort("sample_date")
    daily = sim.daily.sort("date").join_asof(
        samples_by_day.rename({"sample_date": "last_weighing_date"}).with_columns(_d=pl.col("last_weighing_date")),
        left_on="date", right_on="_d", by="assignment_no", strategy="backward", check_sortedness=False,
    ).drop("_d")
    created_rows = fixed.join(assignments.select("assignment_no", "initial_population", "initial_weight_g"),
                              on="assignment_no").select(
        pl.exclude("initial_population", "initial_weight_g"),
        population_count=pl.col("initial_population").cast(pl.Int64),
        avg_weight_g=pl.col("initial_weight_g"),
        departure_date=pl.lit(None, dtype=pl.Date), is_active=pl.lit(True),
        last_weighing_date=pl.lit(None, dtype=pl.Date),
        updated_at=pl.col("created_at"), history_date=pl.col("created_at"), history_type=pl.lit("+"),
    )
    update_rows = fixed.join(daily, on="assignment_no").select(
        pl.exclude("date", "population", "deaths", "avg_weight_g", "biomass_kg", "temperature_c", "feed_kg",
                   "last_weighing_date"),
        population_count=pl.col("population").cast(pl.Int64), avg_weight_g=pl.col("avg_weight_g"),
        departure_date=pl.lit(None, dtype=pl.Date), is_active=pl.lit(True),
        last_weighing_date=pl.col("last_weighing_date"),
        updated_at=_at("date", GROWTH_UPDATE), history_date=_at("date", GROWTH_UPDATE), history_type=pl.lit("~"),
    )
    final = fixed.join(assignments.select("assignment_no", "population_count", "avg_weight_g", "departure_date",
                                          "is_active", "last_weighing_date"), on="assignment_no")
    departed = final.filter(pl.col("departure_date").is_not_null()).with_columns(
        updated_at=_at("departure_date", MOVE_TIME), history_date=_at("departure_date", MOVE_TIME),
        history_type=pl.lit("~"),
    )
    states = pl.concat([s.select(created_rows.columns) for s in (created_rows, update_rows, departed)])
    # biomass from the stored (2-decimal) weight, as the application's save() computes it
    states = states.with_columns(
        population_count=pl.col("population_count").cast(pl.Int64),
        avg_weight_g=pl.col("avg_weight_g").round(2),
    ).with_columns(biomass_kg=pl.col("population_count") * pl.col("avg_weight_g") / 1000)
    last = states.sort(["id", "history_date"]).group_by("id", maintain_order=True).last()
    out["batch_batchcontainerassignment"] = conform("batch_batchcontainerassignment", last.select(bca_cols).sort("id"))
    out["batch_historicalbatchcontainerassignment"] = _finish_history(
        "batch_batchcontainerassignment",
        [history("batch_batchcontainerassignment", conform("batch_batchcontainerassignment", states.select(bca_cols)),
                 states["history_date"], "+", OPERATOR_ID).with_columns(history_type=states["history_type"])],
        first_history_id,
    )

    # --- transfers ---
    stage_id = lambda c: (pl.col(c).cast(pl.Int64) + 1)
    tr = sim.transfers.sort("transfer_date", "source_assignment_no", "dest_assignment_no").with_columns(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["batch_batchtransfer"],
        transfer_type=pl.lit("LIFECYCLE"),
        notes=pl.when(pl.col("dest_stage") == len(D.STAGES) - 1)
        .then(pl.lit("Sea transfer: tank split 50/50 over two rings")).otherwise(pl.lit("Stage transition")),
        created_at=_at("transfer_date", MOVE_TIME),
        source_batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        destination_batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        source_lifecycle_stage_id=stage_id("source_stage"),
        destination_lifecycle_stage_id=stage_id("dest_stage"),
        is_emergency_mixing=pl.lit(False),
        source_assignment_id=pl.col("source_assignment_no").cast(pl.Int64) + bca0,
        destination_assignment_id=pl.col("dest_assignment_no").cast(pl.Int64) + bca0,
    ).with_columns(updated_at=pl.col("created_at"))
    _base_and_history(out, "batch_batchtransfer", tr, OPERATOR_ID, first_history_id)

    # --- mortality (per batch per day) ---
    mo = sim.mortality.sort("event_date").with_columns(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["batch_mortalityevent"],
        description=pl.format("Daily mortality registration: {} fish", pl.col("count")),
        created_at=_at("event_date", MORTALITY_TIME),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
    ).with_columns(updated_at=pl.col("created_at"))
    _base_and_history(out, "batch_mortalityevent", mo, OPERATOR_ID, first_history_id)

    # --- growth samples ---
    gs = sim.samples.sort("sample_date", "assignment_no").join(link, on="assignment_no").with_columns(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["batch_growthsample"],
        assignment_id=pl.col("bca_id"),
        created_at=_at("sample_date", SAMPLE_TIME),
    ).with_columns(updated_at=pl.col("created_at"))
    _base_and_history(out, "batch_growthsample", gs, OPERATOR_ID, first_history_id)

    # --- feeding events ---
    fe = sim.feedings.sort("feeding_date", "feeding_time", "assignment_no").join(link, on="assignment_no")
    fe = fe.with_columns(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["inventory_feedingevent"],
        method=pl.lit("AUTOMATIC"),
        notes=pl.lit(""),
        created_at=(pl.col("feeding_date").cast(pl.Datetime("us")) + pl.col("feeding_time").cast(pl.Duration("us")))
        .dt.replace_time_zone("UTC"),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        batch_assignment_id=pl.col("bca_id"),
        feed_id=pl.col("feed").cast(pl.Int64) + 1,
        recorded_by_id=pl.lit(OPERATOR_ID, dtype=pl.Int32),
    ).with_columns(updated_at=pl.col("created_at"))
    _base_and_history(out, "inventory_feedingevent", fe, OPERATOR_ID, first_history_id)

    # --- environmental readings (no history table) ---
    rd = sim.readings.join(link, on="assignment_no").sort("reading_time", "container_id", "parameter")
    container, parameter = pl.col("container_id"), pl.col("parameter")
    sensor = pl.when(container <= SITES.n_hall_containers).then(SITES.tank_sensor_id(container, parameter)) \
        .otherwise(SITES.ring_sensor_id(container, parameter))  # sea parameters are 0..3, their own index
    out["environmental_environmentalreading"] = conform("environmental_environmentalreading", rd.select(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["environmental_environmentalreading"],
        value="value",
        reading_time="reading_time",
        is_manual=pl.lit(False),
        notes=pl.lit(""),
        created_at="reading_time",
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        container_id="container_id",
        parameter_id=pl.col("parameter").cast(pl.Int64) + 1,
        sensor_id=sensor.cast(pl.Int64),
        batch_container_assignment_id="bca_id",
    ))

    # --- health journal ---
    je = sim.journal.sort("entry_time").join(link, on="assignment_no").with_columns(
        id=pl.int_range(pl.len(), dtype=pl.Int64) + first_id["health_journalentry"],
        entry_date=pl.col("entry_time"),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        user_id=pl.lit(VET_ID, dtype=pl.Int32),
        created_at=pl.col("entry_time"),
    ).with_columns(updated_at=pl.col("created_at"))
    _base_and_history(out, "health_journalentry", je, VET_ID, first_history_id)
    return out


def _base_and_history(out: dict, name: str, df: pl.DataFrame, user: int, first_history_id: dict[str, int]) -> None:
    cols = [c for c in schemas.table(name).column_names if c in df.columns]
    base = conform(name, df.select(cols))
    out[name] = base
    out[schemas.table(name).history_table] = _finish_history(name, [history(name, base, "created_at", "+", user)],
                                                             first_history_id)


def _finish_history(name: str, parts: list[pl.DataFrame], first_history_id: dict[str, int]) -> pl.DataFrame:
    h = schemas.table(name).history_table
    return conform(h, number_history(pl.concat(parts), first_history_id.get(h, 1)))
