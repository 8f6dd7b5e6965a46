"""Weather and daylight per sea area: 3-hourly weather and the daily photoperiod, over a
horizon of days — schema-independent arrays, the profile makes them rows.

Regional: the weather of a day is mostly the region's (one geography's): the same lows and highs
pass over every sea area of it, so an area's weather is the region's series plus a smaller local
deviation. Daily air temperature = the geography's season + the sea's regional anomaly
(``environment.regional_anomaly``: warm and cold spells and years, so the air and the sea of a region
are warm or cold together) + the region's synoptic anomaly (AR(1), larger in winter) + the area's own
AR(1); storminess (wind, waves, cloud, rain) and the wind's swing from the south-west are the
region's series plus the area's, and a geography has stormier and calmer years.

Prefix-stable: each calendar year's draws come from their own streams — (seed, geography, year) for
the region, (seed, area, year) for an area — and the AR(1) series run on from the first year's
first day, so the weather of a day does not depend on how far the horizon reaches.

Consistency with the water: the air follows the geography's sea season (``environment``), about
a month earlier (the sea lags the air) with a wider swing, so summer air is warmer and winter air
colder than the sea around the pens; autumn and winter are windier, the Faroes windier than
Scotland.

Sources for the magnitudes: Met Office UK climate averages 1991–2020 (Stornoway, Tiree, Lerwick:
annual mean 8–10 °C, mean wind 6–8 m/s) and State of the UK Climate reports (a region's annual mean
within about ±1 °C of its 1991–2020 mean: Scotland's warmest years 2022 at 8.50 °C and 2014 at 8.43 °C,
about +0.9 °C; 2010 about −1 °C); Danish Meteorological Institute / Faroese Met Office (Veðurstova
Føroya) climate normals for Tórshavn (annual mean 6.5–7.5 °C, mean wind 7–9 m/s); day-to-day air-temperature anomalies of about 1.5 °C (summer) to 2.5 °C (winter)
standard deviation in these maritime climates, shared by stations a few hundred km apart because they
come from the same synoptic systems (anomaly correlation falling slowly with distance, above 0.8
within ~250 km at these latitudes: Hansen & Lebedeff 1987, JGR 92: 13345, for monthly means).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

from .environment import REGION_DAYS, REGION_ORIGIN, SEA_TEMP, WARMEST_DAY_OF_YEAR, regional_anomaly
from .seeds import rng_for

SLOT_HOURS = np.arange(0, 24, 3)  # 3-hourly observations
WEATHER_STREAM = 0x3EA7  # an area's own weather, per (seed, area, year)
REGION_WEATHER_STREAM = 0x3EA8  # the region's weather, per (seed, geography, year)
STORMY_YEAR_STREAM = 0x3EA9  # a geography's stormier and calmer years, per (seed, geography, year)
AIR_LEAD_DAYS = 35  # the air's season leads the sea's
AIR_SWING = 1.6  # air's seasonal amplitude relative to the sea's
WIND_MEAN_MS = {"Faroe Islands": 8.5, "Scotland": 7.0}  # annual mean wind speed
PREVAILING_DEG = 225.0  # south-westerlies
# The daily AR(1) series (φ): air anomaly, storminess, wind-direction swing — the region's and the
# area's alike. Air: the region's synoptic anomaly (sd 1.7 °C, ×1.2 in winter, ×0.8 in summer) and
# the area's own (sd 0.6 °C); with the sea's regional anomaly (sd ~0.75 °C) a day's anomaly has sd
# ~2 °C and correlates ~0.9 between the areas of a geography.
AR_PHI = np.array([0.8, 0.7, 0.6])
AIR_REGION_SD, AIR_LOCAL_SD = 1.7, 0.6
REGION_SHARE = 0.8  # the region's share of the variance of storminess and wind direction
STORMY_YEAR_SD = 0.25  # a year's storminess offset (σ units of the daily storminess), e.g. NAO winters
# Soft ceilings (tanh beyond the knee, no pile-up at a cap): 3-hourly mean wind on these coasts
# rarely exceeds hurricane force (32.7 m/s); significant wave height at exposed farm sites rarely
# exceeds 8 m (Met Office / Veðurstova Føroya station records; Marine Scotland site exposure).
WIND_SOFT_MS = (24.0, 34.0)
WAVE_SOFT_M = (6.0, 9.0)


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


def _ar1(e: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Stationary unit AR(1) along axis 0 from standard-normal innovations ``e`` (φ by the last axis):
    x_0 = e_0, x_t = φ·x_{t−1} + √(1−φ²)·e_t, in closed form per block of 32 days (φ^−32 stays
    finite); a day's value depends only on the days before it (prefix-stable)."""
    e = e * np.sqrt(1 - phi * phi)
    out = np.empty(e.shape)
    prev = e[0] / np.sqrt(1 - phi * phi)
    out[0] = prev
    for b0 in range(1, len(e), 32):
        blk = e[b0 : b0 + 32]
        pw = phi ** np.arange(1, len(blk) + 1).reshape((-1,) + (1,) * (e.ndim - 1))
        out[b0 : b0 + 32] = pw * (prev + np.cumsum(blk / pw, axis=0))
        prev = out[b0 + len(blk) - 1]
    return out


def _soft_ceiling(x: np.ndarray, knee: float, ceiling: float) -> np.ndarray:
    """Identity up to the knee, then tends to the ceiling (tanh): nothing piles up at a cap."""
    room = ceiling - knee
    return np.where(x > knee, knee + room * np.tanh((x - knee) / room), x)


def _stormy_years(seed: int, g: int, years: range, days: np.ndarray) -> np.ndarray:
    """A geography's storminess offset per day: one value per year (its own stream per year), linear
    between mid-years (no jump at new year); the neighbouring years' values are drawn from their own
    streams, so no value depends on the horizon."""
    ys = np.arange(years.start - 1, years.stop + 1)
    level = np.array([STORMY_YEAR_SD * rng_for(seed, STORMY_YEAR_STREAM, g, int(y)).standard_normal() for y in ys])
    t = days.astype("datetime64[D]").astype(float) / 365.2425 + 1970  # decimal year
    return np.interp(t, ys + 0.5, level)


def _area_draws(seed: int, area_ids: np.ndarray, year: int) -> np.ndarray:
    """The areas' own draws of a calendar year (day, area, 11): 3 daily (the area's AR(1) series), then
    one per 3-hour slot, from the stream (seed, area, year)."""
    n = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return np.stack([rng_for(seed, WEATHER_STREAM, int(a), year).standard_normal((n, 11)) for a in area_ids], 1)


@dataclass(frozen=True)
class Climate:
    """The areas' weather by day over a span of days: what their 3-hourly weather is made of, a few
    (day, area) arrays, an eighth of one 3-hourly column each. The 3-hourly weather is made of it a
    span of days at a time (``slots``), the slots' own draws drawn again for it, so that memory holds
    the 3-hourly weather of those days only (``calendar_years``), whatever the length of the history;
    a day's values are the same whatever the span they are made in (element by element)."""

    seed: int
    area_ids: np.ndarray
    days: np.ndarray  # datetime64[D], the span's days
    season: np.ndarray  # (day, 1): +1 in late summer
    air_day: np.ndarray  # (day, area): the day's mean air temperature
    storm: np.ndarray  # (day, area): storminess, ~N(0, 1)
    swing: np.ndarray  # (day, area): the wind's swing from the south-west (σ units)
    wind_mean: np.ndarray  # (1, area): the annual mean wind speed

    def calendar_years(self) -> Iterator[tuple[int, int]]:
        """The span's days by calendar year: (first, end) day indices of each."""
        years = self.days.astype("datetime64[Y]").astype(np.int64)
        starts = np.flatnonzero(np.diff(years, prepend=years[0] - 1)).tolist() if len(years) else []
        yield from zip(starts, [*starts[1:], len(years)], strict=True)

    def _noise(self, lo: int, hi: int) -> np.ndarray:
        """The 3-hourly draws of days lo..hi-1 (day, slot, area), of one calendar year: a transposed
        view of (day, area, slot), as they are laid out when drawn for every day at once."""
        year = int(self.days[lo].astype("datetime64[Y]").astype(np.int64)) + 1970
        jan1 = (self.days[lo] - np.datetime64(f"{year}-01-01")).astype(int)
        assert int(self.days[hi - 1].astype("datetime64[Y]").astype(np.int64)) + 1970 == year
        draws = _area_draws(self.seed, self.area_ids, year)
        return np.ascontiguousarray(draws[jan1 : jan1 + hi - lo, :, 3:]).transpose(0, 2, 1)

    def _cloud(self, lo: int, hi: int, noise: np.ndarray) -> np.ndarray:
        """The 3-hourly cloud cover (day, slot, area), whole percent, of days lo..hi-1 and their draws."""
        day = np.clip(62 + 25 * self.storm[lo:hi] - 12 * self.season[lo:hi], 0, 100)
        return np.clip(day[:, None, :] + 8 * noise, 0, 100).astype(int)

    def cloud_means(self) -> np.ndarray:
        """Each day's mean cloud cover (day, area) of its 3-hourly observations (the photoperiod's
        light), a calendar year at a time."""
        out = [self._cloud(lo, hi, self._noise(lo, hi)).mean(axis=1) for lo, hi in self.calendar_years()]
        return np.concatenate(out) if out else np.empty((0, len(self.area_ids)))

    def slots(self, lo: int, hi: int) -> Weather:
        """The 3-hourly weather of days lo..hi-1 (indices into ``days``, one calendar year)."""
        n_areas = len(self.area_ids)
        noise = self._noise(lo, hi)
        season, storm = self.season[lo:hi], self.storm[lo:hi]
        diurnal = 2.0 * np.cos(2 * np.pi * (SLOT_HOURS - 15) / 24)  # warmest mid-afternoon
        temperature = (
            self.air_day[lo:hi, None, :] + diurnal[None, :, None] * (1 + 0.3 * season[:, None, :]) + 0.5 * noise
        )
        wind_day = self.wind_mean * (1 - 0.2 * season) * np.exp(0.35 * storm - 0.06)  # windier in winter
        wind = _soft_ceiling(wind_day[:, None, :] * np.exp(0.15 * noise), *WIND_SOFT_MS)
        direction = (PREVAILING_DEG + 70 * self.swing[lo:hi])[:, None, :] + 15 * noise
        wave = _soft_ceiling(0.3 + 0.012 * wind**2, *WAVE_SOFT_M)  # fetch-limited wind sea plus swell
        period = 3.5 + 2.2 * np.sqrt(wave)
        wet = storm[:, None, :] + 0.4 * noise > 0.35
        heavy = (0.4 + 0.6 * np.maximum(storm, 0))[:, None, :]  # mm per 3 h, heavier in a storm
        rain = np.where(wet, np.exp(0.6 * noise[:, ::-1]) * heavy, 0.0)

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
            cloud_cover=flat(self._cloud(lo, hi, noise)),
        )


def climate(seed: int, area_ids: np.ndarray, geographies: list[str], first: dt.date, last: dt.date) -> Climate:
    """The daily weather of the areas (ids, geography names) for the days first..last (``Climate``)."""
    years = range(first.year, last.year + 1)
    regions = sorted(set(geographies))
    region_of = np.array([regions.index(g) for g in geographies])
    g_index = [sorted(SEA_TEMP).index(r) for r in regions]  # as the sea's regional anomaly numbers them
    region_e, local_e = [], []
    for year in years:  # each year from its own streams; the AR(1) series run on across years
        n = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        region_e.append(
            np.stack([rng_for(seed, REGION_WEATHER_STREAM, g, year).standard_normal((n, 3)) for g in g_index], 1)
        )
        local_e.append(np.ascontiguousarray(_area_draws(seed, area_ids, year)[:, :, :3]))  # the slots' drawn again
    days = np.arange(np.datetime64(f"{first.year}-01-01"), np.datetime64(f"{last.year + 1}-01-01"))
    kept = slice((first - dt.date(first.year, 1, 1)).days, (last - dt.date(first.year, 1, 1)).days + 1)
    region = _ar1(np.concatenate(region_e), AR_PHI)[kept][:, region_of]  # (day, area, 3)
    local = _ar1(np.concatenate(local_e), AR_PHI)[kept]
    del region_e, local_e  # the years' draws
    stormy = np.stack([_stormy_years(seed, g, years, days) for g in g_index], 1)[kept][:, region_of]
    days = days[kept]

    doy = _doy(days.astype(int))[:, None]
    mean = np.array([SEA_TEMP[g][0] for g in geographies])[None, :]
    amp = np.array([SEA_TEMP[g][1] for g in geographies])[None, :]
    season = np.cos(2 * np.pi * (doy - (WARMEST_DAY_OF_YEAR - AIR_LEAD_DAYS)) / 365.25)  # +1 late summer
    day_no = np.clip(days.astype(int) - REGION_ORIGIN, 0, REGION_DAYS - 1)
    sea_anomaly = np.stack([regional_anomaly(seed, r)[day_no] for r in regions], 1)[:, region_of]
    synoptic = AIR_REGION_SD * (1 - 0.2 * season) * region[:, :, 0] + AIR_LOCAL_SD * local[:, :, 0]
    shared = np.sqrt(REGION_SHARE) * region + np.sqrt(1 - REGION_SHARE) * local
    return Climate(
        seed=seed,
        area_ids=np.asarray(area_ids),
        days=days,
        season=season,
        air_day=mean - 1.0 + AIR_SWING * amp * season + sea_anomaly + synoptic,
        storm=shared[:, :, 1] + stormy,
        swing=np.ascontiguousarray(shared[:, :, 2]),
        wind_mean=np.array([WIND_MEAN_MS[g] for g in geographies])[None, :],
    )


def weather(seed: int, area_ids: np.ndarray, geographies: list[str], first: dt.date, last: dt.date) -> Weather:
    """Weather of the areas (ids, geography names) for the days first..last, 3-hourly, whole (a long
    history is made a year at a time: ``Climate.slots``)."""
    c = climate(seed, area_ids, geographies, first, last)
    years = [c.slots(lo, hi) for lo, hi in c.calendar_years()]
    return Weather(**{f.name: np.concatenate([getattr(y, f.name) for y in years]) for f in fields(Weather)})


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
