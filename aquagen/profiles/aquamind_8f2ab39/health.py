"""Health tables of one batch (``aquagen.model.health``): mortality records per container and day."""

from __future__ import annotations

import datetime as dt

import polars as pl

from aquagen.model import health
from aquagen.model.domain import MORTALITY_CAUSES, MORTALITY_REASONS, OPERATOR_ID
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.tables.ids import IdBook

from .records import add, at

MORTALITY_TIME = dt.timedelta(hours=13)  # with the batch's daily mortality registration
_REASON = {"DISEASE": "Disease", "HANDLING": "Handling", "PREDATION": "Predation", "ENVIRONMENTAL": "Environmental",
           "UNKNOWN": "UNKNOWN", "OTHER": "Natural"}
REASON_ID = {cause: [r[0] for r in MORTALITY_REASONS].index(_REASON[cause]) + 1 for cause in MORTALITY_CAUSES}


def build(out: dict, plan: BatchPlan, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> None:
    """Health rows of ``sim`` into ``out`` (``link``: assignment_no, bca_id, container_id)."""
    mr = health.mortality_by_container(sim).join(link, on="assignment_no", maintain_order="left").with_columns(
        event_date=at("date", MORTALITY_TIME),
        notes=pl.format("{} fish, cause {}", pl.col("count"), pl.col("cause").str.to_lowercase()),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        reason_id=pl.col("cause").replace_strict(REASON_ID, return_dtype=pl.Int64),
    ).sort("event_date", "container_id")
    add(out, "health_mortalityrecord", mr, OPERATOR_ID, ids)
