"""Issue 14: health records, harvest, environment and scenarios of one completed batch."""

import datetime as dt

import polars as pl
import pytest

from aquagen.check import validate
from aquagen.model.sites import SITES
from aquagen.run.generate import add_batch

from .test_batch import _rewrite

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    """A completed Scottish batch (harvested in 2025) and a Faroe one still in freshwater."""
    out = tmp_path_factory.mktemp("h") / "snap"
    add_batch(out, start_date=dt.date(2023, 1, 10), eggs=3_200_000, geography="Scotland", as_of=AS_OF)
    s, _ = add_batch(out, start_date=dt.date(2025, 12, 1), eggs=2_500_000, geography="Faroe Islands")
    return s


def failed(s) -> list[str]:
    return [r.check.name for r in validate.run(validate.SnapshotSource(s)) if not r.ok]


def test_every_check_passes(snap):
    assert failed(snap) == []


def test_harvest_equals_the_fish_that_left_each_ring(snap):
    bca = snap.read("batch_batchcontainerassignment")
    ev = snap.read("harvest_harvestevent")
    lots = snap.read("harvest_harvestlot")
    assert ev.height == 20 and ev["batch_id"].unique().to_list() == [1]
    assert set(snap.read("harvest_productgrade")["code"]) == {"SUPERIOR", "GRADE_A", "GRADE_B", "GRADE_C", "REJECT"}
    per_event = lots.group_by("event_id").agg(
        n=pl.col("unit_count").sum(), kg=pl.col("live_weight_kg").sum(), grades=pl.len()
    )
    j = ev.join(per_event, left_on="id", right_on="event_id").join(bca, left_on="assignment_id", right_on="id")
    assert (j["n"] == j["population_count"]).all()
    assert ((j["kg"].cast(pl.Float64) - j["biomass_kg"].cast(pl.Float64)).abs() < 1).all()
    assert (j["grades"] >= 4).all()
    # grade A is the largest lot; gutted 82-88 % of live
    share = lots.with_columns(y=pl.col("gutted_weight_kg").cast(pl.Float64) / pl.col("live_weight_kg").cast(pl.Float64))
    assert share["y"].min() > 0.78 and share["y"].max() < 0.9
    b = snap.read("batch_batch").filter(pl.col("id") == 1)
    assert b["status"].item() == "COMPLETED"
    assert b["actual_end_date"].item() == ev["event_date"].dt.date().max()
    assert snap.read("harvest_harvestwaste").group_by("event_id").len()["len"].to_list() == [3] * 20
    assert snap.rows("harvest_historicalharvestlot") == lots.height


def test_mortality_records_sum_to_the_batch_mortality(snap):
    rec = snap.read("health_mortalityrecord")
    ev = snap.read("batch_mortalityevent")
    assert rec["count"].sum() == ev["count"].sum() > 0
    assert rec["container_id"].null_count() == 0 and rec["reason_id"].n_unique() >= 3
    assert snap.rows("health_historicalmortalityrecord") == rec.height


def test_broken_harvest_fails_its_check(snap, tmp_path):
    broken = _rewrite(
        snap,
        tmp_path,
        "harvest_harvestlot",
        lambda df: df.with_columns(
            unit_count=pl.when(pl.col("id") == 1).then(pl.col("unit_count") + 1).otherwise(pl.col("unit_count"))
        ),
    )
    assert failed(broken) == ["harvest events whose fish <> the population that left the ring"]


def test_weather_and_daylight_cover_every_day_of_every_sea_area(snap):
    areas = snap.read("infrastructure_area")
    photo = snap.read("environmental_photoperioddata")
    setup = areas["created_at"].dt.date().min()
    days = (AS_OF - setup).days + 1
    assert photo.height == areas.height * days
    w = snap.read("environmental_weatherdata")
    assert w.height == 8 * areas.height * days
    # the air follows the sea: monthly mean air temperature correlates with the sea readings
    sea = (
        snap.read("environmental_environmentalreading")
        .join(
            snap.read("environmental_environmentalparameter").select(parameter_id="id", name="name"), on="parameter_id"
        )
        .filter((pl.col("name") == "Temperature") & (pl.col("container_id") > SITES.n_hall_containers))
        .group_by(m=pl.col("reading_time").dt.truncate("1mo"))
        .agg(sea=pl.col("value").cast(pl.Float64).mean())
    )
    air = (
        w.filter(pl.col("area_id") == 1)
        .group_by(m=pl.col("timestamp").dt.truncate("1mo"))
        .agg(air=pl.col("temperature").cast(pl.Float64).mean())
    )
    j = sea.join(air, on="m")
    assert j.height >= 12 and j.select(pl.corr("sea", "air")).item() > 0.7


def test_day_length_formula():
    import numpy as np

    from aquagen.model.weather import day_length_hours

    days = np.array([np.datetime64("2025-06-21"), np.datetime64("2025-12-21"), np.datetime64("2025-03-20")]).astype(int)
    torshavn, equator = day_length_hours(np.array([62.0, 0.0]), days).T
    assert abs(torshavn[0] - 19.9) < 0.3 and abs(torshavn[1] - 5.3) < 0.3 and abs(torshavn[2] - 12.2) < 0.3
    assert (abs(equator - 12.1) < 0.1).all()


def test_lice_treatments_and_vaccination(snap):
    lice = snap.read("health_licecount")
    assert lice.height > 500 and lice["fish_sampled"].is_between(10, 20).all()
    tr = snap.read("health_treatment")
    delousing = tr.filter(pl.col("treatment_type") != "vaccination")
    assert 20 <= delousing.height <= 200
    assert {"physical", "medication"} == set(delousing["treatment_type"])
    vac = tr.filter(pl.col("treatment_type") == "vaccination")
    assert vac.height == 1 and vac["vaccination_type_id"].item() in (1, 2, 3)
    sea = snap.read("batch_batchtransfer").filter(pl.col("destination_lifecycle_stage_id") == 6)
    weeks = (sea["transfer_date"].min() - vac["treatment_date"].dt.date().item()).days / 7
    assert 6 <= weeks <= 8
    # every delousing: an issue, a diagnosis and a treatment in the journal, by more than one author
    j = snap.read("health_journalentry")
    assert j.filter(pl.col("category") == "diagnosis").height >= delousing.height
    assert j["user_id"].n_unique() >= 3
    # the ring's deaths on a physical delousing day are handling losses
    assert snap.read("health_mortalityrecord").filter(pl.col("reason_id") == 4).height > 0


def test_health_sampling_aggregates_and_lab_samples(snap):
    ev = snap.read("health_healthsamplingevent")
    fish = snap.read("health_individualfishobservation")
    assert ev.height >= 20 and ev["number_of_fish_sampled"].is_between(20, 75).all()
    agg = fish.group_by("sampling_event_id").agg(n=pl.len(), w=pl.col("weight_g").cast(pl.Float64).mean())
    j = ev.join(agg, left_on="id", right_on="sampling_event_id")
    assert j.height == ev.height and (j["n"] == j["number_of_fish_sampled"]).all()
    assert ((j["w"] - j["avg_weight_g"].cast(pl.Float64)).abs() < 0.006).all()
    scores = snap.read("health_fishparameterscore")
    assert scores.height == 9 * fish.height and scores["score"].is_between(1, 5).all()
    assert snap.rows("health_healthlabsample") > 0
