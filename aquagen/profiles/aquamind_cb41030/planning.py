"""The planning app (cb41030): activity templates, and each batch's planned activities on its
baseline scenario, as the application's operators would keep them.

Every active template gives a batch one activity, planned by the manager when the batch (and its
scenario) is created, due on the day the template's trigger falls on the scenario's projection: a
day offset from the start, the first day of a lifecycle stage on the FCR stage timeline, or the
first day the projected weight reaches a threshold (the application's assimilation engine marks
those with ``[TemplateID:<id>]`` in the notes). A transfer activity spawns its transition's transfer
workflow, as the application's ``spawn_transfer_workflow`` does: when the manager plans the workflow it
is linked both ways (``transfer_workflow_id``, the workflow's ``planned_activity_id``) and the activity
goes IN_PROGRESS; the workflow's completion completes it (by the workflow's ``completed_by``, else its
initiator), at the same moment. The harvest is IN_PROGRESS from the first ring and COMPLETED with the last;
the others a few days around their due date, some weeks late (so, at the as-of date, some activities
are overdue: PENDING past their due date), and a few maintenance jobs are cancelled. Activities
the batch's life ends before are cancelled with it. Each state is a history row.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple, cast

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import MANAGER_ID, OPERATOR_ID, VET_ID
from aquagen.model.seeds import rng_for
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.profiles.aquamind_8f2ab39.records import last_states
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
WORKFLOW, HISTORY_WORKFLOW = "batch_batchtransferworkflow", "batch_historicalbatchtransferworkflow"


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
    spawned = _workflows(out)
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
        doer = VET_ID if kind == "VACCINATION" else OPERATOR_ID
        track: list[State] = [State("PENDING", created)]
        if kind == "TRANSFER" and stage is not None and stage + 1 in spawned:
            wf = spawned[stage + 1]  # the workflow into the template's target stage
            track += [State("IN_PROGRESS", max(wf["created_at"], created), wf["id"])]
            if wf["status"] == "COMPLETED":
                by = wf["completed_by_id"] or wf["initiated_by_id"]
                track += [State("COMPLETED", wf["updated_at"], wf["id"], by)]
        elif kind == "HARVEST" and harvests.len():
            track += [State("IN_PROGRESS", _at(cast(dt.date, harvests.min()), dt.timedelta(hours=10)))]
            if life_end is not None:
                track += [State("COMPLETED", _at(life_end, DONE_TIME + dt.timedelta(hours=2)), None, doer)]
        elif kind == "MAINTENANCE" and u[i, 0] < CANCELLED_SHARE:
            track += [State("CANCELLED", _at(due + dt.timedelta(days=3), DONE_TIME))]
        elif kind not in ("TRANSFER", "HARVEST"):
            late = u[i, 1] < LATE_SHARE
            delay = LATE_DAYS[0] + u[i, 2] * (LATE_DAYS[1] - LATE_DAYS[0]) if late else u[i, 2] * 3 - 1
            track += [State("COMPLETED", _at(due + dt.timedelta(days=int(round(delay))), DONE_TIME), None, doer)]
        if life_end is not None:  # nothing is done after the batch's last day: what is open then is cancelled
            track = [s for s in track if s.at <= _at(life_end, DONE_TIME + dt.timedelta(hours=2))]
            if track[-1].status not in ("COMPLETED", "CANCELLED"):
                track += [State("CANCELLED", _at(life_end, DONE_TIME + dt.timedelta(hours=3)), track[-1].workflow_id)]
        rows.append(base)
        states.append(track)
    if not rows:
        return
    df = pl.DataFrame(rows).with_columns_seq(pl.col("created_at").dt.cast_time_unit("us"))
    act_ids = ids.assign("planning_plannedactivity", df)
    hist = []
    links: dict[int, int] = {}  # workflow id -> the activity that spawned it
    for aid, row, track in zip(act_ids, rows, states):
        for j, st in enumerate(track):
            if st.workflow_id is not None:
                links[st.workflow_id] = aid
            spawn = st.status == "IN_PROGRESS" and st.workflow_id is not None
            hist.append(
                {
                    **row,
                    "id": aid,
                    "status": st.status,
                    "updated_at": st.at,
                    "completed_at": st.at if st.status == "COMPLETED" else None,
                    "completed_by_id": st.completed_by,
                    "transfer_workflow_id": st.workflow_id,
                    "history_date": st.at,
                    "history_type": "+" if j == 0 else "~",
                    # the manager plans, spawns and cancels; the operator's last move completes a transfer
                    "history_user_id": MANAGER_ID if j == 0 or st.status == "CANCELLED" or spawn else OPERATOR_ID,
                }
            )
    h = pl.DataFrame(
        hist,
        schema_overrides={
            "completed_at": pl.Datetime("us", "UTC"),
            "completed_by_id": pl.Int32,
            "transfer_workflow_id": pl.Int64,
            "history_user_id": pl.Int32,
            "created_at": pl.Datetime("us", "UTC"),
            "updated_at": pl.Datetime("us", "UTC"),
            "history_date": pl.Datetime("us", "UTC"),
        },
    )
    name = "planning_plannedactivity"
    cols = [c for c in T.table(name).column_names if c in h.columns]  # container: NULL
    out[name] = T.conform(name, last_states(h.sort("id", "history_date")).select_seq(cols))
    hist_rows = T.conform(name, h.select_seq(cols)).with_columns_seq(
        history_id=pl.lit(0, dtype=pl.Int32),
        history_date=h["history_date"],
        history_change_reason=pl.lit(None, dtype=pl.String),
        history_type=h["history_type"],
        history_user_id=h["history_user_id"],
    )
    out["planning_historicalplannedactivity"] = numbered_history(
        name, hist_rows.select_seq(T.table("planning_historicalplannedactivity").column_names), ids
    )
    _link_back(out, links)


class State(NamedTuple):
    """One state of an activity: from ``at``, linked to ``workflow_id`` once it spawned it."""

    status: str
    at: dt.datetime
    workflow_id: int | None = None
    completed_by: int | None = None


def _workflows(out: dict[str, pl.DataFrame]) -> dict[int, dict]:
    """The batch's transfer workflows at their last state, by destination stage id."""
    wf = out.get(WORKFLOW)
    if wf is None:
        return {}
    return {r["dest_lifecycle_stage_id"]: r for r in wf.iter_rows(named=True)}


def _link_back(out: dict[str, pl.DataFrame], links: dict[int, int]) -> None:
    """Each spawned workflow names its activity (``planned_activity_id``) in every state, as the
    application creates it with the link."""
    for name in (WORKFLOW, HISTORY_WORKFLOW):
        if name in out:
            df = out[name]
            col = pl.col("id").replace_strict(links, default=None, return_dtype=df["planned_activity_id"].dtype)
            out[name] = df.with_columns_seq(planned_activity_id=col)


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
        "transfer workflows not spawned by a transfer activity of their batch into their stage",
        f"SELECT COUNT(*) FROM {WORKFLOW} w LEFT JOIN planning_plannedactivity a ON a.id = w.planned_activity_id "
        "LEFT JOIN batch_lifecyclestage s ON s.id = w.dest_lifecycle_stage_id "
        "WHERE a.id IS NULL OR a.activity_type <> 'TRANSFER' OR a.batch_id <> w.batch_id "
        "OR s.id IS NULL OR STRPOS(a.notes, CONCAT('Transfer to ', s.name)) = 0",
        0,
    ),
    (
        "planning",
        "activities and transfer workflows not linked both ways",
        f"SELECT COUNT(*) FROM planning_plannedactivity a LEFT JOIN {WORKFLOW} w ON w.id = a.transfer_workflow_id "
        "WHERE a.transfer_workflow_id IS NOT NULL AND (w.id IS NULL OR w.planned_activity_id IS NULL "
        "OR w.planned_activity_id <> a.id)",
        0,
    ),
    (
        "planning",
        "spawned activities not completed with their workflow (or completed without it)",
        f"SELECT COUNT(*) FROM planning_plannedactivity a JOIN {WORKFLOW} w ON w.id = a.transfer_workflow_id "
        "WHERE (w.status = 'COMPLETED' AND (a.status <> 'COMPLETED' OR CAST(a.completed_at AS DATE) "
        "<> w.actual_completion_date OR a.completed_by_id <> COALESCE(w.completed_by_id, w.initiated_by_id))) "
        "OR (w.status <> 'COMPLETED' AND a.status <> 'IN_PROGRESS')",
        0,
    ),
    (
        "planning",
        "activities changed after the as-of date",
        "SELECT COUNT(*) FROM planning_plannedactivity WHERE CAST(updated_at AS DATE) > {as_of}",
        0,
    ),
]
