"""The egg delivery of a batch as the application's creation workflow records it.

A ``batch_creationworkflow`` (EXTERNAL, with an egg supplier) is created ``CREATION_LEAD`` before the
batch starts; creating it creates the batch (PLANNED) and, per tray of Hall A, a
``batch_creationaction`` with a placeholder assignment (population 0, inactive, dated the planned
start). On the start day the trays are delivered one after another: each action COMPLETED with the
eggs that arrived alive (``egg_count_actual`` = the tray's first population; the dead on arrival are
``mortality_on_arrival``), the assignment activated, the batch RECEIVING, then ACTIVE and the
workflow COMPLETED with the last delivery. A batch starting less than ``CREATION_LEAD`` after the
as-of date therefore shows as PLANNED, with a PLANNED workflow and PENDING actions.

The batch's and the trays' history rows are numbered only once these states are added
(``Deferred``), so their ids stay dense and in time order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import polars as pl

from aquagen.model.domain import MANAGER_ID, OPERATOR_ID
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.profiles.aquamind_8f2ab39.batches import MOVE_TIME
from aquagen.profiles.aquamind_8f2ab39.records import last_states, utc
from aquagen.tables.conform import Bound, conform, numbered_history, with_column
from aquagen.tables.ids import IdBook
from aquagen.tables.order import sort_unique

from .masterdata import EGG_SUPPLIERS

CREATION_LEAD = dt.timedelta(days=30, hours=1)  # planned 30 days ahead, at 08:00 (moves happen at 09:00)
DELIVERY_TIME = dt.timedelta(hours=5)  # trays are delivered from 05:00, before the first readings
DELIVERY_STEP = dt.timedelta(minutes=6)
BATCH_HISTORY = "batch_historicalbatch"
TRAY_HISTORY = "batch_historicalbatchcontainerassignment"
WORKFLOW, ACTION = "batch_creationworkflow", "batch_creationaction"


class Deferred:
    """An id book that leaves the history ids of the batch and its assignments for ``number``."""

    TABLES = (BATCH_HISTORY, TRAY_HISTORY)

    def __init__(self, inner: IdBook) -> None:
        self.inner = inner
        self.profile = inner.profile

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        if table in self.TABLES:
            return pl.zeros(df.height, pl.Int64, eager=True).alias("")
        return self.inner.assign(table, df)

    def number(self, out: dict[str, pl.DataFrame], table: str) -> None:
        df = out[table]
        base = Bound(self.profile).table(table).history_of
        assert base is not None
        out[table] = numbered_history(base, df, self.inner)


@contextmanager
def deferred(ids: IdBook) -> Iterator[Deferred]:
    book = Deferred(ids)
    yield book


def created_at(start: dt.date) -> dt.datetime:
    return dt.datetime.combine(start, dt.time(), dt.UTC) + dt.timedelta(hours=9) - CREATION_LEAD


def tray_created(sim: BatchSim) -> pl.Expr:
    """Assignments are created at their move, the trays' placeholders with the creation workflow."""
    created = created_at(sim.stage_changes["date"][0])
    move = (pl.col("assignment_date").cast(pl.Datetime("us")) + pl.lit(MOVE_TIME)).dt.replace_time_zone("UTC")
    return pl.when(pl.col("stage") == 0).then(pl.lit(created)).otherwise(move)


def add(out: dict[str, pl.DataFrame], plan: BatchPlan, sim: BatchSim, ids: Deferred) -> None:
    """The creation workflow, its actions, and the batch's and trays' states before they are active."""
    T = Bound(ids.profile)
    start = sim.stage_changes["date"][0]
    created = created_at(start)
    # the trays (the first stage's assignments) by their first ('+') history rows; delivered in container order
    h = out[TRAY_HISTORY]
    first_rows = h.select_seq((pl.col("history_type") == "+") & (pl.col("lifecycle_stage_id") == 1)).to_series()
    placeholder = h.filter(first_rows)
    trays = placeholder.sort("container_id")
    n = trays.height
    delivered = [dt.datetime.combine(start, dt.time(), dt.UTC) + DELIVERY_TIME + i * DELIVERY_STEP for i in range(n)]
    moments = utc([created, *delivered])  # creation, then each tray's delivery
    created_lit = pl.lit(moments[:1]).first()
    doa = (
        (trays["population_count"] * (0.001 + 0.0005 * ((plan.batch_id * 7 + pl.int_range(n, eager=True) * 3) % 5)))
        .round(0)
        .cast(pl.Int64)
    )
    actual = trays["population_count"]

    # --- the trays: a placeholder from the workflow's creation, filled at delivery ---
    filled = trays.with_columns_seq(history_date=moments[1:], updated_at=moments[1:], history_type=pl.lit("~"))
    placeholder = placeholder.with_columns_seq(
        population_count=pl.lit(0).cast(h.schema["population_count"]),
        biomass_kg=pl.lit(0).cast(h.schema["biomass_kg"]),
        is_active=pl.lit(False),
    )
    out[TRAY_HISTORY] = pl.concat([h.filter(~first_rows), placeholder, filled])  # numbered in history order
    ids.number(out, TRAY_HISTORY)

    # --- the batch: PLANNED at creation, RECEIVING at the first delivery, ACTIVE at the last ---
    b = out[BATCH_HISTORY]
    added = b["history_type"] == "+"
    first = b.filter(added)  # the batch's one '+' row
    arrival = moments.gather([0, 1, n])
    b = pl.concat([pl.concat([first] * 3), b.filter(~added)]).with_columns_seq(
        created_at=created_lit,
        status=pl.concat([pl.Series(["PLANNED", "RECEIVING"]), first["status"], b["status"].filter(~added)]),
        history_date=pl.concat([arrival, b["history_date"].filter(~added)]),
        updated_at=pl.concat([arrival, b["updated_at"].filter(~added)]),
        history_type=pl.concat([pl.Series(["+", "~", "~"]), b["history_type"].filter(~added)]),
    )
    out[BATCH_HISTORY] = b
    ids.number(out, BATCH_HISTORY)
    out["batch_batch"] = out["batch_batch"].with_columns_seq(created_at=created_lit)

    # --- the workflow and its actions ---
    supplier = plan.batch_id % len(EGG_SUPPLIERS)
    wf = pl.DataFrame({"created_at": moments[:1]})
    wf_id = ids.assign(WORKFLOW, wf)[0]
    fixed = dict(
        id=wf_id,
        workflow_number=f"CRT-{plan.batch_number}",
        egg_source_type="EXTERNAL",
        external_supplier_batch_number=f"{EGG_SUPPLIERS[supplier][0].split()[0].upper()}-{start:%Y}-{plan.batch_id:04d}",
        external_cost_per_thousand=round(95.0 + 2.5 * (plan.batch_id % 7), 2),
        total_eggs_planned=int((actual + doa).sum()),
        planned_start_date=start,
        planned_completion_date=start,
        total_actions=n,
        cancellation_reason="",
        notes=f"Eyed eggs for {plan.batch_number} into Hall A trays",
        batch_id=plan.batch_id,
        created_by_id=MANAGER_ID,
        external_supplier_id=supplier + 1,
    )
    done = pl.Series(range(1, n + 1))
    states = pl.concat(
        [
            pl.DataFrame(
                {
                    **{k: [v] for k, v in fixed.items()},  # lists: a scalar is broadcast by a query each
                    "created_at": moments[:1],
                    "status": ["PLANNED"],
                    "total_eggs_received": [0],
                    "total_mortality_on_arrival": [0],
                    "actions_completed": [0],
                    "progress_percentage": [0.0],
                    "updated_at": moments[:1],
                    "history_type": ["+"],
                }
            ),
            pl.DataFrame(
                {
                    **{k: [v] * n for k, v in fixed.items()},
                    "created_at": moments.gather([0] * n),
                    "status": ["IN_PROGRESS"] * (n - 1) + ["COMPLETED"],
                    "total_eggs_received": actual.cum_sum(),
                    "total_mortality_on_arrival": doa.cum_sum(),
                    "actions_completed": done,
                    "progress_percentage": (done * 100 / n).round(2),
                    "actual_start_date": [start] * n,
                    "actual_completion_date": [None] * (n - 1) + [start],
                    "updated_at": moments[1:],
                    "history_type": ["~"] * n,
                }
            ),
        ],
        how="diagonal_relaxed",
    )
    with_states(out, T, ids, WORKFLOW, states)

    act = pl.DataFrame({"created_at": moments.gather([0] * n)})
    act_ids = ids.assign(ACTION, act)
    fixed_a = pl.DataFrame(
        {
            "id": act_ids,
            "action_number": list(range(1, n + 1)),
            "egg_count_planned": actual + doa,
            "expected_delivery_date": [start] * n,
            "notes": [""] * n,
            "created_at": moments.gather([0] * n),
            "dest_assignment_id": trays["id"],
            "workflow_id": [wf_id] * n,
        }
    )
    pending = fixed_a.with_columns_seq(
        status=pl.lit("PENDING"),
        mortality_on_arrival=pl.lit(0, dtype=pl.Int64),
        updated_at=created_lit,
        history_type=pl.lit("+"),
    )
    temps = sim.daily.filter(pl.col("date") == start).sort("assignment_no")["temperature_c"]
    executed = fixed_a.with_columns_seq(
        status=pl.lit("COMPLETED"),
        egg_count_actual=actual,
        mortality_on_arrival=doa,
        actual_delivery_date=pl.lit(start),
        delivery_method=pl.lit("TRANSPORT"),
        water_temp_on_arrival=temps[:n] if temps.len() >= n else pl.lit(None, dtype=pl.Float64),
        egg_quality_score=pl.lit(4, dtype=pl.Int16),
        execution_duration_minutes=pl.lit(5, dtype=pl.Int32),
        executed_by_id=pl.lit(OPERATOR_ID, dtype=pl.Int32),
        updated_at=moments[1:],
        history_type=pl.lit("~"),
    )
    with_states(out, T, ids, ACTION, pl.concat([pending, executed], how="diagonal_relaxed"))


def with_states(out: dict, T: Bound, ids: IdBook, name: str, states: pl.DataFrame) -> None:
    """A changing object's rows: its history (a row per state; '+' by the manager who plans it,
    '~' by the operator who executes it) and its last state as the row."""
    states = sort_unique(states, "id", "updated_at")
    rows = conform(name, states, T.profile, subset=True)
    out[name] = last_states(rows)
    planned = (states.get_column("history_type") == "+").to_numpy()
    user = pl.Series(np.where(planned, MANAGER_ID, OPERATOR_ID).astype(np.int32))
    hist = with_column(
        T.history(name, rows, states.get_column("updated_at"), "+", user), states.get_column("history_type")
    )
    out[T.table(name).history_table] = numbered_history(name, hist, ids)
