"""What the fish-health staff record about a simulated batch — mortality per container, lice,
treatments, vaccination, sampling — computed from a finished ``BatchSim``: schema-independent
frames keyed by ``assignment_no``, as the simulation's own frames.

These models read the simulation and never feed back into it — except lice, which the simulation
runs itself (``lice``) because a delousing kills and fasts fish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

import numpy as np
import polars as pl

from .lice import (  # noqa: F401 (re-exported: the profiles read the methods and the threshold here)
    DELOUSING,
    IN_FEED,
    LAST_TREATMENT_BEFORE_HARVEST,
    LICE_PRESSURE,
    LICE_PURPOSE,
    LICE_THRESHOLD,
)
from .seeds import HEALTH_STREAM, rng_for
from .simulate import BatchSim
from .timeline import ADULT, EPOCH, N_ASSIGNMENTS
from .treatment import DISEASE_TREATMENT_PURPOSE, TREATED

# one stream per recorder (the batch's own stream: see ``stream``)
HARVEST, MORTALITY, LICE, SAMPLING, LAB, VACCINATION, DISEASE_TREATMENT = range(7)
assert LICE == LICE_PURPOSE and DISEASE_TREATMENT == DISEASE_TREATMENT_PURPOSE


def stream(sim: BatchSim, purpose: int) -> np.random.Generator:
    """The batch's stream for one recorder: (fleet seed, the batch's shard, HEALTH_STREAM, purpose),
    apart from the simulation's streams; the same for any worker count, distinct between batches."""
    return rng_for(sim.seed, sim.shard, HEALTH_STREAM, purpose)


def derived(sim: BatchSim, make: Callable[[BatchSim], pl.DataFrame]) -> pl.DataFrame:
    """``make(sim)``, made once per simulated batch (several builders read it)."""
    key = make.__qualname__
    if key not in sim.derived:
        sim.derived[key] = make(sim)
    return sim.derived[key]


def mortality_by_container(sim: BatchSim) -> pl.DataFrame:
    """Deaths per assignment and day (assignment_no, date, count, cause, handled, avg_weight_g): each
    container's deaths with its own cause that day (``events.mortality_frame``), except on the day of a
    delousing that handled fish: the treated ring's deaths are handling (its loss is most of them).
    ``handled``: the treated ring that day; ``avg_weight_g``: the day's weight of its fish. Made once per
    batch (``derived``)."""
    return derived(sim, _mortality_by_container)


def _mortality_by_container(sim: BatchSim) -> pl.DataFrame:
    treated = sim.treatments.filter(pl.col("handling_loss") > 0)
    handled = pl.col("handled").fill_null(False)
    return (
        sim.daily.filter(pl.col("deaths") > 0)
        .select_seq("assignment_no", "date", "cause", "avg_weight_g", count="deaths")
        .join(
            treated.select_seq("assignment_no", "date", handled=pl.lit(True)),
            on=["assignment_no", "date"],
            how="left",
            maintain_order="left",
        )
        .select_seq(
            "assignment_no",
            "date",
            "count",
            cause=pl.when(handled).then(pl.lit("HANDLING")).otherwise(pl.col("cause")),
            handled=handled,
            avg_weight_g="avg_weight_g",
        )
        .sort("date", "assignment_no")
    )


# --- sea lice (simulated with the batch: ``lice``) ---------------------------------------------------
def sea_days(sim: BatchSim) -> pl.DataFrame:
    """The live days of every ring: assignment_no, date, population, temperature_c, deaths."""
    rings = sim.assignments.filter(pl.col("stage") == ADULT)["assignment_no"]
    return sim.daily.filter(pl.col("assignment_no").is_in(rings.to_list())).sort("assignment_no", "date")


def lice(sim: BatchSim, geography: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Weekly lice counts per ring and the delousings they triggered (see ``lice.run_lice``; the
    simulation ran them, so each delousing's handling deaths and fasting are in its frames).
    Returns counts (assignment_no, date, fish_sampled, adult_female_count, adult_male_count,
    juvenile_count) and treatments (assignment_no, date, method, adult_females_per_fish: of the count
    that called it, handling_loss: share of the ring's fish lost). ``geography`` is the batch's own
    (kept for callers; the simulation knew it)."""
    return sim.lice, sim.treatments.select_seq(
        "assignment_no", "date", "method", "adult_females_per_fish", "handling_loss"
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
    30-day median, or the container's cause that day is disease. Made once per batch (``derived``)."""
    return derived(sim, _episode_days)


def _episode_days(sim: BatchSim) -> pl.DataFrame:
    d = sim.daily.sort("assignment_no", "date").with_columns_seq(
        base=pl.col("deaths").rolling_median(30, min_samples=5).over("assignment_no")
    )
    return d.filter(
        (pl.col("deaths") > EPISODE_FACTOR * pl.col("base").fill_null(1e9)) & (pl.col("deaths") >= 10)
        | (pl.col("cause") == "DISEASE") & (pl.col("deaths") > 0)
    ).select_seq("assignment_no", "date")


def sampling(sim: BatchSim) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """About monthly, one health sampling event per batch on one live container: events
    (assignment_no, date, episode), fish (event, fish_no, weight_g, length_cm) and scores (event,
    fish_no, parameter 0..8, score 1..5; worse during an episode).

    Every draw is one cell of an array of fixed shape (sampling day, assignment or fish, ...), so an
    event depends on its own day alone: a batch simulated only up to a horizon
    (``BatchSpec.through``) has the same events up to it."""
    rng = stream(sim, SAMPLING)
    start = sim.stage_changes["date"][0]
    offsets = range(SAMPLING_EVERY_DAYS, 900, SAMPLING_EVERY_DAYS)
    days = [start + dt.timedelta(days=k) for k in offsets]
    most = FISH_PER_SAMPLING[1]
    u = rng.random((len(offsets), N_ASSIGNMENTS))  # which live container: the least u that day
    n_fish = rng.integers(FISH_PER_SAMPLING[0], most + 1, len(offsets))
    z = rng.standard_normal((2, len(offsets), most))  # a fish's weight and condition factor
    base = rng.choice(5, size=(len(offsets), most, N_HEALTH_PARAMETERS), p=[0.78, 0.16, 0.05, 0.01, 0.0]) + 1
    worse_u = rng.random((len(offsets), most, N_HEALTH_PARAMETERS))
    worse_by = rng.integers(1, 3, (len(offsets), most, N_HEALTH_PARAMETERS))
    cand = (  # the sampling days' rows first (a thirtieth of the days), then their stage
        sim.daily.filter(pl.col("date").is_in(days) & (pl.col("population") >= 100))
        .join(sim.assignments.select_seq("assignment_no", "stage"), on="assignment_no", maintain_order="left")
        .filter(pl.col("stage") > 0)
    )
    k = (cand["date"].cast(pl.Int32).to_numpy() - (start - EPOCH).days) // SAMPLING_EVERY_DAYS - 1  # the day's index
    pick = (
        cand.with_columns_seq(k=pl.Series(k, dtype=pl.Int64), u=pl.Series(u[k, cand["assignment_no"].to_numpy()]))
        .sort("date", "u")
        .group_by("date", maintain_order=True)
        .first()
    )
    episode = _episodes(sim).with_columns_seq(episode=pl.lit(True))
    ev = (
        pick.join(episode, on=["assignment_no", "date"], how="left", maintain_order="left")
        .with_columns_seq(episode=pl.col("episode").fill_null(False))
        .sort("date")
    )
    day = ev["k"].to_numpy()
    n = n_fish[day]
    ev = ev.with_columns_seq(event=pl.int_range(pl.len(), dtype=pl.Int32), n_fish=pl.Series(n))
    e = np.repeat(np.arange(ev.height), n)
    fish_no = np.arange(len(e)) - np.repeat(np.cumsum(n) - n, n) + 1
    cell = (day[e], fish_no - 1)  # the fish's cell of the day's arrays
    w_mean = ev["avg_weight_g"].to_numpy()[e]
    k_mean = CONDITION_BY_STAGE[ev["stage"].to_numpy()[e]]
    weight = w_mean * np.exp(0.18 * z[0][cell] - 0.0162)
    k = np.clip(k_mean + 0.06 * z[1][cell], 0.8, 1.5)
    length = np.cbrt(100 * weight / k)
    fish = pl.DataFrame(
        {"event": pl.Series(e, dtype=pl.Int32), "fish_no": fish_no, "weight_g": weight, "length_cm": length}
    )
    sick = ev["episode"].to_numpy()[e]
    worse = sick[:, None] & (worse_u[cell] < 0.5)
    score = np.minimum(base[cell] + worse * worse_by[cell], 5)
    scores = pl.DataFrame(
        {
            "event": pl.Series(np.repeat(e, N_HEALTH_PARAMETERS), dtype=pl.Int32),
            "fish_no": np.repeat(fish_no, N_HEALTH_PARAMETERS),
            "parameter": pl.Series(np.tile(np.arange(N_HEALTH_PARAMETERS), len(e)), dtype=pl.Int16),
            "score": pl.Series(score.ravel(), dtype=pl.Int16),
        }
    )
    return ev.select_seq("event", "assignment_no", "date", "episode", "n_fish", "stage"), fish, scores


LAB_FINDINGS = (  # by sample type (Blood, Tissue, Gill, Kidney, Fecal): finding, result key, range, unit
    ("Haematocrit {v:.0f} %; serology negative for ISA and SAV.", "haematocrit", 28, 45, "%"),
    ("Histopathology: mild inflammatory changes, no pathogen identified.", "lesion_score", 0, 2, "score 0-3"),
    (
        "Gill histology: epithelial hyperplasia, score {v:.1f}; amoebae not detected by PCR.",
        "gill_score",
        0,
        3,
        "score 0-5",
    ),
    ("Kidney bacteriology: no growth; PCR negative for IPNV and Renibacterium.", "ct_value", 35, 40, "Ct"),
    ("Faecal parasitology: no tapeworm eggs seen.", "eggs_per_g", 0, 5, "eggs/g"),
)


def lab_samples(sim: BatchSim) -> pl.DataFrame:
    """Lab samples during episodes: on an episode's first day (at most one a fortnight per
    batch), one sample of a rotating type from the container; sent the same or next day, results
    5-14 days later. assignment_no, date, sample_type (0..4), sent, received, finding, key, value, unit."""
    rng = stream(sim, LAB)
    ep = _episodes(sim).sort("date", "assignment_no").group_by("date", maintain_order=True).first()
    kept, last = [], None
    for row in ep.iter_rows(named=True):
        if last is None or (row["date"] - last).days >= 14:
            kept.append(row)
            last = row["date"]
    # the k-th sample's draws are row k (filled row by row): the samples up to a horizon depend on no later one
    u = rng.random((len(kept), 4))
    kind = (u[:, 0] * len(LAB_FINDINGS)).astype(np.int64)
    lo = np.array([f[2] for f in LAB_FINDINGS])[kind]
    hi = np.array([f[3] for f in LAB_FINDINGS])[kind]
    value = lo + (hi - lo) * u[:, 1]
    sent = (u[:, 2] * 2).astype(np.int64)  # the same or the next day
    received = sent + 5 + (u[:, 3] * 10).astype(np.int64)  # 5-14 days later
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
            "unit": [LAB_FINDINGS[k][4] for k in kind],
        }
    )


# --- treatments of disease episodes ---------------------------------------------------------------
# by episode kind: (name, treatment type, dosage, duration days, withholding days, diagnosis text)
EPISODE_TREATMENTS = {
    "gill disease": (
        "Freshwater bath against amoebic gill disease",
        "physical",
        "Freshwater bath, 3 h in well boat",
        1,
        0,
        "Gill swabs PCR-positive for Paramoeba perurans; gill score 2-3: amoebic gill disease",
    ),
    "winter ulcer": (
        "Florfenicol in feed against winter ulcer",
        "medication",
        "Florfenicol 10 mg/kg biomass/day in feed",
        10,
        30,
        "Skin ulcers, Moritella viscosa isolated from kidney: winter ulcer",
    ),
    "jellyfish": (
        "Feeding stopped and bubble curtain run against jellyfish",
        "other",
        "Aeration curtain around the pen, feeding stopped",
        3,
        0,
        "Gill damage from jellyfish (Pelagia noctiluca bloom): nematocyst lesions on the gills",
    ),
}
assert tuple(EPISODE_TREATMENTS) == TREATED  # the kinds the simulation schedules treatments for
# when treating would put the withholding past the ring's harvest: supportive care instead
SUPPORTIVE = (
    "Supportive care: reduced feeding, moribund fish removed",
    "other",
    "Ration halved, daily removal of moribund fish",
    7,
    0,
)


def disease_treatments(sim: BatchSim) -> pl.DataFrame:
    """One treatment per ring of every disease or jellyfish episode (``sim.episodes``; delousing
    handling episodes are the lice model's treatments), on the days and with the outcome the
    simulation scheduled (``treatment.schedule``: report, diagnosis, treatment, none after the ring's
    last live day).
    Returns assignment_no, kind, start_date,
    issue_date, diagnosis_date, date (of the treatment), departure (first day the ring is gone, whole life),
    treatment (name, type, dosage, duration_days, withholding_days), outcome."""
    out = sim.episodes.filter(pl.col("kind").is_in(list(EPISODE_TREATMENTS))).with_columns_seq(date="treatment_date")
    name, kind, dosage, days, withholding = (
        pl.col("kind").replace_strict({k: v[i] for k, v in EPISODE_TREATMENTS.items()}) for i in range(5)
    )
    out = out.with_columns_seq(
        name=name,
        treatment_type=kind,
        dosage=dosage,
        duration_days=days.cast(pl.Int32),
        withholding_days=withholding.cast(pl.Int32),
        diagnosis=pl.col("kind").replace_strict({k: v[5] for k, v in EPISODE_TREATMENTS.items()}),
    )
    # no medicine whose withholding would run past the ring's harvest
    late = pl.col("date") + pl.duration(days=pl.col("duration_days") + pl.col("withholding_days")) >= pl.col(
        "departure"
    )
    supportive = {
        k: pl.when(late & (pl.col("withholding_days") > 0)).then(pl.lit(v)).otherwise(pl.col(k))
        for k, v in zip(("name", "treatment_type", "dosage", "duration_days", "withholding_days"), SUPPORTIVE)
    }
    return (
        out.with_columns_seq(**supportive)
        .select_seq(
            "assignment_no",
            "kind",
            "start_date",
            "issue_date",
            "diagnosis_date",
            "date",
            "departure",
            "name",
            "treatment_type",
            "dosage",
            "duration_days",
            "withholding_days",
            "diagnosis",
            "outcome",
        )
        .sort("date", "assignment_no")
    )
