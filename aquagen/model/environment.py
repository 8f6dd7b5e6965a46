"""Water temperature and chemistry per (day, track): hall set points, the sea's season by
geography, AR(1) weather and rare excursions."""

from __future__ import annotations

from dataclasses import dataclass

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


def sea_season_c(geography: str, epoch_days: np.ndarray) -> np.ndarray:
    """Seasonal sea temperature (no anomaly): coldest about 10 March, warmest about 9 September."""
    mean, amp, _, _ = SEA_TEMP[geography]
    d = np.asarray(epoch_days).astype("datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(int) + 1
    return mean + amp * np.cos(2 * np.pi * (doy - WARMEST_DAY_OF_YEAR) / 365.25)


def temperatures(rng: np.random.Generator, grid: Grid, start: int, geography: str) -> np.ndarray:
    """Daily mean water temperature per (day, track): hall set point or sea season + AR(1)."""
    n_days = grid.live.shape[0]
    hall = HALL_TEMP_C + _ar1(rng, (n_days, 5), 0.85, 0.15)
    tank_offset = np.clip(0.05 * rng.standard_normal((5, SLOTS)), -0.1, 0.1)
    _, _, lo, hi = SEA_TEMP[geography]
    sea = sea_season_c(geography, start + np.arange(n_days)) + _ar1(rng, (n_days,), 0.9, 0.35)
    ring_offset = np.clip(0.05 * rng.standard_normal(RINGS), -0.1, 0.1)

    s = np.clip(grid.stage[:, :SLOTS], 0, 4)
    days = np.arange(n_days)[:, None]
    fw = hall[days, s] + tank_offset[s, np.arange(SLOTS)]
    fw = np.clip(fw, HALL_TEMP_BAND[s, 0], HALL_TEMP_BAND[s, 1])
    return np.concatenate([fw, np.clip(sea[:, None] + ring_offset, lo, hi)], axis=1)


@dataclass(frozen=True)
class Water:
    """Daily water-quality levels per (day, track); readings add diurnal cycle and noise."""

    oxygen_base: np.ndarray  # DO % before the biomass-density term (applied in the day loop)
    co2: np.ndarray
    ph: np.ndarray
    no2: np.ndarray
    no3: np.ndarray
    nh4: np.ndarray


def water_levels(rng: np.random.Generator, grid: Grid, temp: np.ndarray) -> Water:
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
    return Water(oxygen, co2, ph, no2, no3, nh4)
