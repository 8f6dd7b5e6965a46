"""Water temperature and chemistry per (day, track): hall set points, the sea's season by
geography, the region's weather (shared by every sea area of a geography: one series per seed
and geography, with year-to-year anomalies and Scottish summer marine heatwaves), local AR(1)
noise, soft limits, late-summer oxygen dips and rare excursions.

Sources: Marine Scotland Science coastal temperature monitoring (west-coast sea lochs 7–14 °C,
warm spells to 15–17 °C in 2018 and 2022); Faroe Marine Research Institute (Skopun 6–11 °C);
year-to-year anomalies of ±1 °C (ICES Report on Ocean Climate); marine heatwaves (Hobday et al.
2016, Prog. Oceanogr. 141:227: a spell of ≥ 5 days above the season's 90th percentile), on the
north-west European shelf in the summers of 2018, 2022 and June 2023 up to +2–4 °C for weeks
(Berthou et al. 2024, Commun. Earth Environ. 5:287); oxygen saturation in pens falling to
70–85 % in late summer (Oldham et al. 2018, Aquaculture 486).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .layout import Grid
from .timeline import RINGS, SLOTS

# --- temperature ----------------------------------------------------------------------
HALL_TEMP_C = np.array([7.0, 7.3, 7.3, 7.3, 7.3])  # hatchery set points by stage hall
HALL_TEMP_BAND = np.array([[6.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0]])
# geography -> (annual mean, amplitude, band low, band high); coldest ~10 March
SEA_TEMP = {"Faroe Islands": (8.5, 2.3, 6.0, 11.0), "Scotland": (10.5, 3.2, 7.0, 14.0)}
WARMEST_DAY_OF_YEAR = 252  # ~9 September
DIURNAL_SWING_C = (0.1, 0.3)  # freshwater, sea: amplitude of the daily cycle
REGION_STREAM = 0x5EA7  # the region's weather: its own stream per (seed, geography)
REGION_ORIGIN = 7_305  # 1990-01-01 (epoch days): the regional series starts here
REGION_DAYS = 22_000  # ... and covers 60 years
REGION_AR1 = (0.96, 0.55)  # regional anomaly: φ, sd (°C)
YEAR_ANOMALY_SD, YEAR_ANOMALY_CLIP = 0.6, 1.2  # warm and cold years
LOCAL_AR1 = (0.9, 0.15)  # a sea area's own deviation from its region
SOFT_LIMIT_C = {"Faroe Islands": (4.5, 13.0), "Scotland": (5.5, 18.0)}  # what the soft band tends to
# summer marine heatwaves of a region (Scotland's: the Faroe series already reaches its soft band in warm
# years): (heatwaves a year, Poisson; first day of year, 1 June..15 September; days; peak °C, a half-sine
# shape, so that no day jumps): with the soft band, 45 % of years reach 15 °C on part of the coast (28 %
# without heatwaves), 11 % reach 16 °C (none without) and under 1 % 17 °C, with no pile-up below the band
HEATWAVES = {"Scotland": (0.5, (152, 258), (10, 40), (1.0, 3.0))}


def _ar1(
    rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float, days: int | None = None
) -> np.ndarray:
    """Stationary AR(1) series along axis 0 (day-to-day autocorrelation), vectorized; its first
    ``days`` only, if given (the draws are the whole series').

    x_t = φ·x_{t−1} + e_t is evaluated in closed form, φ^j·(x_b + Σ φ^−i e_{b+i}),
    in blocks of 64 days so that φ^−64 stays finite; only the block loop is Python.
    """
    e = rng.standard_normal(shape)[:days] * sd * np.sqrt(1.0 - phi * phi)
    prev = rng.standard_normal(shape[1:]) * sd
    shape = e.shape
    out = np.empty(shape)
    for b0 in range(0, shape[0], 64):
        blk = e[b0 : b0 + 64]
        pw = phi ** np.arange(1, len(blk) + 1).reshape((-1,) + (1,) * (len(shape) - 1))
        out[b0 : b0 + 64] = pw * (prev + np.cumsum(blk / pw, axis=0))
        prev = out[b0 + len(blk) - 1]
    return out


def sea_season_c(geography: str, epoch_days: np.ndarray) -> np.ndarray:
    """Seasonal sea temperature (no anomaly): coldest about 10 March, warmest about 9 September."""
    mean, amp, _, _ = SEA_TEMP[geography]
    d = np.asarray(epoch_days).astype("datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(int) + 1
    return mean + amp * np.cos(2 * np.pi * (doy - WARMEST_DAY_OF_YEAR) / 365.25)


@lru_cache(maxsize=8)
def regional_anomaly(seed: int, geography: str) -> np.ndarray:
    """The region's weather from REGION_ORIGIN on (°C per day): AR(1) + a smooth anomaly per year.
    Every batch of a geography reads the same series, so neighbouring sea areas correlate."""
    g = sorted(SEA_TEMP).index(geography)
    rng = np.random.default_rng(np.random.SeedSequence([seed, REGION_STREAM, g]))
    weather = _ar1(rng, (REGION_DAYS,), *REGION_AR1)
    years = REGION_DAYS // 365 + 2
    year = np.clip(YEAR_ANOMALY_SD * rng.standard_normal(years), -YEAR_ANOMALY_CLIP, YEAR_ANOMALY_CLIP)
    t = np.arange(REGION_DAYS) / 365.25
    anomaly = weather + np.interp(t, np.arange(years) + 0.5, year)  # linear between mid-years: no jump
    if geography in HEATWAVES:  # drawn after the rest, which stays as it was
        anomaly += _heatwaves(rng, years, *HEATWAVES[geography])
    return anomaly


def _heatwaves(
    rng: np.random.Generator,
    years: int,
    rate: float,
    season: tuple[int, int],
    days: tuple[int, int],
    peak: tuple[float, float],
) -> np.ndarray:
    """The region's summer marine heatwaves from REGION_ORIGIN on (°C per day): half-sines (the
    warmest of two where they overlap)."""
    out = np.zeros(REGION_DAYS)
    count = rng.poisson(rate, years)
    year = np.repeat(np.arange(years), count)
    first = (year * 365.25).astype(int) + rng.integers(season[0], season[1] + 1, len(year))
    length = rng.integers(days[0], days[1] + 1, len(year))
    height = rng.uniform(peak[0], peak[1], len(year))
    for f, n, h in zip(first, length, height):  # a few dozen over the series
        t = np.arange(f, min(f + n, REGION_DAYS))
        out[t] = np.maximum(out[t], h * np.sin(np.pi * (t - f + 0.5) / n))
    return out


def _soft(x: np.ndarray, lo: float, hi: float, soft_lo: float, soft_hi: float) -> np.ndarray:
    """Identity inside [lo, hi]; beyond, tends to soft_lo / soft_hi (tanh): no value piles up at a cap."""
    up, down = soft_hi - hi, lo - soft_lo
    x = np.where(x > hi, hi + up * np.tanh((x - hi) / up), x)
    return np.where(x < lo, lo - down * np.tanh((lo - x) / down), x)


def regional_sea_c(seed: int, geography: str, epoch_days: np.ndarray) -> np.ndarray:
    """The sea temperature every area of the geography shares: season + the region's weather
    (before an area's own noise and the soft limits)."""
    region = regional_anomaly(seed, geography)[np.clip(np.asarray(epoch_days) - REGION_ORIGIN, 0, REGION_DAYS - 1)]
    return sea_season_c(geography, epoch_days) + region


def soft_limited(geography: str, sea_c: np.ndarray) -> np.ndarray:
    """Sea temperatures with the geography's soft limits applied (see ``_soft``)."""
    _, _, lo, hi = SEA_TEMP[geography]
    return _soft(sea_c, lo, hi, *SOFT_LIMIT_C[geography])


def temperatures(rng: np.random.Generator, grid: Grid, start: int, geography: str, seed: int = 0) -> np.ndarray:
    """Daily mean water temperature per (day, track): hall set point, or sea season + the region's
    weather + the area's own AR(1), softly limited."""
    n_days = grid.live.shape[0]
    hall = HALL_TEMP_C + _ar1(rng, (n_days, 5), 0.85, 0.15)
    tank_offset = np.clip(0.05 * rng.standard_normal((5, SLOTS)), -0.1, 0.1)
    sea = regional_sea_c(seed, geography, start + np.arange(n_days)) + _ar1(rng, (n_days,), *LOCAL_AR1)
    ring_offset = np.clip(0.05 * rng.standard_normal(RINGS), -0.1, 0.1)

    s = np.clip(grid.stage[:, :SLOTS], 0, 4)
    days = np.arange(n_days)[:, None]
    fw = hall[days, s] + tank_offset[s, np.arange(SLOTS)]
    fw = np.clip(fw, HALL_TEMP_BAND[s, 0], HALL_TEMP_BAND[s, 1])
    return np.concatenate([fw, soft_limited(geography, sea[:, None] + ring_offset)], axis=1)


@dataclass(frozen=True)
class Water:
    """Daily water-quality levels per (day, track); readings add diurnal cycle and noise."""

    oxygen_base: np.ndarray  # DO % before the biomass-density term (applied in the day loop)
    co2: np.ndarray
    ph: np.ndarray
    no2: np.ndarray
    no3: np.ndarray
    nh4: np.ndarray


OXYGEN_DIP_P = 0.02  # per sea day in August–September
OXYGEN_DIP_POINTS = (8.0, 20.0)
OXYGEN_DIP_DAYS = (2, 7)


def water_levels(
    rng: np.random.Generator, grid: Grid, temp: np.ndarray, start: int = 0, days: int | None = None
) -> Water:
    """Water chemistry by day and track: safe most days, with rare one-day excursions. Of the first
    ``days`` only, if given (the draws are the whole life's).

    Oxygen saturation falls with temperature at sea (oxygenated tanks ashore do not);
    a rare low-oxygen event (0.3 % of days, −8 to −25 points) also raises mortality.
    """
    drawn = temp.shape
    temp = temp[:days]
    shape = temp.shape
    sea = grid.sea[None, :]

    def excursion(p: float, lo: float, hi: float) -> np.ndarray:
        hit = rng.random(drawn)[:days] < p
        return np.where(hit, rng.uniform(lo, hi, drawn)[:days], 0.0)

    def ar1(phi: float, sd: float) -> np.ndarray:
        return _ar1(rng, drawn, phi, sd, days)

    oxygen = np.where(sea, 97.0 - 0.9 * np.maximum(0.0, temp - 8.0), 95.0) + ar1(0.7, 1.2)
    oxygen -= excursion(0.003, 8.0, 25.0)
    # late-summer dips at sea: warm, calm spells of 2–6 days (August–September), −8 to −20 points
    doy = (
        np.asarray(start + np.arange(shape[0]), dtype="datetime64[D]")
        - np.asarray(start + np.arange(shape[0]), dtype="datetime64[D]").astype("datetime64[Y]")
    ).astype(int)
    late_summer = ((doy >= 212) & (doy < 274))[:, None] & sea
    day_shape = (drawn[0], 1)  # a spell hits every ring of the area, each a little differently
    begins = late_summer & (rng.random(day_shape)[:days] < OXYGEN_DIP_P)
    dip_points = rng.uniform(*OXYGEN_DIP_POINTS, day_shape)[:days]
    depth = np.where(begins, dip_points * rng.uniform(0.8, 1.2, drawn)[:days], 0.0)
    length = np.broadcast_to(rng.integers(*OXYGEN_DIP_DAYS, day_shape)[:days], shape)
    dip = np.zeros(shape)
    for k in range(OXYGEN_DIP_DAYS[1]):
        dip[k:] = np.maximum(dip[k:], np.where(length[: shape[0] - k] > k, depth[: shape[0] - k], 0.0))
    oxygen -= dip
    co2 = np.where(sea, 2.5 + ar1(0.8, 0.4), 7.0 + ar1(0.8, 1.0))
    co2 += excursion(0.002, 8.0, 15.0)
    ph = np.where(sea, 7.95 + ar1(0.8, 0.05), 7.1 + ar1(0.8, 0.12))
    ph -= excursion(0.001, 0.7, 1.2)
    no2 = 0.025 * np.exp(ar1(0.8, 0.3) + excursion(0.002, 1.5, 2.2))
    no3 = np.clip(18.0 + ar1(0.9, 5.0) + excursion(0.002, 30.0, 50.0), 1.0, None)
    nh4 = 0.007 * np.exp(ar1(0.8, 0.3) + excursion(0.002, 1.1, 1.6))
    return Water(oxygen, co2, ph, no2, no3, nh4)
