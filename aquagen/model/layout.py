"""Where a batch's fish are on each day of its life: assignments and the day loop's tracks,
fixed by the batch's calendar (``timeline.Calendar``), independent of any other draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timeline import ADULT, FRESHWATER_STAGES, N_TRACKS, RINGS, SLOTS, Calendar


@dataclass(frozen=True)
class Layout:
    """Static per-assignment facts (index = assignment_no), independent of any draw."""

    stage: np.ndarray
    slot: np.ndarray
    track: np.ndarray  # column of the day loop's state
    lineage: np.ndarray  # egg tray the fish came from
    first_day: np.ndarray  # assignment day
    end_day: np.ndarray  # departure day (transfer or harvest)


def assignment_layout(cal: Calendar) -> Layout:
    s = cal.stage_start
    fw_stage = np.repeat(np.arange(FRESHWATER_STAGES), SLOTS)
    fw_slot = np.tile(np.arange(SLOTS), FRESHWATER_STAGES)
    ring = np.arange(RINGS)
    stage = np.concatenate([fw_stage, np.full(RINGS, ADULT)])
    slot = np.concatenate([fw_slot, ring])
    first = np.concatenate([np.where(fw_stage == 0, 0, s[fw_stage] + fw_slot), cal.sea_start + ring // 2])
    end = np.concatenate([s[fw_stage + 1] + fw_slot, cal.harvest_day])
    return Layout(
        stage=stage,
        slot=slot,
        track=np.concatenate([fw_slot, SLOTS + ring]),
        lineage=np.concatenate([fw_slot, ring // 2]),
        first_day=first,
        end_day=end,
    )


@dataclass(frozen=True)
class Grid:
    """(day, track) matrices of the full life: which stage/assignment a track is in."""

    stage: np.ndarray  # -1 where the track holds no fish
    assignment: np.ndarray  # -1 where the track holds no fish
    live: np.ndarray
    sea: np.ndarray  # bool per track


def track_grid(cal: Calendar) -> Grid:
    day = np.arange(cal.life_days)[:, None]
    rel = day - np.arange(SLOTS)[None, :]  # lineage d enters stage k on stage_start[k] + d
    fw_stage = np.clip(np.searchsorted(cal.stage_start, rel, side="right") - 1, 0, None)
    fw_live = rel < cal.sea_start
    ring = np.arange(RINGS)[None, :]
    sea_live = (day >= cal.sea_start + ring // 2) & (day < cal.harvest_day[None, :])
    live = np.concatenate([fw_live, sea_live], axis=1)
    stage = np.concatenate([fw_stage, np.full(sea_live.shape, ADULT)], axis=1)
    assignment = np.concatenate(
        [
            SLOTS * np.minimum(fw_stage, FRESHWATER_STAGES - 1) + np.arange(SLOTS),
            FRESHWATER_STAGES * SLOTS + np.broadcast_to(ring, sea_live.shape),
        ],
        axis=1,
    )
    return Grid(
        stage=np.where(live, stage, -1),
        assignment=np.where(live, assignment, -1),
        live=live,
        sea=np.arange(N_TRACKS) >= SLOTS,
    )
