"""Table building for one batch: from a simulated life (``BatchSim``, local indices, no ids)
to rows in this profile's tables, history included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import MANAGER_ID, OPERATOR_ID, SYSTEM_ID, VET_ID
from aquagen.model.events import MOVE_HOUR
from aquagen.model.simulate import BatchSim
from aquagen.model.sites import SITES
from aquagen.profiles import BatchPlan
from aquagen.tables.conform import Bound, numbered_history, with_column, with_ids_and_history
from aquagen.tables.cut import up_to
from aquagen.tables.ids import IdBook
from aquagen.tables.order import sort_unique
from aquagen.timing import BUILD, Laps, timed

from . import environment, harvest, health, scenario
from .records import collected, last_states, linked, utc

# Times of day (UTC) of the events that have no time column of their own.
BATCH_CREATED = dt.timedelta(hours=7)
MOVE_TIME = dt.timedelta(hours=MOVE_HOUR)
SAMPLE_TIME = dt.timedelta(hours=11)
MORTALITY_TIME = dt.timedelta(hours=13)
GROWTH_UPDATE = dt.timedelta(hours=20)
SUMMARY_TIME = dt.timedelta(hours=23, minutes=30)  # nightly job on the period's last day
# what the assignments' daily update at GROWTH_UPDATE books: the day's mortality registration (their
# counts) and growth samples (their last weighing), with their history
BOOKED_TABLES = (
    "batch_mortalityevent",
    "batch_historicalmortalityevent",
    "health_mortalityrecord",
    "health_historicalmortalityrecord",
    "batch_growthsample",
    "batch_historicalgrowthsample",
)


@cache  # an expression's literals cost more than its use: built once
def _at(date_col: str, offset: dt.timedelta) -> pl.Expr:
    return (pl.col(date_col).cast(pl.Datetime("us")) + pl.lit(offset)).dt.replace_time_zone("UTC")


def _container_ids(plan: BatchPlan, stage: pl.Expr, slot: pl.Expr) -> pl.Expr:
    """Hall tank of the stage at the batch's station, or ring of its sea area (SITES' id arithmetic)."""
    tank = SITES.tank_id(SITES.hall_id(plan.station_id, stage), slot)
    ring = SITES.ring_id(plan.area_id, slot)
    return pl.when(stage == len(D.STAGES) - 1).then(ring).otherwise(tank).cast(pl.Int64)


@dataclass(frozen=True)
class BatchTables:
    """What the table sections of one batch share: its plan and life, the id book, the profile's
    tables, the rows built so far and the numbered assignments."""

    plan: BatchPlan
    sim: BatchSim
    ids: IdBook
    T: Bound
    out: dict[str, pl.DataFrame]
    assignments: pl.DataFrame

    def bca_of(self, col: str) -> pl.Expr:
        """The assignment id of the assignment_no in ``col``."""
        return pl.col(col).replace_strict(
            self.assignments["assignment_no"], self.assignments["id"], return_dtype=pl.Int64
        )


Section = Callable[[BatchTables], None]
# a profile's own health and harvest records: (out, plan, sim, link, ids) -> their journal entries
Records = Callable[[dict[str, pl.DataFrame], BatchPlan, BatchSim, pl.DataFrame, IdBook], pl.DataFrame]


def batch_transfers(ctx: BatchTables) -> None:
    """One ``batch_batchtransfer`` row per destination of a move."""
    plan, sim, ids, out, bca_of = ctx.plan, ctx.sim, ctx.ids, ctx.out, ctx.bca_of
    stage_id = lambda c: pl.col(c).cast(pl.Int64) + 1
    tr = (
        sim.transfers.sort("transfer_date", "source_assignment_no", "dest_assignment_no")
        .with_columns_seq(
            transfer_type=pl.lit("LIFECYCLE"),
            notes=pl.when(pl.col("dest_stage") == len(D.STAGES) - 1)
            .then(pl.lit("Sea transfer: tank split 50/50 over two rings"))
            .otherwise(pl.lit("Stage transition")),
            created_at=_at("transfer_date", MOVE_TIME),
            source_batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
            destination_batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
            source_lifecycle_stage_id=stage_id("source_stage"),
            destination_lifecycle_stage_id=stage_id("dest_stage"),
            is_emergency_mixing=pl.lit(False),
            source_assignment_id=bca_of("source_assignment_no"),
            destination_assignment_id=bca_of("dest_assignment_no"),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
    )
    with_ids_and_history(out, "batch_batchtransfer", tr, OPERATOR_ID, ids)


def batch_mortality(ctx: BatchTables) -> None:
    """One ``batch_mortalityevent`` per batch and day with deaths."""
    plan, sim, ids, out = ctx.plan, ctx.sim, ctx.ids, ctx.out
    mo = (
        sim.mortality.sort("event_date")
        .with_columns_seq(
            description=pl.format("Daily mortality registration: {} fish", pl.col("count")),
            created_at=_at("event_date", MORTALITY_TIME),
            batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
    )
    with_ids_and_history(out, "batch_mortalityevent", up_to(mo, "created_at", plan.horizon), OPERATOR_ID, ids)


def build(plan: BatchPlan, sim: BatchSim, ids: IdBook) -> dict[str, pl.DataFrame]:
    """All rows of one batch's whole simulated life in this profile (see ``build_with``), and its
    baseline scenario."""
    out = build_with(plan, sim, ids, batch_transfers, batch_mortality, records=True)
    with timed(BUILD, "scenario_scenarioprojection"):
        scenario.add(out, plan, ids)
    return out


def build_with(
    plan: BatchPlan,
    sim: BatchSim,
    ids: IdBook,
    transfers: Section,
    mortality: Section,
    assignment_created: pl.Expr | None = None,
    records: bool = False,
    profile_records: Records | None = None,
) -> dict[str, pl.DataFrame]:
    """All rows of one batch's whole simulated life, numbered by ``ids`` (see ``aquagen.tables.ids``).
    With ``records``, this profile's health, harvest and transfer-condition records too (a profile
    whose health tables differ builds its own with ``profile_records``).

    The life is not cut here: ``cut`` drops what lies after the as-of date, so
    that the rows (and ids) before it do not depend on that date.
    """
    T = Bound(ids.profile)
    lap = Laps(BUILD)  # timing hooks: one step per table built
    out: dict[str, pl.DataFrame] = {}
    # an assignment is created when its fish arrive, unless the profile says otherwise (over sim.assignments)
    asg_created = _at("assignment_date", MOVE_TIME) if assignment_created is None else assignment_created
    asg = sim.assignments.sort("assignment_date", "assignment_no").with_columns_seq(created_at=asg_created)
    assignments = asg.with_columns_seq(
        id=ids.assign("batch_batchcontainerassignment", asg),
        container_id=_container_ids(plan, pl.col("stage"), pl.col("slot")),
        lifecycle_stage_id=pl.col("stage").cast(pl.Int64) + 1,
    )
    # per assignment: what every child row needs, indexed by assignment_no (``records.linked``)
    link = sort_unique(assignments, "assignment_no").select_seq(
        "assignment_no", bca_id="id", container_id="container_id", stage="stage"
    )

    # --- batch: '+' at creation, '~' at each stage change and at completion ---
    created = dt.datetime.combine(sim.stage_changes["date"][0], dt.time(), dt.UTC) + BATCH_CREATED
    states = sim.stage_changes.with_columns_seq(
        history_date=_at("date", BATCH_CREATED),
        lifecycle_stage_id=pl.col("stage").cast(pl.Int64) + 1,
        status=pl.lit("ACTIVE"),
        actual_end_date=pl.lit(None, dtype=pl.Date),
        history_type=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("+")).otherwise(pl.lit("~")),
    )
    if sim.status == "COMPLETED":
        assert sim.actual_end_date is not None  # a completed batch has its last harvest
        done = dt.datetime.combine(sim.actual_end_date, dt.time(), dt.UTC) + MOVE_TIME + dt.timedelta(hours=8)
        states = pl.concat(
            [
                states,
                pl.DataFrame(
                    {
                        "date": [sim.actual_end_date],
                        "stage": states["stage"][-1:],
                        "history_date": utc([done]),
                        "lifecycle_stage_id": states["lifecycle_stage_id"][-1:],
                        "status": ["COMPLETED"],
                        "actual_end_date": [sim.actual_end_date],
                        "history_type": ["~"],
                    },
                    schema=states.schema,
                ),
            ]
        )
    batch_states = states.with_columns_seq(
        id=pl.lit(plan.batch_id, dtype=pl.Int64),
        batch_number=pl.lit(plan.batch_number),
        start_date=pl.lit(sim.stage_changes["date"][0]),
        expected_end_date=pl.lit(sim.expected_end_date),
        notes=pl.lit(""),
        created_at=pl.lit(utc([created])).first(),
        updated_at=pl.col("history_date"),
        species_id=pl.lit(1, dtype=pl.Int64),
        batch_type=pl.lit("STANDARD"),
    )
    base_cols = [c for c in T.table("batch_batch").column_names if c in batch_states.columns]  # others NULL
    batch_rows = T.conform("batch_batch", batch_states.select_seq(base_cols))
    out["batch_batch"] = batch_rows.tail(1)  # its last state
    hist = T.history(
        "batch_batch",
        batch_rows,
        batch_states["history_date"],
        "+",
        SYSTEM_ID,
    )
    hist = with_column(hist, batch_states.get_column("history_type"))
    out["batch_historicalbatch"] = numbered_history("batch_batch", hist, ids)
    lap("batch_batch", out["batch_historicalbatch"].height)

    # --- assignments: '+' at the move, '~' every 20:00 growth update, '~' at departure ---
    bca_cols = T.table("batch_batchcontainerassignment").column_names
    # every state: the assignment's fixed columns, then its values at that moment (one query for all)
    fixed = (
        pl.col("assignment_no"),
        pl.col("id"),
        pl.col("container_id"),
        pl.col("lifecycle_stage_id"),
        pl.col("assignment_date"),
        pl.col("created_at"),
        pl.lit(plan.batch_id, dtype=pl.Int64).alias("batch_id"),
        pl.lit("").alias("notes"),
    )
    samples_by_day = sim.samples.select_seq("assignment_no", "sample_date").sort("sample_date")
    daily = (
        sim.daily.sort("date")
        .join_asof(
            samples_by_day.rename({"sample_date": "last_weighing_date"}).with_columns_seq(
                _d=pl.col("last_weighing_date")
            ),
            left_on="date",
            right_on="_d",
            by="assignment_no",
            strategy="backward",
            check_sortedness=False,
        )
        .drop("_d")
    )
    created_rows = assignments.lazy().select_seq(
        *fixed,
        population_count=pl.col("initial_population").cast(pl.Int64),
        avg_weight_g=pl.col("initial_weight_g"),
        departure_date=pl.lit(None, dtype=pl.Date),
        is_active=pl.lit(True),
        last_weighing_date=pl.lit(None, dtype=pl.Date),
        updated_at=pl.col("created_at"),
        history_date=pl.col("created_at"),
        history_type=pl.lit("+"),
    )
    update_rows = (
        assignments.lazy()
        .select_seq(*fixed)
        .join(
            daily.lazy().select_seq("assignment_no", "date", "population", "avg_weight_g", "last_weighing_date"),
            on="assignment_no",
            maintain_order="left_right",
        )
        .select_seq(
            pl.exclude("date", "population", "avg_weight_g", "last_weighing_date"),
            population_count=pl.col("population").cast(pl.Int64),
            avg_weight_g=pl.col("avg_weight_g"),
            departure_date=pl.lit(None, dtype=pl.Date),
            is_active=pl.lit(True),
            last_weighing_date=pl.col("last_weighing_date"),
            updated_at=_at("date", GROWTH_UPDATE),
            history_date=_at("date", GROWTH_UPDATE),
            history_type=pl.lit("~"),
        )
    )
    departed = (
        assignments.lazy()
        .filter(pl.col("departure_date").is_not_null())
        .select_seq(
            *fixed,
            "population_count",
            "avg_weight_g",
            "departure_date",
            "is_active",
            "last_weighing_date",
            updated_at=_at("departure_date", MOVE_TIME),
            history_date=_at("departure_date", MOVE_TIME),
            history_type=pl.lit("~"),
        )
    )
    # biomass from the stored (2-decimal) weight, as the application's save() computes it
    weight = pl.col("avg_weight_g").round(2)
    states = collected(
        pl.concat([created_rows, update_rows, departed]).with_columns_seq(
            avg_weight_g=weight, biomass_kg=pl.col("population_count") * weight / 1000
        )
    )
    last = last_states(sort_unique(states, "id", "history_date"))
    out["batch_batchcontainerassignment"] = T.conform("batch_batchcontainerassignment", last.select_seq(bca_cols))
    out["batch_historicalbatchcontainerassignment"] = numbered_history(
        "batch_batchcontainerassignment",
        T.history(
            "batch_batchcontainerassignment",
            T.conform("batch_batchcontainerassignment", states.select_seq(bca_cols)),
            states["history_date"],
            "+",
            OPERATOR_ID,
        ).pipe(with_column, states.get_column("history_type")),
        ids,
    )

    lap("batch_batchcontainerassignment", out["batch_historicalbatchcontainerassignment"].height)

    ctx = BatchTables(plan, sim, ids, T, out, assignments)
    before = set(out)
    transfers(ctx)
    lap(min(set(out) - before, default=None))  # named by its first table: each profile records transfers its way
    mortality(ctx)
    lap("batch_mortalityevent")

    # --- growth samples ---
    gs = linked(sort_unique(sim.samples, "sample_date", "assignment_no"), link).with_columns_seq(
        assignment_id=pl.col("bca_id"),
        created_at=_at("sample_date", SAMPLE_TIME),
        updated_at=_at("sample_date", SAMPLE_TIME),
    )
    gs = up_to(gs, "created_at", plan.horizon)
    with_ids_and_history(out, "batch_growthsample", gs, OPERATOR_ID, ids)
    lap("batch_growthsample", gs.height)

    # --- feeding events (feed_cost is filled in by the feed container's FIFO, see feedstock) ---
    fe = linked(sort_unique(sim.feedings, "feeding_date", "feeding_time", "assignment_no"), link)
    fed_at = (pl.col("feeding_date").cast(pl.Datetime("us")) + pl.col("feeding_time").cast(pl.Duration("us"))).dt
    fe = fe.with_columns_seq(
        method=pl.lit("AUTOMATIC"),
        notes=pl.lit(""),
        created_at=fed_at.replace_time_zone("UTC"),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        batch_assignment_id=pl.col("bca_id"),
        feed_id=pl.col("feed").cast(pl.Int64) + 1,
        recorded_by_id=pl.lit(OPERATOR_ID, dtype=pl.Int32),
        feed_cost=pl.lit(None, dtype=pl.Float64),
        updated_at=fed_at.replace_time_zone("UTC"),
    )
    with_ids_and_history(out, "inventory_feedingevent", fe, OPERATOR_ID, ids)
    lap("inventory_feedingevent", fe.height)

    # --- environmental readings (no history table) ---
    rd = sort_unique(linked(sim.readings, link), "reading_time", "container_id", "parameter")
    container, parameter = pl.col("container_id"), pl.col("parameter")
    sensor = (
        pl.when(container <= SITES.n_hall_containers)
        .then(SITES.tank_sensor_id(container, parameter))
        .otherwise(SITES.ring_sensor_id(container, parameter))
    )  # sea parameters are 0..3, their own index
    rd = rd.select_seq(
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
    )
    out["environmental_environmentalreading"] = T.conform(
        "environmental_environmentalreading",
        with_column(rd, ids.assign("environmental_environmentalreading", rd).alias("id")),
    )

    lap("environmental_environmentalreading", rd.height)

    # --- health journal ---
    # health records; their journal entries join the journal
    health_journal = [health.build(out, plan, sim, link, ids)] if records else []
    if profile_records is not None:
        health_journal.append(profile_records(out, plan, sim, link, ids))
    lap("health_mortalityrecord")  # the health records (and the harvest's, in cb41030)
    # the vet writes diagnoses, treatments and vaccinations; operators their observations,
    # issues, actions and samples; the manager now and then
    authors = (
        pl.when(pl.col("category").is_in(["diagnosis", "treatment", "vaccination"]))
        .then(VET_ID)
        .when(pl.col("entry_time").dt.day() % 5 == 0)
        .then(MANAGER_ID)
        .otherwise(OPERATOR_ID)
        .cast(pl.Int32)
    )
    je = pl.concat([sim.journal.with_columns_seq(user_id=authors), *health_journal], how="vertical_relaxed").sort(
        "entry_time", maintain_order=True
    )
    je = linked(je, link).with_columns_seq(
        entry_date=pl.col("entry_time"),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        created_at=pl.col("entry_time"),
        updated_at=pl.col("entry_time"),
    )
    with_ids_and_history(out, "health_journalentry", je, VET_ID, ids)
    out["health_historicaljournalentry"] = out["health_historicaljournalentry"].with_columns_seq(
        history_user_id=pl.col("user_id").cast(out["health_historicaljournalentry"]["history_user_id"].dtype)
    )
    lap("health_journalentry", je.height)

    # --- health records and harvest (issue 14) ---
    if records:
        environment.stage_transitions(out, sim, link, ids)
        harvest.build(out, plan, sim, link, ids)

    # --- monthly feeding summaries ---
    # the stored feedings (their amounts rounded as the table holds them), with their assignment
    feedings = with_column(out["inventory_feedingevent"], fe.get_column("assignment_no"))
    container_summary, batch_summary = _summaries(plan, sim, assignments, feedings)
    with_ids_and_history(out, "inventory_containerfeedingsummary", container_summary, SYSTEM_ID, ids)
    with_ids_and_history(out, "inventory_batchfeedingsummary", batch_summary, SYSTEM_ID, ids)
    lap("inventory_containerfeedingsummary", container_summary.height + batch_summary.height)
    return out


def _summaries(plan: BatchPlan, sim: BatchSim, assignments: pl.DataFrame, feedings: pl.DataFrame):
    """Per assignment and per batch, per calendar month with feeding (``feedings``: the feeding events'
    rows with their assignment_no): feed totals, biomass, FCR.

    Starting biomass is the end of the day before the period (or the assignment's
    arrival); ending biomass the end of its last day; gain = ending - starting
    (+ harvested biomass, batch level). FCR = feed / gain when gain > 0 and the
    ratio fits numeric(5,3), else NULL.
    """
    created = lambda: (pl.col("period_end").cast(pl.Datetime("us")) + pl.lit(SUMMARY_TIME)).dt.replace_time_zone("UTC")
    fed = feedings.with_columns_seq(month=pl.col("feeding_date").dt.truncate("1mo"))
    days = (
        sim.daily.lazy()
        .join(
            assignments.lazy().select_seq("assignment_no", "initial_population", "initial_weight_g"),
            on="assignment_no",
            maintain_order="left",
        )
        .sort("assignment_no", "date")
        .with_columns_seq(
            month=pl.col("date").dt.truncate("1mo"),
            before=pl.col("biomass_kg")
            .shift(1)
            .over("assignment_no")
            .fill_null(pl.col("initial_population") * pl.col("initial_weight_g") / 1000),
        )
    )
    sampled = sim.samples.select_seq("assignment_no", month=pl.col("sample_date").dt.truncate("1mo")).unique()
    # the feed sums eager, the rest one query
    fed_per_month = fed.group_by("assignment_no", "month").agg(
        total_feed_kg=pl.col("amount_kg").sum(), data_points=pl.len()
    )
    c = collected(
        days.group_by("assignment_no", "month")
        .agg(
            period_start=pl.col("date").min(),
            period_end=pl.col("date").max(),
            starting_biomass_kg=pl.col("before").first(),
            ending_biomass_kg=pl.col("biomass_kg").last(),
        )
        .join(fed_per_month.lazy(), on=["assignment_no", "month"], maintain_order="left")
        .join(
            sampled.lazy().with_columns_seq(measured=pl.lit(True)),
            on=["assignment_no", "month"],
            how="left",
            maintain_order="left",
        )
        .join(
            assignments.lazy().select_seq("assignment_no", container_assignment_id="id"),
            on="assignment_no",
            maintain_order="left",
        )
        .with_columns_seq(
            gain=pl.col("ending_biomass_kg") - pl.col("starting_biomass_kg"),
            measured=pl.col("measured").fill_null(False),
        )
        .with_columns_seq(
            growth_kg=pl.col("gain").clip(lower_bound=0),
            fcr=_fcr(pl.col("total_feed_kg"), pl.col("gain")),
            estimation_method=pl.when("measured").then(pl.lit("MEASURED")).otherwise(pl.lit("INTERPOLATED")),
            confidence_level=pl.when("measured").then(pl.lit("HIGH")).otherwise(pl.lit("MEDIUM")),
            batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
            created_at=created(),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
        .sort("created_at", "container_assignment_id")
    )

    total = sim.daily.group_by("date").agg(biomass=pl.col("biomass_kg").sum()).sort("date")
    first_biomass = (
        assignments.filter(pl.col("assignment_date") == pl.col("assignment_date").min())
        .select_seq((pl.col("initial_population") * pl.col("initial_weight_g") / 1000).sum())
        .item()
    )
    total = total.with_columns_seq(
        month=pl.col("date").dt.truncate("1mo"), before=pl.col("biomass").shift(1).fill_null(first_biomass)
    )
    # fish harvested on day H left the end-of-day biomass of H-1: count them in the period holding H
    # (a harvest the day after the period's last day is still in its ending biomass)
    last_day = total.group_by("month").agg(last=pl.col("date").max())
    harvested = (
        sim.harvests.with_columns_seq(month=pl.col("harvest_date").dt.truncate("1mo"))
        .join(last_day, on="month", maintain_order="left")
        .filter(pl.col("harvest_date") <= pl.col("last"))
        .group_by("month")
        .agg(harvested=pl.col("biomass_kg").sum())
    )
    per_container = c.group_by("month").agg(
        container_count=pl.len().cast(pl.Int32),
        weighted=(pl.col("fcr") * pl.col("total_feed_kg")).sum()
        / pl.col("total_feed_kg").filter(pl.col("fcr").is_not_null()).sum(),
        n_measured=pl.col("measured").sum(),
    )
    fed_per_month = fed.group_by("month").agg(
        total_feed_kg=pl.col("amount_kg").sum(), average_feeding_percentage=pl.col("feeding_percentage").mean()
    )
    b = collected(
        total.group_by("month")
        .agg(
            period_start=pl.col("date").min(),
            period_end=pl.col("date").max(),
            total_starting_biomass_kg=pl.col("before").first(),
            total_ending_biomass_kg=pl.col("biomass").last(),
            average_biomass_kg=pl.col("biomass").mean(),
        )
        .lazy()
        .join(fed_per_month.lazy(), on="month", maintain_order="left")
        .join(harvested.lazy(), on="month", how="left", maintain_order="left")
        .join(per_container.lazy(), on="month", maintain_order="left")
        .with_columns_seq(
            gain=pl.col("total_ending_biomass_kg")
            - pl.col("total_starting_biomass_kg")
            + pl.col("harvested").fill_null(0),
        )
        .with_columns_seq(
            total_feed_consumed_kg=pl.col("total_feed_kg"),
            total_biomass_gain_kg=pl.col("gain").clip(lower_bound=0),
            total_growth_kg=pl.col("gain").clip(lower_bound=0),
            fcr=_fcr(pl.col("total_feed_kg"), pl.col("gain")),
            weighted_avg_fcr=pl.when(pl.col("weighted") < FCR_LIMIT).then(pl.col("weighted")),
            estimation_method=pl.when(pl.col("n_measured") == pl.col("container_count"))
            .then(pl.lit("MEASURED"))
            .when(pl.col("n_measured") == 0)
            .then(pl.lit("INTERPOLATED"))
            .otherwise(pl.lit("MIXED")),
            overall_confidence_level=pl.when(pl.col("n_measured") == pl.col("container_count"))
            .then(pl.lit("HIGH"))
            .otherwise(pl.lit("MEDIUM")),
            batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
            created_at=created(),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
        .sort("created_at")
    )
    return c, b


FCR_LIMIT = 99.9995  # numeric(5,3): anything that rounds above 99.999 overflows


def _fcr(feed: pl.Expr, gain: pl.Expr) -> pl.Expr:
    """Feed over gain, where the growth the summary stores (to 2 decimals, kg) is positive: a gain of a few
    grams (a batch of 1,000 alevins) stores 0.00 kg of growth, and an FCR beside it would say otherwise."""
    ratio = feed / gain
    return pl.when((gain >= 0.005) & (ratio < FCR_LIMIT)).then(ratio)
