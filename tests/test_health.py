"""Issue 14: health records, harvest, environment and scenarios of one completed batch."""

import datetime as dt

import polars as pl
import pytest

from aquagen.check import validate
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
    per_event = lots.group_by("event_id").agg(n=pl.col("unit_count").sum(), kg=pl.col("live_weight_kg").sum(),
                                              grades=pl.len())
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
    broken = _rewrite(snap, tmp_path, "harvest_harvestlot", lambda df: df.with_columns(
        unit_count=pl.when(pl.col("id") == 1).then(pl.col("unit_count") + 1).otherwise(pl.col("unit_count"))))
    assert failed(broken) == ["harvest events whose fish <> the population that left the ring"]
