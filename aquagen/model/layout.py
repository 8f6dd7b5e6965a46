"""Where a batch's fish are on each day of its life: assignments and the day loop's tracks,
fixed by the timeline, independent of any random draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timeline import ADULT, HARVEST_START, LIFE_DAYS, N_TRACKS, RINGS, SEA_START, SLOTS, STAGE_DAYS


@dataclass(frozen=True)
class Layout:
    """Static per-assignment facts (index = assignment_no), independent of any draw."""

    stage: np.ndarray
    slot: np.ndarray
    track: np.ndarray  # column of the day loop's state
    lineage: np.ndarray  # egg tray the fish came from
    first_day: np.ndarray  # assignment day
    end_day: np.ndarray  # departure day (transfer or harvest)


def assignment_layout() -> Layout:
    fw_stage = np.repeat(np.arange(5), SLOTS)
    fw_slot = np.tile(np.arange(SLOTS), 5)
    ring = np.arange(RINGS)
    stage = np.concatenate([fw_stage, np.full(RINGS, ADULT)])
    slot = np.concatenate([fw_slot, ring])
    first = np.concatenate([np.where(fw_stage == 0, 0, STAGE_DAYS * fw_stage + fw_slot), SEA_START + ring // 2])
    end = np.concatenate([STAGE_DAYS * (fw_stage + 1) + fw_slot, HARVEST_START + ring // 2])
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


def track_grid() -> Grid:
    day = np.arange(LIFE_DAYS)[:, None]
    rel = day - np.arange(SLOTS)[None, :]  # lineage d enters stage k on day 90·k + d
    fw_stage = np.clip(rel // STAGE_DAYS, 0, None)
    fw_live = rel < SEA_START
    ring = np.arange(RINGS)[None, :]
    sea_live = (day >= SEA_START + ring // 2) & (day < HARVEST_START + ring // 2)
    live = np.concatenate([fw_live, sea_live], axis=1)
    stage = np.concatenate([fw_stage, np.full(sea_live.shape, ADULT)], axis=1)
    assignment = np.concatenate([SLOTS * fw_stage + np.arange(SLOTS), 5 * SLOTS + np.broadcast_to(ring, sea_live.shape)], axis=1)
    return Grid(
        stage=np.where(live, stage, -1),
        assignment=np.where(live, assignment, -1),
        live=live,
        sea=np.arange(N_TRACKS) >= SLOTS,
    )
