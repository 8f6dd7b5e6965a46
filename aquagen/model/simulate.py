"""One batch's life, simulated as arrays: the pure core of aquagen.

``simulate_batch`` takes a :class:`BatchSpec` and returns a :class:`BatchSim` of polars
frames keyed by local indices only (assignment_no, stage, slot, parameter, feed); the
table-building layer maps them to database ids. No I/O, no database, no clock.

Why the whole life first, then the cut: every random draw is taken for the full
life, whatever the as-of date, and only then is everything dated after the
as-of date dropped. A later as-of date therefore gives a superset of an earlier one
with identical earlier rows. A caller that keeps nothing after a day (the fleet: its horizon) stops
the simulation there (``BatchSpec.through``): the day loop stops, and the models made per daily row
(feedings, samples, readings) take the whole life's draws but compute its rows up to that day only
(a young batch of the default fleet cost as much as a full life before: 4.1 → 2.4–2.6 CPU-s for the
default fleet of 50, one process, measured 2026-12-03).

Timeline (day 0 = start_date): the batch's own calendar (``calendar.batch_draw``: the
nominal 90-day stages of ``timeline`` ± its draws, and a sea phase as long as its target
weight takes). Freshwater lineage d (0..9) lives in tray d of the Egg&Alevin hall from
day 0, moves to slot d of the next hall on ``stage_start[k] + d`` (k = 1..4: Fry, Parr,
Smolt, Post-Smolt), and on ``stage_start[5] + d`` splits 50/50 into rings 2d and 2d+1 of
the sea area. Ring r is harvested on ``harvest_day[r]``, ring by ring over 3–7 weeks, the
heaviest first (``harvest.harvest_order``).
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
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from .arrays import kept_rows, where
from .calendar import batch_draw
from .domain import PARAMETERS
from .environment import SEA_TEMP, temperatures, water_levels
from .events import (
    assignments_frame,
    daily_frame,
    daily_rows,
    dates,
    feedings,
    feedings_frame,
    harvests_frame,
    mortality_frame,
    readings_frame,
    samples_frame,
    transfers_frame,
)
from .harvest import harvest_order
from .journal import journal_frame
from .layout import assignment_layout, track_grid
from .lice import LICE_PURPOSE, ring_matrices, run_lice, with_delousings
from .population import EPISODES, Episodes, draw_traits, run_days
from .seeds import HEALTH_STREAM, rng_for
from .sensors import Calibrations
from .sites import SETUP_LEAD_DAYS, SITES
from .timeline import DAY_IN_UNIT, EPOCH, FRESHWATER_STAGES, N_ASSIGNMENTS, N_STAGES, SLOTS
from .treatment import DISEASE_TREATMENT_PURPOSE, FASTS, TREATED, schedule

# the column each dated frame is cut on (datetimes by their date: the as-of day is kept)
DATE_COLUMNS = {
    "daily": "date",
    "transfers": "transfer_date",
    "harvests": "harvest_date",
    "mortality": "event_date",
    "feedings": "feeding_date",
    "readings": "reading_time",
    "samples": "sample_date",
    "sample_fish": "sample_date",
    "journal": "entry_time",
    "stage_changes": "date",
    "episodes": "start_date",
    "lice": "date",
    "treatments": "date",
}


def rows_through(df: pl.DataFrame, column: str, last: dt.date) -> pl.DataFrame:
    """``df.filter(pl.col(column).cast(pl.Date) <= last)``: for a date or a (UTC or naive) timestamp
    without NULLs by arithmetic on its array, no query (``kept_rows``)."""
    s = df[column]
    tz_free = not isinstance(s.dtype, pl.Datetime) or s.dtype.time_zone in (None, "UTC")
    if not df.height or not (s.dtype == pl.Date or isinstance(s.dtype, pl.Datetime)) or not tz_free or s.null_count():
        return where(df, pl.col(column).cast(pl.Date) <= pl.lit(last, dtype=pl.Date))
    if isinstance(s.dtype, pl.Datetime):
        day = s.cast(pl.Int64).to_numpy() // DAY_IN_UNIT[s.dtype.time_unit]
    else:
        day = s.cast(pl.Int32).to_numpy()
    return kept_rows(df, day <= (last - EPOCH).days)


@dataclass(frozen=True)
class BatchSpec:
    """What to simulate: one batch of the fleet, and the date to cut it at."""

    start_date: dt.date
    eggs: int
    geography: str  # "Scotland" or "Faroe Islands"
    seed: int  # fleet seed
    shard: int  # batch index in the fleet: its own RNG stream
    as_of: dt.date  # nothing dated after it
    clean_sensors: bool = False  # readings without gaps, jitter, spikes, flat-lines or drift
    # where the batch lives (``sites.SITES`` ids) and when the farm's sensors were installed (default:
    # ``SETUP_LEAD_DAYS`` before the batch): the sensors its readings come from, and their calibrations
    station_id: int = 1
    area_id: int = 1
    sensors_installed: dt.date | None = None
    # the last day simulated (default: the whole life): the daily states, feedings, samples and readings
    # of later days are not made, the rows up to it are the whole life's; the transfers, harvests and
    # departures after it move no fish (zeros), for a caller that cuts them (``as_of`` ≤ ``through`` does)
    through: dt.date | None = None


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
    sample_fish: pl.DataFrame  # the fish weighed and measured in each sample
    journal: pl.DataFrame
    stage_changes: pl.DataFrame
    episodes: pl.DataFrame  # sea episodes, one row per ring affected (see simulate_batch)
    lice: pl.DataFrame  # weekly lice counts per ring (``lice.run_lice``)
    treatments: pl.DataFrame  # the delousings those counts called (``lice.run_lice``)
    status: str  # ACTIVE or COMPLETED
    actual_end_date: dt.date | None  # last harvest, when completed
    expected_end_date: dt.date  # planned last harvest
    current_stage: int  # stage at as_of
    target_weight_g: float = 0.0  # the harvest weight the batch is grown to (its sea phase's length)
    seed: int = 0  # the fleet seed and the batch's shard: its health records' streams (``seeds.HEALTH_STREAM``)
    shard: int = 0
    # frames derived from the others once for several builders (``health.derived``); not compared
    derived: dict[str, pl.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)


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
    - mortality: event_date, count, biomass_kg, cause, episode — per day with deaths
      (transfer handling losses are in transfers.mortality_count instead); cause of the
      component explaining most deaths, episode true on a sea episode's days.
    - feedings: assignment_no, feeding_date, feeding_time, amount_kg,
      batch_biomass_kg, feed, feeding_percentage.
    - readings: assignment_no, parameter, reading_time, value.
    - samples: assignment_no, sample_date, sample_size, avg_weight_g,
      std_deviation_weight, min_weight_g, max_weight_g, avg_length_cm,
      std_deviation_length, condition_factor.
    - sample_fish: assignment_no, sample_date, fish_no, weight_g, length_cm — the samples' fish
      (their statistics are the sample's, before rounding).
    - journal: entry_time, assignment_no, category, severity, description,
      resolution_status, resolution_notes.
    - stage_changes: date, stage.
    - episodes: start_date, end_date (first day after), kind (gill disease, winter ulcer,
      jellyfish, delousing handling), cause, assignment_no — a sea episode in one ring it
      affects (the ring must be live on start_date); its deaths are in daily/mortality. The
      delousing handling episodes are the lice model's handled delousings (one day, one ring;
      the ring fasts that day and the next).
    - lice: assignment_no, date, fish_sampled, adult_female_count, adult_male_count,
      juvenile_count — weekly counts per ring (``lice.run_lice``).
    - treatments: assignment_no, date, day, ring, method, adult_females_per_fish,
      handling_loss — the delousings those counts called.
    """
    _validate(spec)
    rng = rng_for(spec.seed, spec.shard)
    # one child stream per model, so that changing one model leaves the others' draws alone
    (r_temp, r_growth, r_mort, r_move, r_water, r_feed, r_read, r_sample, r_journal, r_cause, r_faults) = rng.spawn(11)

    start = (spec.start_date - EPOCH).days
    cut = (spec.as_of - spec.start_date).days  # last day index kept
    draw = batch_draw(spec.seed, spec.shard, spec.start_date, spec.geography)
    cal = draw.calendar
    temp = temperatures(r_temp, track_grid(cal), start, spec.geography, spec.seed)  # whatever the ring order
    traits = draw_traits(r_growth, draw.tgc, cal, start, N_ASSIGNMENTS)
    # the rings are harvested heaviest first, on the calendar's harvest days
    cal = replace(cal, harvest_order=harvest_order(cal, traits.tgc, traits.egg_weight, temp))
    asg = assignment_layout(cal)
    grid = track_grid(cal)
    last = cal.life_days - 1 if spec.through is None else min(cal.life_days - 1, (spec.through - spec.start_date).days)
    # lice first: the delousings they call are the batch's handling episodes (deaths, fasting)
    lice_counts, treatments = run_lice(
        rng_for(spec.seed, spec.shard, HEALTH_STREAM, LICE_PURPOSE),
        *ring_matrices(grid.live, temp),
        start,
        spec.geography,
        FRESHWATER_STAGES * SLOTS,
        last,
    )
    traits = replace(traits, episodes=with_delousings(traits.episodes, treatments))
    # the disease treatments too: a bath or a jellyfish bloom stops feeding (``treatment``)
    episodes, fasts = episodes_frame(
        traits.episodes, asg, start, rng_for(spec.seed, spec.shard, HEALTH_STREAM, DISEASE_TREATMENT_PURPOSE)
    )
    water = water_levels(r_water, grid, temp, start, last + 1)
    life = run_days(spec.eggs, cal, grid, asg, temp, water, traits, fasts, r_mort, r_move, last)

    daily = daily_rows(asg, life, temp)
    # the rows simulated: the models below draw for every row of the life (the same draws whatever
    # ``last``) and compute the rows simulated only
    run = daily["day"] <= last
    mortality, track_cause = mortality_frame(r_cause, grid, life, start, last)
    daily["cause"] = track_cause[daily["day"], daily["track"]]
    feed_rows, feed_kg = feedings(r_feed, daily, traits.fcr, run)
    daily["feed_kg"] = feed_kg
    samples, sample_fish = samples_frame(r_sample, asg, daily, start, run)
    installed = spec.sensors_installed or spec.start_date - dt.timedelta(days=SETUP_LEAD_DAYS)
    frames = {
        "daily": daily_frame(daily if run.all() else {k: v[run] for k, v in daily.items()}, start),
        "transfers": transfers_frame(asg, life, start),
        "harvests": harvests_frame(asg, life, start),
        "mortality": mortality,
        "feedings": feedings_frame(feed_rows, start),
        "readings": readings_frame(
            r_read,
            daily,
            water,
            start,
            None if spec.clean_sensors else r_faults,
            SITES.sensor_ids(
                SITES.container_ids(spec.station_id, spec.area_id, asg.stage, asg.slot)[:, None],
                np.arange(len(PARAMETERS))[None, :],
            ),
            Calibrations(spec.seed, (installed - EPOCH).days),
            run,
        ),
        "samples": samples,
        "sample_fish": sample_fish,
        "journal": journal_frame(r_journal, asg, start),
        "episodes": episodes,
        "lice": lice_counts,
        "treatments": treatments,
        "stage_changes": pl.DataFrame(
            {
                "date": dates(start + cal.stage_start),
                "stage": pl.Series(np.arange(N_STAGES), dtype=pl.Int16),
            }
        ),
    }
    for name, col in DATE_COLUMNS.items():
        frames[name] = rows_through(frames[name], col, spec.as_of)
    frames["assignments"] = assignments_frame(asg, life, frames["samples"], start, cut)

    last_day = cal.life_days - 1
    completed = cut >= last_day
    return BatchSim(
        **frames,
        status="COMPLETED" if completed else "ACTIVE",
        actual_end_date=spec.start_date + dt.timedelta(days=last_day) if completed else None,
        expected_end_date=spec.start_date + dt.timedelta(days=last_day),
        current_stage=cal.stage_on(cut),
        target_weight_g=draw.target_weight_g,
        seed=spec.seed,
        shard=spec.shard,
    )


def episodes_frame(ep: Episodes, asg, start: int, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    """One row per (episode, ring affected and live on its first day), with the days a veterinarian
    reports, diagnoses and treats it and the treatment's outcome (``treatment.schedule``: null for
    delousing handling) and the
    ring's departure over its whole life (whatever the as-of date); and the
    (day, track) pairs its treatments keep unfed (``treatment.FASTS``)."""
    rings = np.flatnonzero(asg.stage == asg.stage.max())
    e, r = np.nonzero(ep.rings)
    no = rings[r]
    live = (asg.first_day[no] <= ep.first_day[e]) & (ep.first_day[e] < asg.end_day[no])
    e, no = e[live], no[live]
    order = np.lexsort((no, ep.first_day[e]))  # by start day, then ring
    e, no = e[order], no[order]
    kind = np.array([EPISODES[k][0] for k in ep.kind[e]], dtype=object)
    treated = np.isin(kind, TREATED)
    days = np.full((len(e), 3), -1, dtype=np.int64)
    success = np.zeros(len(e), dtype=bool)
    days[treated], success[treated] = schedule(rng, ep.first_day[e[treated]], asg.end_day[no[treated]] - 1)
    fasts = [
        (d, asg.track[no[i]])
        for i in np.flatnonzero(treated)
        if kind[i] in FASTS
        for d in range(days[i, 2] + FASTS[kind[i]][0], days[i, 2] + FASTS[kind[i]][1])
    ]
    frame = pl.DataFrame(
        {
            "start_date": dates(start + ep.first_day[e]),
            "end_date": dates(start + np.minimum(ep.first_day[e] + ep.days[e], asg.end_day[no])),
            "kind": pl.Series(kind.tolist(), dtype=pl.String),
            "cause": pl.Series([EPISODES[k][1] for k in ep.kind[e]], dtype=pl.String),
            "assignment_no": pl.Series(no, dtype=pl.Int32),
            "departure": dates(start + asg.end_day[no]),  # the ring's first day empty (its whole life)
            **{
                name: dates(start + days[:, k]).set(pl.Series(~treated), None)
                for k, name in enumerate(("issue_date", "diagnosis_date", "treatment_date"))
            },
            "outcome": pl.Series(np.where(success, "successful", "partial")).set(pl.Series(~treated), None),
        }
    )
    return frame, np.array(fasts, dtype=np.int64).reshape(-1, 2)


def _validate(spec: BatchSpec) -> None:
    if spec.geography not in SEA_TEMP:
        raise ValueError(f"geography {spec.geography!r} is unknown; use one of {sorted(SEA_TEMP)}")
    if isinstance(spec.eggs, bool) or not isinstance(spec.eggs, (int, np.integer)) or not 0 < spec.eggs < 2**31:
        raise ValueError(f"eggs {spec.eggs!r} must be an integer in 1..{2**31 - 1}")
    if spec.seed < 0 or spec.shard < 0:
        raise ValueError(f"seed {spec.seed} and shard {spec.shard} must be integers ≥ 0")
    if spec.as_of < spec.start_date:
        raise ValueError(f"as_of {spec.as_of} is before start_date {spec.start_date}")
