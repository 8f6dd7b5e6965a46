"""What the fish-health staff record about a simulated batch — mortality per container, lice,
treatments, vaccination, sampling — computed from a finished ``BatchSim``: schema-independent
frames keyed by ``assignment_no``, as the simulation's own frames.

These models read the simulation and never feed back into it, so adding them leaves every
simulated number (and the pinned tables) unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import polars as pl

from .simulate import BatchSim
from .timeline import ADULT

# one stream per recorder (the batch's own stream: see ``stream``)
HARVEST, MORTALITY, LICE, SAMPLING, LAB, VACCINATION = range(6)


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


# --- sea lice -----------------------------------------------------------------------------------
LICE_THRESHOLD = 0.5  # adult females per fish that trigger a delousing (Scotland's and Norway's level)
LICE_PRESSURE = {"Scotland": 1.0, "Faroe Islands": 0.7}  # infection pressure by geography
PEAK_DAY_OF_YEAR = 260  # copepodids are most abundant in late summer and autumn
SETTLE_PER_DAY = 0.05  # chalimus settling per fish per day at peak pressure (Scotland)
MATURE_DEGREE_DAYS = 300.0  # settled louse to adult
# method: (name, treatment type, dosage, duration days, withholding days, efficacy, handling loss share)
DELOUSING = (
    ("Thermal delousing (Thermolicer)", "physical", "Water at 28-34 °C for 30 s", 1, 0, 0.92, 0.004),
    ("Mechanical delousing (Hydrolicer)", "physical", "Low-pressure flushing, 0.6 bar", 1, 0, 0.88, 0.003),
    ("Freshwater bath", "physical", "Freshwater bath, 4 h in well boat", 1, 0, 0.85, 0.002),
    ("Medicinal bath (hydrogen peroxide)", "medication", "Hydrogen peroxide 1,500 mg/L for 20 min", 1, 0, 0.9, 0.002),
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
LAST_TREATMENT_BEFORE_HARVEST = 21  # no delousing in the last three weeks (withholding, fasting)


def sea_days(sim: BatchSim) -> pl.DataFrame:
    """The live days of every ring: assignment_no, date, population, temperature_c, deaths."""
    rings = sim.assignments.filter(pl.col("stage") == ADULT)["assignment_no"]
    return sim.daily.filter(pl.col("assignment_no").is_in(rings.to_list())).sort("assignment_no", "date")


def lice(sim: BatchSim, geography: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Weekly lice counts per ring and the delousings they trigger.

    Per ring and day: settled (chalimus/pre-adult) lice per fish gain the season's settlement
    (∝ pressure by geography, peaking in late summer) and mature at temperature/300 per day; adults
    (half female) die at 2 %/day. Every 7th day of the ring 10-20 fish are counted (Poisson); above
    0.5 adult females per fish the ring is deloused the next day (method drawn, in rotation), which
    removes the method's efficacy of all lice. Returns counts (assignment_no, date, fish_sampled,
    adult_female_count, adult_male_count, juvenile_count) and treatments (assignment_no, date, method,
    adult_females_per_fish: of the count that called it)."""
    rng = stream(sim, LICE)
    days = sea_days(sim)
    empty = (
        pl.DataFrame(
            schema={
                "assignment_no": pl.Int32,
                "date": pl.Date,
                "fish_sampled": pl.Int64,
                "adult_female_count": pl.Int64,
                "adult_male_count": pl.Int64,
                "juvenile_count": pl.Int64,
            }
        ),
        pl.DataFrame(
            schema={
                "assignment_no": pl.Int32,
                "date": pl.Date,
                "method": pl.Int16,
                "adult_females_per_fish": pl.Float64,
            }
        ),
    )
    if days.height == 0:
        return empty
    rings = days["assignment_no"].unique().sort().to_numpy()
    d0 = cast(dt.date, days["date"].min())  # a non-empty Date column's min is a date
    n_days = (cast(dt.date, days["date"].max()) - d0).days + 1
    col = np.searchsorted(rings, days["assignment_no"].to_numpy())
    row = (days["date"] - d0).dt.total_days().to_numpy()
    live = np.zeros((n_days, len(rings)), bool)
    temp = np.zeros((n_days, len(rings)))
    live[row, col] = True
    temp[row, col] = days["temperature_c"].to_numpy()
    first = np.where(live.any(0), live.argmax(0), n_days)
    last = n_days - 1 - live[::-1].argmax(0)
    dates = np.datetime64(d0) + np.arange(n_days)
    doy = (dates - dates.astype("datetime64[Y]")).astype(int) + 1
    season = ((1 + np.cos(2 * np.pi * (doy - PEAK_DAY_OF_YEAR) / 365.25)) / 2) ** 1.5
    settle = SETTLE_PER_DAY * LICE_PRESSURE[geography] * (0.15 + 0.85 * season)
    noise = np.exp(0.4 * rng.standard_normal((n_days, len(rings))) - 0.08)
    sampled = rng.integers(10, 21, (n_days, len(rings)))
    u = rng.random((n_days, len(rings), 3))
    method_start = rng.integers(0, len(DELOUSING), len(rings))
    juvenile = np.zeros(len(rings))
    adult = np.zeros(len(rings))
    pending = np.zeros(len(rings), bool)
    observed = np.zeros(len(rings))  # adult females per fish of the count that called the treatment
    n_treated = np.zeros(len(rings), int)
    counts, treats = [], []
    for t in range(n_days):
        alive = live[t]
        if pending.any():
            hit = pending & alive
            for r in np.flatnonzero(hit):
                m = (method_start[r] + n_treated[r]) % len(DELOUSING)
                if m == 4 and last[r] - t < DELOUSING[4][4] + 7:  # in-feed: not within its withholding of harvest
                    m = 0
                treats.append((rings[r], t, m, observed[r]))
                keep = 1 - DELOUSING[m][5] * (0.95 + 0.05 * u[t, r, 2])
                adult[r] *= keep
                juvenile[r] *= keep if m != 4 else 0.5 * keep  # in-feed also clears the attached stages
                n_treated[r] += 1
            pending &= ~hit
        mature = juvenile * np.clip(temp[t] / MATURE_DEGREE_DAYS, 0, 0.1)
        juvenile = np.where(alive, juvenile + settle[t] * noise[t] - mature, 0.0)
        adult = np.where(alive, adult * 0.98 + mature, 0.0)
        count_day = alive & (t > first) & ((t - first) % 7 == 0)
        for r in np.flatnonzero(count_day):
            n = sampled[t, r]
            af = rng.poisson(0.5 * adult[r] * n)
            am = rng.poisson(0.5 * adult[r] * n)
            juv = rng.poisson(juvenile[r] * n)
            counts.append((rings[r], t, n, af, am, juv))
            if af / n > LICE_THRESHOLD and last[r] - t > LAST_TREATMENT_BEFORE_HARVEST:
                pending[r] = True
                observed[r] = af / n
    c = np.array(counts, dtype=np.int64).reshape(-1, 6)
    tr = np.array(treats, dtype=np.float64).reshape(-1, 4)
    start = np.datetime64(d0, "D")
    return (
        pl.DataFrame(
            {
                "assignment_no": pl.Series(c[:, 0], dtype=pl.Int32),
                "date": pl.Series(start + c[:, 1]),
                "fish_sampled": c[:, 2],
                "adult_female_count": c[:, 3],
                "adult_male_count": c[:, 4],
                "juvenile_count": c[:, 5],
            }
        ).sort("date", "assignment_no"),
        pl.DataFrame(
            {
                "assignment_no": pl.Series(tr[:, 0].astype(np.int32), dtype=pl.Int32),
                "date": pl.Series(start + tr[:, 1].astype(np.int64)),
                "method": pl.Series(tr[:, 2].astype(np.int16), dtype=pl.Int16),
                "adult_females_per_fish": tr[:, 3],
            }
        ).sort("date", "assignment_no"),
    )


# --- vaccination ---------------------------------------------------------------------------------
VACCINATION_WEEKS_BEFORE_SEA = (6, 8)
VACCINE_SHARE = (0.25, 0.15, 0.60)  # IPN, VHS, multi-component (the vaccination types, in order)


def vaccination(sim: BatchSim) -> dict | None:
    """The batch's vaccination: 6-8 weeks before its first sea transfer, in freshwater; None when the
    batch never goes to sea. Returns {date, vaccine (index into the vaccination types), days}."""
    sea = sim.transfers.filter(pl.col("dest_stage") == ADULT)
    if sea.height == 0:
        return None
    rng = stream(sim, VACCINATION)
    weeks = rng.uniform(*VACCINATION_WEEKS_BEFORE_SEA)
    day = cast(dt.date, sea["transfer_date"].min()) - dt.timedelta(days=int(round(7 * weeks)))
    vaccine = int(rng.choice(len(VACCINE_SHARE), p=VACCINE_SHARE))
    return {"date": day, "vaccine": vaccine, "days": int(rng.integers(3, 6))}


# --- health sampling and lab samples -------------------------------------------------------------
SAMPLING_EVERY_DAYS = 30
FISH_PER_SAMPLING = (20, 75)
CONDITION_BY_STAGE = np.array([1.05, 1.10, 1.12, 0.98, 1.05, 1.15])  # K dips at smoltification (Smolt)
N_HEALTH_PARAMETERS = 9
EPISODE_FACTOR = 2.0  # a day with deaths above twice the container's 30-day median is an episode day


def _episodes(sim: BatchSim) -> pl.DataFrame:
    """Episode days per assignment (assignment_no, date): deaths above EPISODE_FACTOR × the rolling
    30-day median, or the day's cause is disease."""
    d = sim.daily.sort("assignment_no", "date").with_columns(
        base=pl.col("deaths").rolling_median(30, min_samples=5).over("assignment_no")
    )
    d = d.join(sim.mortality.select(date="event_date", cause="cause"), on="date", how="left")
    return d.filter(
        (pl.col("deaths") > EPISODE_FACTOR * pl.col("base").fill_null(1e9)) & (pl.col("deaths") >= 10)
        | (pl.col("cause") == "DISEASE") & (pl.col("deaths") > 0)
    ).select("assignment_no", "date")


def sampling(sim: BatchSim) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """About monthly, one health sampling event per batch on one live container: events
    (assignment_no, date, episode), fish (event, fish_no, weight_g, length_cm) and scores (event,
    fish_no, parameter 0..8, score 1..5; worse during an episode)."""
    rng = stream(sim, SAMPLING)
    daily = sim.daily.join(sim.assignments.select("assignment_no", "stage"), on="assignment_no")
    start = sim.stage_changes["date"][0]
    days = [start + dt.timedelta(days=k) for k in range(SAMPLING_EVERY_DAYS, 900, SAMPLING_EVERY_DAYS)]
    cand = daily.filter(pl.col("date").is_in(days) & (pl.col("stage") > 0) & (pl.col("population") >= 100)).sort(
        "date", "assignment_no"
    )
    pick = (
        cand.with_columns(u=pl.Series(rng.random(cand.height)))
        .sort("date", "u")
        .group_by("date", maintain_order=True)
        .first()
    )
    episode = _episodes(sim).with_columns(episode=pl.lit(True))
    ev = (
        pick.join(episode, on=["assignment_no", "date"], how="left")
        .with_columns(episode=pl.col("episode").fill_null(False))
        .sort("date")
    )
    n = rng.integers(FISH_PER_SAMPLING[0], FISH_PER_SAMPLING[1] + 1, ev.height)
    ev = ev.with_columns(event=pl.int_range(pl.len(), dtype=pl.Int32), n_fish=pl.Series(n))
    e = np.repeat(np.arange(ev.height), n)
    fish_no = np.arange(len(e)) - np.repeat(np.cumsum(n) - n, n) + 1
    w_mean = ev["avg_weight_g"].to_numpy()[e]
    k_mean = CONDITION_BY_STAGE[ev["stage"].to_numpy()[e]]
    weight = w_mean * np.exp(0.18 * rng.standard_normal(len(e)) - 0.0162)
    k = np.clip(k_mean + 0.06 * rng.standard_normal(len(e)), 0.8, 1.5)
    length = np.cbrt(100 * weight / k)
    fish = pl.DataFrame(
        {"event": pl.Series(e, dtype=pl.Int32), "fish_no": fish_no, "weight_g": weight, "length_cm": length}
    )
    sick = ev["episode"].to_numpy()[e]
    base = rng.choice(5, size=(len(e), N_HEALTH_PARAMETERS), p=[0.78, 0.16, 0.05, 0.01, 0.0]) + 1
    worse = sick[:, None] & (rng.random((len(e), N_HEALTH_PARAMETERS)) < 0.5)
    score = np.minimum(base + worse * rng.integers(1, 3, (len(e), N_HEALTH_PARAMETERS)), 5)
    scores = pl.DataFrame(
        {
            "event": pl.Series(np.repeat(e, N_HEALTH_PARAMETERS), dtype=pl.Int32),
            "fish_no": np.repeat(fish_no, N_HEALTH_PARAMETERS),
            "parameter": pl.Series(np.tile(np.arange(N_HEALTH_PARAMETERS), len(e)), dtype=pl.Int16),
            "score": pl.Series(score.ravel(), dtype=pl.Int16),
        }
    )
    return ev.select("event", "assignment_no", "date", "episode", "n_fish", "stage"), fish, scores


LAB_FINDINGS = (  # by sample type (Blood, Tissue, Gill, Kidney, Fecal)
    ("Haematocrit {v:.0f} %; serology negative for ISA and SAV.", "haematocrit_pct", 28, 45),
    ("Histopathology: mild inflammatory changes, no pathogen identified.", "lesion_score", 0, 2),
    ("Gill histology: epithelial hyperplasia, score {v:.1f}; amoebae not detected by PCR.", "gill_score", 0, 3),
    ("Kidney bacteriology: no growth; PCR negative for IPNV and Renibacterium.", "ct_value", 35, 40),
    ("Faecal parasitology: no tapeworm eggs seen.", "eggs_per_g", 0, 5),
)


def lab_samples(sim: BatchSim) -> pl.DataFrame:
    """Lab samples during episodes: on an episode's first day (at most one a fortnight per
    batch), one sample of a rotating type from the container; sent the same or next day, results
    5-14 days later. assignment_no, date, sample_type (0..4), sent, received, finding, key, value."""
    rng = stream(sim, LAB)
    ep = _episodes(sim).sort("date", "assignment_no").group_by("date", maintain_order=True).first()
    kept, last = [], None
    for row in ep.iter_rows(named=True):
        if last is None or (row["date"] - last).days >= 14:
            kept.append(row)
            last = row["date"]
    n = len(kept)
    kind = rng.integers(0, len(LAB_FINDINGS), n)
    lo = np.array([f[2] for f in LAB_FINDINGS])[kind]
    hi = np.array([f[3] for f in LAB_FINDINGS])[kind]
    value = lo + (hi - lo) * rng.random(n)
    sent = rng.integers(0, 2, n)
    received = sent + rng.integers(5, 15, n)
    dates = [r["date"] for r in kept]
    return pl.DataFrame(
        {
            "assignment_no": pl.Series([r["assignment_no"] for r in kept], dtype=pl.Int32),
            "date": pl.Series(dates, dtype=pl.Date),
            "sample_type": pl.Series(kind, dtype=pl.Int16),
            "sent": pl.Series([d + dt.timedelta(days=int(s)) for d, s in zip(dates, sent)], dtype=pl.Date),
            "received": pl.Series([d + dt.timedelta(days=int(s)) for d, s in zip(dates, received)], dtype=pl.Date),
            "finding": [LAB_FINDINGS[k][0].format(v=v) for k, v in zip(kind, value)],
            "key": [LAB_FINDINGS[k][1] for k in kind],
            "value": np.round(value, 2),
        }
    )
