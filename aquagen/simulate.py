"""One batch's life, simulated as arrays: the pure core of aquagen.

``simulate_batch`` takes a :class:`BatchSpec` and returns a :class:`BatchSim` of polars
frames keyed by local indices only (assignment_no, stage, slot, parameter, feed); the
table-building layer maps them to database ids. No I/O, no database, no clock.

Why the whole life first, then the cut: every random draw is taken for the full
860-day life, whatever the as-of date, and only then is everything dated after the
as-of date dropped. A later as-of date therefore gives a superset of an earlier one
with identical earlier rows.

Timeline (day 0 = start_date). Freshwater lineage d (0..9) lives in tray d of the
Egg&Alevin hall from day 0, moves to slot d of the next hall on day 90·k + d
(k = 1..4: Fry, Parr, Smolt, Post-Smolt), and on day 450 + d splits 50/50 into
rings 2d and 2d+1 of the sea area. Rings 2d and 2d+1 are harvested on day 850 + d.
Hence every lineage spends exactly 90 days in each freshwater stage from Fry on
(90 + d in its egg tray) and 400 days at sea; the last harvest is on day 859.
A move happens at the start of its day: the departure day is not a live day of the
source, and is the first live day of the destination.

Rounding: state values (populations, weights, biomass, temperatures) keep full float
precision, so ``biomass_kg == population * avg_weight_g / 1000`` holds exactly.
Frames whose columns are derived from each other once stored are rounded here to the
schema's scale: feedings (amount 4 dp, biomass 2 dp, percentage 6 dp, computed from the
rounded amount and biomass), samples (2 dp, condition factor from the rounded weight
and length) and readings (4 dp). ``daily.feed_kg`` is the sum of the stored feedings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from .domain import PARAMETERS, SEA_PARAMETERS

# --- timeline -------------------------------------------------------------------------
N_STAGES = 6  # Egg&Alevin, Fry, Parr, Smolt, Post-Smolt, Adult
ADULT = 5
SLOTS = 10  # containers per freshwater hall
RINGS = 20  # rings per sea area
STAGE_DAYS = 90
SEA_START = 5 * STAGE_DAYS  # first day of the Post-Smolt -> Adult transition
HARVEST_START = SEA_START + 400
LIFE_DAYS = HARVEST_START + SLOTS  # days 0..859; the last harvest is on day 859
N_TRACKS = SLOTS + RINGS  # state columns of the day loop: 10 lineages, then 20 rings
N_ASSIGNMENTS = 5 * SLOTS + RINGS

# --- growth ---------------------------------------------------------------------------
TGC = np.array([0.0, 2.2, 2.7, 2.9, 3.2, 3.0])  # per 1,000 degree-days; no growth as eggs
FIRST_FEEDING_G = 0.2
TGC_HIGH_TEMP_C = 14.0  # above it the coefficient falls 10 % per °C (floor 50 %)
TGC_LARGE_FISH_G = 2750.0  # above it the coefficient falls as 1/W
FCR = np.array([0.0, 0.8, 0.9, 1.0, 1.05, 1.15])  # feed / biomass gain by stage; eggs not fed

# --- mortality ------------------------------------------------------------------------
BASE_MORTALITY = np.array([0.0015, 0.0005, 0.0003, 0.0002, 0.00015, 0.0001])  # per day
OPTIMUM_TEMP_C = np.array([8.0, 12.0, 12.0, 12.0, 12.0, 13.0])  # stress grows above it
LOW_OXYGEN_PCT = 80.0  # stress grows below it
HANDLING_LOSS = (0.001, 0.005)  # fraction lost per move, uniform
MORTALITY_CAUSES = ("DISEASE", "HANDLING", "PREDATION", "ENVIRONMENTAL", "UNKNOWN", "OTHER")

# Biomass per container at which stocking density costs 3 of its at most 6 points of
# oxygen saturation: about the end-of-stage biomass of a 3.5M-egg batch.
DENSITY_REF_KG = np.array([70.0, 3_000.0, 20_000.0, 65_000.0, 165_000.0, 875_000.0])

# --- feeding --------------------------------------------------------------------------
FEED_BY_STAGE = np.array([-1, 0, 1, 2, 3, 4])  # Adult moves to feed 5 from FINISHER_SWITCH_G
FINISHER_SWITCH_G = 2500.0
FEEDING_HOURS = {1: (6, 10, 14, 18), 2: (6, 10, 14, 18), 3: (6, 12, 18), 4: (8, 16), 5: (8, 16)}

# --- readings -------------------------------------------------------------------------
READING_HOURS = np.array([6, 10, 18])
DO, CO2, PH, TEMP, NO2, NO3, NH4 = range(7)
FRESHWATER_PARAMETERS = np.arange(len(PARAMETERS))
SEA_PARAMETER_IDS = np.array(SEA_PARAMETERS)

# --- temperature ----------------------------------------------------------------------
HALL_TEMP_C = np.array([7.0, 7.3, 7.3, 7.3, 7.3])  # hatchery set points by stage hall
HALL_TEMP_BAND = np.array([[6.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0]])
# geography -> (annual mean, amplitude, band low, band high); coldest ~10 March
SEA_TEMP = {"Faroe Islands": (8.5, 2.3, 6.0, 11.0), "Scotland": (10.5, 3.2, 7.0, 14.0)}
WARMEST_DAY_OF_YEAR = 252  # ~9 September
DIURNAL_SWING_C = (0.1, 0.3)  # freshwater, sea: amplitude of the daily cycle

JOURNAL_CATEGORIES = ("observation", "issue", "action", "diagnosis", "treatment", "vaccination", "sample")
SEVERITIES = (None, "low", "medium", "high")

# the column each dated frame is cut on (datetimes by their date: the as-of day is kept)
DATE_COLUMNS = {
    "daily": "date",
    "transfers": "transfer_date",
    "harvests": "harvest_date",
    "mortality": "event_date",
    "feedings": "feeding_date",
    "readings": "reading_time",
    "samples": "sample_date",
    "journal": "entry_time",
    "stage_changes": "date",
}

_US_PER_DAY = 86_400_000_000
_US_PER_HOUR = 3_600_000_000
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class BatchSpec:
    """What to simulate: one batch of the fleet, and the date to cut it at."""

    start_date: dt.date
    eggs: int
    geography: str  # "Scotland" or "Faroe Islands"
    seed: int  # fleet seed
    shard: int  # batch index in the fleet: its own RNG stream
    as_of: dt.date  # nothing dated after it


@dataclass(frozen=True)
class BatchSim:
    """A batch as of ``spec.as_of``: frames (see ``simulate_batch``) and batch summary."""

    assignments: pl.DataFrame
    daily: pl.DataFrame
    transfers: pl.DataFrame
    harvests: pl.DataFrame
    mortality: pl.DataFrame
    feedings: pl.DataFrame
    readings: pl.DataFrame
    samples: pl.DataFrame
    journal: pl.DataFrame
    stage_changes: pl.DataFrame
    status: str  # ACTIVE or COMPLETED
    actual_end_date: dt.date | None  # last harvest, when completed
    expected_end_date: dt.date  # planned last harvest
    current_stage: int  # stage at as_of


def effective_tgc(stage, temp_c, weight_g, container_factor=1.0) -> np.ndarray:
    """Thermal growth coefficient actually applied, per 1,000 degree-days.

    ``TGC_eff = TGC[stage] · f_c · f_T(T) · f_W(W)`` with
    ``f_T = 1 − 0.1·(T − 14)`` above 14 °C (floor 0.5), else 1, and
    ``f_W = min(1, 2750 g / W)``, and ``f_c`` a per-assignment factor ~N(1, 0.02).
    Why: the nominal TGCs grow fish far beyond 7 kg in 400 warm Scottish sea days;
    letting the coefficient fall inversely with weight above 2.75 kg compresses the
    spread between geographies (harvest weight rises only ~linearly with degree-days),
    landing 4.4–5.4 kg in the Faroes and 5.4–6.6 kg in Scotland whatever the season of
    sea transfer, while freshwater fish (≈7.3 °C halls) stay below 2.75 kg and keep the
    nominal TGCs: ≈185 g at the end of Smolt and ≈480 g at sea transfer.
    """
    return TGC[np.asarray(stage)] * container_factor * _temperature_factor(temp_c) * _weight_factor(weight_g)


def _temperature_factor(temp_c):
    return np.clip(1.0 - 0.1 * (np.asarray(temp_c, dtype=float) - TGC_HIGH_TEMP_C), 0.5, 1.0)


def _weight_factor(weight_g):
    return np.minimum(1.0, TGC_LARGE_FISH_G / np.maximum(weight_g, 1e-9))


def simulate_batch(spec: BatchSpec) -> BatchSim:
    """Simulate ``spec``'s batch over its whole life and cut it at ``spec.as_of``.

    Frames (ordered as listed; ``assignment_no`` indexes ``assignments`` and is stable):

    - assignments: assignment_no, stage, slot, assignment_date, departure_date,
      is_active, population_count, avg_weight_g, biomass_kg, last_weighing_date,
      initial_population, initial_weight_g — one per container occupied; the current
      values are at departure (the fish that left) or, when open, at the end of as_of.
    - daily: assignment_no, date, population, deaths, avg_weight_g, biomass_kg,
      temperature_c, feed_kg — per live assignment-day, end of day.
    - transfers: transfer_date, source_assignment_no, dest_assignment_no, source_stage,
      dest_stage, source_count, transferred_count, mortality_count, source_biomass_kg,
      transferred_biomass_kg — one row per destination. For the Post-Smolt -> Adult
      split both rows carry the whole source (source_count, source_biomass_kg), and
      the source is accounted for by the pair:
      source_count = Σ transferred_count + Σ mortality_count over its two rows.
    - harvests: assignment_no, harvest_date, count, avg_weight_g, biomass_kg.
    - mortality: event_date, count, biomass_kg, cause — per day with deaths
      (transfer handling losses are in transfers.mortality_count instead).
    - feedings: assignment_no, feeding_date, feeding_time, amount_kg,
      batch_biomass_kg, feed, feeding_percentage.
    - readings: assignment_no, parameter, reading_time, value.
    - samples: assignment_no, sample_date, sample_size, avg_weight_g,
      std_deviation_weight, min_weight_g, max_weight_g, avg_length_cm,
      std_deviation_length, condition_factor.
    - journal: entry_time, assignment_no, category, severity, description,
      resolution_status, resolution_notes.
    - stage_changes: date, stage.
    """
    _validate(spec)
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, spec.shard]))
    # one child stream per model, so that changing one model leaves the others' draws alone
    (r_temp, r_growth, r_mort, r_move, r_water, r_feed, r_read, r_sample, r_journal, r_cause) = rng.spawn(10)

    start = (spec.start_date - _EPOCH).days
    cut = (spec.as_of - spec.start_date).days  # last day index kept
    asg = _assignment_layout()
    grid = _track_grid()
    temp = _temperatures(r_temp, grid, start, spec.geography)
    growth_factor = np.clip(1.0 + 0.02 * r_growth.standard_normal(N_ASSIGNMENTS), 0.95, 1.05)
    egg_weight = FIRST_FEEDING_G * np.clip(1.0 + 0.03 * r_growth.standard_normal(SLOTS), 0.94, 1.06)
    water = _water_levels(r_water, grid, temp)
    life = _run_days(spec.eggs, grid, temp, water, growth_factor, egg_weight, r_mort, r_move)

    daily = _daily_rows(asg, life, temp)
    feed_rows, feed_kg = _feedings(r_feed, daily)
    daily["feed_kg"] = feed_kg
    frames = {
        "daily": _daily_frame(daily, start),
        "transfers": _transfers_frame(asg, life, start),
        "harvests": _harvests_frame(asg, life, start),
        "mortality": _mortality_frame(r_cause, grid, life, start),
        "feedings": _feedings_frame(feed_rows, start),
        "readings": _readings_frame(r_read, daily, water, start),
        "samples": _samples_frame(r_sample, asg, daily, start),
        "journal": _journal_frame(r_journal, asg, start),
        "stage_changes": pl.DataFrame(
            {
                "date": _dates(start + STAGE_DAYS * np.arange(N_STAGES)),
                "stage": pl.Series(np.arange(N_STAGES), dtype=pl.Int16),
            }
        ),
    }
    as_of = pl.lit(spec.as_of, dtype=pl.Date)
    for name, col in DATE_COLUMNS.items():
        frames[name] = frames[name].filter(pl.col(col).cast(pl.Date) <= as_of)
    frames["assignments"] = _assignments_frame(asg, life, frames["samples"], start, cut)

    last_day = LIFE_DAYS - 1
    completed = cut >= last_day
    return BatchSim(
        **frames,
        status="COMPLETED" if completed else "ACTIVE",
        actual_end_date=spec.start_date + dt.timedelta(days=last_day) if completed else None,
        expected_end_date=spec.start_date + dt.timedelta(days=last_day),
        current_stage=int(min(cut // STAGE_DAYS, ADULT)),
    )


def _validate(spec: BatchSpec) -> None:
    if spec.geography not in SEA_TEMP:
        raise ValueError(f"geography {spec.geography!r} is unknown; use one of {sorted(SEA_TEMP)}")
    if isinstance(spec.eggs, bool) or not isinstance(spec.eggs, (int, np.integer)) or not 0 < spec.eggs < 2**31:
        raise ValueError(f"eggs {spec.eggs!r} must be an integer in 1..{2**31 - 1}")
    if spec.seed < 0 or spec.shard < 0:
        raise ValueError(f"seed {spec.seed} and shard {spec.shard} must be integers ≥ 0")
    if spec.as_of < spec.start_date:
        raise ValueError(f"as_of {spec.as_of} is before start_date {spec.start_date}")


# --- layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Static per-assignment facts (index = assignment_no), independent of any draw."""

    stage: np.ndarray
    slot: np.ndarray
    track: np.ndarray  # column of the day loop's state
    lineage: np.ndarray  # egg tray the fish came from
    first_day: np.ndarray  # assignment day
    end_day: np.ndarray  # departure day (transfer or harvest)


def _assignment_layout() -> _Layout:
    fw_stage = np.repeat(np.arange(5), SLOTS)
    fw_slot = np.tile(np.arange(SLOTS), 5)
    ring = np.arange(RINGS)
    stage = np.concatenate([fw_stage, np.full(RINGS, ADULT)])
    slot = np.concatenate([fw_slot, ring])
    first = np.concatenate([np.where(fw_stage == 0, 0, STAGE_DAYS * fw_stage + fw_slot), SEA_START + ring // 2])
    end = np.concatenate([STAGE_DAYS * (fw_stage + 1) + fw_slot, HARVEST_START + ring // 2])
    return _Layout(
        stage=stage,
        slot=slot,
        track=np.concatenate([fw_slot, SLOTS + ring]),
        lineage=np.concatenate([fw_slot, ring // 2]),
        first_day=first,
        end_day=end,
    )


@dataclass(frozen=True)
class _Grid:
    """(day, track) matrices of the full life: which stage/assignment a track is in."""

    stage: np.ndarray  # -1 where the track holds no fish
    assignment: np.ndarray  # -1 where the track holds no fish
    live: np.ndarray
    sea: np.ndarray  # bool per track


def _track_grid() -> _Grid:
    day = np.arange(LIFE_DAYS)[:, None]
    rel = day - np.arange(SLOTS)[None, :]  # lineage d enters stage k on day 90·k + d
    fw_stage = np.clip(rel // STAGE_DAYS, 0, None)
    fw_live = rel < SEA_START
    ring = np.arange(RINGS)[None, :]
    sea_live = (day >= SEA_START + ring // 2) & (day < HARVEST_START + ring // 2)
    live = np.concatenate([fw_live, sea_live], axis=1)
    stage = np.concatenate([fw_stage, np.full(sea_live.shape, ADULT)], axis=1)
    assignment = np.concatenate([SLOTS * fw_stage + np.arange(SLOTS), 5 * SLOTS + np.broadcast_to(ring, sea_live.shape)], axis=1)
    return _Grid(
        stage=np.where(live, stage, -1),
        assignment=np.where(live, assignment, -1),
        live=live,
        sea=np.arange(N_TRACKS) >= SLOTS,
    )


# --- environment ----------------------------------------------------------------------


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along axis 0 (day-to-day autocorrelation), vectorized.

    x_t = φ·x_{t−1} + e_t is evaluated in closed form, φ^j·(x_b + Σ φ^−i e_{b+i}),
    in blocks of 64 days so that φ^−64 stays finite; only the block loop is Python.
    """
    e = rng.standard_normal(shape) * sd * np.sqrt(1.0 - phi * phi)
    prev = rng.standard_normal(shape[1:]) * sd
    out = np.empty(shape)
    for b0 in range(0, shape[0], 64):
        blk = e[b0 : b0 + 64]
        pw = phi ** np.arange(1, len(blk) + 1).reshape((-1,) + (1,) * (len(shape) - 1))
        out[b0 : b0 + 64] = pw * (prev + np.cumsum(blk / pw, axis=0))
        prev = out[b0 + len(blk) - 1]
    return out


def _sea_season_c(geography: str, epoch_days: np.ndarray) -> np.ndarray:
    """Seasonal sea temperature (no anomaly): coldest about 10 March, warmest about 9 September."""
    mean, amp, _, _ = SEA_TEMP[geography]
    d = np.asarray(epoch_days).astype("datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(int) + 1
    return mean + amp * np.cos(2 * np.pi * (doy - WARMEST_DAY_OF_YEAR) / 365.25)


def _temperatures(rng: np.random.Generator, grid: _Grid, start: int, geography: str) -> np.ndarray:
    """Daily mean water temperature per (day, track): hall set point or sea season + AR(1)."""
    hall = HALL_TEMP_C + _ar1(rng, (LIFE_DAYS, 5), 0.85, 0.15)
    tank_offset = np.clip(0.05 * rng.standard_normal((5, SLOTS)), -0.1, 0.1)
    _, _, lo, hi = SEA_TEMP[geography]
    sea = _sea_season_c(geography, start + np.arange(LIFE_DAYS)) + _ar1(rng, (LIFE_DAYS,), 0.9, 0.35)
    ring_offset = np.clip(0.05 * rng.standard_normal(RINGS), -0.1, 0.1)

    s = np.clip(grid.stage[:, :SLOTS], 0, 4)
    days = np.arange(LIFE_DAYS)[:, None]
    fw = hall[days, s] + tank_offset[s, np.arange(SLOTS)]
    fw = np.clip(fw, HALL_TEMP_BAND[s, 0], HALL_TEMP_BAND[s, 1])
    return np.concatenate([fw, np.clip(sea[:, None] + ring_offset, lo, hi)], axis=1)


@dataclass(frozen=True)
class _Water:
    """Daily water-quality levels per (day, track); readings add diurnal cycle and noise."""

    oxygen_base: np.ndarray  # DO % before the biomass-density term (applied in the day loop)
    co2: np.ndarray
    ph: np.ndarray
    no2: np.ndarray
    no3: np.ndarray
    nh4: np.ndarray


def _water_levels(rng: np.random.Generator, grid: _Grid, temp: np.ndarray) -> _Water:
    """Water chemistry by day and track: safe most days, with rare one-day excursions.

    Oxygen saturation falls with temperature at sea (oxygenated tanks ashore do not);
    a rare low-oxygen event (0.3 % of days, −8 to −25 points) also raises mortality.
    """
    shape = temp.shape
    sea = grid.sea[None, :]

    def excursion(p: float, lo: float, hi: float) -> np.ndarray:
        hit = rng.random(shape) < p
        return np.where(hit, rng.uniform(lo, hi, shape), 0.0)

    oxygen = np.where(sea, 97.0 - 0.9 * np.maximum(0.0, temp - 8.0), 95.0) + _ar1(rng, shape, 0.7, 1.2)
    oxygen -= excursion(0.003, 8.0, 25.0)
    co2 = np.where(sea, 2.5 + _ar1(rng, shape, 0.8, 0.4), 7.0 + _ar1(rng, shape, 0.8, 1.0))
    co2 += excursion(0.002, 8.0, 15.0)
    ph = np.where(sea, 7.95 + _ar1(rng, shape, 0.8, 0.05), 7.1 + _ar1(rng, shape, 0.8, 0.12))
    ph -= excursion(0.001, 0.7, 1.2)
    no2 = 0.025 * np.exp(_ar1(rng, shape, 0.8, 0.3) + excursion(0.002, 1.5, 2.2))
    no3 = np.clip(18.0 + _ar1(rng, shape, 0.9, 5.0) + excursion(0.002, 30.0, 50.0), 1.0, None)
    nh4 = 0.007 * np.exp(_ar1(rng, shape, 0.8, 0.3) + excursion(0.002, 1.1, 1.6))
    return _Water(oxygen, co2, ph, no2, no3, nh4)


# --- the day loop ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Life:
    """State per (day, track) over the full life, plus the fish counted at each transfer."""

    pop_start: np.ndarray  # after the day's move, before mortality (= previous 20:00)
    pop_end: np.ndarray
    deaths: np.ndarray
    w_start: np.ndarray
    w_end: np.ndarray
    oxygen: np.ndarray  # daily DO % the readings show
    stress: np.ndarray
    source_count: np.ndarray  # (5, 10): fish in source just before transition k+1 of lineage d
    handling_loss: np.ndarray  # (5, 10)


def _run_days(
    eggs: int,
    grid: _Grid,
    temp: np.ndarray,
    water: _Water,
    growth_factor: np.ndarray,
    egg_weight: np.ndarray,
    rng: np.random.Generator,
    move_rng: np.random.Generator,
) -> _Life:
    """Daily population and weight of every track.

    A loop over days is needed because today's Poisson deaths depend on yesterday's
    survivors and today's growth on yesterday's weight (TGC falls with weight); each
    step is vectorized across the 30 tracks. Everything not carried over is precomputed.
    """
    shape = (LIFE_DAYS, N_TRACKS)
    stage = np.maximum(grid.stage, 0)
    live = grid.live
    asg = np.maximum(grid.assignment, 0)
    # cube-root growth per day before the weight factor, which the day loop applies
    tgc = TGC[stage] * growth_factor[asg] * _temperature_factor(temp)
    cbrt_step = np.where(live, tgc * temp / 1000, 0.0)
    temp_stress = 1.0 + 0.3 * np.maximum(0.0, temp - OPTIMUM_TEMP_C[stage])
    base_rate = np.where(live, BASE_MORTALITY[stage], 0.0)
    density_ref = DENSITY_REF_KG[stage]
    loss_rate = move_rng.uniform(*HANDLING_LOSS, (5, SLOTS))
    loss_round = move_rng.random((5, SLOTS))  # stochastic rounding of the loss

    rec = {k: np.zeros(shape) for k in ("w_start", "w_end", "oxygen", "stress")}
    rec |= {k: np.zeros(shape, dtype=np.int64) for k in ("pop_start", "pop_end", "deaths")}
    source_count = np.zeros((5, SLOTS), dtype=np.int64)
    handling_loss = np.zeros((5, SLOTS), dtype=np.int64)
    pop = np.zeros(N_TRACKS, dtype=np.int64)
    pop[:SLOTS] = eggs // SLOTS + (np.arange(SLOTS) < eggs % SLOTS)
    w = np.zeros(N_TRACKS)
    w[:SLOTS] = egg_weight

    for t in range(LIFE_DAYS):
        k, d = divmod(t, STAGE_DAYS)
        if 1 <= k <= 5 and d < SLOTS:  # lineage d moves to the next stage at start of day
            p = pop[d]
            loss = min(p, int(p * loss_rate[k - 1, d] + loss_round[k - 1, d]))
            source_count[k - 1, d], handling_loss[k - 1, d] = p, loss
            pop[d] = p - loss
            if k == 5:  # split 50/50 into rings 2d, 2d+1
                n = pop[d]
                ring = SLOTS + 2 * d
                pop[ring : ring + 2] = (n - n // 2, n // 2)
                w[ring : ring + 2] = w[d]
                pop[d] = 0
        h = t - HARVEST_START
        if 0 <= h < SLOTS:  # rings 2h, 2h+1 are harvested (counts read from pop_end of t-1)
            pop[SLOTS + 2 * h : SLOTS + 2 * h + 2] = 0

        rec["pop_start"][t] = pop
        rec["w_start"][t] = w
        density = pop * w / 1000 / density_ref[t]
        oxygen = np.clip(water.oxygen_base[t] - 6.0 * density / (1.0 + density), 50.0, 100.0)
        stress = temp_stress[t] * (1.0 + 0.08 * np.maximum(0.0, LOW_OXYGEN_PCT - oxygen))
        dead = np.minimum(rng.poisson(pop * base_rate[t] * stress), pop)
        pop = pop - dead
        # 20:00 growth update
        step = cbrt_step[t]
        w = np.where(step > 0, (np.cbrt(w) + step * _weight_factor(w)) ** 3, w)  # eggs keep their weight exactly
        rec["pop_end"][t] = pop
        rec["deaths"][t] = dead
        rec["w_end"][t] = w
        rec["oxygen"][t] = oxygen
        rec["stress"][t] = stress
    return _Life(**rec, source_count=source_count, handling_loss=handling_loss)


# --- frames ---------------------------------------------------------------------------


def _dates(epoch_days: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(epoch_days, dtype=np.int32)).cast(pl.Date)


def _datetimes(epoch_us: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(epoch_us, dtype=np.int64)).cast(pl.Datetime("us", "UTC"))


def _daily_rows(asg: _Layout, life: _Life, temp: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of one row per live assignment-day of the full life, by (assignment, day)."""
    n = asg.end_day - asg.first_day
    no = np.repeat(np.arange(N_ASSIGNMENTS), n)
    day = asg.first_day[no] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    track = asg.track[no]
    cols = {"assignment_no": no, "day": day, "stage": asg.stage[no], "offset": day - asg.first_day[no]}
    for name in ("pop_start", "pop_end", "deaths", "w_start", "w_end", "oxygen"):
        cols[name] = getattr(life, name)[day, track]
    cols["track"] = track
    cols["temperature_c"] = temp[day, track]
    return cols


def _daily_frame(d: dict[str, np.ndarray], start: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(d["assignment_no"], dtype=pl.Int32),
            "date": _dates(start + d["day"]),
            "population": pl.Series(d["pop_end"], dtype=pl.Int64),
            "deaths": pl.Series(d["deaths"], dtype=pl.Int64),
            "avg_weight_g": d["w_end"],
            "biomass_kg": d["pop_end"] * d["w_end"] / 1000,
            "temperature_c": d["temperature_c"],
            "feed_kg": d["feed_kg"],
        }
    )


def _assignments_frame(asg: _Layout, life: _Life, samples: pl.DataFrame, start: int, cut: int) -> pl.DataFrame:
    """Assignments started by the cut; those departing after it are open, valued at the cut."""
    keep = asg.first_day <= cut
    closed = asg.end_day <= cut
    value_day = np.minimum(cut, asg.end_day - 1)  # last live day up to the cut
    pop = life.pop_end[value_day, asg.track]
    w = life.w_end[value_day, asg.track]
    last_weighing = np.full(N_ASSIGNMENTS, -1)
    if samples.height:
        np.maximum.at(
            last_weighing,
            samples["assignment_no"].to_numpy(),
            (samples["sample_date"].cast(pl.Int32).to_numpy() - start),
        )
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(np.arange(N_ASSIGNMENTS), dtype=pl.Int32),
            "stage": pl.Series(asg.stage, dtype=pl.Int16),
            "slot": pl.Series(asg.slot, dtype=pl.Int16),
            "assignment_date": _dates(start + asg.first_day),
            "departure_date": _dates(start + asg.end_day).scatter(np.flatnonzero(~closed), None),
            "is_active": ~closed,
            "population_count": pl.Series(pop, dtype=pl.Int64),
            "avg_weight_g": w,
            "biomass_kg": pop * w / 1000,
            "last_weighing_date": _dates(start + last_weighing).scatter(np.flatnonzero(last_weighing < 0), None),
            "initial_population": pl.Series(life.pop_start[asg.first_day, asg.track], dtype=pl.Int64),
            "initial_weight_g": life.w_start[asg.first_day, asg.track],
        }
    ).filter(pl.Series(keep))


def _transfers_frame(asg: _Layout, life: _Life, start: int) -> pl.DataFrame:
    """One row per destination; the sea split's two rows share their source (see simulate_batch)."""
    dest = np.arange(SLOTS, N_ASSIGNMENTS)  # every assignment after the egg trays is a destination
    day = asg.first_day[dest]
    lineage = asg.lineage[dest]
    k = asg.stage[dest] - 1  # transition index
    source = np.where(k < 4, dest - SLOTS, 4 * SLOTS + lineage)
    transferred = life.pop_start[day, asg.track[dest]]
    total_loss = life.handling_loss[k, lineage]
    second = (asg.stage[dest] == ADULT) & (asg.slot[dest] % 2 == 1)
    first = (asg.stage[dest] == ADULT) & ~second
    loss = np.where(first, total_loss - total_loss // 2, np.where(second, total_loss // 2, total_loss))
    src_count = life.source_count[k, lineage]
    w = life.w_start[day, asg.track[dest]]
    return pl.DataFrame(
        {
            "transfer_date": _dates(start + day),
            "source_assignment_no": pl.Series(source, dtype=pl.Int32),
            "dest_assignment_no": pl.Series(dest, dtype=pl.Int32),
            "source_stage": pl.Series(asg.stage[source], dtype=pl.Int16),
            "dest_stage": pl.Series(asg.stage[dest], dtype=pl.Int16),
            "source_count": pl.Series(src_count, dtype=pl.Int64),
            "transferred_count": pl.Series(transferred, dtype=pl.Int64),
            "mortality_count": pl.Series(loss, dtype=pl.Int64),
            "source_biomass_kg": src_count * w / 1000,
            "transferred_biomass_kg": transferred * w / 1000,
        }
    )


def _harvests_frame(asg: _Layout, life: _Life, start: int) -> pl.DataFrame:
    rings = np.flatnonzero(asg.stage == ADULT)
    last = asg.end_day[rings] - 1
    count = life.pop_end[last, asg.track[rings]]
    w = life.w_end[last, asg.track[rings]]
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(rings, dtype=pl.Int32),
            "harvest_date": _dates(start + asg.end_day[rings]),
            "count": pl.Series(count, dtype=pl.Int64),
            "avg_weight_g": w,
            "biomass_kg": count * w / 1000,
        }
    )


def _mortality_frame(rng: np.random.Generator, grid: _Grid, life: _Life, start: int) -> pl.DataFrame:
    """Batch-level deaths per day, with a cause.

    ENVIRONMENTAL when more than half of the day's deaths are attributable to
    temperature/oxygen stress (share (s−1)/s of each container's expected deaths);
    otherwise drawn, mostly UNKNOWN (predators only at sea, handling only ashore).
    """
    count = life.deaths.sum(axis=1)
    biomass = (life.deaths * life.w_start).sum(axis=1) / 1000
    stress_share = (life.deaths * (1 - 1 / np.maximum(life.stress, 1.0))).sum(axis=1) / np.maximum(count, 1)
    at_sea = life.deaths[:, grid.sea].sum(axis=1) > life.deaths[:, ~grid.sea].sum(axis=1)
    #                 DISEASE HANDLING PREDATION ENVIRONMENTAL UNKNOWN OTHER
    p_fresh = np.array([0.08, 0.04, 0.00, 0.02, 0.82, 0.04])
    p_sea = np.array([0.08, 0.00, 0.06, 0.04, 0.78, 0.04])
    u = rng.random(LIFE_DAYS)[:, None]
    drawn = np.where(at_sea, (u > np.cumsum(p_sea)).sum(1), (u > np.cumsum(p_fresh)).sum(1))
    cause = np.where(stress_share > 0.5, MORTALITY_CAUSES.index("ENVIRONMENTAL"), np.minimum(drawn, 5))
    days = np.flatnonzero(count > 0)
    return pl.DataFrame(
        {
            "event_date": _dates(start + days),
            "count": pl.Series(count[days], dtype=pl.Int64),
            "biomass_kg": biomass[days],
            "cause": np.array(MORTALITY_CAUSES)[cause[days]],
        }
    )


def _feedings(rng: np.random.Generator, d: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Feeding events of the full life and the fed kg per daily row.

    Daily ration = the day's biomass gain × stage FCR × lognormal noise (sd 10 %),
    split unevenly (±10 %) over the stage's feeding times. Events too small to store
    (amount < 0.0001 kg or biomass < 0.01 kg) are dropped.
    """
    n_rows = len(d["day"])
    gain_kg = d["pop_end"] * (d["w_end"] - d["w_start"]) / 1000
    ration = gain_kg * FCR[d["stage"]] * np.exp(0.1 * rng.standard_normal(n_rows) - 0.005)
    share_noise = 1.0 + np.clip(0.1 * rng.standard_normal((n_rows, 4)), -0.25, 0.25)
    blocks = []
    # rows of one stage are contiguous (assignments are ordered by stage): one block each
    for stage, hours in FEEDING_HOURS.items():
        rows = np.flatnonzero(d["stage"] == stage)
        share = share_noise[rows, : len(hours)]
        share = share / share.sum(axis=1, keepdims=True)
        amount = np.round(ration[rows, None] * share, 4).ravel()
        row = np.repeat(rows, len(hours))
        feed = np.full(len(row), FEED_BY_STAGE[stage])
        if stage == ADULT:
            feed = np.where(d["w_start"][row] >= FINISHER_SWITCH_G, FEED_BY_STAGE[stage] + 1, feed)
        blocks.append({"row": row, "hour": np.tile(hours, len(rows)), "amount": amount, "feed": feed})
    ev = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    ev["biomass"] = np.round(d["pop_start"][ev["row"]] * d["w_start"][ev["row"]] / 1000, 2)
    keep = (ev["amount"] >= 0.0001) & (ev["biomass"] >= 0.01)
    ev = {k: v[keep] for k, v in ev.items()}
    ev["assignment_no"] = d["assignment_no"][ev["row"]]
    ev["day"] = d["day"][ev["row"]]
    return ev, np.bincount(ev["row"], weights=ev["amount"], minlength=n_rows)


def _feedings_frame(ev: dict[str, np.ndarray], start: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(ev["assignment_no"], dtype=pl.Int32),
            "feeding_date": _dates(start + ev["day"]),
            "feeding_time": pl.Series(ev["hour"].astype(np.int64) * _US_PER_HOUR * 1000).cast(pl.Time),  # ns
            "amount_kg": ev["amount"],
            "batch_biomass_kg": ev["biomass"],
            "feed": pl.Series(ev["feed"], dtype=pl.Int16),
            "feeding_percentage": np.round(ev["amount"] / ev["biomass"] * 100, 6),
        }
    )


def _readings_frame(rng: np.random.Generator, d: dict[str, np.ndarray], water: _Water, start: int) -> pl.DataFrame:
    """Sensor readings at 06:00, 10:00 and 18:00 for each live assignment-day.

    Value = the container's daily level (the same series growth and mortality use)
    + a diurnal cycle (temperature peaks ~15:00, sea oxygen with it) + sensor noise,
    clipped to the parameter's physical range and rounded to numeric(10,4).
    """
    frames = []
    for at_sea, params in ((False, FRESHWATER_PARAMETERS), (True, SEA_PARAMETER_IDS)):
        rows = np.flatnonzero((d["stage"] == ADULT) == at_sea)
        day, track = d["day"][rows], d["track"][rows]
        cycle = np.cos(2 * np.pi * (READING_HOURS - 15) / 24)[None, :]  # (1, 3)
        noise = rng.standard_normal((len(rows), 3, len(params)))
        level = {
            DO: d["oxygen"][rows, None] + (1.0 if at_sea else 0.0) * cycle,
            CO2: water.co2[day, track][:, None],
            PH: water.ph[day, track][:, None],
            TEMP: d["temperature_c"][rows, None] + DIURNAL_SWING_C[int(at_sea)] * cycle,
            NO2: water.no2[day, track][:, None],
            NO3: water.no3[day, track][:, None],
            NH4: water.nh4[day, track][:, None],
        }
        scale = {DO: 0.7, CO2: 0.3, PH: 0.03, TEMP: 0.05, NO2: 0.05, NO3: 0.5, NH4: 0.05}
        values = np.empty(noise.shape)
        for i, p in enumerate(params):  # 7 parameters, each vectorized over all rows
            z = noise[:, :, i]
            if p in (NO2, NH4):  # multiplicative sensor noise keeps them positive
                v = level[p] * np.exp(scale[p] * z)
            elif p == TEMP:
                v = level[p] + scale[p] * np.clip(z, -2, 2)
            else:
                v = level[p] + scale[p] * z
            hi = 100.0 if p == DO else PARAMETERS[p].max_value  # no supersaturation modelled
            values[:, :, i] = np.clip(v, PARAMETERS[p].min_value, hi)
        n = len(rows) * 3 * len(params)
        hour = np.broadcast_to(READING_HOURS[None, :, None], noise.shape).ravel()
        frames.append(
            pl.DataFrame(
                {
                    "assignment_no": pl.Series(np.repeat(d["assignment_no"][rows], 3 * len(params)), dtype=pl.Int32),
                    "parameter": pl.Series(np.tile(params, n // len(params)), dtype=pl.Int16),
                    "reading_time": _datetimes((start + np.repeat(day, 3 * len(params))) * _US_PER_DAY + hour * _US_PER_HOUR),
                    "value": np.round(values.ravel(), 4),
                }
            )
        )
    return pl.concat(frames)


def _samples_frame(rng: np.random.Generator, asg: _Layout, d: dict[str, np.ndarray], start: int) -> pl.DataFrame:
    """Weekly growth samples (day 7, 14, ... of each assignment from Fry on).

    Each sample weighs and measures 20–50 fish drawn around the true (morning) weight:
    weights lognormal with a CV of 15–25 %, individual condition factor ~N(1.12, 0.05),
    length from W = K·L³/100. Statistics come from those fish; all rounded to 2 dp.
    """
    rows = np.flatnonzero((d["stage"] > 0) & (d["offset"] >= 7) & (d["offset"] % 7 == 0))
    n_s = len(rows)
    size = rng.integers(20, 51, n_s)
    enough = d["pop_start"][rows] >= size  # a tank with fewer fish than the sample is not sampled
    fish = np.arange(50)[None, :] < size[:, None]
    sigma = rng.uniform(0.15, 0.25, n_s)[:, None]
    weight = d["w_start"][rows, None] * np.exp(sigma * rng.standard_normal((n_s, 50)) - sigma**2 / 2)
    k = np.clip(1.12 + 0.05 * rng.standard_normal((n_s, 50)), 0.95, 1.3)
    length = np.cbrt(100 * weight / k)

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.where(fish, x, 0).sum(1) / size
        sd = np.sqrt(np.where(fish, (x - mean[:, None]) ** 2, 0).sum(1) / (size - 1))
        return np.round(mean, 2), np.round(sd, 2)

    w_mean, w_sd = stats(weight)
    l_mean, l_sd = stats(length)
    frame = pl.DataFrame(
        {
            "assignment_no": pl.Series(d["assignment_no"][rows], dtype=pl.Int32),
            "sample_date": _dates(start + d["day"][rows]),
            "sample_size": pl.Series(size, dtype=pl.Int64),
            "avg_weight_g": w_mean,
            "std_deviation_weight": w_sd,
            "min_weight_g": np.round(np.where(fish, weight, np.inf).min(1), 2),
            "max_weight_g": np.round(np.where(fish, weight, -np.inf).max(1), 2),
            "avg_length_cm": l_mean,
            "std_deviation_length": l_sd,
            "condition_factor": np.round(100 * w_mean / l_mean**3, 2),
        }
    )
    return frame.filter(pl.Series(enough))


# category -> (egg trays, freshwater tanks, sea rings) -> descriptions
_VACCINATION_TEXT = (
    "Vaccinated by injection (multivalent, oil-adjuvanted).",
    "IPN vaccination completed.",
    "Vaccination completed; fish recovering well.",
    "Injection sites checked: reactions minimal.",
)
_JOURNAL_TEXT = {
    "observation": (
        (
            "Eggs and alevins developing normally; dead eggs picked.",
            "Hatching progressing evenly across the tray.",
            "Yolk sacs well absorbed; first feeding expected soon.",
            "Water flow through the tray checked; no fungus seen.",
        ),
        (
            "Routine health check: fish active, good appetite, no abnormal behaviour.",
            "Fins and skin in good condition on visual inspection.",
            "Some size variation noted; grading not yet needed.",
            "Even distribution in the tank, water flow normal.",
        ),
        (
            "Routine pen inspection: fish schooling normally, good appetite.",
            "Net and mooring check done; fish behaviour normal.",
            "Jellyfish seen near the pen; no reaction from the fish.",
            "Sea lice count well below the treatment threshold.",
        ),
    ),
    "issue": (
        (
            "Fungus on some dead eggs; picking frequency increased.",
            "Uneven hatching in the tray.",
            "Some alevins with yolk-sac oedema.",
            "Flow disturbance in the tray; restored.",
        ),
        (
            "Slightly raised mortality; fungal growth seen on a few fish.",
            "Reduced feeding response for two days.",
            "CO2 reading above normal; aeration checked.",
            "Some fin erosion observed.",
        ),
        (
            "Sea lice count approaching the treatment threshold.",
            "Reduced appetite after a storm.",
            "Gill score slightly raised; AGD suspected.",
            "Seal activity near the pen; predator net checked.",
        ),
    ),
    "action": (
        (
            "Dead eggs picked and counted.",
            "Tray cleaned and flow adjusted.",
            "Eyed eggs shocked and sorted.",
            "Hatching substrate checked.",
        ),
        (
            "Tank cleaned and water flow adjusted.",
            "Fish graded; ration adjusted to the new size.",
            "Feeding rate adjusted to appetite.",
            "Oxygen diffuser replaced.",
        ),
        (
            "Cleaner fish stocked in the pen.",
            "Nets cleaned.",
            "Feeding reduced during the warm period.",
            "Predator net tensioned.",
        ),
    ),
    "diagnosis": (
        (
            "Saprolegnia confirmed on dead eggs.",
            "Egg samples negative for IPN.",
            "Egg mortality within the normal range for the stage.",
            "No pathogens detected in alevin samples.",
        ),
        (
            "Saprolegnia confirmed on a few fish.",
            "Gill samples clear of pathogens.",
            "Mild nephrocalcinosis in kidney samples.",
            "No pathogens detected in lab screening.",
        ),
        (
            "AGD score 1 in gill samples.",
            "Mild winter ulcer confirmed.",
            "Sea lice mostly at chalimus stage.",
            "Gill histology normal.",
        ),
    ),
    "treatment": (
        (
            "Bronopol treatment against egg fungus.",
            "Formalin treatment of the tray against fungus.",
            "Flow increased through the tray as a precaution.",
            "Iodophor disinfection of newly arrived eggs.",
        ),
        (
            "Salt bath against fungal infection.",
            "Bath treatment against ectoparasites.",
            "Medicated feed started on veterinary advice.",
            "Flow increased and salt added as a precaution.",
        ),
        (
            "Freshwater bath against AGD.",
            "Thermal delousing.",
            "Hydrogen peroxide bath against sea lice.",
            "Mechanical delousing.",
        ),
    ),
    "vaccination": (_VACCINATION_TEXT,) * 3,  # only written for parr and smolt
    "sample": (
        (
            "Eggs sampled for fertilisation rate.",
            "Alevins sampled for development stage.",
            "Water samples taken for lab analysis.",
            "Dead eggs sent to the lab for screening.",
        ),
        (
            "Gill samples taken for histology.",
            "Blood samples taken for smoltification check.",
            "Fish sent to the lab for health screening.",
            "Water samples taken for lab analysis.",
        ),
        (
            "Gill samples taken for AGD screening.",
            "Sea lice counted on 20 fish.",
            "Fish sampled for PD screening.",
            "Water samples taken for plankton analysis.",
        ),
    ),
}
_RESOLUTION_NOTES = {
    "issue": "Back to normal after follow-up.",
    "action": "Completed as planned.",
    "diagnosis": "Findings discussed with the site team; no further action.",
    "treatment": "Treatment completed; mortality at baseline.",
}
# P(category), and P(severity = none/low/medium/high | category)
_CATEGORY_P = np.array([0.38, 0.12, 0.12, 0.08, 0.07, 0.05, 0.18])
_SEVERITY_P = np.array(
    [
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.3, 0.5, 0.2],
        [0.4, 0.6, 0.0, 0.0],
        [0.0, 0.4, 0.4, 0.2],
        [0.0, 0.2, 0.6, 0.2],
        [0.7, 0.3, 0.0, 0.0],
        [0.8, 0.2, 0.0, 0.0],
    ]
)


def _journal_frame(rng: np.random.Generator, asg: _Layout, start: int) -> pl.DataFrame:
    """About one health journal entry a month, each about a container live that day."""
    n = LIFE_DAYS // 30
    day = 15 + 30 * np.arange(n) + rng.integers(-5, 6, n)
    day = day[day < HARVEST_START + SLOTS - 1]  # last live day is 858
    n = len(day)
    live = (asg.first_day[None, :] <= day[:, None]) & (day[:, None] < asg.end_day[None, :])
    pick = (rng.random(n) * live.sum(1)).astype(int)  # the pick-th live assignment that day
    no = np.argmax(np.cumsum(live, axis=1) > pick[:, None], axis=1)
    stage = asg.stage[no]
    cat = (rng.random(n)[:, None] > np.cumsum(_CATEGORY_P)).sum(1).clip(0, 6)
    vaccination = JOURNAL_CATEGORIES.index("vaccination")
    cat = np.where((cat == vaccination) & ~np.isin(stage, (2, 3)), 0, cat)  # vaccinated as parr/smolt
    severity = (rng.random(n)[:, None] > np.cumsum(_SEVERITY_P[cat], axis=1)).sum(1).clip(0, 3)
    text = np.array([_JOURNAL_TEXT[c] for c in JOURNAL_CATEGORIES], dtype=object)  # (7, 3, 4)
    place = np.where(stage == 0, 0, np.where(stage == ADULT, 2, 1))
    description = text[cat, place, rng.integers(0, 4, n)]
    categories = np.array(JOURNAL_CATEGORIES)[cat]
    resolvable = np.isin(categories, list(_RESOLUTION_NOTES))
    resolved = resolvable & (rng.random(n) < 0.7)
    notes = np.array([_RESOLUTION_NOTES.get(c, "") for c in JOURNAL_CATEGORIES], dtype=object)[cat]
    minute = rng.integers(8 * 60, 16 * 60, n)
    return pl.DataFrame(
        {
            "entry_time": _datetimes((start + day) * _US_PER_DAY + minute * 60_000_000),
            "assignment_no": pl.Series(no, dtype=pl.Int32),
            "category": categories,
            "severity": pl.Series(list(np.array(SEVERITIES, dtype=object)[severity]), dtype=pl.String),
            "description": pl.Series(list(description), dtype=pl.String),
            "resolution_status": resolved,
            "resolution_notes": pl.Series(list(np.where(resolved, notes, "")), dtype=pl.String),
        }
    )
