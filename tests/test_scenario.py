"""Scenarios: the projection engines against the application's own numbers, the models and profiles
of the master data, and a batch's baseline scenario in the shared fleet (snapshot and database)."""

from __future__ import annotations

import numpy as np
import polars as pl
import psycopg
import pytest

import schemas
from aquagen.check import validate as v
from aquagen.model import domain as D
from aquagen.profiles import get
from aquagen.profiles.aquamind_8f2ab39 import scenario as S
from aquagen.snapshot import Snapshot
from aquagen.tables.ids import id_references

from .conftest import AS_OF, cloned, shared_snapshot

pytestmark = pytest.mark.slow  # the shared fleet and its database


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """Three batches started in spring 2023, 20 days apart, all three near or past harvest on the as-of day."""
    return shared_snapshot(tmp_path_factory, "spring-2023", seed=3, batches=3, as_of=AS_OF)


HEAD_FCR = np.array([0.0, 1.0, 1.1, 1.0, 1.1, 1.2])


def _head(w0: float, tgc: float, temps: np.ndarray, duration: int = 900) -> dict[str, np.ndarray]:
    return S.project(True, duration, w0, 3_500_000, temps, tgc, (1.0, 0.33), HEAD_FCR, 0.03, np.random.default_rng(0))


def test_head_engine_gives_the_applications_example():
    """aquamind-apps.md §4.3: 0.1 g, tgc 0.00245: capped 1 g on day 90, 10 g on 180, 100 g on 270,
    250 g on 360; no feed while Egg&Alevin (FCR 0); deaths rate/10,000 a day (~10 a day on 3.5 M)."""
    rows = _head(0.1, 0.00245, np.full(1200, 9.0))
    w = rows["average_weight"]
    assert [round(w[d - 1], 6) for d in (90, 180, 270, 360)] == [1.0, 10.0, 100.0, 250.0]
    assert (rows["daily_feed"][:90] == 0).all() and (rows["daily_feed"][90:] > 0).any()
    assert (rows["temperature"][:360] == 12.0).all() and (rows["temperature"][360:] == 9.0).all()
    assert 3_490_000 < rows["population"][-1] < 3_492_000
    assert np.allclose(rows["biomass"], np.round(w * rows["population"] / 1000, 2))
    assert np.allclose(rows["cumulative_feed"], np.round(np.cumsum(rows["daily_feed"]), 3))
    # 2.45 (>= 0.01, per 1,000 degree-days) is the same coefficient
    assert np.allclose(_head(0.1, 2.45, np.full(1200, 9.0))["average_weight"], w)


def test_head_closed_form_equals_the_day_loop():
    temps = np.random.default_rng(3).uniform(4, 15, 1200)
    rows = _head(0.2, 0.0031, temps, 1100)
    caps = [S.stage_cap_g(s.name) for s in D.STAGES]
    w, out = 0.2, []
    for k, t in zip(rows["stage"], rows["temperature"]):
        w = min((np.cbrt(w) + 0.0031 * t) ** 3, caps[k])
        out.append(w)
    assert np.allclose(rows["average_weight"], out, rtol=1e-9)


def test_plan_engine_picks_the_stage_by_weight():
    rows = S.project(
        False, 900, 0.2, 1_000_000, np.full(1200, 8.0), 0.0073, (1.0, 0.667), np.ones(6), 0.03, np.random.default_rng(1)
    )
    w, stage = rows["average_weight"], rows["stage"]
    assert (np.diff(w) > 0).all()
    lo = np.array([s.weight_min_g for s in D.STAGES])[stage]
    hi = np.array([s.weight_max_g for s in D.STAGES])[stage]
    assert (((w >= lo) & (w <= hi)) | ((stage == 0) & (w > D.STAGES[-1].weight_max_g))).all()


def test_master_models_per_geography(master_snapshot: Snapshot):
    n = len(D.GEOGRAPHIES)
    for table in ("scenario_temperatureprofile", "scenario_tgcmodel", "scenario_fcrmodel", "scenario_mortalitymodel"):
        assert master_snapshot.rows(table) == n, table
    readings = master_snapshot.read("scenario_temperaturereading")
    assert readings.height == n * S.PROFILE_DAYS
    first = readings.filter(pl.col("day_number") <= 90)["temperature"]
    assert first.min() >= 6.0 and first.max() <= 8.0  # the egg hall's set point
    sea = readings.filter(pl.col("day_number") > 450).group_by("profile_id").agg(pl.col("temperature").mean())
    assert sea["temperature"].is_between(7.0, 12.0).all()
    stages = master_snapshot.read("scenario_fcrmodelstage")
    assert stages.height == n * len(D.STAGES) and stages["fcr_value"].max() <= 3.0
    assert (master_snapshot.read("scenario_tgcmodel")["tgc_value"] <= 0.1).all()


def test_scenario_tables_are_keyed_by_their_own_id_columns():
    for profile in ("aquamind@8f2ab39", "aquamind@cb41030"):
        refs = id_references(profile)
        assert refs["scenario"]["scenario_id"] == "scenario" and refs["scenario"]["tgc_model_id"] == "scenario_tgcmodel"
        assert refs["scenario_temperaturereading"]["profile_id"] == "scenario_temperatureprofile"
    assert id_references("aquamind@8f2ab39")["scenario_historicaltgcmodel"]["model_id"] == "scenario_tgcmodel"
    assert id_references("aquamind@cb41030")["batch_batch"]["pinned_projection_run_id"] == "scenario_projection_run"
    assert schemas.table("scenario_historicaltgcmodel", "aquamind@8f2ab39").object_key == "model_id"


def test_a_baseline_scenario_per_batch(fleet: Snapshot):
    batches = fleet.read("batch_batch")
    scen = fleet.read("scenario")
    assert scen.height == batches.height and set(scen["batch_id"]) == set(batches["id"])
    assert (scen["duration_days"] >= S.MIN_DURATION_DAYS).all()
    joined = scen.join(batches, left_on="batch_id", right_on="id")
    assert (joined["start_date"] == joined["start_date_right"]).all()
    proj = fleet.read("scenario_scenarioprojection")
    assert proj.height == int(scen["duration_days"].sum())
    # the rows are what the engine computes from the scenario's own values
    one = scen.row(0, named=True)
    m = S.models(D.GEOGRAPHIES[one["tgc_model_id"] - 1].name, head=False)
    rows = S.project(
        False,
        one["duration_days"],
        one["initial_weight"],
        one["initial_count"],
        m.temps,
        m.tgc,
        m.exponents,
        m.fcr,
        m.rate,
        np.random.default_rng(0),
    )
    mine = proj.filter(pl.col("scenario_id") == one["scenario_id"]).sort("day_number")
    assert np.allclose(mine["average_weight"].to_numpy(), rows["average_weight"])
    # actual against projected, as the growth analysis shows them: every growth sample at sea against the
    # projection of its day; in freshwater the plan's engine,
    # which grows eggs too, runs ahead of the fish
    rings = fleet.read("batch_batchcontainerassignment").filter(pl.col("lifecycle_stage_id") == len(D.STAGES))
    samples = fleet.read("batch_growthsample").join(
        rings.select(assignment_id="id", batch_id="batch_id"), on="assignment_id"
    )
    both = (
        samples.join(scen.select("scenario_id", "batch_id", "start_date"), on="batch_id")
        .with_columns(day_number=((pl.col("sample_date") - pl.col("start_date")).dt.total_days() + 1).cast(pl.Int32))
        .join(proj.select("scenario_id", "day_number", "average_weight"), on=["scenario_id", "day_number"])
        .with_columns(ratio=pl.col("average_weight") / pl.col("avg_weight_g").cast(pl.Float64))
    )
    assert both.height > 100 and both["ratio"].is_between(0.5, 2.5).all(), both["ratio"].describe()
    assert 0.8 < both["ratio"].median() < 1.5  # the profile's season is a January batch's: ahead mid-sea
    late = both.filter(pl.col("day_number") > 780)["ratio"]  # near harvest the two meet
    assert late.len() and 0.85 < late.median() < 1.25


def _scenario_checks(conn, profile) -> dict[str, int]:
    """The scenario group's checks on the database, as ``validate.run`` counts them (the other groups' 300-odd
    checks, which these tests do not read, are not run)."""
    source = v.DatabaseSource(conn, None, profile.name)
    return {
        c.name: source.scalar(c.sql)
        for c in v.checks(profile, source.as_of, source.as_of_time)
        if c.group == "scenario"
    }


def test_scenario_checks_pass_in_the_database(lifecycle_db):
    dsn = lifecycle_db
    profile = get("aquamind@8f2ab39")
    with psycopg.connect(dsn) as conn:
        got = _scenario_checks(conn, profile)
        assert len(got) == len(S.CHECKS) + len(S.PLAN_CHECKS)
        bad = {c.name: got[c.name] for c in v.checks(profile) if c.group == "scenario" and got[c.name] != c.expected}
        assert not bad
        # the application's views: a batch's scenario and its projection rows by scenario
        assert (
            conn.execute(
                "SELECT count(*) FROM scenario s JOIN scenario_scenarioprojection p USING (scenario_id) "
                "JOIN batch_batch b ON b.id = s.batch_id"
            ).fetchone()[0]
            == conn.execute("SELECT sum(duration_days) FROM scenario").fetchone()[0]
        )


def test_checks_count_violations(pg_admin, lifecycle_db):
    """A projection day missing and a scenario started a day late are caught."""
    profile = get("aquamind@8f2ab39")
    with cloned(pg_admin, lifecycle_db) as dsn, psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM scenario_scenarioprojection WHERE day_number = 5")
        conn.execute("UPDATE scenario SET start_date = start_date + 1 WHERE scenario_id = 1")
        conn.commit()
        got = _scenario_checks(conn, profile)
        n = conn.execute("SELECT count(*) FROM scenario").fetchone()[0]
        days = conn.execute("SELECT duration_days FROM scenario WHERE scenario_id = 1").fetchone()[0]
    assert got["scenarios whose projection rows are not days 1..duration"] == n
    assert got["scenarios not started with their batch, under 900 days or without an initial weight"] == 1
    assert got["projection rows not dated start + day - 1"] == days - 1  # day 5 went
