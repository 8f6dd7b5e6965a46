"""Sea lice and delousing, run before the day loop: the treatments it calls are handling episodes
of the simulation (deaths with cause HANDLING in the treated ring, fasting on the treatment day
and the day after), so populations, mortality and feeding show every delousing.

Lice per fish do not depend on how many fish there are, so the model needs only the rings'
live days and water temperature, both known before the day loop.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import polars as pl

from .events import dates
from .population import EPISODES, Episodes
from .timeline import SLOTS

LICE_THRESHOLD = 0.5  # adult females per fish that trigger a delousing (Scotland's and Norway's level)
LICE_PRESSURE = {"Scotland": 1.0, "Faroe Islands": 0.7}  # infection pressure by geography
PEAK_DAY_OF_YEAR = 260  # copepodids are most abundant in late summer and autumn
SETTLE_PER_DAY = 0.05  # chalimus settling per fish per day at peak pressure (Scotland)
MATURE_DEGREE_DAYS = 300.0  # settled louse to adult
# method: (name, treatment type, dosage, duration days, withholding days, efficacy, handling loss share)
# Handling losses after NVI, Fish Health Report 2023 (thermal and mechanical delousing the most lossy).
DELOUSING = (
    ("Thermal delousing (Thermolicer)", "physical", "Water at 28-34 °C for 30 s", 1, 0, 0.92, 0.006),
    ("Mechanical delousing (Hydrolicer)", "physical", "Low-pressure flushing, 0.6 bar", 1, 0, 0.88, 0.005),
    ("Freshwater bath", "physical", "Freshwater bath, 4 h in well boat", 1, 0, 0.85, 0.003),
    ("Medicinal bath (hydrogen peroxide)", "medication", "Hydrogen peroxide 1,500 mg/L for 20 min", 1, 0, 0.9, 0.004),
    (
        "In-feed treatment (emamectin benzoate)",
        "medication",
        "Emamectin benzoate 50 µg/kg biomass/day in feed",
        7,
        18,
        0.95,
        0.0,
    ),
)
IN_FEED = 4  # the in-feed method: fish are fed (medicated feed), not handled
LAST_TREATMENT_BEFORE_HARVEST = 21  # no delousing in the last three weeks (withholding, fasting)
HANDLING_LOSS_SIGMA = 0.5  # lognormal spread of a treatment's handling loss around its method's share


def run_lice(
    rng: np.random.Generator,
    live: np.ndarray,
    temp: np.ndarray,
    start: int,
    geography: str,
    first_ring_assignment: int,
    last_day: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Weekly lice counts per ring and the delousings they trigger, over the full life (up to
    ``last_day``, if given: the days before are the same, their draws coming first).

    ``live`` and ``temp`` are (day, ring) matrices of the batch's life (day 0 = ``start``, days since
    1970). Per ring and day: settled (chalimus/pre-adult) lice per fish gain the season's settlement
    (∝ pressure by geography, peaking in late summer) and mature at temperature/300 per day; adults
    (half female) die at 2 %/day. Every 7th day of the ring 10-20 fish are counted (Poisson); above
    0.5 adult females per fish the ring is deloused the next day (methods in rotation from a drawn
    one), which removes the method's efficacy of all lice and loses its handling share of the fish.

    Returns counts (assignment_no, date, fish_sampled, adult_female_count, adult_male_count,
    juvenile_count) and treatments (assignment_no, date, day, ring, method, adult_females_per_fish: of
    the count that called it, handling_loss: share of the ring's fish lost that day).
    """
    n_days, n_rings = live.shape
    first = np.where(live.any(0), live.argmax(0), n_days)
    last = n_days - 1 - live[::-1].argmax(0)
    day_dates = np.datetime64(0, "D") + start + np.arange(n_days)
    doy = (day_dates - day_dates.astype("datetime64[Y]")).astype(int) + 1
    season = ((1 + np.cos(2 * np.pi * (doy - PEAK_DAY_OF_YEAR) / 365.25)) / 2) ** 1.5
    settle = SETTLE_PER_DAY * LICE_PRESSURE[geography] * (0.15 + 0.85 * season)
    noise = np.exp(0.4 * rng.standard_normal((n_days, n_rings)) - 0.08)
    sampled = cast(np.ndarray, rng.integers(10, 21, (n_days, n_rings)))
    efficacy_u = rng.random((n_days, n_rings))
    loss_z = rng.standard_normal((n_days, n_rings))
    method_start = cast(np.ndarray, rng.integers(0, len(DELOUSING), n_rings))  # a size gives an array
    mature_rate = np.clip(temp / MATURE_DEGREE_DAYS, 0, 0.1)
    since = np.arange(n_days)[:, None] - first[None, :]
    count_days = live & (since > 0) & (since % 7 == 0)  # every 7th day of a ring
    settled = settle[:, None] * noise
    juvenile = np.zeros(n_rings)
    adult = np.zeros(n_rings)
    pending = np.zeros(n_rings, bool)
    observed = np.zeros(n_rings)  # adult females per fish of the count that called the treatment
    n_treated = np.zeros(n_rings, int)
    counts: list[tuple] = []
    treats: list[tuple] = []
    # a loop over days: today's load is yesterday's after settlement, maturation and treatment;
    # each step is vectorized over the rings
    sea = np.flatnonzero(live.any(1))
    end = sea[-1] + 1 if len(sea) else 0
    for t in range(sea[0] if len(sea) else 0, end if last_day is None else min(end, last_day + 1)):  # the rings' days
        alive = live[t]
        hit = pending & alive
        for r in np.flatnonzero(hit) if pending.any() else ():  # a few treatments per ring and cycle
            m = (method_start[r] + n_treated[r]) % len(DELOUSING)
            if m == IN_FEED and last[r] - t < DELOUSING[IN_FEED][4] + 7:  # not within its withholding of harvest
                m = 0
            loss = DELOUSING[m][6] * np.exp(HANDLING_LOSS_SIGMA * loss_z[t, r] - HANDLING_LOSS_SIGMA**2 / 2)
            treats.append((r, t, m, observed[r], min(loss, 0.05)))
            keep = 1 - DELOUSING[m][5] * (0.95 + 0.05 * efficacy_u[t, r])
            adult[r] *= keep
            juvenile[r] *= keep if m != IN_FEED else 0.5 * keep  # in-feed also clears the attached stages
            n_treated[r] += 1
        pending &= ~hit
        mature = juvenile * mature_rate[t]
        juvenile = np.where(alive, juvenile + settled[t] - mature, 0.0)
        adult = np.where(alive, adult * 0.98 + mature, 0.0)
        # weekly counts: Poisson draws in the stream's order
        for r in np.flatnonzero(count_days[t]) if count_days[t].any() else ():
            n = sampled[t, r]
            af = rng.poisson(0.5 * adult[r] * n)
            am = rng.poisson(0.5 * adult[r] * n)
            juv = rng.poisson(juvenile[r] * n)
            counts.append((r, t, n, af, am, juv))
            if af / n > LICE_THRESHOLD and last[r] - t > LAST_TREATMENT_BEFORE_HARVEST:
                pending[r] = True
                observed[r] = af / n
    c = np.array(counts, dtype=np.int64).reshape(-1, 6)
    tr = np.array(treats, dtype=np.float64).reshape(-1, 5)
    tr_ring = tr[:, 0].astype(np.int64)
    tr_day = tr[:, 1].astype(np.int64)
    return (
        pl.DataFrame(
            {
                "assignment_no": pl.Series(first_ring_assignment + c[:, 0], dtype=pl.Int32),
                "date": dates(start + c[:, 1]),
                "fish_sampled": c[:, 2],
                "adult_female_count": c[:, 3],
                "adult_male_count": c[:, 4],
                "juvenile_count": c[:, 5],
            }
        ).sort("date", "assignment_no"),
        pl.DataFrame(
            {
                "assignment_no": pl.Series(first_ring_assignment + tr_ring, dtype=pl.Int32),
                "date": dates(start + tr_day),
                "day": pl.Series(tr_day, dtype=pl.Int32),
                "ring": pl.Series(tr_ring, dtype=pl.Int16),
                "method": pl.Series(tr[:, 2].astype(np.int16), dtype=pl.Int16),
                "adult_females_per_fish": tr[:, 3],
                "handling_loss": tr[:, 4],
            }
        ).sort("date", "assignment_no"),
    )


def ring_matrices(grid_live: np.ndarray, temp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rings' (day, ring) live days and temperatures from the day loop's (day, track) grids."""
    return grid_live[:, SLOTS:], temp[:, SLOTS:]


LICE_PURPOSE = 2  # the lice model's stream among the batch's health streams (``health.stream``)
DELOUSING_EPISODE = [e[0] for e in EPISODES].index("delousing handling")


def with_delousings(ep: Episodes, treatments: pl.DataFrame) -> Episodes:
    """The batch's episodes with its delousings as the handling episodes: the drawn handling
    episodes are replaced by one single-day episode per handled delousing (in-feed treatments
    handle no fish), in the treated ring, losing the treatment's handling share of its fish."""
    keep = ep.kind != DELOUSING_EPISODE
    handled = treatments.filter(pl.col("handling_loss") > 0)
    n = handled.height
    rings = np.zeros((n, ep.rings.shape[1]), bool)
    rings[np.arange(n), handled["ring"].to_numpy()] = True
    return Episodes(
        kind=np.concatenate([ep.kind[keep], np.full(n, DELOUSING_EPISODE, dtype=ep.kind.dtype)]),
        first_day=np.concatenate([ep.first_day[keep], handled["day"].to_numpy().astype(ep.first_day.dtype)]),
        days=np.concatenate([ep.days[keep], np.ones(n, dtype=ep.days.dtype)]),
        rings=np.concatenate([ep.rings[keep], rings]),
        loss=np.concatenate([ep.loss[keep], handled["handling_loss"].to_numpy()]),
    )
