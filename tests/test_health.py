"""Issue 14: health records, harvest, environment and scenarios of one completed batch."""

import datetime as dt
import json
import re

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
    add_batch(
        out,
        start_date=dt.date(2023, 1, 10),
        eggs=3_200_000,
        geography="Scotland",
        as_of=AS_OF,
        profile="aquamind@8f2ab39",
    )  # the plan profile's record forms (cb41030's: tests/test_profiles.py)
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
    assert j.height >= 11 and j.select(pl.corr("sea", "air")).item() > 0.7  # the batch's 11 months at sea


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


def test_delousing_kills_and_fasts_the_ring_it_treats():
    """A handled delousing (physical or bath) adds its handling loss to the ring's deaths that day, the
    population still adds up day to day, and the ring is not fed on the day and the day after."""
    from aquagen.model.simulate import BatchSpec, simulate_batch

    sim = simulate_batch(BatchSpec(dt.date(2023, 1, 10), 3_200_000, "Scotland", 42, 3, dt.date(2027, 1, 1)))
    handled = sim.treatments.filter(pl.col("handling_loss") > 0)
    assert handled.height >= 20 and sim.episodes.filter(pl.col("kind") == "delousing handling").height == handled.height
    rings = sim.daily.filter(pl.col("assignment_no") >= 50).sort("assignment_no", "date")
    d = rings.with_columns(before=pl.col("population").shift(1).over("assignment_no")).join(
        handled.select("assignment_no", "date", "handling_loss"), on=["assignment_no", "date"]
    )
    assert d.height == handled.height and (d["before"] - d["deaths"] == d["population"]).all()
    share = d["deaths"] / d["before"]
    assert (share > 0.5 * d["handling_loss"]).all() and d["deaths"].mean() > 5 * rings["deaths"].median()
    fed = sim.feedings.select("assignment_no", date="feeding_date").unique()
    fasting = pl.concat(
        [
            handled.select("assignment_no", "date"),
            handled.select("assignment_no", date=pl.col("date") + pl.duration(days=1)),
        ]
    )
    assert fasting.join(fed, on=["assignment_no", "date"]).height == 0


def test_derived_frames_are_made_once_per_simulated_batch():
    """``health.derived``: a second call returns the frame made by the first (equal to making it anew);
    a sim replaced with other frames makes its own."""
    from dataclasses import replace

    from aquagen.model import health
    from aquagen.model.simulate import BatchSpec, simulate_batch

    sim = simulate_batch(BatchSpec(dt.date(2023, 1, 10), 3_200_000, "Scotland", 42, 3, dt.date(2025, 1, 1)))
    first = health.mortality_by_container(sim)
    assert health.mortality_by_container(sim) is first and first.equals(health._mortality_by_container(sim))
    assert health._episodes(sim) is health._episodes(sim)
    fewer = replace(sim, daily=sim.daily.filter(pl.col("date") < dt.date(2024, 1, 1)))
    assert health.mortality_by_container(fewer).height < first.height


def test_health_draws_follow_the_shard_not_the_batch_start():
    """Health records come from the shard's stream: two batches alike but for their shard differ, and
    the same shard gives the same records."""
    from aquagen.model import health
    from aquagen.model.simulate import BatchSpec, simulate_batch

    def sim(shard: int):
        return simulate_batch(BatchSpec(dt.date(2023, 1, 10), 3_200_000, "Scotland", 42, shard, dt.date(2027, 1, 1)))

    a, b, a2 = sim(1), sim(2), sim(1)
    assert health.sampling(a)[1].equals(health.sampling(a2)[1]) and a.lice.equals(a2.lice)
    assert not health.sampling(a)[1].equals(health.sampling(b)[1]) and not a.lice.equals(b.lice)


def test_disease_episodes_are_treated_with_their_journal(snap):
    tr = snap.read("health_treatment")
    disease = tr.filter(~pl.col("description").str.contains("sea lice") & pl.col("container_id").is_not_null())
    from aquagen.model.domain import OPERATOR_ID, VET_ID

    assert disease.height > 0 and disease["user_id"].unique().to_list() == [VET_ID]
    # per ring treated: the operator's issue, the vet's diagnosis and treatment entries
    j = snap.read("health_journalentry").join(disease.select("container_id").unique(), on="container_id")
    issues = j.filter(pl.col("description").str.contains("Raised mortality"))
    assert issues.height == disease.height and issues["user_id"].unique().to_list() == [OPERATOR_ID]
    assert j.filter(pl.col("category") == "diagnosis")["user_id"].unique().to_list() == [VET_ID]
    lab = snap.read("health_healthlabsample")
    assert lab["quantitative_results"].null_count() == 0 and lab["quantitative_results"].str.contains('"unit"').all()
    assert snap.read("environmental_stagetransitionenvironmental")["additional_parameters"].null_count() == 0


def failed_with(snap, table: str, change) -> list[str]:
    """The profile's invariants failing when ``table`` is replaced by ``change(table)`` (in memory: the
    Parquet stays; the per-table history and choice checks, which no value tampered here touches, are left out).
    A check whose SQL does not name ``table`` reads the same rows as on the snapshot itself: its value is
    the snapshot's, computed once per snapshot (``_untampered``), not once per case."""
    from aquagen.profiles import get

    source = validate.SnapshotSource(snap)
    df = snap.read(table)
    source.ctx.register(table, change(df).cast(dict(df.schema)).lazy())
    own = [c for c in validate.checks(get(snap.profile), source.as_of) if c.group not in ("history", "schema")]
    reads = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(table)}(?![A-Za-z0-9_])")
    before = _untampered(snap)
    return [c.name for c in own if (source.scalar(c.sql) if reads.search(c.sql) else before[c.sql]) != c.expected]


_UNTAMPERED: dict[tuple[str, str], dict[str, int]] = {}


def _untampered(snap) -> dict[str, int]:
    """Every check's value on the snapshot as it is (by its SQL), once per snapshot (its folder and its
    files' digests) and process."""
    from aquagen.profiles import get

    key = (str(snap.path), json.dumps(snap.manifest["tables"], sort_keys=True))
    if key not in _UNTAMPERED:
        source = validate.SnapshotSource(snap)
        checks = validate.checks(get(snap.profile), source.as_of)
        _UNTAMPERED[key] = {c.sql: source.scalar(c.sql) for c in checks if c.group not in ("history", "schema")}
    return _UNTAMPERED[key]


def _set(where: pl.Expr, **values):
    return lambda df: df.with_columns(**{k: pl.when(where).then(v).otherwise(pl.col(k)) for k, v in values.items()})


def _drop(where: pl.Expr):
    return lambda df: df.filter(~where)


def _first(snap, table: str, where: pl.Expr | None = None) -> dict:
    df = snap.read(table).sort("id")
    return (df.filter(where) if where is not None else df).row(0, named=True)


TAMPERED = {  # case: (table, change(snap), the checks that must fail and no other)
    "handled delousing without its handling deaths": (
        "health_mortalityrecord",
        lambda s, t: _set(
            (pl.col("container_id") == t["container_id"])
            & (pl.col("event_date").dt.date() == t["treatment_date"].date()),
            reason_id=pl.lit(7),
        ),
        ["handled delousings whose ring's deaths that day are not recorded as Handling"],
    ),
    "fed on the delousing day": (
        "inventory_feedingevent",
        lambda s, t: _set(
            pl.col("id")
            == _first(
                s,
                "inventory_feedingevent",
                (pl.col("container_id") == t["container_id"])
                & (pl.col("feeding_date") == t["treatment_date"].date() - dt.timedelta(days=1)),
            )["id"],
            feeding_date=pl.lit(t["treatment_date"].date()),
        ),
        ["feedings of a ring on the day of its handled delousing or the day after"],
    ),
    "fed the day before a freshwater bath": (
        "inventory_feedingevent",
        lambda s, t: (
            lambda bath: _set(
                pl.col("id")
                == _first(
                    s,
                    "inventory_feedingevent",
                    (pl.col("container_id") == bath["container_id"])
                    & (pl.col("feeding_date") == bath["treatment_date"].date() - dt.timedelta(days=2)),
                )["id"],
                feeding_date=pl.lit(bath["treatment_date"].date() - dt.timedelta(days=1)),
            )
        )(_first(s, "health_treatment", pl.col("description").str.starts_with("Freshwater bath against amoebic"))),
        ["feedings of a ring the day before its freshwater bath or while a jellyfish bloom is treated"],
    ),
    "no diagnosis in the journal": (
        "health_journalentry",
        lambda s, t: _set(
            (pl.col("container_id") == t["container_id"]) & (pl.col("category") == "diagnosis"),
            category=pl.lit("observation"),
        ),
        ["container treatments without an issue, a diagnosis and a treatment entry in their container's journal"],
    ),
    "vaccination too close to sea transfer": (
        "health_treatment",
        lambda s, t: _set(
            pl.col("treatment_type") == "vaccination", treatment_date=pl.col("treatment_date") + pl.duration(days=20)
        ),
        ["vaccinations not 6-8 weeks before the batch's first sea transfer"],
    ),
    "no vaccination": (
        "health_treatment",
        lambda s, t: _drop(pl.col("treatment_type") == "vaccination"),
        ["batches at sea without exactly one vaccination"],
    ),
    "treatment before the batch": (
        "health_treatment",
        lambda s, t: _set(
            pl.col("treatment_type") == "vaccination", treatment_date=pl.col("treatment_date") - pl.duration(days=800)
        ),
        ["treatments outside their batch's life", "vaccinations not 6-8 weeks before the batch's first sea transfer"],
    ),
    "treatment before its ring was stocked": (
        "health_treatment",
        lambda s, t: _set(
            pl.col("id") == _first(s, "health_treatment", pl.col("description").str.contains("gill disease"))["id"],
            treatment_date=pl.col("treatment_date") - pl.duration(days=200),
        ),
        [
            "treatments on a container outside a live assignment of their batch there",
            "container treatments without an issue, a diagnosis and a treatment entry in their container's journal",
        ],
    ),
    "delousing without its count": (
        "health_licecount",
        lambda s, t: _set(
            (pl.col("container_id") == t["container_id"])
            & (pl.col("count_date").dt.date() == t["treatment_date"].date() - dt.timedelta(days=1)),
            adult_female_count=pl.lit(0),
        ),
        ["delousings without a count above 0.5 adult females per fish the day before"],
    ),
    "lice count in an empty ring": (
        "health_licecount",
        lambda s, t: _set(pl.col("id") == 1, container_id=pl.lit(1)),
        ["lice counts outside a live assignment of their batch and container"],
    ),
    "mortality record in an empty container": (
        "health_mortalityrecord",
        lambda s, t: _set(
            # a record in a sea ring (rings are numbered after the halls' tanks) moved to a hatchery tray
            pl.col("id")
            == _first(s, "health_mortalityrecord", pl.col("container_id") == pl.col("container_id").max())["id"],
            container_id=pl.lit(1),
        ),
        ["mortality records outside a live assignment of their batch and container"],
    ),
    "mortality records off the events": (
        "health_mortalityrecord",
        lambda s, t: _set(pl.col("id") == 1, count=pl.col("count") + 1),
        ["(batch, day) where mortality records <> mortality events"],
    ),
    "sampling before its assignment": (
        "health_healthsamplingevent",
        lambda s, t: _set(pl.col("id") == 1, sampling_date=pl.col("sampling_date") - pl.duration(days=400)),
        ["health sampling events outside their assignment"],
    ),
    "sampling aggregate off its fish": (
        "health_healthsamplingevent",
        lambda s, t: _set(pl.col("id") == 1, avg_weight_g=pl.col("avg_weight_g") + 1),
        ["health sampling events whose aggregates differ from their fish"],
    ),
    "fish without a score": (
        "health_fishparameterscore",
        lambda s, t: _drop(pl.col("id") == 1),
        ["sampled fish without a score on every health parameter"],
    ),
    "lab results before sending": (
        "health_healthlabsample",
        lambda s, t: _set(pl.col("id") == 1, date_results_received=pl.col("date_sent_to_lab") - pl.duration(days=1)),
        ["lab samples outside their assignment or with results before sending"],
    ),
    "harvested ring without its event": (
        "harvest_harvestevent",
        lambda s, t: _drop(pl.col("id") == 1),
        ["harvested rings without a harvest event"],
    ),
    "harvest weight off the ring's biomass": (
        "harvest_harvestlot",
        lambda s, t: _set(pl.col("id") == 1, live_weight_kg=pl.col("live_weight_kg") + 5),
        ["harvest events whose live weight differs from the ring's biomass by more than 1 kg"],
    ),
    "gutted heavier than live": (
        "harvest_harvestlot",
        lambda s, t: _set(pl.col("id") == 1, gutted_weight_kg=pl.col("live_weight_kg") + 1),
        ["lots with gutted > live or fillet > gutted weight"],
    ),
    "harvest without waste": (
        "harvest_harvestwaste",
        lambda s, t: _drop(pl.col("event_id") == 1),
        ["harvest events without waste"],
    ),
    "end date not the last harvest": (
        "batch_batch",
        lambda s, t: _set(pl.col("id") == 1, actual_end_date=pl.col("actual_end_date") - pl.duration(days=1)),
        ["COMPLETED batches whose end date is not their last harvest"],
    ),
    "daylight starting late": (
        "environmental_photoperioddata",
        lambda s, t: _drop((pl.col("area_id") == 1) & (pl.col("date") == pl.col("date").min())),
        ["sea areas whose daylight does not run from the setup day to the last simulated day"],
    ),
    "a day without daylight": (
        "environmental_photoperioddata",
        lambda s, t: _drop((pl.col("area_id") == 1) & (pl.col("date") == dt.date(2025, 3, 1))),
        ["gaps in a sea area's daylight days"],
    ),
    "an hour of weather missing": (
        "environmental_weatherdata",
        lambda s, t: _drop(pl.col("id") == 1),
        ["sea-area days with fewer than 8 weather observations"],
    ),
    "a day 25 hours long": (
        "environmental_photoperioddata",
        lambda s, t: _set(pl.col("id") == 1, day_length_hours=pl.lit(25.0)),
        ["day lengths outside 0-24 h or light without daylight"],
    ),
    "a transfer without its conditions": (
        "environmental_stagetransitionenvironmental",
        lambda s, t: _drop(pl.col("id") == 1),
        ["transfers without their stage-transition conditions"],
    ),
    "transfer temperature off the readings": (
        "environmental_stagetransitionenvironmental",
        lambda s, t: _set(pl.col("id") == 1, temperature=pl.col("temperature") + 5),
        ["stage-transition temperatures off the destination's readings that day by > 1 °C"],
    ),
    "weather after the as-of date": (
        "environmental_weatherdata",
        lambda s, t: _set(pl.col("id") == pl.col("id").max(), timestamp=pl.col("timestamp") + pl.duration(days=3)),
        ["weather and daylight dated after the as-of date", "sea-area days with fewer than 8 weather observations"],
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_health_rows_fail_their_check(snap, case):
    table, change, expected = TAMPERED[case]
    handled = _first(snap, "health_treatment", pl.col("description").str.contains("starved"))
    assert sorted(failed_with(snap, table, change(snap, handled))) == sorted(expected)


SENSORS_TAMPERED = {  # case: (table, change, the checks that must fail and no other)
    "a sensor calibrated before its installation": (
        "infrastructure_sensor",
        _set(pl.col("id") == 1, last_calibration_date=pl.col("installation_date") - pl.duration(days=1)),
        [  # and so not since (installed years ago)
            "sensors calibrated before their installation or after the as-of date",
            "sensors installed over a year ago not calibrated in the last 366 days",
        ],
    ),
    "a calibration after the as-of date": (
        "infrastructure_sensor",
        _set(pl.col("id") == 2, last_calibration_date=pl.lit(AS_OF + dt.timedelta(days=1))),
        ["sensors calibrated before their installation or after the as-of date"],
    ),
    "a calibration recorded before it was done": (
        "infrastructure_historicalsensor",
        _set(
            pl.col("history_id") == pl.col("history_id").max(),
            last_calibration_date=pl.col("history_date").dt.date() + pl.duration(days=2),
        ),
        ["sensors calibrated before their installation or after the as-of date"],
    ),
    "a sensor not calibrated for over a year": (
        "infrastructure_sensor",
        _set(pl.col("id") == 3, last_calibration_date=pl.lit(AS_OF - dt.timedelta(days=400))),
        ["sensors installed over a year ago not calibrated in the last 366 days"],
    ),
    "a sensor never calibrated": (
        "infrastructure_sensor",
        _set(pl.col("id") == 4, last_calibration_date=pl.lit(None, dtype=pl.Date)),
        ["sensors installed over a year ago not calibrated in the last 366 days"],
    ),
}


def test_sensors_are_calibrated_yearly(snap):
    """Installed at the setup (2022-12-11), commissioned within weeks, then yearly: on the as-of date every
    sensor's last calibration is within the year, recorded by a '~' history row each."""
    s, h = snap.read("infrastructure_sensor"), snap.read("infrastructure_historicalsensor")
    assert s["installation_date"].max() < AS_OF - dt.timedelta(days=365)
    age = (pl.lit(AS_OF) - s["last_calibration_date"]).dt.total_days()
    assert s.select(age.min()).item() >= 0 and s.select(age.max()).item() <= 365
    per_sensor = h.filter(pl.col("history_type") == "~").group_by("id").len()["len"]
    assert per_sensor.len() == s.height and per_sensor.min() >= 3  # commissioning and two yearly visits


@pytest.mark.parametrize("case", list(SENSORS_TAMPERED))
def test_tampered_sensor_calibration_fails_its_check(snap, case):
    table, change, expected = SENSORS_TAMPERED[case]
    assert sorted(failed_with(snap, table, change)) == sorted(expected)
