"""The two profiles: ``aquamind@cb41030`` against its reference schema, deterministic, the same
simulation as ``aquamind@8f2ab39`` (same fish, weights, samples, feedings), its workflows, and
loads into an empty database and into one holding the rows the application's migrations seed."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

import schemas
from aquagen.check import validate as v
from aquagen.errors import AquagenError
from aquagen.profiles import get, names
from aquagen.profiles.aquamind_cb41030 import derive_schema
from aquagen.snapshot import Snapshot
from aquagen.tables import ids
from loaders import postgres
from loaders.purge import purge

from .conftest import run_cli, shared_snapshot

CB, PLAN = "aquamind@cb41030", "aquamind@8f2ab39"
AS_OF = dt.date(2026, 6, 30)
# four batches 320 days apart: harvested, at sea, in freshwater, and one starting 10 days after the as-of date
FLEET = dict(seed=5, batches=4, as_of=AS_OF, first_start=AS_OF - dt.timedelta(days=950), stagger_days=320)
# tables the plan's profile fills too (health, harvest, environment), and those only this profile has
CB_RECORDS = (
    "environmental_photoperioddata",
    "environmental_weatherdata",
    "health_healthsamplingevent",
    "health_individualfishobservation",
    "health_fishparameterscore",
    "health_historicalfishparameterscore",
    "health_healthlabsample",
    "health_licecount",
    "health_mortalityrecord",
    "health_treatment",
    "harvest_harvestevent",
    "harvest_harvestlot",
    "harvest_harvestwaste",
    "harvest_productgrade",
    "infrastructure_areagroup",
    "infrastructure_transportcarrier",
    "users_userprofile_allowed_areas",
    "users_userprofile_allowed_containers",
    "users_userprofile_allowed_stations",
    "batch_individualgrowthobservation",
)
REFERENCE = Path(os.environ.get("AQUAGEN_REFERENCE", Path(__file__).resolve().parents[2] / "shared" / "reference"))


@pytest.fixture(scope="module")
def snaps(tmp_path_factory) -> dict[str, Snapshot]:
    # the plan's profile has no planned state: a batch that has not started is not in it (--batches 3)
    return {
        p: shared_snapshot(
            tmp_path_factory, f"profiles-{p}", profile=p, workers=1, **{**FLEET, "batches": 3 if p == PLAN else 4}
        )
        for p in (PLAN, CB)
    }


def test_both_profiles_are_registered():
    assert {PLAN, CB} <= set(names())
    # the default: what AquaMind's users run today (this suite names another in $AQUAGEN_PROFILE)
    env = {k: v for k, v in os.environ.items() if k != "AQUAGEN_PROFILE"}
    run = subprocess.run(
        [sys.executable, "-c", "from aquagen.profiles import get; print(get().name)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == CB


def test_a_profile_is_named_as_a_user_types_it(monkeypatch):
    """--profile in any case, or the commit alone; $AQUAGEN_PROFILE the same ways (the short form was refused),
    and a wrong one is named with where it came from (it read "unknown profile None")."""
    assert get("AquaMind@CB41030").name == get("cb41030").name == CB
    assert get(" 8F2AB39 ").name == PLAN
    with pytest.raises(AquagenError, match=r"unknown profile 'aquamind'; known: aquamind@8f2ab39, aquamind@cb41030"):
        get("aquamind")
    code = "import schemas; from aquagen.profiles import get; print(schemas.PROFILE, get().name)"
    for typed in ("8f2ab39", " AquaMind@8F2AB39"):
        env = {**os.environ, "AQUAGEN_PROFILE": typed}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert run.stdout.split() == [PLAN, PLAN], typed
    import aquagen.profiles as profiles

    monkeypatch.setattr(profiles, "DEFAULT", "cb41030")  # as a plug-in's short name would come
    assert get().name == CB
    monkeypatch.setattr(profiles, "DEFAULT", "cb4103")  # as $AQUAGEN_PROFILE gave it
    with pytest.raises(AquagenError, match=r"unknown profile 'cb4103' \(\$AQUAGEN_PROFILE\); known: "):
        get()


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="the reference extracts are not on this machine")
def test_schema_files_are_the_reference_head():
    schema, choices = derive_schema.derive(REFERENCE)
    assert json.loads(Path(schemas.find(CB)).read_text()) == schema
    assert schemas.choices(CB) == {
        (t, c): tuple(x for x, _ in vs) for t, cols in choices.items() for c, vs in cols.items()
    }
    head = json.loads((REFERENCE / "aquamind-schema-head.json").read_text())
    for name, t in head.items():  # every table, column and type of the application at cb41030
        mine = schemas.table(name, CB)
        assert [(c["name"], c["type"], c["nullable"]) for c in t["columns"]] == [
            (c.name, c.sql_type, c.nullable) for c in mine.columns
        ], name


def test_schema_shape():
    ts = schemas.tables(CB)
    assert len(ts) == 105 + 8 + 13 + 3 and "batch_batchtransfer" not in ts and "broodstock_eggsupplier" in ts
    assert {n for n in ts if n.startswith("harvest_")} == set(schemas.tables(PLAN)) & {
        n for n in ts if n.startswith("harvest_")
    }
    for name in ("harvest_harvestevent", "harvest_harvestlot", "harvest_harvestwaste", "harvest_productgrade"):
        assert schemas.table(name, CB) == schemas.table(name, PLAN)  # the same table at both commits
    assert all(fk.ref_table in ts for t in ts.values() for fk in t.foreign_keys)
    assert schemas.table("auth_historicaluser", CB).column("id").sql_type == "integer"
    assert schemas.table("users_userprofile", CB).column("role").sql_type == "character varying(20)"
    assert schemas.table("batch_creationworkflow", CB).history_table == "batch_historicalbatchcreationworkflow"


def test_snapshot_conforms_and_validates(snaps):
    cb = snaps[CB]
    assert cb.profile == CB and set(cb.manifest["tables"]) == set(schemas.tables(CB))
    for name in (
        "batch_batchtransferworkflow",
        "batch_transferaction",
        "batch_creationworkflow",
        "batch_creationaction",
        "batch_actualdailyassignmentstate",
        "health_licetype",
        "health_parameterscoredefinition",
        "environmental_stagetransitionenvironmental",
        *CB_RECORDS,
        "scenario",
        "scenario_projection_run",
        "scenario_scenarioprojection",
        "planning_activitytemplate",
        "planning_plannedactivity",
    ):
        assert cb.rows(name) > 0, name
    for snap in snaps.values():
        failed = [(r.check.name, r.actual) for r in v.run(v.SnapshotSource(snap)) if not r.ok]
        assert not failed, failed


def test_deterministic(snaps, tmp_path):
    from aquagen.run.generate import generate

    again = generate(tmp_path / "again", profile=CB, workers=2, **FLEET)  # the shared one: workers=1
    files = lambda s: {n: [f["sha256"] for f in e["files"]] for n, e in s.manifest["tables"].items()}
    assert files(again) == files(snaps[CB])


@pytest.mark.parametrize(
    "profile, own",
    [
        (PLAN, {"batch_batchtransfer"}),
        (
            CB,
            {
                "batch_batchtransferworkflow",
                "batch_creationaction",
                "batch_actualdailyassignmentstate",
                "planning_plannedactivity",
            },
        ),
    ],
)
def test_timing_hooks_name_each_section_of_a_batch(tmp_path, profile, own):
    """The generator's timing hooks (what ``benchmarks/bench_fleet.py`` reports per kind of work) time each
    section of a batch's build, the profile's own sections included, each step named by a table of the
    profile."""
    from aquagen.run.generate import generate
    from aquagen.timing import BUILD, Collector

    with Collector() as hooks:
        generate(tmp_path / "s", profile=profile, workers=1, **{**FLEET, "batches": 1, "as_of": FLEET["first_start"]})
    built = {r.table for r in hooks.records if r.phase == BUILD}
    assert own | {"health_mortalityrecord", "health_journalentry", "scenario_scenarioprojection"} <= built
    assert built <= set(schemas.tables(profile))


def _fish(snap: Snapshot) -> pl.DataFrame:
    started = snap.read("batch_batch").filter(pl.col("status") != "PLANNED")["id"]
    return (
        snap.read("batch_batchcontainerassignment")
        .filter(pl.col("batch_id").is_in(started.implode()))
        .select(
            "batch_id",
            "container_id",
            "assignment_date",
            "departure_date",
            "population_count",
            "avg_weight_g",
            "biomass_kg",
            "is_active",
            "last_weighing_date",
        )
        .sort("container_id", "assignment_date")
    )


def test_readings_reference_their_assignment(snaps):
    # cb41030's schema has no foreign key from a reading to its assignment: its ids are still the
    # snapshot's (a local id left there pointed at no assignment: every reading of the issue-13 audit)
    assert ids.id_references(CB)["environmental_environmentalreading"]["batch_container_assignment_id"] == (
        "batch_batchcontainerassignment"
    )
    for snap in snaps.values():
        readings = snap.read("environmental_environmentalreading").select(
            id="batch_container_assignment_id", batch="batch_id", container="container_id"
        )
        bca = snap.read("batch_batchcontainerassignment").select("id", "batch_id", "container_id")
        linked = readings.join(bca, on="id", how="left")
        assert readings.height > 0 and linked["batch_id"].null_count() == 0
        assert (linked["batch"] == linked["batch_id"]).all() and (linked["container"] == linked["container_id"]).all()


def test_same_simulation_in_both_profiles(snaps):
    plan, cb = snaps[PLAN], snaps[CB]
    assert _fish(plan).equals(_fish(cb))
    assert _fish(cb).height > 100
    on = lambda s, t, cols: s.read(t).select(cols).sort(cols)
    assert on(plan, "batch_growthsample", ["sample_date", "avg_weight_g", "sample_size"]).equals(
        on(cb, "batch_growthsample", ["sample_date", "avg_weight_g", "sample_size"])
    )
    feed = ["feeding_date", "feeding_time", "container_id", "amount_kg", "feed_cost"]
    assert on(plan, "inventory_feedingevent", feed).equals(on(cb, "inventory_feedingevent", feed))
    assert plan.rows("environmental_environmentalreading") == cb.rows("environmental_environmentalreading")
    # deaths: per batch and day plus transfer losses there, per assignment and day (handling included) here
    plan_deaths = (
        plan.read("batch_mortalityevent")["count"].sum() + plan.read("batch_batchtransfer")["mortality_count"].sum()
    )
    assert cb.read("batch_mortalityevent")["count"].sum() == plan_deaths
    moved = plan.read("batch_batchtransfer").select("transfer_date", "transferred_count").sort(pl.all())
    acts = (
        cb.read("batch_transferaction")
        .filter(pl.col("status") == "COMPLETED")
        .select(transfer_date="actual_execution_date", transferred_count="transferred_count")
        .sort(pl.all())
    )
    assert moved.equals(acts)


def test_same_health_and_harvest_in_both_profiles(snaps):
    """The plan profile's health, harvest and environment records, in this schema's form: the same
    deaths per container and day, counts, treatments, sampled fish, harvest lots and weather."""
    plan, cb = snaps[PLAN], snaps[CB]
    on = lambda s, t, cols: s.read(t).select(cols).sort(cols)
    for table, cols in (
        ("health_mortalityrecord", ["event_date", "container_id", "count", "reason_id"]),
        ("health_treatment", ["treatment_date", "container_id", "treatment_type", "dosage", "vaccination_type_id"]),
        ("health_individualfishobservation", ["fish_identifier", "weight_g", "length_cm"]),
        ("health_healthlabsample", ["sample_date", "sample_type_id", "findings_summary"]),
        ("harvest_harvestevent", ["event_date", "document_ref"]),
        ("harvest_harvestlot", ["product_grade_id", "live_weight_kg", "unit_count"]),
        ("harvest_harvestwaste", ["category", "weight_kg"]),
        ("environmental_weatherdata", ["timestamp", "area_id", "temperature", "wind_speed"]),
        ("environmental_photoperioddata", ["date", "area_id", "day_length_hours"]),
    ):
        assert on(plan, table, cols).equals(on(cb, table, cols)), table
        assert cb.rows(table) > 0, table
    assert cb.read("health_mortalityrecord")["assignment_id"].null_count() == 0
    assert not cb.read("health_treatment")["includes_weighing"].any()
    # lice: one row per type and count; the adult females are the plan's count of them
    counts = plan.read("health_licecount")
    by_type = cb.read("health_licecount").join(
        cb.read("health_licetype").select(lice_type_id="id", stage="development_stage", gender="gender"),
        on="lice_type_id",
    )
    assert by_type.height == 3 * counts.height
    assert (by_type.select("adult_female_count", "adult_male_count", "juvenile_count").sum_horizontal() == 0).all()
    females = by_type.filter((pl.col("stage") == "adult") & (pl.col("gender") == "female"))
    assert (
        counts.select("count_date", "container_id", n="adult_female_count")
        .sort(pl.all())
        .equals(females.select("count_date", "container_id", n="count_value").sort(pl.all()))
    )
    assert (
        by_type["count_value"].sum()
        == counts.select(pl.sum_horizontal("adult_female_count", "adult_male_count", "juvenile_count")).sum().item()
    )
    # scores: the simulation's 1-5 on the seeded parameters' 0-3
    plan_scores = plan.read("health_fishparameterscore")["score"].sort()
    cb_scores = cb.read("health_fishparameterscore")["score"].sort()
    assert (cb_scores.cast(pl.Int32) == (plan_scores.cast(pl.Int32) - 1).clip(0, 3)).all()
    # growth samples' fish: their count, mean, min and max are the sample's
    fish = (
        cb.read("batch_individualgrowthobservation")
        .group_by("growth_sample_id")
        .agg(n=pl.len(), w=pl.col("weight_g").cast(pl.Float64).mean(), lo=pl.col("weight_g").min())
    )
    samples = cb.read("batch_growthsample").join(fish, left_on="id", right_on="growth_sample_id")
    assert samples.height == cb.rows("batch_growthsample")
    assert (samples["n"] == samples["sample_size"]).all() and (samples["lo"] == samples["min_weight_g"]).all()
    assert ((samples["w"] - samples["avg_weight_g"].cast(pl.Float64)).abs() <= 0.0101).all()


def test_workflows(snaps):
    cb = snaps[CB]
    batches = cb.read("batch_batch").sort("id")
    assert batches["status"].to_list() == ["COMPLETED", "ACTIVE", "ACTIVE", "PLANNED"]
    wf = cb.read("batch_batchtransferworkflow")
    first = wf.filter(pl.col("batch_id") == batches["id"][0])
    assert first.height == 5 and first["status"].to_list() == ["COMPLETED"] * 5
    assert first["is_intercompany"].to_list() == [False] * 4 + [True]
    assert first["total_actions_planned"].to_list() == [10, 10, 10, 10, 20]
    assert wf["workflow_number"].n_unique() == wf.height
    # the planned batch: a planned creation workflow, pending deliveries into empty placeholder trays
    planned = batches["id"][3]
    cw = cb.read("batch_creationworkflow").filter(pl.col("batch_id") == planned)
    assert cw["status"].to_list() == ["PLANNED"] and cw["external_supplier_id"][0] is not None
    acts = cb.read("batch_creationaction").filter(pl.col("workflow_id") == cw["id"][0])
    assert acts.height == 10 and set(acts["status"]) == {"PENDING"}
    trays = cb.read("batch_batchcontainerassignment").filter(pl.col("batch_id") == planned)
    assert trays.height == 10 and trays["population_count"].sum() == 0 and not trays["is_active"].any()
    # a started batch received its eggs: delivered = its trays' first population
    done = cb.read("batch_creationworkflow").filter(pl.col("status") == "COMPLETED")
    assert done.height == 3 and (done["total_eggs_received"] > 3_000_000).all()


def test_transfer_activities_spawn_their_workflows(snaps):
    """Each transfer workflow hangs off its batch's TRANSFER activity, both ways, as the application's
    spawn step links them; the activity completes with the workflow."""
    cb = snaps[CB]
    wf = cb.read("batch_batchtransferworkflow")
    acts = cb.read("planning_plannedactivity").filter(pl.col("transfer_workflow_id").is_not_null())
    both = wf.join(acts, left_on="planned_activity_id", right_on="id", suffix="_a")
    assert both.height == wf.height == acts.height > 0 and (both["transfer_workflow_id"] == both["id"]).all()
    assert set(both["activity_type"]) == {"TRANSFER"} and (both["batch_id"] == both["batch_id_a"]).all()
    done = both.filter(pl.col("status") == "COMPLETED")
    assert (done["status_a"] == "COMPLETED").all() and done.height == wf.height
    assert (done["completed_at"].dt.date() == done["actual_completion_date"]).all()
    # spawned (IN_PROGRESS) when the manager planned the workflow, in the history
    h = cb.read("planning_historicalplannedactivity").filter(pl.col("status") == "IN_PROGRESS")
    spawned = h.join(wf, left_on="transfer_workflow_id", right_on="id")
    assert spawned.height == wf.height and (spawned["history_date"] == spawned["created_at_right"]).all()


LINKS = {  # case: (table, change, the checks that must fail and no other): links and causes
    "a workflow that does not name its activity": (
        "batch_batchtransferworkflow",
        lambda df: df.with_columns(
            planned_activity_id=pl.when(pl.col("id") == pl.col("id").min()).then(None).otherwise("planned_activity_id")
        ),
        [
            "transfer workflows not spawned by a transfer activity of their batch into their stage",
            "activities and transfer workflows not linked both ways",
        ],
    ),
    "an activity left open after its workflow completed": (
        "planning_plannedactivity",
        lambda df: df.with_columns(
            **{
                c: pl.when(pl.col("id") == pl.col("id").filter(pl.col("transfer_workflow_id").is_not_null()).min())
                .then(v)
                .otherwise(c)
                for c, v in (("status", pl.lit("IN_PROGRESS")), ("completed_at", None), ("completed_by_id", None))
            }
        ),
        ["spawned activities not completed with their workflow (or completed without it)"],
    ),
    "a workflow spawned by the transfer activity of another stage": (
        "planning_plannedactivity",
        lambda df: df.with_columns(
            notes=pl.when(pl.col("id") == pl.col("id").filter(pl.col("transfer_workflow_id").is_not_null()).min())
            .then(pl.col("notes").str.replace(r"Transfer to .*", "Transfer to Harvest"))
            .otherwise("notes")
        ),
        ["transfer workflows not spawned by a transfer activity of their batch into their stage"],
    ),
    "a delousing's ring whose deaths that day are not handling": (
        "batch_mortalityevent",
        lambda df: df.with_columns(
            cause=pl.when((pl.col("cause") == "HANDLING") & (pl.col("description").str.contains("registration")))
            .then(pl.lit("UNKNOWN"))
            .otherwise("cause")
        ),
        ["handled delousings whose ring's mortality event that day is not HANDLING"],
    ),
    "a reading whose assignment does not exist": (
        "environmental_environmentalreading",
        lambda df: df.with_columns(
            batch_container_assignment_id=pl.when(pl.col("id") == pl.col("id").min())
            .then(pl.col("batch_container_assignment_id") + 1_000_000)
            .otherwise("batch_container_assignment_id")
        ),
        ["readings whose assignment does not exist"],
    ),
}


@pytest.mark.parametrize("case", list(LINKS))
def test_tampered_links_fail_their_check(snaps, case):
    from .test_health import failed_with

    table, change, expected = LINKS[case]
    assert sorted(failed_with(snaps[CB], table, change)) == sorted(expected)


@pytest.mark.parametrize("profile, table", [(p, t) for p in (PLAN, CB) for t in get(p).mutable])
def test_a_row_changed_without_its_history_fails_the_history_check(snaps, profile, table):
    # one row of a changing table a second later than its last history row says: exactly its check fails
    source = v.SnapshotSource(snaps[profile])
    df = snaps[profile].read(table)
    changed = pl.col("id") == pl.col("id").max()
    source.ctx.register(
        table,
        df.with_columns(
            updated_at=pl.when(changed).then(pl.col("updated_at") + pl.duration(seconds=1)).otherwise("updated_at")
        ).lazy(),
    )
    history = [c for c in v.checks(get(profile), source.as_of) if c.group == "history"]
    assert [c.name for c in history if source.scalar(c.sql) != c.expected] == [
        f"{table} rows whose last history row differs from the row"
    ]


def test_daily_states_follow_the_simulation(snaps):
    cb = snaps[CB]
    ds = cb.read("batch_actualdailyassignmentstate")
    live = (
        cb.read("batch_historicalbatchcontainerassignment")
        .filter(pl.col("history_type") == "~")
        .filter(pl.col("history_date").dt.hour() == 20)
    )  # the nightly growth update: one per live day
    assert ds.height == live.height
    joined = ds.join(
        live.select(assignment_id="id", date=pl.col("history_date").dt.date(), pop="population_count"),
        on=["assignment_id", "date"],
    )
    assert joined.height == ds.height and (joined["population"] == joined["pop"]).all()
    src = ds["sources"].str.json_decode()
    assert set(src.struct.field("weight")) == {"measured", "tgc_computed"}
    assert set(ds["anchor_type"].drop_nulls()) == {"growth_sample"}


def _seeded_database(dsn: str) -> None:
    """The schema of the application's migrations with the rows they seed (the profile's own
    definition), their ids moved on so that they differ from the snapshot's and the loader's
    remapping of every reference shows."""
    with psycopg.connect(dsn) as c:
        c.execute(get(CB).migrated_sql())
        for name in ("health_healthparameter", "health_licetype"):
            c.execute(f"UPDATE {name} SET id = id + 100")
            c.execute(f"SELECT setval(pg_get_serial_sequence('public.{name}', 'id'), 200)")


def _validate_db(dsn: str) -> list:
    with psycopg.connect(dsn) as conn:
        assert postgres.database_profile(conn) == CB
        return [(r.check.name, r.actual) for r in v.run(v.DatabaseSource(conn, AS_OF, CB)) if not r.ok]


def test_load_into_empty_database(snaps, empty_db, monkeypatch):
    postgres.load(snaps[CB], empty_db)
    with psycopg.connect(empty_db) as c:
        measured = c.execute(
            "SELECT count(*) FROM batch_actualdailyassignmentstate WHERE sources->>'temp' = 'measured'"
        ).fetchone()[0]  # sensor outages leave a few days without a temperature reading
        assert 0.95 * snaps[CB].rows("batch_actualdailyassignmentstate") <= measured
    assert _validate_db(empty_db) == []
    with psycopg.connect(empty_db) as c:  # every batch pins run 1 of its own scenario, as the application reads it
        assert c.execute(
            "SELECT count(*) FROM batch_batch b JOIN scenario_projection_run r ON r.run_id = b.pinned_projection_run_id "
            "JOIN scenario s ON s.scenario_id = r.scenario_id AND s.batch_id = b.id WHERE r.run_number = 1"
        ).fetchone()[0] == snaps[CB].rows("batch_batch")
    with pytest.raises(AquagenError, match="has the schema of aquamind@cb41030.*--profile aquamind@cb41030"):
        postgres.load(snaps[PLAN], empty_db)
    # purge takes every batch row of this profile's tables, history included (the creation
    # workflow's irregularly named twin too); then the snapshot loads again
    # and keeps the master data of the database's profile (found in its catalog), not the default's
    monkeypatch.setattr(schemas, "PROFILE", PLAN)  # the fallback for a database of no known profile
    kept = purge(empty_db, all=True).preserved
    for name in ("health_licetype", "infrastructure_areagroup", "users_userprofile_allowed_areas"):
        assert kept[name] == snaps[CB].rows(name) > 0, name
    batch_tables = [n for n in schemas.tables(CB) if n.startswith("batch_") or n.startswith("environmental_stage")]
    batch_tables += ["scenario", "scenario_projection_run", "scenario_scenarioprojection", "planning_plannedactivity"]
    batch_tables += ["planning_historicalplannedactivity"]
    with psycopg.connect(empty_db) as c:
        left = {
            n: c.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
            for n in batch_tables
            if n
            not in (
                "batch_species",
                "batch_lifecyclestage",
                "batch_historicalspecies",
                "batch_historicallifecyclestage",
            )
        }
    assert not {n: k for n, k in left.items() if k}
    postgres.load(snaps[CB], empty_db)
    assert _validate_db(empty_db) == []


def test_load_into_migrated_database(snaps, empty_db):
    _seeded_database(empty_db)
    result = postgres.load(snaps[CB], empty_db)
    assert result.matched == {"health_healthparameter": 9, "health_licetype": 15, "health_mortalityreason": 1}
    with psycopg.connect(empty_db) as c:
        assert c.execute("SELECT count(*) FROM health_healthparameter").fetchone()[0] == 9
        assert c.execute("SELECT count(*) FROM health_licetype").fetchone()[0] == 15
        # the score definitions hang off the seeded parameters
        assert (
            c.execute(
                "SELECT count(*) FROM health_parameterscoredefinition d JOIN health_healthparameter p "
                "ON p.id = d.parameter_id"
            ).fetchone()[0]
            == 36
        )
        # the counts and scores reference the seeded rows by what they are, not by the snapshot's ids
        females = c.execute(
            "SELECT sum(l.count_value) FROM health_licecount l JOIN health_licetype t ON t.id = l.lice_type_id "
            "WHERE t.species = 'Lepeophtheirus salmonis' AND t.gender = 'female' AND t.development_stage = 'adult'"
        ).fetchone()[0]
        assert females == snaps[PLAN].read("health_licecount")["adult_female_count"].sum() > 0
        gills = c.execute(
            "SELECT count(*) FROM health_fishparameterscore s JOIN health_healthparameter p ON p.id = s.parameter_id "
            "WHERE p.name = 'Gill Condition'"
        ).fetchone()[0]
        assert gills == snaps[CB].rows("health_individualfishobservation") > 0
    assert _validate_db(empty_db) == []


def test_cli_profile_option(snaps, tmp_path):
    r = run_cli("generate", "--profile", "aquamind@nope", "--out", tmp_path / "x")
    assert r.returncode == 2 and "unknown profile 'aquamind@nope'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli(
        "batch",
        "--start-date",
        "2026-06-01",
        "--eggs",
        "1000",
        "--geography",
        "Scotland",
        "--profile",
        PLAN,
        "--out",
        snaps[CB].path,
    )
    assert r.returncode == 2 and "differs from the snapshot's profile aquamind@cb41030" in r.stderr


def test_treatments_at_the_same_moment_keep_their_ids_in_time(tmp_path):
    """Two treatments of one ring at one moment (a delousing and a gill bath, 2025-08-01) keep their order,
    and so their ids, whatever the as-of date: their sort kept no order among equals, and a later as-of's
    longer frame swapped them (an advanced database then differed from a fresh load)."""
    from aquagen.run.generate import generate

    kw = dict(seed=7, batches=2, stagger_days=120, first_start=dt.date(2023, 10, 1), geography="Faroe Islands")
    kw |= dict(profile=PLAN, workers=1)
    early = generate(tmp_path / "early", as_of=dt.date(2025, 9, 30), **kw).read("health_treatment").sort("id")
    late = generate(tmp_path / "late", as_of=dt.date(2026, 3, 1), **kw).read("health_treatment").sort("id")
    assert early.height < late.height
    assert_frame_equal(late.head(early.height), early)


def test_prefix_stable_in_time(tmp_path):
    """A later as-of date keeps every event and history row of an earlier one, ids included (the
    workflows' and creation's states, the daily states and the per-assignment mortality too)."""
    from aquagen.run.generate import generate

    kw = dict(seed=9, batches=2, first_start=dt.date(2024, 1, 1), profile=CB, workers=1)
    # early: the build horizon (as-of + 45 days, 2024-12-01) falls between the planning of a transition
    # (2024-11-29) and its first move (2024-12-06), whose destination assignments do not exist yet
    early = generate(tmp_path / "early", as_of=dt.date(2024, 10, 17), **kw)
    late = generate(tmp_path / "late", as_of=dt.date(2025, 9, 1), **kw)
    for name in (
        "batch_mortalityevent",
        "batch_actualdailyassignmentstate",
        "batch_historicaltransferaction",
        "batch_historicalbatchtransferworkflow",
        "batch_historicalbatch",
        "batch_historicalbatchcontainerassignment",
        "environmental_stagetransitionenvironmental",
        "batch_historicalcreationaction",
        "health_mortalityrecord",
        "batch_individualgrowthobservation",
        "environmental_weatherdata",
        "planning_historicalplannedactivity",
    ):
        a, b = early.read(name), late.read(name)
        assert 0 < a.height < b.height or name == "batch_historicalcreationaction", name
        assert a.join(b, on=a.columns, how="anti", nulls_equal=True).height == 0, name
