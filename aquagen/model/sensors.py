"""What real sensors add to the water: gaps, late clocks, spikes, stuck values and drift.

A sensor here is (assignment, parameter): the probe of one parameter in the container the
assignment occupies, read at 06:00, 10:00 and 18:00. Defaults (switched off by
``aquagen generate --clean-sensors``), after what monitoring networks report of unattended probes
(Campbell et al. 2013, "Quantity is nothing without quality", BioScience 63:574 — gaps, spikes,
flat-lines and drift as the usual faults; Horsburgh et al. 2015, Environ. Model. Softw. 70:32 —
quality control of high-frequency sensor data; optical oxygen and pH probes drift a few % a year
between calibrations, manufacturers recommend yearly calibration):

- missing readings: 0.8 % at random, plus outages (power, logger, cable) starting on 1 in 120
  sensor-days and lasting 2 hours to 4 days (log-normal, median 10 h): 1–3 % missing in all;
- timing: the container's logger polls all its probes a few minutes off the hour (±8 min, whole
  seconds);
- spikes: 1 in 2,000 readings far off its level (never temperature: the transfer-day conditions
  are compared with it), clipped to the physical range;
- flat-lines: 1 in 400 sensor-days a probe sticks at its last value for 1–3 days (not temperature);
- drift: a slow linear drift per sensor (its own rate), reset to zero at each of its calibrations.
Every kept reading stays on its assignment and day: only values and minutes change.

Calibrations (``Calibrations``) are one schedule per farm, read both by the readings (where drift
resets) and by the sensor rows (``last_calibration_date`` and a history row per calibration): a
technician calibrates a container's probes in one visit, first when they are commissioned (1–24 days
after installation, before the first fish), then once a year on the container's day of the site's
rolling maintenance plan (its first yearly visit 30–365 days after commissioning, so that the work
is spread over the year), between the 10:00 and 18:00 polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .domain import PARAMETERS
from .seeds import SENSOR_STREAM, rng_for
from .sites import SITES

DROP_P = 0.008
OUTAGE_P = 1 / 120  # per sensor-day
OUTAGE_HOURS = (10.0, 1.0, 2.0, 96.0)  # log-normal median, sigma; clipped to [2 h, 4 days]
JITTER_S = 8 * 60
SPIKE_P = 1 / 2000
FLAT_P = 1 / 400  # per sensor-day
FLAT_READINGS = (3, 9)  # 1–3 days of 3 readings
DO, CO2, PH, TEMP, NO2, NO3, NH4 = range(7)
SPIKE_SIZE = {DO: 15.0, CO2: 5.0, PH: 0.5, TEMP: 0.0, NO2: 0.1, NO3: 15.0, NH4: 0.03}
DRIFT_PER_YEAR = {DO: 3.0, CO2: 1.0, PH: 0.08, TEMP: 0.1, NO2: 0.005, NO3: 2.0, NH4: 0.002}


CALIBRATION_FIRST_DAYS = (1, 24)  # commissioning, days after installation
CALIBRATION_PLAN_DAYS = (30, 365)  # the first yearly visit, days after commissioning
CALIBRATION_YEAR_DAYS = 365  # then every year on that day
CALIBRATION_VISIT_MINUTES = (10 * 60 + 30, 17 * 60)  # the visit starts between 10:30 and 17:00 (UTC) ...
PROBE_MINUTES = 4  # ... and calibrates the container's probes one after the other (done before 17:30)
MINUTES_PER_DAY = 1440


@cache
def _plan(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per container id: commissioning day (after installation), first yearly visit (after
    commissioning), visit minute of the day; per sensor id: its drift, in units of ``DRIFT_PER_YEAR``."""
    rng = rng_for(seed, SENSOR_STREAM)
    n = SITES.n_hall_containers + SITES.n_rings + 1  # indexed by id (0 unused)
    first = rng.integers(CALIBRATION_FIRST_DAYS[0], CALIBRATION_FIRST_DAYS[1] + 1, n)
    yearly = rng.integers(CALIBRATION_PLAN_DAYS[0], CALIBRATION_PLAN_DAYS[1] + 1, n)
    visit = rng.integers(CALIBRATION_VISIT_MINUTES[0], CALIBRATION_VISIT_MINUTES[1] + 1, n)
    drift = rng.standard_normal(SITES.n_sensors + 1)
    for a in (first, yearly, visit, drift):
        a.flags.writeable = False
    return first, yearly, visit, drift


@dataclass(frozen=True)
class Calibrations:
    """The farm's calibration schedule (see the module docstring): a pure function of the seed, the
    installation day and the sensor id, whatever batch reads the sensor."""

    seed: int
    installed: int  # epoch day the sensors were installed (the farm's setup day)

    def _schedule(self, sensor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(commissioning day, first yearly day, minute of the day) of each sensor."""
        first, yearly, visit, _ = _plan(self.seed)
        container, probe = SITES.sensor_places(sensor)
        day0 = self.installed + first[container]
        return day0, day0 + yearly[container], visit[container] + PROBE_MINUTES * probe

    def drift(self, sensor: np.ndarray) -> np.ndarray:
        """Each sensor's drift rate, in units of its parameter's ``DRIFT_PER_YEAR``."""
        return _plan(self.seed)[3][sensor]

    def age_days(self, sensor: np.ndarray, moment: np.ndarray) -> np.ndarray:
        """Days from the day of each sensor's last calibration before ``moment`` (epoch days, fractional;
        the arrays broadcast) to the moment's day: the same for a whole day's readings, but on a
        calibration day (those before the visit still drifted); from installation before commissioning."""
        day0, day1, minute = self._schedule(sensor)
        frac = minute / MINUTES_PER_DAY
        day = np.floor(moment)
        yearly = day1 + np.floor((moment - day1 - frac) / CALIBRATION_YEAR_DAYS) * CALIBRATION_YEAR_DAYS
        last = np.where(moment < day1 + frac, np.where(moment < day0 + frac, self.installed, day0), yearly)
        return np.maximum(day - last, 0.0)

    def until(self, sensor: np.ndarray, end_minute: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every calibration before ``end_minute`` (epoch minutes, exclusive): (sensor, epoch day,
        minute of the day), by sensor then time."""
        sensor = np.asarray(sensor)
        day0, day1, minute = self._schedule(sensor)
        end_day = (end_minute - minute + MINUTES_PER_DAY - 1) // MINUTES_PER_DAY  # first day too late
        yearly = np.where(day1 < end_day, (end_day - day1 - 1) // CALIBRATION_YEAR_DAYS + 1, 0)
        count = (day0 < end_day).astype(np.int64) + yearly
        k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0: commissioning, then yearly
        idx = np.repeat(np.arange(len(sensor)), count)
        day = np.where(k == 0, day0[idx], day1[idx] + (k - 1) * CALIBRATION_YEAR_DAYS)
        return sensor[idx], day, minute[idx]


def _following(first: np.ndarray, count: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """(event, position) pairs for positions first[e] .. first[e] + count - 1 below ``total``."""
    e = np.repeat(np.arange(len(first)), count)
    pos = first[e] + np.tile(np.arange(count), len(first))
    ok = pos < total
    return e[ok], pos[ok]


def imperfect(
    rng: np.random.Generator,
    assignment: np.ndarray,
    epoch_day: np.ndarray,
    hours: np.ndarray,
    params: np.ndarray,
    values: np.ndarray,
    sensors: np.ndarray,
    calibrations: Calibrations,
    ran: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keep, values, time offset in µs) for readings ``values`` of shape (rows, hours, params):
    rows are assignment-days ordered by (assignment, day), ``sensors`` (rows, params) the sensor ids
    read. Faults are rare, so they are drawn as events and applied to the readings they reach (all
    vectorized). With ``ran`` (a mask over more rows, true on as many as ``values`` has), the draws are
    those of all its rows and the faults of the rows it marks are applied: the readings of those rows
    are the same as among all."""
    n, h, p = values.shape
    values = values.copy()
    drawn = n if ran is None else len(ran)
    place = None if ran is None else np.cumsum(ran) - 1  # a drawn row's place among the rows here

    def here(row: np.ndarray, *draws: np.ndarray) -> tuple[np.ndarray, ...]:
        """Events on drawn rows ``row``, with their draws: those on the rows here, by their place here."""
        if ran is None or place is None:
            return (row, *draws)
        mine = ran[row]
        return (place[row[mine]], *(x[mine] for x in draws))

    if drawn == 0:
        return np.ones(values.shape, bool), values, np.zeros(values.shape, np.int64)
    # --- drift, reset at each of the sensor's calibrations ---
    per_year = np.array([DRIFT_PER_YEAR[int(q)] for q in params])
    moment = epoch_day[:, None, None] + (hours / 24.0)[None, :, None]  # the polls' nominal times
    age = calibrations.age_days(sensors[:, None, :], moment)
    values += calibrations.drift(sensors)[:, None, :] * per_year * age / CALIBRATION_YEAR_DAYS
    flat_values = values.reshape(n * h, p)  # a view: reading k of a sensor follows reading k - 1
    seg = np.repeat(assignment, h)
    # --- flat-lines: a probe stuck at the day's first value for 1–3 days ---
    row, col = np.nonzero(rng.random((drawn, p)) < FLAT_P)
    keep_col = params[col] != TEMP
    row, col = row[keep_col], col[keep_col]
    length = rng.integers(FLAT_READINGS[0], FLAT_READINGS[1] + 1, len(row))
    row, col, length = here(row, col, length)
    e, pos = _following(row * h, FLAT_READINGS[1], n * h)
    hit = (seg[pos] == seg[row[e] * h]) & (pos - row[e] * h < length[e])
    e, pos = e[hit], pos[hit]
    flat_values[pos, col[e]] = flat_values[row[e] * h, col[e]]
    # --- spikes and random drops: one uniform draw per reading ---
    u = rng.random((drawn, h, p))
    spike = np.flatnonzero((u < SPIKE_P).ravel())
    sign, size = rng.choice([-1.0, 1.0], len(spike)), rng.uniform(0.5, 1.5, len(spike))
    if ran is not None:
        u = u[ran]
        row, sign, size, within = here(spike // (h * p), sign, size, spike % (h * p))
        spike = row * (h * p) + within
    keep = u >= SPIKE_P + DROP_P
    jump = sign * size * np.array([SPIKE_SIZE[int(q)] for q in params])[spike % p]
    values.reshape(-1)[spike] += jump
    keep.reshape(-1)[spike] = True
    lo = np.array([PARAMETERS[int(q)].min_value for q in params])
    hi = np.array([100.0 if q == DO else PARAMETERS[int(q)].max_value for q in params])
    values = np.clip(values, lo, hi)
    # --- outages of hours to days: every reading of the sensor from its start to its end ---
    row, col = np.nonzero(rng.random((drawn, p)) < OUTAGE_P)
    mu, sigma, shortest, longest = OUTAGE_HOURS
    hour, z = rng.uniform(0, 24, len(row)), rng.standard_normal(len(row))
    row, col, hour, z = here(row, col, hour, z)
    begin = epoch_day[row] * 24.0 + hour
    end = begin + np.clip(np.exp(np.log(mu) + sigma * z), shortest, longest)
    reach = (int(longest) // 24 + 2) * h
    e, pos = _following(row * h, reach, n * h)
    t = epoch_day[pos // h] * 24.0 + hours[pos % h]
    hit = (seg[pos] == seg[row[e] * h]) & (t >= begin[e]) & (t < end[e])
    keep.reshape(n * h, p)[pos[hit], col[e[hit]]] = False
    # one logger polls every probe of the container at once, a few minutes off the hour (whole seconds)
    jitter = rng.integers(-JITTER_S, JITTER_S + 1, (drawn, h, 1)) * 1_000_000
    if ran is not None:
        jitter = jitter[ran]
    return keep, values, np.broadcast_to(jitter, (n, h, p))
