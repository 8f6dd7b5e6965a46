"""Harvest: which ring goes first, and grading: the fish that left a ring on its harvest day, split
into product grades (lots: fish, live, gutted and fillet kg) and by-product waste — schema-independent
frames keyed by the harvest's ``assignment_no``.

A site is harvested ring by ring as its fish reach harvest weight: the farm samples its rings and
slaughters the heaviest first (Mowi, *Salmon Farming Industry Handbook* 2023, ch. 4: pens are
harvested as the fish reach market size), so the slow rings grow on into the window's later days.

Conservation is exact before rounding: the lots of a harvest hold exactly the ring's departing
fish, and their live weights add up to the ring's biomass (count × mean weight); gutted weight
is the live weight times the gutting yield, fillet the live weight times the fillet yield.
Yields follow the industry's rule of thumb for Atlantic salmon (gutted ≈ 0.84–0.88 of live,
fillet ≈ 0.55–0.60 of live); the waste is what gutting and filleting remove.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .calendar import sea_cbrt
from .population import SEA_CHECK_DAYS, SEA_CHECK_FLOOR, TGC, temperature_factor
from .timeline import ADULT, FRESHWATER_STAGES, RINGS, SLOTS, Calendar

# (code, name, description, mean share of the fish, weight relative to the harvest's mean,
#  gutting yield, fillet yield or NaN when the grade is not filleted)
GRADES = (
    ("SUPERIOR", "Superior", "Export quality: no defects, full colour, firm flesh", 0.30, 1.08, 0.87, 0.59),
    ("GRADE_A", "Grade A", "Ordinary quality: minor external defects only", 0.48, 1.00, 0.86, 0.58),
    ("GRADE_B", "Grade B", "Production quality: wounds or deformities, trimmed", 0.14, 0.93, 0.85, 0.55),
    ("GRADE_C", "Grade C", "Processing grade: for smoked and processed products", 0.06, 0.86, 0.84, 0.52),
    ("REJECT", "Reject", "Not fit for human consumption: rendered", 0.02, 0.70, 0.82, float("nan")),
)
SHARE = np.array([g[3] for g in GRADES])
WEIGHT_FACTOR = np.array([g[4] for g in GRADES])
GUTTED_YIELD = np.array([g[5] for g in GRADES])
FILLET_YIELD = np.array([g[6] for g in GRADES])
BLOOD_SHARE = 0.02  # of the live weight: bled at slaughter
CONCENTRATION = 300.0  # Dirichlet concentration of a harvest's grade shares around SHARE


def harvest_order(cal: Calendar, tgc: np.ndarray, egg_weight: np.ndarray, temp: np.ndarray) -> tuple[int, ...]:
    """Rings from heaviest to lightest on the first harvest day: each lineage's growth in the halls
    and each ring's at sea by the growth rule, with the container's factor ``tgc`` (per assignment)
    and the water ``temp`` (day, track) it lived in; fasting and capacity aside (a farm's sampling
    is not exact either)."""
    days = np.arange(cal.harvest_start)[:, None]
    lineage = np.arange(SLOTS)
    s = cal.stage_start
    hall = temp[: cal.harvest_start, :SLOTS]
    u = np.cbrt(egg_weight)
    for k in range(1, FRESHWATER_STAGES):
        here = (days >= s[k] + lineage) & (days < s[k + 1] + lineage)
        u = u + TGC[k] * tgc[k * SLOTS + lineage] * (temperature_factor(hall) * hall * here).sum(axis=0) / 1000
    ring = np.arange(RINGS)
    since = days - (cal.sea_start + ring // 2)
    sea = temp[: cal.harvest_start, SLOTS:]
    check = np.clip(SEA_CHECK_FLOOR + (1 - SEA_CHECK_FLOOR) * since / SEA_CHECK_DAYS, SEA_CHECK_FLOOR, 1.0)
    dd = (temperature_factor(sea) * sea * check * (since > 0)).sum(axis=0)
    weight = sea_cbrt(u[ring // 2], TGC[ADULT] * tgc[FRESHWATER_STAGES * SLOTS + ring] * dd / 1000)
    return tuple(int(r) for r in np.argsort(-weight, kind="stable"))


def grade(rng: np.random.Generator, harvests: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lots (assignment_no, grade, unit_count, live/gutted/fillet kg) and waste (assignment_no,
    category, weight_kg) of ``harvests`` (assignment_no, count, avg_weight_g).

    Counts: the floor of each grade's drawn share, Grade A takes the remainder; weights per
    grade ∝ the grade's weight factor, rescaled so the lots' live weight is the ring's biomass.
    Lots with no fish are dropped."""
    n = harvests.height
    count = harvests["count"].to_numpy().astype(np.int64)
    mean_w = harvests["avg_weight_g"].to_numpy()
    share = rng.dirichlet(SHARE * CONCENTRATION, n) if n else np.empty((0, len(GRADES)))
    fish = np.floor(share * count[:, None]).astype(np.int64)
    fish[:, 1] = count - np.delete(fish, 1, axis=1).sum(axis=1)
    scale = count / np.maximum((fish * WEIGHT_FACTOR).sum(axis=1), 1e-9)
    live = fish * WEIGHT_FACTOR * (scale * mean_w / 1000)[:, None]
    gut_yield = GUTTED_YIELD * (1 + 0.01 * rng.standard_normal((n, 1)))  # a harvest's fish gut alike
    gutted = live * gut_yield
    fillet = live * FILLET_YIELD
    no = np.repeat(harvests["assignment_no"].to_numpy(), len(GRADES))
    lots = pl.DataFrame(
        {
            "assignment_no": pl.Series(no, dtype=pl.Int32),
            "grade": pl.Series(np.tile(np.arange(len(GRADES)), n), dtype=pl.Int16),
            "unit_count": fish.ravel(),
            "live_weight_kg": live.ravel(),
            "gutted_weight_kg": gutted.ravel(),
            "fillet_weight_kg": pl.Series(fillet.ravel(), nan_to_null=True),
        }
    ).filter(pl.col("unit_count") > 0)
    total = live.sum(axis=1)
    blood = BLOOD_SHARE * total
    offal = (live - gutted).sum(axis=1) - blood
    frames = np.nansum(np.where(np.isnan(fillet), 0, gutted - fillet), axis=1)
    categories = ("Blood", "Viscera", "Heads, frames and trimmings")
    waste = pl.DataFrame(
        {
            "assignment_no": pl.Series(np.repeat(harvests["assignment_no"].to_numpy(), 3), dtype=pl.Int32),
            "category": np.tile(categories, n),
            "weight_kg": np.column_stack([blood, offal, frames]).ravel(),
        }
    )
    return lots, waste
