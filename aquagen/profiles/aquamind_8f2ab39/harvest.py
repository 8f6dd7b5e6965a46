"""Harvest tables of one batch: an event per harvested ring, its lots by product grade and its
waste (``aquagen.model.harvest``), and the product grades themselves (master data)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from aquagen.model import health
from aquagen.model.domain import OPERATOR_ID
from aquagen.model.harvest import GRADES, grade
from aquagen.model.simulate import BatchSim
from aquagen.model.sites import SITES
from aquagen.profiles import BatchPlan
from aquagen.tables.conform import Bound
from aquagen.tables.ids import IdBook

from .records import add, area_of, at, linked

HARVEST_TIME = dt.timedelta(hours=10)  # the ring is emptied at 09:00 (its departure); weighed in by 10:00
LOTS_TIME = dt.timedelta(hours=16)  # the slaughterhouse reports grades and waste the same afternoon
DEST_SUBSIDIARY = "FM"  # harvested into the farming company's own processing, no intercompany sale


def product_grades(t: dt.datetime, profile: str) -> pl.DataFrame:
    """The five grades the application's own generator looks up by code."""
    n = len(GRADES)
    stamps = pl.Series([t + dt.timedelta(milliseconds=100 * i) for i in range(n)], dtype=pl.Datetime("us", "UTC"))
    return Bound(profile).conform(
        "harvest_productgrade",
        {
            "id": list(range(1, n + 1)),
            "code": [g[0] for g in GRADES],
            "name": [g[1] for g in GRADES],
            "description": [g[2] for g in GRADES],
            "created_at": stamps,
            "updated_at": stamps,
        },
    )


def build(out: dict, plan: BatchPlan, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> None:
    """Events, lots and waste of ``sim``'s harvests into ``out`` (``link``: assignment_no, bca_id, container_id)."""
    if not sim.harvests.height:  # not harvested yet: the empty tables (``add``), no query
        for name in ("harvest_harvestevent", "harvest_harvestlot", "harvest_harvestwaste"):
            add(out, name, sim.harvests, OPERATOR_ID, ids)
        return
    area, geography_id = area_of(plan.area_id)
    ev = linked(sim.harvests.sort("harvest_date", "assignment_no"), link)
    first_ring = SITES.ring_id(plan.area_id, 0)
    harvested = at("harvest_date", HARVEST_TIME)
    ev = ev.with_columns_seq(
        event_date=harvested,
        document_ref=pl.format(
            "HRV-{}-{}-RING-{}",
            pl.lit(plan.batch_number),
            pl.lit(area),
            (pl.col("container_id") - first_ring + 1).cast(pl.String).str.zfill(2),
        ),
        dest_subsidiary=pl.lit(DEST_SUBSIDIARY),
        dest_geography_id=pl.lit(geography_id, dtype=pl.Int64),
        batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
        assignment_id=pl.col("bca_id"),
        created_at=harvested,
        updated_at=harvested,
    )
    events = add(out, "harvest_harvestevent", ev, OPERATOR_ID, ids)
    event_of = ev.select_seq("assignment_no", "harvest_date", event_id=events["id"])

    # graded from the ring's stored (2-decimal) weight, as its biomass_kg is: the lots then add up to
    # that biomass within rounding (from the unrounded weight, 245,000 fish would differ by up to 1.2 kg)
    rings = sim.harvests.sort("harvest_date", "assignment_no").with_columns_seq(pl.col("avg_weight_g").round(2))
    lots, waste = grade(health.stream(sim, health.HARVEST), rings)
    stamp = at("harvest_date", LOTS_TIME)
    lots = lots.join(event_of, on="assignment_no", maintain_order="left").with_columns_seq(
        product_grade_id=pl.col("grade").cast(pl.Int64) + 1, created_at=stamp, updated_at=stamp
    )
    add(out, "harvest_harvestlot", lots, OPERATOR_ID, ids)
    waste = waste.join(event_of, on="assignment_no", maintain_order="left").with_columns_seq(
        created_at=stamp, updated_at=stamp
    )
    add(out, "harvest_harvestwaste", waste, OPERATOR_ID, ids)
