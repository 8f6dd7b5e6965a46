"""Table building for one batch in cb41030: the plan profile's batch tables (``build_with``),
with the sections whose tables changed replaced:

- transfers: a ``batch_batchtransferworkflow`` per stage transition (the sea transfer is the last
  one) with a ``batch_transferaction`` per container move, and the transition's water values in
  ``environmental_stagetransitionenvironmental``;
- mortality: a ``batch_mortalityevent`` per assignment and day with deaths (``assignment_id``), and
  one per transfer action that lost fish (cause HANDLING), as the application's execute step writes;
- creation: the egg delivery into the trays of Hall A (``creation``);
- health and harvest records, and the growth samples' fish (``health``);
- daily assignment states (``daily_states``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import MANAGER_ID, OPERATOR_ID
from aquagen.model.health import mortality_by_container
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.profiles.aquamind_8f2ab39 import batches as plan_batches
from aquagen.profiles.aquamind_8f2ab39 import scenario
from aquagen.profiles.aquamind_8f2ab39.batches import MORTALITY_TIME, MOVE_TIME, BatchTables
from aquagen.profiles.aquamind_8f2ab39.records import collected
from aquagen.tables.conform import column_value, with_ids_and_history
from aquagen.tables.cut import up_to
from aquagen.tables.ids import IdBook
from aquagen.timing import BUILD, timed

from . import creation, daily_states, health, planning
from .creation import with_states

WORKFLOW_LEAD = dt.timedelta(days=7, hours=1)  # a transition is planned a week before its first move, at 08:00
WORKFLOW_UPDATE = dt.timedelta(minutes=30)  # the workflow's totals after the day's moves
SEA = len(D.STAGES) - 1
OXYGEN, PH = (next(i for i, p in enumerate(D.PARAMETERS) if p.name == n) for n in ("Dissolved Oxygen", "pH"))
WORKFLOW = "batch_batchtransferworkflow"
ACTION = "batch_transferaction"
# a transfer's handling loss, as the transfer's execution writes its mortality event (the description's
# start: ``HANDLED`` selects these rows)
HANDLING_LOSS = "Handling loss during transfer:"
HANDLED = pl.col("description").str.starts_with(HANDLING_LOSS)


def build(plan: BatchPlan, sim: BatchSim, ids: IdBook) -> dict[str, pl.DataFrame]:
    """All rows of one batch's whole simulated life in this profile."""
    seen: list[BatchTables] = []

    def mortality(ctx: BatchTables) -> None:
        seen.append(ctx)
        assignment_mortality(ctx)

    with creation.deferred(ids) as deferred:
        out = plan_batches.build_with(
            plan,
            sim,
            deferred,
            transfer_workflows,
            mortality,
            creation.tray_created(sim),
            profile_records=health.records,
        )
        with timed(BUILD, "batch_creationaction"):
            creation.add(out, plan, sim, deferred)
    with timed(BUILD, "batch_actualdailyassignmentstate"):
        daily_states.add(seen[0])
    with timed(BUILD, "scenario_scenarioprojection"):
        scenario.add(out, plan, ids)  # the baseline scenario, its projection run pinned by the batch
    with timed(BUILD, "planning_plannedactivity"):
        planning.add(out, plan, sim, ids)  # the activities planned on it
    return out


def _at(day: pl.Expr, offset: dt.timedelta) -> pl.Expr:
    return (day.cast(pl.Datetime("us")) + pl.lit(offset)).dt.replace_time_zone("UTC")


def _actions(ctx: BatchTables) -> pl.DataFrame:
    """Every container move as an action of its transition's workflow, with the values it executes."""
    sim, bca_of = ctx.sim, ctx.bca_of
    moved = pl.col("transferred_count") + pl.col("mortality_count")
    moving_days = sim.daily.lazy().filter(pl.col("date").is_in(sim.transfers["transfer_date"].unique().implode()))
    return collected(
        sim.transfers.lazy()
        .sort("transfer_date", "source_assignment_no", "dest_assignment_no")
        .with_columns_seq(
            stage=pl.col("dest_stage").cast(pl.Int64),
            action_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("dest_stage"),
            # the source's population when this action starts: a split tank's second action sees the rest
            source_population_before=(pl.col("source_count") - (moved.cum_sum() - moved).over("source_assignment_no")),
            source_assignment_id=bca_of("source_assignment_no"),
            dest_assignment_id=bca_of("dest_assignment_no"),
        )
        .join(
            ctx.assignments.lazy().select_seq(dest_assignment_no="assignment_no", dest_container_id="container_id"),
            on="dest_assignment_no",
            maintain_order="left",
        )
        .join(
            moving_days.select_seq(
                dest_assignment_no="assignment_no", transfer_date="date", water_temp_c="temperature_c"
            ),
            on=["dest_assignment_no", "transfer_date"],
            how="left",
            maintain_order="left",
        )
    )


def transfer_workflows(ctx: BatchTables) -> None:
    """Workflows, their actions (history: '+' PLANNED/PENDING a week ahead, '~' per executed day)
    and each transition's water values."""
    plan, sim, ids, out = ctx.plan, ctx.sim, ctx.ids, ctx.out
    acts = _actions(ctx)
    start = sim.stage_changes["date"][0]
    wf = collected(
        acts.lazy()
        .group_by("stage", maintain_order=True)
        .agg(
            planned_start_date=pl.col("transfer_date").min(),
            planned_completion_date=pl.col("transfer_date").max(),
            total_actions_planned=pl.len().cast(pl.Int32),
            total_source_count=pl.col("source_population_before").sum(),
        )
        .sort("stage")
        .with_columns_seq(
            created_at=_at(pl.col("planned_start_date"), MOVE_TIME - WORKFLOW_LEAD),
            workflow_number=pl.format(
                "TRF-{}-D{}",
                pl.lit(plan.batch_number),
                (pl.col("planned_start_date") - pl.lit(start)).dt.total_days().cast(pl.String).str.zfill(3),
            ),
        )
    )
    wf = wf.with_columns_seq(id=ids.assign(WORKFLOW, wf))
    acts = acts.join(
        wf.select_seq("stage", workflow_id="id", wf_created="created_at"), on="stage", maintain_order="left"
    )
    acts = acts.with_columns_seq(id=ids.assign(ACTION, acts.with_columns_seq(created_at="wf_created")))

    # actions: '+' pending when the workflow is planned, '~' completed when executed
    executed = _at(pl.col("transfer_date"), MOVE_TIME)
    common: dict[str, str | pl.Expr] = dict(
        id="id",
        action_number="action_number",
        workflow_id="workflow_id",
        source_assignment_id="source_assignment_id",
        dest_container_id="dest_container_id",
        source_population_before="source_population_before",
        transferred_count="transferred_count",
        transferred_biomass_kg="transferred_biomass_kg",
        planned_date="transfer_date",
        transfer_method=pl.lit("PUMP"),
        notes=pl.lit(""),
        measured_notes=pl.lit(""),
        selection_method=pl.lit("AVERAGE"),
        allow_mixed=pl.lit(False),
        created_via=pl.lit("PLANNED"),
        created_at="wf_created",
    )
    pending = acts.select_seq(
        **common,
        status=pl.lit("PENDING"),
        mortality_during_transfer=pl.lit(0, dtype=pl.Int64),
        updated_at="wf_created",
        history_type=pl.lit("+"),
    )
    done = acts.select_seq(
        **common,
        status=pl.lit("COMPLETED"),
        mortality_during_transfer="mortality_count",
        dest_assignment_id="dest_assignment_id",
        actual_execution_date="transfer_date",
        executed_at=executed,
        executed_by_id=pl.lit(OPERATOR_ID, dtype=pl.Int32),
        water_temp_c="water_temp_c",
        execution_duration_minutes=(40 + 5 * (pl.col("action_number") % 7)).cast(pl.Int32),
        updated_at=executed,
        history_type=pl.lit("~"),
    )
    with_states(out, ctx.T, ctx.ids, ACTION, pl.concat([pending, done], how="diagonal_relaxed"))

    # workflows: '+' planned, then the totals after each day of moves
    days = (
        acts.group_by("stage", "transfer_date")
        .agg(
            n=pl.len(),
            transferred=pl.col("transferred_count").sum(),
            lost=pl.col("mortality_count").sum(),
            # the actions' stored values (conform's rounding, half away from zero), so that the totals
            # are their sums exactly
            biomass=column_value(
                ctx.T.table(ACTION).column("transferred_biomass_kg"), pl.col("transferred_biomass_kg")
            ).sum(),
        )
        .lazy()  # the sums eager (in their order), the rest one query
        .sort("stage", "transfer_date")
        .with_columns_seq(
            actions_completed=pl.col("n").cum_sum().over("stage").cast(pl.Int32),
            total_transferred_count=pl.col("transferred").cum_sum().over("stage"),
            total_mortality_count=pl.col("lost").cum_sum().over("stage"),
            total_biomass_kg=pl.col("biomass").cum_sum().over("stage"),
        )
        .join(wf.lazy(), on="stage", maintain_order="left")
    )
    fixed: dict[str, str | pl.Expr] = dict(
        id="id",
        workflow_number="workflow_number",
        workflow_type=pl.lit("LIFECYCLE_TRANSITION"),
        planned_start_date="planned_start_date",
        planned_completion_date="planned_completion_date",
        total_source_count="total_source_count",
        total_actions_planned="total_actions_planned",
        is_intercompany=pl.col("stage") == SEA,
        source_subsidiary=pl.when(pl.col("stage") == SEA).then(pl.lit("FRESHWATER")),
        dest_subsidiary=pl.when(pl.col("stage") == SEA).then(pl.lit("FARMING")),
        notes=pl.when(pl.col("stage") == SEA)
        .then(pl.lit("Sea transfer: each tank split over two rings"))
        .otherwise(
            pl.format(
                "Stage transition to {}",
                pl.col("stage").replace_strict(
                    list(range(len(D.STAGES))), [s.name for s in D.STAGES], return_dtype=pl.String
                ),
            )
        ),
        cancellation_reason=pl.lit(""),
        is_dynamic_execution=pl.lit(False),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        initiated_by_id=pl.lit(MANAGER_ID, dtype=pl.Int32),
        source_lifecycle_stage_id=pl.col("stage"),
        dest_lifecycle_stage_id=pl.col("stage") + 1,
        created_at="created_at",
    )
    planned = wf.select_seq(
        **fixed,
        status=pl.lit("PLANNED"),
        total_transferred_count=pl.lit(0, dtype=pl.Int64),
        total_mortality_count=pl.lit(0, dtype=pl.Int64),
        total_biomass_kg=pl.lit(0.0),
        actions_completed=pl.lit(0, dtype=pl.Int32),
        completion_percentage=pl.lit(0.0),
        updated_at="created_at",
        history_type=pl.lit("+"),
    )
    complete = pl.col("actions_completed") >= pl.col("total_actions_planned")
    progress = collected(
        days.select_seq(
            **fixed,
            status=pl.when(complete).then(pl.lit("COMPLETED")).otherwise(pl.lit("IN_PROGRESS")),
            total_transferred_count="total_transferred_count",
            total_mortality_count="total_mortality_count",
            total_biomass_kg="total_biomass_kg",
            actions_completed="actions_completed",
            completion_percentage=(pl.col("actions_completed") * 100 / pl.col("total_actions_planned")).round(2),
            actual_start_date="planned_start_date",
            actual_completion_date=pl.when(complete).then(pl.col("transfer_date")),
            completed_by_id=pl.when(complete).then(pl.lit(MANAGER_ID, dtype=pl.Int32)),
            updated_at=_at(pl.col("transfer_date"), MOVE_TIME + WORKFLOW_UPDATE),
            history_type=pl.lit("~"),
        )
    )
    with_states(out, ctx.T, ctx.ids, WORKFLOW, pl.concat([planned, progress], how="diagonal_relaxed"))

    # water values of the first day of moves, in the destination containers: the temperature from the
    # water itself (a sensor outage may leave the day without readings), oxygen and pH from the readings
    first = acts.filter(pl.col("transfer_date") == pl.col("transfer_date").min().over("stage")).select_seq(
        assignment_no="dest_assignment_no", day="transfer_date", workflow_id="workflow_id"
    )
    temp = first.join(
        sim.daily.select_seq("assignment_no", day="date", temperature="temperature_c"),
        on=["assignment_no", "day"],
        maintain_order="left",
    )
    # the readings of those containers on those days only (a hundredth of the batch's), in their order
    water = (
        sim.readings.filter(
            pl.col("assignment_no").is_in(first["assignment_no"].implode())
            & pl.col("reading_time").dt.date().is_in(first["day"].unique().implode())
        )
        .with_columns_seq(day=pl.col("reading_time").dt.date())
        .join(first, on=["assignment_no", "day"], maintain_order="left")
    )
    mean = lambda p: pl.col("value").filter(pl.col("parameter") == p).mean()
    env = collected(
        temp.group_by("workflow_id", "day")
        .agg(temperature=pl.col("temperature").mean())
        .lazy()  # the means eager (in their order), the rest one query
        .join(
            water.group_by("workflow_id", "day").agg(oxygen=mean(OXYGEN), ph=mean(PH)).lazy(),
            on=["workflow_id", "day"],
            how="left",
            maintain_order="left",
        )
        .sort("workflow_id")
        .select_seq(
            pl.col("temperature").round(2),
            "oxygen",
            "ph",
            notes=pl.lit(
                "Destination containers on the first day of moves: water temperature, mean oxygen and pH readings"
            ),
            created_at=_at(pl.col("day"), MOVE_TIME + WORKFLOW_UPDATE),
            batch_transfer_workflow_id="workflow_id",
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
    )
    with_ids_and_history(out, "environmental_stagetransitionenvironmental", env, OPERATOR_ID, ids)


def assignment_mortality(ctx: BatchTables) -> None:
    """Deaths per assignment and day (the registration's cause of that day; a handled delousing's ring:
    handling, as its mortality record), and the handling losses of the transfer actions (on the source
    assignment, at the move)."""
    plan, sim, ids, out, bca_of = ctx.plan, ctx.sim, ctx.ids, ctx.out, ctx.bca_of
    daily = mortality_by_container(sim).select_seq(
        event_date="date",
        count="count",
        biomass_kg=pl.col("count") * pl.col("avg_weight_g") / 1000,
        cause="cause",
        assignment_no="assignment_no",
        description=pl.format("Daily mortality registration: {} fish", pl.col("count")),
        created_at=_at(pl.col("date"), MORTALITY_TIME),
    )
    handling = sim.transfers.filter(pl.col("mortality_count") > 0).select_seq(
        event_date="transfer_date",
        count="mortality_count",
        biomass_kg=pl.col("mortality_count") * pl.col("source_biomass_kg") / pl.col("source_count"),
        cause=pl.lit("HANDLING"),
        assignment_no="source_assignment_no",
        description=pl.format(HANDLING_LOSS + " {} fish", pl.col("mortality_count")),
        created_at=_at(pl.col("transfer_date"), MOVE_TIME),
    )
    # a stable sort: the handling losses of one tank moved to several on a day tie on the sort's columns
    # and keep the transfers' order (an unstable sort's order of ties is the sort algorithm's)
    mo = up_to(
        pl.concat([daily, handling]).sort("created_at", "assignment_no", "cause", maintain_order=True),
        "created_at",
        plan.horizon,
    ).with_columns_seq(
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        assignment_id=bca_of("assignment_no"),
        updated_at=pl.col("created_at"),
    )
    with_ids_and_history(out, "batch_mortalityevent", mo, OPERATOR_ID, ids)
