"""What the fish-health staff record about a simulated batch — mortality per container, lice,
treatments, vaccination, sampling — computed from a finished ``BatchSim``: schema-independent
frames keyed by ``assignment_no``, as the simulation's own frames.

These models read the simulation and never feed back into it, so adding them leaves every
simulated number (and the pinned tables) unchanged.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .simulate import BatchSim

# one stream per recorder (the batch's own stream: see ``stream``)
HARVEST, MORTALITY, LICE, SAMPLING, LAB, WEATHER = range(6)


def stream(sim: BatchSim, purpose: int) -> np.random.Generator:
    """The batch's stream for one recorder: seeded by the batch's start day and eggs (the eggs
    come from the fleet seed's stream of the batch's shard), apart from the simulation's streams."""
    first = sim.assignments.filter(pl.col("stage") == 0)
    eggs = int(first["initial_population"].sum())
    start = int(sim.stage_changes["date"].cast(pl.Int32)[0])
    return np.random.default_rng(np.random.SeedSequence([0x4EA17, eggs, start, purpose]))


def mortality_by_container(sim: BatchSim) -> pl.DataFrame:
    """Deaths per assignment and day (assignment_no, date, count, cause): the batch's daily
    mortality split over the containers it happened in, each with the day's cause."""
    deaths = sim.daily.filter(pl.col("deaths") > 0).select("assignment_no", "date", count="deaths")
    causes = sim.mortality.select(date="event_date", cause="cause")
    return deaths.join(causes, on="date", how="left").sort("date", "assignment_no")
