"""The planning app (cb41030): activity templates, and each batch's planned activities on its
baseline scenario, as the application's operators would keep them.

Every active template gives a batch one activity, planned by the manager when the batch (and its
scenario) is created, due on the day the template's trigger falls on the scenario's projection: a
day offset from the start, the first day of a lifecycle stage on the FCR stage timeline, or the
first day the projected weight reaches a threshold (the application's assimilation engine marks
those with ``[TemplateID:<id>]`` in the notes). Transfers and the harvest are done when the fish
actually moved or were harvested (IN_PROGRESS from the first move, COMPLETED with the last);
the others a few days around their due date, some weeks late (so, at the as-of date, some activities
are overdue: PENDING past their due date), and a few maintenance jobs are cancelled. Activities
the batch's life ends before are cancelled with it. Each state is a history row.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import MANAGER_ID, OPERATOR_ID, VET_ID
from aquagen.model.seeds import rng_for
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.tables.conform import Bound, numbered_history
from aquagen.tables.ids import IdBook

PLANNING_STREAM = 0x91A2  # the activities' delays and cancellations: their own stream in the batch's shard
TEMPLATES = (  # name, activity type, trigger, day offset, weight threshold (g), target stage index, description
    ("Vaccination before sea transfer", "VACCINATION", "DAY_OFFSET", 400, None, None, "6-8 weeks before sea"),
    *(
        (f"Transfer to {s.name}", "TRANSFER", "STAGE_TRANSITION", None, None, k, f"Move the batch into {s.name}")
        for k, s in enumerate(D.STAGES)
        if k > 0
    ),
    ("Sampling after sea transfer", "SAMPLING", "DAY_OFFSET", 480, None, None, "Weight and welfare after transfer"),
    ("Switch to finisher feed", "FEED_CHANGE", "WEIGHT_THRESHOLD", None, 2000.0, None, "Finisher pellets from 2 kg"),
    ("Net inspection and change", "MAINTENANCE", "DAY_OFFSET", 600, None, None, "Divers inspect; nets changed"),
    ("Harvest at target weight", "HARVEST", "WEIGHT_THRESHOLD", None, 4500.0, None, "Harvest planning"),
)
LATE_SHARE, LATE_DAYS = 0.2, (10, 45)  # done weeks late: overdue in between
CANCELLED_SHARE = 0.1  # maintenance jobs dropped
DONE_TIME = dt.timedelta(hours=15)


def templates(t: dt.datetime, T: Bound) -> pl.DataFrame:
    n = len(TEMPLATES)
    return T.conform(
        "planning_activitytemplate",
        {
            "id": list(range(1, n + 1)),
            "name": [x[0] for x in TEMPLATES],
            "description": [x[6] for x in TEMPLATES],
            "activity_type": [x[1] for x in TEMPLATES],
            "trigger_type": [x[2] for x in TEMPLATES],
            "day_offset": pl.Series([x[3] for x in TEMPLATES], dtype=pl.Int32),
            "weight_threshold_g": pl.Series([x[4] for x in TEMPLATES], dtype=pl.Float64),
            "notes_template": [f"{x[0]}: {x[6]}" for x in TEMPLATES],
            "is_active": [True] * n,
            "created_at": [t] * n,
            "updated_at": [t] * n,
            "target_lifecycle_stage_id": pl.Series(
                [None if x[5] is None else x[5] + 1 for x in TEMPLATES], dtype=pl.Int64
            ),
        },
    )


def _at(day: dt.date, offset: dt.timedelta) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC) + offset


def add(out: dict[str, pl.DataFrame], plan: BatchPlan, sim: BatchSim, ids: IdBook) -> None:
    """The batch's planned activities (base rows at their last state, a history row per state)."""
    T = Bound(ids.profile)
    scen = out["scenario"].row(0, named=True)
    proj = out["scenario_scenarioprojection"].sort("day_number")
    start, created = scen["start_date"], scen["created_at"]
    ends = np.cumsum([s.days for s in D.STAGES])
    stage_day = {k: int(ends[k - 1]) + 1 for k in range(1, len(D.STAGES))}  # first day of stage k on the timeline
    weights = proj["average_weight"].to_numpy()
    moved = dict(zip(sim.stage_changes["stage"].to_list(), sim.stage_changes["date"].to_list()))
    harvests = sim.harvests["harvest_date"]
    life_end = sim.actual_end_date  # after it nothing is done any more
    rng = rng_for(plan.seed, plan.shard, PLANNING_STREAM)
    u = rng.random((len(TEMPLATES), 3))
    rows, states = [], []
    for i, (name, kind, trigger, offset, threshold, stage, _) in enumerate(TEMPLATES):
        if offset is not None:  # DAY_OFFSET
            day = offset
        elif stage is not None:  # STAGE_TRANSITION
            day = stage_day[stage]
        else:  # WEIGHT_THRESHOLD
            reached = np.flatnonzero(weights >= threshold)
            if not len(reached):
                continue  # the projection never gets there
            day = int(reached[0]) + 1
        due = start + dt.timedelta(days=day - 1)
        marker = f"[TemplateID:{i + 1}] " if trigger != "DAY_OFFSET" else ""
        base = {
            "activity_type": kind,
            "due_date": due,
            "notes": f"{marker}{name}",
            "created_at": created,
            "batch_id": plan.batch_id,
            "created_by_id": MANAGER_ID,
            "scenario_id": scen["scenario_id"],
        }
        track: list[tuple[str, dt.datetime]] = [("PENDING", created)]
        if kind == "TRANSFER" and stage in moved:
            first = moved[stage]
            track += [
                ("IN_PROGRESS", _at(first, dt.timedelta(hours=9))),
                ("COMPLETED", _at(first, DONE_TIME) + dt.timedelta(days=9)),
            ]
        elif kind == "HARVEST" and harvests.len():
            track += [("IN_PROGRESS", _at(cast(dt.date, harvests.min()), dt.timedelta(hours=10)))]
            if life_end is not None:
                track += [("COMPLETED", _at(life_end, DONE_TIME + dt.timedelta(hours=2)))]
        elif kind == "MAINTENANCE" and u[i, 0] < CANCELLED_SHARE:
            track += [("CANCELLED", _at(due + dt.timedelta(days=3), DONE_TIME))]
        elif kind not in ("TRANSFER", "HARVEST"):
            late = u[i, 1] < LATE_SHARE
            delay = LATE_DAYS[0] + u[i, 2] * (LATE_DAYS[1] - LATE_DAYS[0]) if late else u[i, 2] * 3 - 1
            track += [("COMPLETED", _at(due + dt.timedelta(days=int(round(delay))), DONE_TIME))]
        if life_end is not None:  # nothing is done after the batch's last day: what is open then is cancelled
            track = [s for s in track if s[1] <= _at(life_end, DONE_TIME + dt.timedelta(hours=2))]
            if track[-1][0] not in ("COMPLETED", "CANCELLED"):
                track += [("CANCELLED", _at(life_end, DONE_TIME + dt.timedelta(hours=3)))]
        rows.append(base)
        states.append(track)
    if not rows:
        return
    df = pl.DataFrame(rows).with_columns(pl.col("created_at").dt.cast_time_unit("us"))
    act_ids = ids.assign("planning_plannedactivity", df)
    hist = []
    for aid, row, track in zip(act_ids, rows, states):
        for j, (status, at) in enumerate(track):
            done = status == "COMPLETED"
            hist.append(
                {
                    **row,
                    "id": aid,
                    "status": status,
                    "updated_at": at,
                    "completed_at": at if done else None,
                    "completed_by_id": (VET_ID if row["activity_type"] == "VACCINATION" else OPERATOR_ID)
                    if done
                    else None,
                    "history_date": at,
                    "history_type": "+" if j == 0 else "~",
                    "history_user_id": MANAGER_ID if j == 0 or status == "CANCELLED" else OPERATOR_ID,
                }
            )
    h = pl.DataFrame(
        hist,
        schema_overrides={
            "completed_at": pl.Datetime("us", "UTC"),
            "completed_by_id": pl.Int32,
            "history_user_id": pl.Int32,
            "created_at": pl.Datetime("us", "UTC"),
            "updated_at": pl.Datetime("us", "UTC"),
            "history_date": pl.Datetime("us", "UTC"),
        },
    )
    name = "planning_plannedactivity"
    cols = [c for c in T.table(name).column_names if c in h.columns]  # container and workflow: NULL
    last = h.sort("id", "history_date").group_by("id", maintain_order=True).last()
    out[name] = T.conform(name, last.select(cols).sort("id"))
    hist_rows = T.conform(name, h.select(cols)).with_columns(
        history_id=pl.lit(0, dtype=pl.Int32),
        history_date=h["history_date"],
        history_change_reason=pl.lit(None, dtype=pl.String),
        history_type=h["history_type"],
        history_user_id=h["history_user_id"],
    )
    out["planning_historicalplannedactivity"] = numbered_history(
        name, hist_rows.select(T.table("planning_historicalplannedactivity").column_names), ids
    )


# --- checks (``aquagen validate``) -------------------------------------------------------------
CHECKS = [
    ("planning", "activity templates", "SELECT COUNT(*) FROM planning_activitytemplate", len(TEMPLATES)),
    (
        "planning",
        "batches without planned activities",
        "SELECT COUNT(*) FROM batch_batch b LEFT JOIN (SELECT DISTINCT batch_id FROM planning_plannedactivity) a "
        "ON a.batch_id = b.id WHERE a.batch_id IS NULL",
        0,
    ),
    (
        "planning",
        "planned activities on a scenario of another batch",
        "SELECT COUNT(*) FROM planning_plannedactivity a LEFT JOIN scenario s ON s.scenario_id = a.scenario_id "
        "WHERE s.batch_id IS NULL OR s.batch_id <> a.batch_id",
        0,
    ),
    (
        "planning",
        "completed activities without completion time and user, or others with them",
        "SELECT COUNT(*) FROM planning_plannedactivity WHERE (status = 'COMPLETED' AND (completed_at IS NULL "
        "OR completed_by_id IS NULL)) OR (status <> 'COMPLETED' AND (completed_at IS NOT NULL "
        "OR completed_by_id IS NOT NULL))",
        0,
    ),
    (
        "planning",
        "activities changed after the as-of date",
        "SELECT COUNT(*) FROM planning_plannedactivity WHERE CAST(updated_at AS DATE) > {as_of}",
        0,
    ),
]
