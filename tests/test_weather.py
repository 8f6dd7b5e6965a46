"""The weather model (``aquagen.model.weather``): one region's weather shared by its sea areas,
year-to-year anomalies, consistency with the sea's regional anomaly, ranges within the table's
numeric precision, prefix-stable in the horizon. Arrays only: no database, a few areas."""

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from aquagen.model import environment as E
from aquagen.model import weather as W

SEED = 7
GEOS = ["Scotland"] * 3 + ["Faroe Islands"] * 3
IDS = np.array([3, 8, 11, 25, 30, 41])
FIRST, LAST = dt.date(2013, 1, 1), dt.date(2024, 12, 31)  # twelve whole years


@pytest.fixture(scope="module")
def w():
    return W.weather(SEED, IDS, GEOS, FIRST, LAST)


def days() -> np.ndarray:
    return np.arange(np.datetime64(FIRST), np.datetime64(LAST) + 1)


def anomaly(x: np.ndarray) -> np.ndarray:
    """Daily means (day, area) of a 3-hourly column minus a fitted annual cycle (mean + two harmonics)."""
    daily = x.reshape(-1, 8, x.shape[1]).mean(1)
    t = 2 * np.pi * np.arange(len(daily)) / 365.25
    design = np.stack([np.ones(len(t)), np.cos(t), np.sin(t), np.cos(2 * t), np.sin(2 * t)], 1)
    fit, *_ = np.linalg.lstsq(design, daily, rcond=None)
    return daily - design @ fit


def pairs(r: np.ndarray, cols: list[int]) -> np.ndarray:
    c = np.corrcoef(r[:, cols].T)
    return c[np.triu_indices(len(cols), 1)]


SCO, FAR = [0, 1, 2], [3, 4, 5]


def test_areas_of_a_geography_share_the_regional_weather(w):
    air = anomaly(w.temperature)
    for cols in (SCO, FAR):
        assert pairs(air, cols).min() >= 0.7  # the same lows and highs pass over every area
        assert 1.2 < air[:, cols].std() < 3.0  # day-to-day anomalies of ~2 °C
        assert pairs(anomaly(w.wind_speed), cols).min() >= 0.5  # storms too
        assert pairs(anomaly(w.cloud_cover.astype(float)), cols).min() >= 0.5
    across = np.corrcoef(air[:, 0], air[:, 3])[0, 1]
    assert abs(across) < 0.3  # Scotland and the Faroes have their own weather


def test_yearly_anomalies_of_about_one_degree(w):
    years = days().astype("datetime64[Y]").astype(int)
    air = anomaly(w.temperature)
    for cols in (SCO, FAR):
        region = air[:, cols].mean(1)
        yearly = np.array([region[years == y].mean() for y in np.unique(years)])
        assert 0.25 < yearly.std() < 1.0, yearly  # warm and cold years, not a flat ±0.1 °C
        assert np.abs(yearly).max() < 1.8, yearly


def test_air_and_sea_anomalies_of_a_region_go_together(w):
    air = anomaly(w.temperature)
    month = days().astype("datetime64[M]").astype(int)
    for cols, geo in ((SCO, "Scotland"), (FAR, "Faroe Islands")):
        sea = E.regional_anomaly(SEED, geo)[days().astype(int) - E.REGION_ORIGIN]
        region = air[:, cols].mean(1)
        air_m = np.array([region[month == m].mean() for m in np.unique(month)])
        sea_m = np.array([sea[month == m].mean() for m in np.unique(month)])
        assert np.corrcoef(air_m, sea_m)[0, 1] > 0.3


def test_values_fit_the_table_and_plausible_ranges(w):
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "aquamind_8f2ab39.json").read_text())
    types = {c["name"]: c["type"] for c in schema["environmental_weatherdata"]["columns"]}
    plausible = {  # (low, high): coastal stations of the Faroes and western Scotland, 3-hourly
        "temperature": (-15.0, 28.0),
        "wind_speed": (0.0, 34.0),
        "precipitation": (0.0, 40.0),
        "wave_height": (0.0, 9.0),
        "wave_period": (0.0, 12.0),
        "wind_direction": (0, 359),
        "wave_direction": (0, 359),
        "cloud_cover": (0, 100),
    }
    for name, (lo, hi) in plausible.items():
        x = getattr(w, name)
        assert np.isfinite(x).all() and x.min() >= lo and x.max() <= hi, (name, x.min(), x.max())
        if types[name].startswith("numeric("):
            p, s = map(int, types[name][8:-1].split(","))
            assert np.abs(np.round(x, s)).max() < 10 ** (p - s), name
    wind = w.wind_speed.ravel()
    assert (wind > 0.999 * wind.max()).sum() < 5  # a soft ceiling: nothing piles up at a cap


def test_prefix_stable_and_independent_of_the_other_areas(w):
    short = W.weather(SEED, IDS, GEOS, FIRST, dt.date(2019, 3, 14))
    n = short.temperature.shape[0]
    for name in ("temperature", "wind_speed", "precipitation", "cloud_cover", "wave_direction"):
        assert np.array_equal(getattr(short, name), getattr(w, name)[:n]), name
    alone = W.weather(SEED, IDS[[1, 4]], [GEOS[1], GEOS[4]], FIRST, LAST)
    assert np.array_equal(alone.temperature, w.temperature[:, [1, 4]])


def test_a_day_is_the_same_whatever_the_span_it_is_made_in(w):
    """The 3-hourly weather is made a calendar year at a time (``Climate.slots``): a span starting
    later in the first year (its series run from the same new year) gives its days' values as the
    whole span does (element by element: written a year at a time, the weather table is the whole
    history's), and the daily cloud means (the photoperiod's) are the 3-hourly cloud's."""
    later = dt.date(2013, 5, 17)
    part = W.weather(SEED, IDS, GEOS, later, LAST)
    skip = (later - FIRST).days * 8
    for name in ("temperature", "wind_speed", "precipitation", "wave_height", "cloud_cover", "wind_direction"):
        assert np.array_equal(getattr(part, name), getattr(w, name)[skip:]), name
    c = W.climate(SEED, IDS, GEOS, later, LAST)
    assert [hi - lo for lo, hi in c.calendar_years()][:2] == [(dt.date(2014, 1, 1) - later).days, 365]
    assert np.array_equal(c.cloud_means(), part.cloud_cover.reshape(-1, 8, len(IDS)).mean(axis=1))
