"""batch_actualdailyassignmentstate: filled in a later step."""

from __future__ import annotations

import polars as pl

from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.tables.ids import IdBook


def add(out: dict[str, pl.DataFrame], plan: BatchPlan, sim: BatchSim, ids: IdBook) -> None:
    return None
