"""The life of a batch in days: one definition of the stage calendar, used by the fleet plan,
the simulation and the table layer alike. Day 0 is the batch's start date.

The *nominal* calendar is the plan's: 90 days in each freshwater stage, 400 at sea. A batch's
*actual* calendar (:func:`batch_calendar`) is the nominal one plus the batch's own draws from
its seed: every stage a little longer or shorter (hatcheries grade and move by size, not by the
calendar: ±10–20 days is usual), and a harvest spread ring by ring over several weeks, as a
site is harvested as fast as the well boat and the processing plant take it (Mowi, *Salmon
Farming Industry Handbook* 2023, ch. 4: 10–12 months in freshwater, 14–24 at sea). The plan
and the simulation both read the calendar from here, so the halls and sea areas the plan
reserves are exactly the windows the simulated fish live in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .domain import STAGES

N_STAGES = len(STAGES)  # Egg&Alevin, Fry, Parr, Smolt, Post-Smolt, Adult
ADULT = N_STAGES - 1
FRESHWATER_STAGES = N_STAGES - 1
SLOTS = 10  # containers per freshwater hall: one lineage each
RINGS = 20  # rings per sea area
STAGE_DAYS = 90  # every freshwater stage in the nominal calendar (the plan's)
TRANSITION_DAYS = SLOTS  # lineage d moves on the stage's first day + d: a transition takes 10 days
SEA_START = sum(s.days for s in STAGES[:-1])  # 450: nominal first day of the Post-Smolt -> Adult transition
HARVEST_START = SEA_START + STAGES[-1].days  # 850 (nominal)
LIFE_DAYS = HARVEST_START + SLOTS  # 860: nominal days 0..859; the last harvest is on day 859
FALLOW_DAYS = 30  # a sea area rests between batches
N_TRACKS = SLOTS + RINGS  # state columns of the day loop: 10 lineages, then 20 rings
N_ASSIGNMENTS = FRESHWATER_STAGES * SLOTS + RINGS

US_PER_DAY = 86_400_000_000
DAY_IN_UNIT = {"us": US_PER_DAY, "ns": US_PER_DAY * 1000, "ms": US_PER_DAY // 1000}  # of a Polars datetime
US_PER_HOUR = 3_600_000_000
EPOCH = dt.date(1970, 1, 1)

assert all(s.days == STAGE_DAYS for s in STAGES[:-1])

# --- a batch's own calendar -------------------------------------------------------------
# A freshwater stage ends N(0, STAGE_DAYS_SD) days (clipped ±STAGE_DAYS_MAX_SHIFT) off the hatchery's
# plan, each stage's end drawn independently: hatcheries grade and move fish by size, but steer
# (water temperature, feeding, grading) to deliver smolts on the day the sea site expects them, so
# a stage that ran long is made up in the next (``calendar._freshwater_draw``). A stage lasts
# 90 ± 8 days (sd; the first) to 90 ± 10 (the others, 7–8 % of them at the clip of ±20, adjacent
# stages correlated -0.44) and the sea transfer is 450 ± 7.6 (at most ±20) days after the start.
# Independent stage lengths instead (a random walk: the transfer at 450 ± 18, up to ±80) made
# batches started 14 days apart overtake each other by the post-smolt stage, leaving a stage with
# 2–3 batches on some dates of the full farm whatever the intakes did (measured 2026-12-02,
# test_full_farm_plan's checks on seeds 0–95 | 96–191: a stage thin on 22 | 24 dates, 0 | 0 now;
# seeds meeting every check 90 | 81 -> 91 | 89 with the planner unchanged).
STAGE_DAYS_SD = 8.0
STAGE_DAYS_MAX_SHIFT = 20
SEA_DAYS = (300, 560)  # the sea phase (transfer to first harvest): as long as the target weight takes
HARVEST_SPAN_DAYS = (20, 50)  # first to last ring: 3–7 weeks, shorter where fish grow fast (calendar.HARVEST_BAND)
MAX_LIFE_DAYS = SEA_START + FRESHWATER_STAGES * STAGE_DAYS_MAX_SHIFT + SEA_DAYS[1] + HARVEST_SPAN_DAYS[1] + 1


def hall_windows(stage_start: np.ndarray) -> list[tuple[int, int]]:
    """(first day, first free day) of each freshwater hall, from a batch's first day of each stage: first
    move in to last move out."""
    return [(int(stage_start[k]), int(stage_start[k + 1]) + TRANSITION_DAYS) for k in range(FRESHWATER_STAGES)]


@dataclass(frozen=True)
class Calendar:
    """A batch's actual calendar: days per stage (egg tray to the first harvest) and harvest span.

    Lineage d (0..9) enters stage k ≥ 1 on ``stage_start[k] + d``; the sea transfer splits it into
    rings 2d and 2d+1 on ``stage_start[ADULT] + d``; ring r is harvested on ``harvest_day[r]``.
    The harvest days are the span's, evenly spread; ``harvest_order`` says which ring takes
    the k-th (the simulation's: heaviest rings first), ring number order when empty (the plan's).
    """

    stage_days: tuple[int, ...]  # N_STAGES lengths; the last is the sea phase up to the first harvest
    harvest_span: int
    harvest_order: tuple[int, ...] = ()  # rings in the order they are harvested; () = 0, 1, ..., 19

    @cached_property
    def stage_start(self) -> np.ndarray:
        """First day of each stage (its first lineage's move), day 0 for Egg&Alevin."""
        return np.concatenate([[0], np.cumsum(self.stage_days[:-1])]).astype(np.int64)

    @property
    def sea_start(self) -> int:
        return int(self.stage_start[ADULT])

    @property
    def harvest_start(self) -> int:
        return self.sea_start + self.stage_days[ADULT]

    @cached_property
    def harvest_day(self) -> np.ndarray:
        """Day each ring is harvested: ring by ring in ``harvest_order``, spread evenly over the span."""
        days = self.harvest_start + np.rint(np.arange(RINGS) * self.harvest_span / (RINGS - 1)).astype(np.int64)
        if not self.harvest_order:
            return days
        out = np.empty(RINGS, dtype=np.int64)
        out[np.asarray(self.harvest_order)] = days
        return out

    @property
    def life_days(self) -> int:
        """Days 0..life_days-1: the last is the last harvest."""
        return self.harvest_start + self.harvest_span + 1

    def stage_on(self, day: int) -> int:
        """The batch's stage on ``day`` (its first lineage's)."""
        return int(np.searchsorted(self.stage_start, day, side="right") - 1)

    def hall_windows(self) -> list[tuple[int, int]]:
        """(first day, first free day) of each freshwater hall (``hall_windows``)."""
        return hall_windows(self.stage_start)

    def sea_window(self) -> tuple[int, int]:
        """(first day, first free day) of the sea area, fallow included."""
        return self.sea_start, self.life_days + FALLOW_DAYS
