"""Health and harvest records of one batch in cb41030: the plan profile's builders
(``aquamind_8f2ab39.health`` and ``harvest``, the same simulated counts, fish, treatments and
harvests), with what the newer tables record differently:

- lice counts in the per-type form the application's regulatory reports read: per weekly count of a
  ring, one ``health_licecount`` per lice type (adult female and adult male *L. salmonis*, and the
  juveniles as unidentified juvenile lice), ``count_value`` and the seeded ``lice_type_id``, the legacy
  columns 0 (the application refuses a row with both forms), ``assignment_id``, manual detection;
- mortality records with their assignment (``assignment_id``), treatments with ``includes_weighing``
  (false: no fish are weighed with a treatment);
- health scores on the seeded parameters' 0-3 scale (the simulation's 1-5: 1 normal -> 0, 2 -> 1,
  3 -> 2, 4 and 5 -> 3 severe).

Also the individual fish of every growth sample (``batch_individualgrowthobservation``).
"""

from __future__ import annotations

import polars as pl

from aquagen.model.domain import OPERATOR_ID
from aquagen.model.simulate import BatchSim
from aquagen.profiles import BatchPlan
from aquagen.profiles.aquamind_8f2ab39 import harvest
from aquagen.profiles.aquamind_8f2ab39 import health as plan_health
from aquagen.profiles.aquamind_8f2ab39.batches import SAMPLE_TIME
from aquagen.profiles.aquamind_8f2ab39.records import add, at, collected, linked
from aquagen.tables.ids import IdBook
from aquagen.tables.order import sort_unique

from .masterdata import LICE_TYPES, MAX_SCORE, MIN_SCORE, SALMON_LOUSE

LICE = "health_licecount"
# the simulation's counts -> the seeded lice type that records them, and how sure a manual count is
UNKNOWN = "Unknown"
COUNTED = (
    ("adult_female_count", (SALMON_LOUSE, "female", "adult"), 0.95, "adult female L. salmonis"),
    ("adult_male_count", (SALMON_LOUSE, "male", "adult"), 0.95, "adult male L. salmonis"),
    ("juvenile_count", (UNKNOWN, "unknown", "juvenile"), 0.8, "attached juvenile lice (unidentified)"),
)
LICE_TYPE_ID = {(s, g, d): i + 1 for i, (s, g, d, _) in enumerate(LICE_TYPES)}  # ids as the master data numbers them
DETECTION_METHOD = "manual"  # counted by hand, fish anaesthetised, under a magnifier


def records(out: dict, plan: BatchPlan, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> pl.DataFrame:
    """Health and harvest rows of ``sim`` (and the growth samples' fish) into ``out``; returns the
    journal entries of the health records."""
    journal = plan_health.build(out, plan, sim, link, ids, counts_section=lice_counts)
    _scores(out)
    harvest.build(out, plan, sim, link, ids)
    growth_fish(out, sim, link, ids)
    return journal


def lice_counts(out: dict, counts: pl.DataFrame, ids: IdBook) -> None:
    """A row per lice type of every count (in count, container and type order)."""
    if not counts.height:  # none before the sea: the empty table (``add``)
        add(out, LICE, counts, OPERATOR_ID, ids)
        return
    rows = pl.concat(
        [
            counts.lazy().select_seq(
                "count_date",
                "fish_sampled",
                "batch_id",
                "container_id",
                "user_id",
                assignment_id="bca_id",
                lice_type_id=pl.lit(LICE_TYPE_ID[key], dtype=pl.Int64),
                count_value=pl.col(column),
                confidence_level=pl.lit(confidence),
                notes=pl.format(
                    "Weekly count, ring {}: {} {} on {} fish", "ring", column, pl.lit(what), "fish_sampled"
                ),
            )
            for column, key, confidence, what in COUNTED
        ]
    ).sort("count_date", "container_id", "lice_type_id")
    rows = rows.with_columns_seq(
        adult_female_count=pl.lit(0),
        adult_male_count=pl.lit(0),
        juvenile_count=pl.lit(0),
        detection_method=pl.lit(DETECTION_METHOD),
    )
    add(out, LICE, collected(rows), OPERATOR_ID, ids)


def score(simulated: pl.Expr) -> pl.Expr:
    """The simulation's 1-5 health score on the seeded 0-3 scale."""
    return (simulated - 1).clip(MIN_SCORE, MAX_SCORE)


def _scores(out: dict) -> None:
    for name in ("health_fishparameterscore", "health_historicalfishparameterscore"):
        out[name] = out[name].with_columns_seq(score=score(pl.col("score")).cast(out[name].schema["score"]))


def growth_fish(out: dict, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> None:
    """The fish weighed and measured in each growth sample (fish_identifier: its number in the sample)."""
    samples = out["batch_growthsample"].select_seq(
        growth_sample_id="id", bca_id="assignment_id", sample_date="sample_date"
    )
    fish = sort_unique(
        linked(sim.sample_fish, link).join(samples, on=["bca_id", "sample_date"], maintain_order="left"),
        "sample_date",
        "growth_sample_id",
        "fish_no",
    ).with_columns_seq(
        fish_identifier=pl.col("fish_no").cast(pl.String),
        created_at=at("sample_date", SAMPLE_TIME),
        updated_at=at("sample_date", SAMPLE_TIME),
    )
    add(out, "batch_individualgrowthobservation", fish, OPERATOR_ID, ids)
