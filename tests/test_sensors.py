"""Sensor faults are on by default and switched off by --clean-sensors, which the manifest keeps
(so that advance regenerates a snapshot with the same sensors); the sensors' calibrations are one
schedule, which the sensor rows record and the readings' drift resets on."""

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl

from aquagen.model.domain import PARAMETERS
from aquagen.model.seeds import MASTER_STREAM, rng_for
from aquagen.model.sensors import DRIFT_PER_YEAR, MINUTES_PER_DAY, Calibrations
from aquagen.model.simulate import BatchSpec, simulate_batch
from aquagen.model.sites import SITES
from aquagen.model.timeline import EPOCH
from aquagen.profiles import get
from aquagen.profiles.aquamind_8f2ab39.environment import calibrations
from aquagen.run.generate import clean_sensors_of
from aquagen.tables.conform import Bound

from .conftest import run_cli


def test_clean_sensors_is_recorded(tmp_path, master_snapshot):
    assert master_snapshot.manifest["arguments"]["clean_sensors"] is False  # the default: faults on
    r = run_cli("generate", "--out", tmp_path / "s", "--batches", "0", "--as-of", "2025-01-01", "--clean-sensors")
    assert r.returncode == 0, r.stderr
    arguments = json.loads((tmp_path / "s" / "manifest.json").read_text())["arguments"]
    assert arguments["clean_sensors"] is True and clean_sensors_of(arguments) is True


def test_snapshot_from_before_sensor_faults_regenerates_clean():
    assert clean_sensors_of({"as_of": "2025-01-01", "batches": 3}) is True


# --- calibration: one schedule for the sensor rows and the readings' drift ---------------------------

SEED, SETUP = 7, dt.date(2023, 1, 30)  # the farm's setup: 30 days before the batch below
STATION, AREA = 3, 5


def test_calibration_schedule():
    """Commissioned 1-24 days after installation, then at most a year apart, from the first yearly visit
    exactly 365 days; a container's probes in one visit between the 10:00 and 18:00 polls."""
    installed = (SETUP - EPOCH).days
    ids = np.arange(1, SITES.n_sensors + 1)
    sensor, day, minute = Calibrations(SEED, installed).until(ids, (installed + 3 * 365) * MINUTES_PER_DAY)
    cal = pl.DataFrame({"sensor": sensor, "day": day, "minute": minute})
    assert cal["sensor"].n_unique() == SITES.n_sensors
    first = cal.group_by("sensor").agg(pl.col("day").min() - installed)["day"]
    assert first.min() >= 1 and first.max() <= 24
    gaps = cal.sort("sensor", "day").select(pl.col("day").diff().over("sensor")).drop_nulls()["day"]
    assert gaps.min() >= 30 and gaps.max() <= 365 and (gaps == 365).mean() > 0.5
    assert cal["minute"].min() >= 10 * 60 + 30 and cal["minute"].max() < 17 * 60 + 30
    container, _ = SITES.sensor_places(cal["sensor"].to_numpy())
    visits = (
        cal.with_columns(container=container)
        .group_by("container", "day")
        .agg(n=pl.len(), span=pl.col("minute").max() - pl.col("minute").min())
    )
    probes = np.where(visits["container"].to_numpy() <= SITES.n_hall_containers, len(PARAMETERS), 4)
    assert (visits["n"].to_numpy() == probes).all() and (visits["span"].to_numpy() == 4 * (probes - 1)).all()
    # the calibrations spread over the year: every month has some
    months = pl.Series(cal["day"].to_numpy().astype("datetime64[D]")).dt.month().unique()
    assert months.len() == 12


def test_readings_drift_resets_on_the_sensor_rows_calibration_days():
    """The sensor rows (a '~' history row per calibration) and the readings' drift agree: each reading
    drifts from its clean value by the sensor's rate times the days since the calibration the rows
    record last before it (on a calibration day, the polls before the visit still drift)."""
    start = SETUP + dt.timedelta(days=30)
    spec = BatchSpec(start, 3_000_000, "Scotland", SEED, 0, start + dt.timedelta(days=900), False, STATION, AREA, SETUP)
    faulted, clean = simulate_batch(spec), simulate_batch(dataclasses.replace(spec, clean_sensors=True))
    p = get("aquamind@8f2ab39")
    master = p.master(SETUP, rng_for(SEED, MASTER_STREAM), p.name)
    rows = calibrations(master, SETUP, spec.as_of, SEED, Bound(p.name))
    history = rows["infrastructure_historicalsensor"].filter(pl.col("history_type") == "~")
    assert rows["infrastructure_sensor"]["last_calibration_date"].max() <= spec.as_of

    asg = faulted.assignments
    container = SITES.container_ids(STATION, AREA, asg["stage"].to_numpy(), asg["slot"].to_numpy())
    sensor_of = SITES.sensor_ids(container[:, None], np.arange(len(PARAMETERS))[None, :])
    hour = (pl.col("reading_time") + pl.duration(minutes=30)).dt.truncate("1h")
    r = faulted.readings.with_columns(at=hour).join(
        clean.readings.rename({"reading_time": "at", "value": "clean"}), on=["assignment_no", "parameter", "at"]
    )
    r = r.with_columns(
        sensor_id=pl.Series(sensor_of[r["assignment_no"].to_numpy(), r["parameter"].to_numpy()], dtype=pl.Int64)
    )
    last = history.select(
        sensor_id="id", cal_at=pl.col("history_date").dt.replace_time_zone(None), cal_day="last_calibration_date"
    ).sort("cal_at")
    r = (
        r.with_columns(pl.col("at").dt.replace_time_zone(None))
        .sort("at")
        .join_asof(last, left_on="at", right_on="cal_at", by="sensor_id", strategy="backward", check_sortedness=False)
        .join_asof(
            last.select("sensor_id", next_at="cal_at", next_day="cal_day"),
            left_on="at",
            right_on="next_at",
            by="sensor_id",
            strategy="forward",
            check_sortedness=False,
        )
    )
    assert r["cal_day"].null_count() == 0  # every reading after the sensor's commissioning
    per_year = pl.Series([DRIFT_PER_YEAR[int(q)] for q in r["parameter"]])
    rate = pl.Series(Calibrations(SEED, (SETUP - EPOCH).days).drift(r["sensor_id"].to_numpy())) * per_year
    age = (pl.col("at").dt.date() - pl.col("cal_day")).dt.total_days()
    r = r.with_columns(want=rate * age / 365, got=pl.col("value") - pl.col("clean"), age=age)
    lo = pl.Series([PARAMETERS[int(q)].min_value for q in r["parameter"]])
    inside = r.filter((pl.col("value") > lo) & (pl.col("value") < 100) & (pl.col("clean") > lo))
    inside = inside.with_columns(ok=(pl.col("got") - pl.col("want")).abs() < 1e-3)
    assert inside["ok"].mean() > 0.98  # the rest: spikes, flat-lines
    # on the days of a calibration: reset after the visit, still drifted before it
    day = pl.col("at").dt.date()
    after, before = inside.filter(day == pl.col("cal_day")), inside.filter(day == pl.col("next_day"))
    assert after.height > 100 and (after["age"] == 0).all() and after["ok"].mean() > 0.95
    assert before.height > 100 and before["age"].min() > 25 and before["ok"].mean() > 0.95
    assert inside["age"].max() >= 300
