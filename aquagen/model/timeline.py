"""The life of a batch in days: one definition of the stage calendar, used by the fleet plan,
the simulation and the table layer alike. Day 0 is the batch's start date."""

from __future__ import annotations

import datetime as dt

from .domain import STAGES

N_STAGES = len(STAGES)  # Egg&Alevin, Fry, Parr, Smolt, Post-Smolt, Adult
ADULT = N_STAGES - 1
FRESHWATER_STAGES = N_STAGES - 1
SLOTS = 10  # containers per freshwater hall: one lineage each
RINGS = 20  # rings per sea area
STAGE_DAYS = 90  # every freshwater stage (the plan's)
TRANSITION_DAYS = SLOTS  # lineage d moves on day 90·k + d: a transition takes 10 days
SEA_START = sum(s.days for s in STAGES[:-1])  # 450: first day of the Post-Smolt -> Adult transition
HARVEST_START = SEA_START + STAGES[-1].days  # 850
LIFE_DAYS = HARVEST_START + SLOTS  # 860: days 0..859; the last harvest is on day 859
FALLOW_DAYS = 30  # a sea area rests between batches
N_TRACKS = SLOTS + RINGS  # state columns of the day loop: 10 lineages, then 20 rings
N_ASSIGNMENTS = FRESHWATER_STAGES * SLOTS + RINGS

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
EPOCH = dt.date(1970, 1, 1)

assert all(s.days == STAGE_DAYS for s in STAGES[:-1])
