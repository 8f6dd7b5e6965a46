"""Area-level environment tables (``aquagen.model.weather``): 3-hourly weather and the daily
photoperiod of every sea area from the setup day to the as-of date, and the sensors' calibrations
over the same days (built by the master shard, ids fixed in time order); one stage-transition row
per transfer (built with its batch)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from aquagen.model import weather as W
from aquagen.model.domain import GEOGRAPHIES, OPERATOR_ID, PARAMETERS, SYSTEM_ID
from aquagen.model.sensors import MINUTES_PER_DAY, Calibrations
from aquagen.model.simulate import BatchSim
from aquagen.model.timeline import ADULT, EPOCH
from aquagen.tables.conform import Bound, number_history
from aquagen.tables.cut import last_history
from aquagen.tables.ids import IdBook

from .records import add

INGEST_DELAY = dt.timedelta(minutes=10)  # a weather observation is stored this long after its time
PHOTOPERIOD_TIME = dt.timedelta(minutes=30)  # the nightly daylight job
SEA_SALINITY_PSU = 34.5  # open Atlantic coastal water
_DO, _CO2, _PH, _TEMP = (
    next(i for i, p in enumerate(PARAMETERS) if p.name == n) for n in ("Dissolved Oxygen", "CO2", "pH", "Temperature")
)


def build(
    master: dict[str, pl.DataFrame], setup_date: dt.date, as_of: dt.date, seed: int, profile: str
) -> Iterator[tuple[str, pl.DataFrame | Iterator[pl.DataFrame]]]:
    """Weather and photoperiod of every area in ``master`` for setup_date..as_of, table by table: the
    weather first, as its rows a calendar year at a time (``weather_rows``: a long history's weather
    is the biggest master table, written as it is made, before the others are made)."""
    T = Bound(profile)
    areas = master["infrastructure_area"].sort("id")
    area_ids = areas["id"].to_numpy()
    geos = [GEOGRAPHIES[g - 1].name for g in areas["geography_id"].to_list()]
    climate = W.climate(seed, area_ids, geos, setup_date, as_of)
    clouds: list[np.ndarray] = []  # each year's daily cloud means, as the weather's rows are made
    yield "environmental_weatherdata", weather_rows(climate, setup_date, T, clouds)

    n_areas = len(area_ids)
    days = np.arange(np.datetime64(setup_date), np.datetime64(as_of) + 1)
    lat = areas["latitude"].cast(pl.Float64).to_numpy()
    # the photoperiod's light: from the weather's rows when they were all made (the slots' draws are
    # not drawn once more), else made again
    made = sum(len(c) for c in clouds) == len(days)
    cloud = np.concatenate(clouds) if made and clouds else climate.cloud_means()
    del climate, clouds
    photo = (
        pl.DataFrame(
            {
                "id": np.arange(1, len(days) * n_areas + 1),
                "date": np.repeat(days, n_areas),
                "day_length_hours": W.day_length_hours(lat, days.astype(int)).ravel(),
                "light_intensity": W.noon_lux(lat, days.astype(int), cloud).ravel(),
                "is_interpolated": False,
                "area_id": np.tile(area_ids, len(days)),
            }
        )
        .with_columns_seq(
            created_at=(pl.col("date").cast(pl.Datetime("us")) + pl.lit(PHOTOPERIOD_TIME)).dt.replace_time_zone("UTC")
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
    )
    base = T.conform("environmental_photoperioddata", photo)
    yield "environmental_photoperioddata", base
    yield (
        "environmental_historicalphotoperioddata",
        T.conform(
            "environmental_historicalphotoperioddata",
            number_history(T.history("environmental_photoperioddata", base, "created_at", "+", SYSTEM_ID)),
        ),
    )
    yield from calibrations(master, setup_date, as_of, seed, T).items()


def weather_rows(
    climate: W.Climate, setup_date: dt.date, T: Bound, clouds: list[np.ndarray] | None = None
) -> Iterator[pl.DataFrame]:
    """The 3-hourly weather's rows (ids in time order: by slot, then area) a calendar year at a time:
    memory holds a year's, the same rows as the whole history's frame sliced. Each year's daily mean
    cloud cover (``Climate.cloud_means``) appended to ``clouds``."""
    n_areas = len(climate.area_ids)
    t0 = np.datetime64(setup_date, "us")
    for lo, hi in climate.calendar_years():
        w = climate.slots(lo, hi)
        if clouds is not None:
            clouds.append(w.cloud_cover.reshape(hi - lo, 8, n_areas).mean(axis=1))
        first, n_slots = lo * 8, w.temperature.shape[0]
        slot_us = np.arange(first, first + n_slots, dtype=np.int64) * 3 * 3_600_000_000
        stamp = pl.Series(np.repeat(t0 + slot_us.astype("timedelta64[us]"), n_areas)).dt.replace_time_zone("UTC")
        weather = pl.DataFrame(
            {
                "id": np.arange(first * n_areas + 1, (first + n_slots) * n_areas + 1),
                "timestamp": stamp,
                "temperature": w.temperature.ravel(),
                "wind_speed": w.wind_speed.ravel(),
                "wind_direction": w.wind_direction.ravel(),
                "precipitation": w.precipitation.ravel(),
                "wave_height": w.wave_height.ravel(),
                "wave_period": w.wave_period.ravel(),
                "wave_direction": w.wave_direction.ravel(),
                "cloud_cover": w.cloud_cover.ravel(),
                "area_id": np.tile(climate.area_ids, n_slots),
            }
        ).with_columns_seq(created_at=pl.col("timestamp") + pl.lit(INGEST_DELAY))
        del w, stamp
        yield T.conform("environmental_weatherdata", weather)


def calibrations(
    master: dict[str, pl.DataFrame], setup_date: dt.date, as_of: dt.date, seed: int, T: Bound
) -> dict[str, pl.DataFrame]:
    """Every calibration of every sensor up to the as-of date's end (``sensors.Calibrations``, the days
    the readings' drift resets on): a '~' history row each, by the technician, and the sensor as its
    last history row (``last_calibration_date``, ``updated_at``)."""
    name = "infrastructure_sensor"
    sensors = master[name].sort("id")
    history = T.table(name).history_table
    assert history is not None
    end = ((as_of - EPOCH).days + 1) * MINUTES_PER_DAY
    sensor, day, minute = Calibrations(seed, (setup_date - EPOCH).days).until(sensors["id"].to_numpy(), end)
    at = (day * MINUTES_PER_DAY + minute).astype(np.int64) * 60_000_000
    done = pl.DataFrame(
        {
            "id": pl.Series(sensor, dtype=sensors["id"].dtype),
            "last_calibration_date": pl.Series(day.astype("datetime64[D]")),
            "updated_at": pl.Series(at.astype("datetime64[us]")).dt.replace_time_zone("UTC"),
        }
    )
    rows = done.join(sensors.drop("last_calibration_date", "updated_at"), on="id", maintain_order="left")
    changes = T.history(name, rows.select_seq(sensors.columns), "updated_at", "~", OPERATOR_ID)
    numbered = T.conform(history, number_history(pl.concat([master[history], changes]), key="id"))
    return {
        name: T.conform(name, last_history(numbered, "id").select_seq(sensors.columns).sort("id")),
        history: numbered,
    }


def stage_transitions(out: dict, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> None:
    """One row per transfer: the destination's water on the transfer day (its daily mean temperature,
    the mean of that day's oxygen and pH readings, CO2 in the notes and in additional_parameters; sea salinity in a ring, 0 in fresh water)."""
    tr = out["batch_batchtransfer"].select_seq("id", "created_at", "destination_assignment_id", "transfer_date")
    tr = tr.join(
        link.select_seq(destination_assignment_id="bca_id", assignment_no="assignment_no", stage="stage"),
        on="destination_assignment_id",
        maintain_order="left",
    )
    day = (  # of the transfer days only (a fiftieth of the batch's readings)
        sim.readings.filter(
            pl.col("parameter").is_in([_DO, _PH, _CO2])
            & pl.col("reading_time").dt.date().is_in(tr["transfer_date"].unique().implode())
        )
        .group_by("assignment_no", date=pl.col("reading_time").dt.date())
        .agg(
            oxygen=pl.col("value").filter(pl.col("parameter") == _DO).mean(),
            ph=pl.col("value").filter(pl.col("parameter") == _PH).mean(),
            co2=pl.col("value").filter(pl.col("parameter") == _CO2).mean(),
        )
    )
    temp = sim.daily.select_seq("assignment_no", "date", temperature="temperature_c")
    at_sea = pl.col("stage") == ADULT
    rows = tr.join(
        temp,
        left_on=["assignment_no", "transfer_date"],
        right_on=["assignment_no", "date"],
        how="left",
        maintain_order="left",
    ).join(
        day,
        left_on=["assignment_no", "transfer_date"],
        right_on=["assignment_no", "date"],
        how="left",
        maintain_order="left",
    )
    rows = (
        rows.with_columns_seq(
            batch_transfer_id=pl.col("id"),
            salinity=pl.when(at_sea).then(pl.lit(SEA_SALINITY_PSU)).otherwise(pl.lit(0.0)),
            # jsonb: the readings the table has no column for (NULL on a day without a CO2 reading)
            additional_parameters=pl.concat_str(
                pl.lit('{"co2_mg_l": '), pl.col("co2").round(2).cast(pl.String), pl.lit("}")
            ),
            notes=pl.concat_str(
                pl.when(at_sea)
                .then(pl.lit("Sea transfer: conditions in the receiving ring"))
                .otherwise(pl.lit("Stage transition: conditions in the receiving tank")),
                pl.lit("; CO2 "),
                pl.col("co2").round(2).cast(pl.String),
                pl.lit(" mg/L"),
                ignore_nulls=True,
            ),
            created_at=pl.col("created_at") + pl.duration(hours=1),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
        .drop("id")
    )
    add(out, "environmental_stagetransitionenvironmental", rows, OPERATOR_ID, ids)
