"""``aquamind@cb41030``: AquaMind as its users run it today (2026-03-25), 103 tables plus the egg
supplier and the harvest app. The shared simulation in this schema: see ``masterdata`` and ``batches`` for what differs
from ``aquamind@8f2ab39`` (whose builders they reuse), ``checks`` for the invariants."""

from __future__ import annotations

from aquagen.profiles import Profile
from aquagen.profiles.aquamind_8f2ab39 import PROFILE as PLAN
from aquagen.profiles.aquamind_8f2ab39 import environment, feedstock, scenario

from . import batches, checks, masterdata, planning

PROFILE = Profile(
    name="aquamind@cb41030",
    master=masterdata.build,
    batch=batches.build,
    feed_sites=feedstock.sites,
    feed_site=feedstock.build_site,
    feed_fifo_columns=feedstock.FIFO_COLUMNS,
    feed_window=feedstock.window,
    feed_idle=feedstock.build_idle,
    feed_container_of=feedstock.feed_container_of,
    feedings=PLAN.feedings,
    stock_tables=PLAN.stock_tables,
    mutable=(
        *PLAN.mutable,
        "batch_batchtransferworkflow",
        "batch_transferaction",
        "batch_creationworkflow",
        "batch_creationaction",
        "planning_plannedactivity",
    ),
    natural_keys={
        **PLAN.natural_keys,
        "health_licetype": ("species", "gender", "development_stage"),
        "health_parameterscoredefinition": ("parameter_id", "score_value"),
        "broodstock_eggsupplier": ("name",),
        "infrastructure_areagroup": ("geography_id", "name"),
        "infrastructure_transportcarrier": ("name",),
        "users_userprofile_allowed_areas": ("userprofile_id", "area_id"),
        "users_userprofile_allowed_stations": ("userprofile_id", "freshwaterstation_id"),
        "users_userprofile_allowed_containers": ("userprofile_id", "container_id"),
        "planning_activitytemplate": ("name",),
    },
    booked={  # and the fish weighed in a growth sample, with it
        **PLAN.booked,
        **dict.fromkeys(
            ("batch_individualgrowthobservation", "batch_historicalindividualgrowthobservation"),
            PLAN.booked["batch_growthsample"],
        ),
    },
    # a transfer's handling loss counts from the move, as the application's execute step writes it
    unbooked=dict.fromkeys(("batch_mortalityevent", "batch_historicalmortalityevent"), batches.HANDLED),
    environment=environment.build,
    checks=checks.PHASE_COUNTS
    + checks.INVARIANTS
    + checks.RECORDS
    + scenario.CHECKS
    + scenario.HEAD_CHECKS
    + planning.CHECKS,
    seeded=checks.SEEDED,
    migrations_seed=masterdata.MIGRATIONS_SEED,
    plan_ahead_days=30,  # a creation workflow is planned 30 days before its eggs arrive
)
