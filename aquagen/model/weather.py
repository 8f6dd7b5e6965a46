"""Weather and daylight per sea area: 3-hourly weather and the daily photoperiod, over a
horizon of days — schema-independent arrays, the profile makes them rows.

Prefix-stable: each calendar year's draws come from their own stream (seed, area, year) and a
year's AR(1) state starts from the previous year's last day, so the weather of a day does not
depend on how far the horizon reaches.

Consistency with the water: the air follows the geography's sea season (``environment``), about
a month earlier (the sea lags the air) with a wider swing, so summer air is warmer and winter air
colder than the sea around the pens. Storminess (one AR(1) per area) drives wind, waves, cloud
and rain together; autumn and winter are windier, the Faroes windier than Scotland.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .environment import SEA_TEMP, WARMEST_DAY_OF_YEAR
from .seeds import rng_for

SLOT_HOURS = np.arange(0, 24, 3)  # 3-hourly observations
WEATHER_STREAM = 0x3EA7
AIR_LEAD_DAYS = 35  # the air's season leads the sea's
AIR_SWING = 1.6  # air's seasonal amplitude relative to the sea's
WIND_MEAN_MS = {"Faroe Islands": 8.5, "Scotland": 7.0}  # annual mean wind speed
PREVAILING_DEG = 225.0  # south-westerlies


@dataclass(frozen=True)
class Weather:
    """3-hourly weather of each area: arrays (slot, area), slot = day · 8 + hour / 3."""

    temperature: np.ndarray
    wind_speed: np.ndarray
    wind_direction: np.ndarray
    precipitation: np.ndarray
    wave_height: np.ndarray
    wave_period: np.ndarray
    wave_direction: np.ndarray
    cloud_cover: np.ndarray


def _doy(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    return (d - d.astype("datetime64[Y]")).astype(int) + 1


def weather(seed: int, area_ids: np.ndarray, geographies: list[str], first: dt.date, last: dt.date) -> Weather:
    """Weather of the areas (ids, geography names) for the days first..last, 3-hourly."""
    n_areas = len(area_ids)
    years = range(first.year, last.year + 1)
    state = None
    daily = []
    for year in years:  # each year from its own streams; AR(1) state carried over
        n = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        draws = np.stack([rng_for(seed, WEATHER_STREAM, int(a), year).standard_normal((n, 11)) for a in area_ids], 1)
        out = np.empty((n, n_areas, 3))
        prev = draws[0, :, :3] if state is None else state
        phi = np.array([0.8, 0.7, 0.6])  # air anomaly, storminess, wind-direction swing
        for i in range(n):
            prev = phi * prev + np.sqrt(1 - phi * phi) * draws[i, :, :3]
            out[i] = prev
        state = prev
        year_days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
        daily.append((year_days, out, draws[:, :, 3:]))
    days = np.concatenate([d for d, _, _ in daily])
    ar = np.concatenate([o for _, o, _ in daily])
    noise = np.concatenate([z for _, _, z in daily])  # (day, area, 8): one per 3-hour slot
    keep = (days >= np.datetime64(first)) & (days <= np.datetime64(last))
    days, ar, noise = days[keep], ar[keep], noise[keep]

    doy = _doy(days.astype(int))[:, None]
    mean = np.array([SEA_TEMP[g][0] for g in geographies])[None, :]
    amp = np.array([SEA_TEMP[g][1] for g in geographies])[None, :]
    season = np.cos(2 * np.pi * (doy - (WARMEST_DAY_OF_YEAR - AIR_LEAD_DAYS)) / 365.25)  # +1 late summer
    air_day = mean - 1.0 + AIR_SWING * amp * season + 2.0 * ar[:, :, 0]
    diurnal = 2.0 * np.cos(2 * np.pi * (SLOT_HOURS - 15) / 24)  # warmest mid-afternoon
    temperature = (
        air_day[:, None, :]
        + diurnal[None, :, None] * (1 + 0.3 * season[:, None, :])
        + 0.5 * noise[:, :, :8].transpose(0, 2, 1)[:, :8]
    )
    storm = ar[:, :, 1]  # ~N(0, 1)
    wind_mean = np.array([WIND_MEAN_MS[g] for g in geographies])[None, :] * (1 - 0.2 * season)  # windier in winter
    wind_day = wind_mean * np.exp(0.35 * storm - 0.06)
    gust = np.exp(0.15 * noise.transpose(0, 2, 1))
    wind = np.clip(wind_day[:, None, :] * gust, 0.2, 32.0)  # hurricane force is rare on these coasts
    direction = (PREVAILING_DEG + 70 * ar[:, :, 2])[:, None, :] + 15 * noise.transpose(0, 2, 1)
    wave = np.clip(0.3 + 0.012 * wind**2, 0.1, 12.0)  # fetch-limited wind sea plus swell
    period = 3.5 + 2.2 * np.sqrt(wave)
    cloud = np.clip(62 + 25 * storm - 12 * season, 0, 100)[:, None, :] + 8 * noise.transpose(0, 2, 1)
    wet = storm[:, None, :] + 0.4 * noise.transpose(0, 2, 1) > 0.35
    heavy = (0.4 + 0.6 * np.maximum(storm, 0))[:, None, :]  # mm per 3 h, heavier in a storm
    rain = np.where(wet, np.exp(0.6 * noise[:, :, ::-1].transpose(0, 2, 1)) * heavy, 0.0)

    def flat(x: np.ndarray) -> np.ndarray:  # (day, slot, area) -> (day·8 + slot, area)
        return x.reshape(-1, n_areas)

    return Weather(
        temperature=flat(temperature),
        wind_speed=flat(wind),
        wind_direction=flat(np.mod(direction, 360)).astype(int),
        precipitation=flat(rain),
        wave_height=flat(wave),
        wave_period=flat(period),
        wave_direction=flat(np.mod(direction + 10, 360)).astype(int),
        cloud_cover=flat(np.clip(cloud, 0, 100)).astype(int),
    )


def day_length_hours(latitude: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Astronomical day length (hours, sunrise to sunset with refraction) by the CBM model of
    Forsythe, Rykiel, Stahl, Wu & Schoolfield (1995), "A model comparison for daylength as a function
    of latitude and day of year", Ecological Modelling 80: 87–95 (p = 0.8333°)."""
    j = _doy(days)[:, None]
    theta = 0.2163108 + 2 * np.arctan(0.9671396 * np.tan(0.00860 * (j - 186)))
    decl = np.arcsin(0.39795 * np.cos(theta))
    lat = np.radians(latitude)[None, :]
    x = (np.sin(np.radians(0.8333)) + np.sin(lat) * np.sin(decl)) / (np.cos(lat) * np.cos(decl))
    return 24 - 24 / np.pi * np.arccos(np.clip(x, -1, 1))


def noon_lux(latitude: np.ndarray, days: np.ndarray, cloud_pct: np.ndarray) -> np.ndarray:
    """Noon illuminance (lux): clear-sky ~120 klux × sin(solar elevation), dimmed by the day's cloud
    by Kasten & Czeplak (1980): 1 − 0.75·(cloud fraction)^3.4."""
    j = _doy(days)[:, None]
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + j) / 365)
    elevation = np.pi / 2 - np.abs(np.radians(latitude)[None, :] - decl)
    return 120_000 * np.maximum(np.sin(elevation), 0) * (1 - 0.75 * (cloud_pct / 100) ** 3.4)
