"""The simulated life as frames of events (local indices, no ids): daily states, assignments,
transfers, harvests, mortality, feedings, readings and growth samples."""

from __future__ import annotations

import numpy as np
import polars as pl

from .arrays import kept_rows
from .domain import MORTALITY_CAUSES, PARAMETERS, SEA_PARAMETERS
from .environment import DIURNAL_SWING_C, Water
from .layout import Grid, Layout
from .population import Life, fcr
from .sensors import Calibrations, imperfect
from .timeline import ADULT, N_ASSIGNMENTS, SLOTS, US_PER_DAY, US_PER_HOUR

# --- feeding --------------------------------------------------------------------------
# Pellet size by fish weight (feed i is fed below FEED_UP_TO_G[i] grams, domain.FEEDS order: 0.5, 1.0,
# 2.0, 3.0, 4.5, 6.0 mm), after the feed suppliers' tables (BioMar, Skretting: 0.5 mm at first feeding,
# 1 mm to ≈5 g, 2 mm to ≈30 g, 3 mm to ≈150 g, 4.5 mm to ≈1.5 kg, 6+ mm above).
FEED_UP_TO_G = np.array([1.0, 5.0, 30.0, 150.0, 1500.0])
FEEDING_HOURS = {1: (6, 10, 14, 18), 2: (6, 10, 14, 18), 3: (6, 12, 18), 4: (8, 16), 5: (8, 16)}

# --- growth samples ---
SAMPLE_WEEKDAY = 3  # batch day 7k + 3: every tank of the batch weighed on the same day
SAMPLE_SETTLE_DAYS = 4  # not in the first days after a move

# --- readings -------------------------------------------------------------------------
READING_HOURS = np.array([6, 10, 18])
# Fish move at 09:00 (the profiles date a move, and the assignment it opens, at this hour): on an
# assignment's first day its container's earlier readings were taken before the fish arrived.
MOVE_HOUR = 9
DO, CO2, PH, TEMP, NO2, NO3, NH4 = range(7)
FRESHWATER_PARAMETERS = np.arange(len(PARAMETERS))
SEA_PARAMETER_IDS = np.array(SEA_PARAMETERS)


def dates(epoch_days: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(epoch_days, dtype=np.int32)).cast(pl.Date)


def datetimes(epoch_us: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(epoch_us, dtype=np.int64)).cast(pl.Datetime("us", "UTC"))


def daily_rows(asg: Layout, life: Life, temp: np.ndarray) -> dict[str, np.ndarray]:
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


def daily_frame(d: dict[str, np.ndarray], start: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(d["assignment_no"], dtype=pl.Int32),
            "date": dates(start + d["day"]),
            "population": pl.Series(d["pop_end"], dtype=pl.Int64),
            "deaths": pl.Series(d["deaths"], dtype=pl.Int64),
            "avg_weight_g": d["w_end"],
            "biomass_kg": d["pop_end"] * d["w_end"] / 1000,
            "temperature_c": d["temperature_c"],
            "feed_kg": d["feed_kg"],
            "cause": pl.Series(np.array(MORTALITY_CAUSES)[d["cause"]]),  # of the container's deaths that day
        }
    )


def assignments_frame(asg: Layout, life: Life, samples: pl.DataFrame, start: int, cut: int) -> pl.DataFrame:
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
    frame = pl.DataFrame(
        {
            "assignment_no": pl.Series(np.arange(N_ASSIGNMENTS), dtype=pl.Int32),
            "stage": pl.Series(asg.stage, dtype=pl.Int16),
            "slot": pl.Series(asg.slot, dtype=pl.Int16),
            "assignment_date": dates(start + asg.first_day),
            "departure_date": dates(start + asg.end_day).scatter(np.flatnonzero(~closed), None),
            "is_active": ~closed,
            "population_count": pl.Series(pop, dtype=pl.Int64),
            "avg_weight_g": w,
            "biomass_kg": pop * w / 1000,
            "last_weighing_date": dates(start + last_weighing).scatter(np.flatnonzero(last_weighing < 0), None),
            "initial_population": pl.Series(life.pop_start[asg.first_day, asg.track], dtype=pl.Int64),
            "initial_weight_g": life.w_start[asg.first_day, asg.track],
        }
    )
    return kept_rows(frame, keep)


def transfers_frame(asg: Layout, life: Life, start: int) -> pl.DataFrame:
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
            "transfer_date": dates(start + day),
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


def harvests_frame(asg: Layout, life: Life, start: int) -> pl.DataFrame:
    rings = np.flatnonzero(asg.stage == ADULT)
    last = asg.end_day[rings] - 1
    count = life.pop_end[last, asg.track[rings]]
    w = life.w_end[last, asg.track[rings]]
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(rings, dtype=pl.Int32),
            "harvest_date": dates(start + asg.end_day[rings]),
            "count": pl.Series(count, dtype=pl.Int64),
            "avg_weight_g": w,
            "biomass_kg": count * w / 1000,
        }
    )


def mortality_frame(
    rng: np.random.Generator, grid: Grid, life: Life, start: int, last_day: int | None = None
) -> tuple[pl.DataFrame, np.ndarray]:
    """Batch-level deaths per day with the cause that explains most of them, and each container's
    cause per day (day, track: an index into MORTALITY_CAUSES) by the same rule on its own deaths.

    The expected deaths are split by component of the death rate: an episode's cause (gill disease
    and winter ulcer: DISEASE, jellyfish: ENVIRONMENTAL, delousing: HANDLING), the weeks after sea
    transfer (HANDLING), egg losses and the base rate's temperature/oxygen stress (ENVIRONMENTAL)
    and the base rate itself, whose cause is drawn, most often UNKNOWN (predators only at sea).
    ``episode`` is 1 on days an episode's cause wins for the batch. A container's cause is its own
    winner, so the rings an episode affects carry its cause and the others their own. Of the days up
    to ``last_day`` only, if given (the draws are the whole life's; a later day's cause is 0).
    """
    n_days = life.deaths.shape[0]
    u_batch, u_track = rng.random((n_days,)), rng.random(life.deaths.shape)  # the whole life's draws
    days_run = n_days if last_day is None else min(n_days, last_day + 1)
    deaths = life.deaths[:days_run]
    count = deaths.sum(axis=1)
    biomass = (deaths * life.w_start[:days_run]).sum(axis=1) / 1000
    pop = life.pop_start[:days_run].astype(float)
    stress = np.maximum(life.stress[:days_run], 1.0)
    rates = {k: v[:days_run] for k, v in life.rates.items()}
    base = rates["base"]
    expected: dict[str, np.ndarray] = {  # per day and track
        "base": pop * base,
        "ENVIRONMENTAL_STRESS": pop * base * (stress - 1),
        "EGGS": pop * rates["eggs"],
        "POST_TRANSFER": pop * rates["post_transfer"],
    }
    episode_causes = [k for k in rates if k in MORTALITY_CAUSES]
    for k in episode_causes:
        expected[k] = pop * rates[k]
    names = np.array(list(expected))
    terms = np.stack(list(expected.values()))  # (term, day, track)
    index = {k: MORTALITY_CAUSES.index(k) for k in MORTALITY_CAUSES}
    fixed = np.array(
        [
            index["ENVIRONMENTAL"]
            if k == "ENVIRONMENTAL_STRESS"
            else index["UNKNOWN"]
            if k == "EGGS"
            else index["HANDLING"]
            if k == "POST_TRANSFER"
            else index.get(k, -1)
            for k in names
        ]
    )
    # The base rate's cause as a farm registers its daily dead: Persson et al. 2021 (J. Fish Dis. 44,
    # daily cage registrations of 21 million salmon at sea) find handling and treatment 29 %, infectious
    # disease 17 % and smolt-related 10 % of the dead, the rest wounds, runts ("losers"), predators and
    # unexplained; here the base draw adds wounds and ulcers to DISEASE, runts and deformities to OTHER.
    #                          DISEASE HANDLING PREDATION ENVIRONMENTAL UNKNOWN OTHER
    p_fresh = np.cumsum([0.15, 0.05, 0.00, 0.05, 0.50, 0.25])
    p_sea = np.cumsum([0.20, 0.00, 0.08, 0.07, 0.40, 0.25])

    def causes(winner: np.ndarray, at_sea: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The winning term's cause; the base rate's drawn from ``u`` (uniform, the shape of ``winner``)."""
        u = u[..., None]
        drawn = np.minimum(np.where(at_sea, (u > p_sea).sum(-1), (u > p_fresh).sum(-1)), 5)
        return np.where(names[winner] == "base", drawn, fixed[winner])

    winner = np.argmax(terms.sum(axis=2), axis=0)
    at_sea = deaths[:, grid.sea].sum(axis=1) > deaths[:, ~grid.sea].sum(axis=1)
    cause = causes(winner, at_sea, u_batch[:days_run])
    # each container's own, drawn after the batch's (which keeps its draws)
    track_cause = np.zeros(life.deaths.shape, dtype=np.int8)
    track_cause[:days_run] = causes(np.argmax(terms, axis=0), np.broadcast_to(grid.sea, pop.shape), u_track[:days_run])
    episode = np.isin(names[winner], episode_causes)
    days = np.flatnonzero(count > 0)
    frame = pl.DataFrame(
        {
            "event_date": dates(start + days),
            "count": pl.Series(count[days], dtype=pl.Int64),
            "biomass_kg": biomass[days],
            "cause": np.array(MORTALITY_CAUSES)[cause[days]],
            "episode": episode[days],
        }
    )
    return frame, track_cause


def feedings(
    rng: np.random.Generator, d: dict[str, np.ndarray], fcr_factor: float = 1.0, run: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Feeding events of the full life (of the rows ``run``, if given: the draws are the same) and the
    fed kg per daily row.

    Daily ration = the day's biomass gain × FCR (by stage, size and temperature, × the batch's
    factor: ``population.fcr``) × lognormal noise (sd 10 %),
    split unevenly (±10 %) over the stage's feeding times. Events too small to store
    (amount < 0.0001 kg or biomass < 0.01 kg) are dropped.
    """
    n_rows = len(d["day"])
    ration_noise = rng.standard_normal(n_rows)
    share_noise = 1.0 + np.clip(0.1 * rng.standard_normal((n_rows, 4)), -0.25, 0.25)
    fed = np.arange(n_rows) if run is None else np.flatnonzero(run)
    pop_end, w_end, w_start = d["pop_end"][fed], d["w_end"][fed], d["w_start"][fed]
    ration = np.zeros(n_rows)
    ration[fed] = (
        pop_end
        * (w_end - w_start)
        / 1000
        * fcr(d["stage"][fed], w_start, d["temperature_c"][fed], fcr_factor)
        * np.exp(0.1 * ration_noise[fed] - 0.005)
    )
    blocks = []
    # rows of one stage are contiguous (assignments are ordered by stage): one block each
    for stage, hours in FEEDING_HOURS.items():
        rows = fed[d["stage"][fed] == stage]
        share = share_noise[rows, : len(hours)]
        share = share / share.sum(axis=1, keepdims=True)
        amount = np.round(ration[rows, None] * share, 4).ravel()
        row = np.repeat(rows, len(hours))
        feed = np.searchsorted(FEED_UP_TO_G, d["w_start"][row], side="right")
        blocks.append({"row": row, "hour": np.tile(hours, len(rows)), "amount": amount, "feed": feed})
    ev = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    ev["biomass"] = np.round(d["pop_start"][ev["row"]] * d["w_start"][ev["row"]] / 1000, 2)
    keep = (ev["amount"] >= 0.0001) & (ev["biomass"] >= 0.01)
    ev = {k: v[keep] for k, v in ev.items()}
    ev["assignment_no"] = d["assignment_no"][ev["row"]]
    ev["day"] = d["day"][ev["row"]]
    return ev, np.bincount(ev["row"], weights=ev["amount"], minlength=n_rows)


def feedings_frame(ev: dict[str, np.ndarray], start: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "assignment_no": pl.Series(ev["assignment_no"], dtype=pl.Int32),
            "feeding_date": dates(start + ev["day"]),
            "feeding_time": pl.Series(ev["hour"].astype(np.int64) * US_PER_HOUR * 1000).cast(pl.Time),  # ns
            "amount_kg": ev["amount"],
            "batch_biomass_kg": ev["biomass"],
            "feed": pl.Series(ev["feed"], dtype=pl.Int16),
            "feeding_percentage": np.round(ev["amount"] / ev["biomass"] * 100, 6),
        }
    )


def readings_frame(
    rng: np.random.Generator,
    d: dict[str, np.ndarray],
    water: Water,
    start: int,
    faults: np.random.Generator | None = None,
    sensors: np.ndarray | None = None,
    calibrations: Calibrations | None = None,
    run: np.ndarray | None = None,
) -> pl.DataFrame:
    """Sensor readings at 06:00, 10:00 and 18:00 for each live assignment-day (on its first day from
    the move on: MOVE_HOUR).

    Value = the container's daily level (the same series growth and mortality use)
    + a diurnal cycle (temperature peaks ~15:00, sea oxygen with it) + sensor noise,
    clipped to the parameter's physical range and rounded to numeric(10,4). With ``faults``
    (a stream of its own), what real sensors add: gaps, minutes off, spikes, flat-lines, drift
    reset at the calibrations of the sensors read (``sensors``: the sensor id of each
    (assignment_no, parameter); ``sensors.imperfect``); without, every reading on the hour. Of the
    daily rows ``run`` only, if given (the draws are the same).
    """
    frames = []
    for at_sea, params in ((False, FRESHWATER_PARAMETERS), (True, SEA_PARAMETER_IDS)):
        rows = np.flatnonzero((d["stage"] == ADULT) == at_sea)
        noise = rng.standard_normal((len(rows), 3, len(params)))
        ran = None if run is None else run[rows]  # the rows simulated, of those drawn for
        if ran is not None:
            rows, noise = rows[ran], noise[ran]
        day, track = d["day"][rows], d["track"][rows]
        cycle = np.cos(2 * np.pi * (READING_HOURS - 15) / 24)[None, :]  # (1, 3)
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
        when = (start + np.repeat(day, 3 * len(params))) * US_PER_DAY + hour * US_PER_HOUR
        no = d["assignment_no"][rows]  # rows by (assignment, day): a new assignment_no is its first day
        arrived = np.concatenate([[True], no[1:] != no[:-1]]) if len(no) else np.zeros(0, bool)
        keep = np.broadcast_to(~(arrived[:, None, None] & (READING_HOURS < MOVE_HOUR)[None, :, None]), noise.shape)
        if faults is not None:
            assert sensors is not None and calibrations is not None, "faults need the sensors read"
            fine, values, jitter = imperfect(
                faults, no, start + day, READING_HOURS, params, values, sensors[no][:, params], calibrations, ran
            )
            keep = keep & fine
            when = when + jitter.ravel()
        frame = pl.DataFrame(
            {
                "assignment_no": pl.Series(np.repeat(d["assignment_no"][rows], 3 * len(params)), dtype=pl.Int32),
                "parameter": pl.Series(np.tile(params, n // len(params)), dtype=pl.Int16),
                "reading_time": datetimes(when),
                "value": np.round(values.ravel(), 4),
            }
        )
        frames.append(kept_rows(frame, keep.ravel()))
    return pl.concat(frames)


# Fulton's condition factor K = 100·W/L³ (g, cm) by stage (Egg&Alevin is not sampled): fry and parr
# ≈ 1.0–1.1, falling at smoltification as the fish turn slim and silver (Johnston & Saunders 1981,
# Can. J. Fish. Aquat. Sci. 38:1189; McCormick et al. 1998, Can. J. Fish. Aquat. Sci. 55(S1):77),
# recovering in the fed post-smolt, and a fuller farmed fish at sea (≈ 1.2).
STAGE_CONDITION_FACTOR = np.array([1.0, 1.02, 1.10, 0.95, 1.05, 1.20])


def samples_frame(
    rng: np.random.Generator, asg: Layout, d: dict[str, np.ndarray], start: int, run: np.ndarray | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Weekly growth samples from Fry on: every tank of the batch on the same day of the week
    (batch day 7k + 3), from its 4th day in the tank on (so that transfer-day offsets do not show).

    Each sample weighs and measures 20–50 fish drawn around the true (morning) weight:
    weights lognormal with a CV of 15–25 %, individual condition factor ~N(K of the stage, 0.05),
    length from W = K·L³/100. Statistics come from those fish; all rounded to 2 dp. Of the daily
    rows ``run`` only, if given (the draws are the same).
    Returns the samples and their fish (assignment_no, sample_date, fish_no from 1, weight_g,
    length_cm; 2 dp), for a profile that stores the individual fish.
    """
    rows = np.flatnonzero((d["stage"] > 0) & (d["offset"] >= SAMPLE_SETTLE_DAYS) & (d["day"] % 7 == SAMPLE_WEEKDAY))
    n_s = len(rows)
    size = rng.integers(20, 51, n_s)
    enough = d["pop_start"][rows] >= size  # a tank with fewer fish than the sample is not sampled
    fish = np.arange(50)[None, :] < size[:, None]
    sigma = rng.uniform(0.15, 0.25, n_s)[:, None]
    weight = d["w_start"][rows, None] * np.exp(sigma * rng.standard_normal((n_s, 50)) - sigma**2 / 2)
    k_stage = STAGE_CONDITION_FACTOR[d["stage"][rows]][:, None]
    k = np.clip(k_stage + 0.05 * rng.standard_normal((n_s, 50)), k_stage - 0.15, k_stage + 0.15)
    if run is not None:  # every draw taken: the rows simulated
        ran = run[rows]
        rows, size, enough, fish, weight, k = rows[ran], size[ran], enough[ran], fish[ran], weight[ran], k[ran]
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
            "sample_date": dates(start + d["day"][rows]),
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
    kept = fish & enough[:, None]
    sample, fish_no = np.nonzero(kept)
    individuals = pl.DataFrame(
        {
            "assignment_no": pl.Series(d["assignment_no"][rows][sample], dtype=pl.Int32),
            "sample_date": dates(start + d["day"][rows][sample]),
            "fish_no": pl.Series(fish_no + 1, dtype=pl.Int32),
            "weight_g": np.round(weight[kept], 2),
            "length_cm": np.round(length[kept], 2),
        }
    )
    return kept_rows(frame, enough), individuals
