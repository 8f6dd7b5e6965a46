"""``aquamind@8f2ab39``: AquaMind as of the original plan (2025-10-16), 76 tables."""

from __future__ import annotations

from aquagen.profiles import Profile

from . import batches, checks, environment, feedstock, masterdata, scenario

PROFILE = Profile(
    name="aquamind@8f2ab39",
    master=masterdata.build,
    batch=batches.build,
    feed_sites=feedstock.sites,
    feed_site=feedstock.build_site,
    feed_fifo_columns=feedstock.FIFO_COLUMNS,
    feed_window=feedstock.window,
    feed_idle=feedstock.build_idle,
    feed_container_of=feedstock.feed_container_of,
    feedings=("inventory_feedingevent", "inventory_historicalfeedingevent"),
    stock_tables=("inventory_feedcontainerstock", "inventory_historicalfeedcontainerstock"),
    # and a sensor's last calibration (``environment.calibrations``)
    mutable=("batch_batch", "batch_batchcontainerassignment", "inventory_feedcontainerstock", "infrastructure_sensor"),
    # the day's mortality registration (13:00) and growth samples (11:00) reach the assignments with their
    # 20:00 update: a cut between sees neither
    booked={t: batches.GROWTH_UPDATE for t in batches.BOOKED_TABLES},
    natural_keys={
        "auth_user": ("username",),
        "users_userprofile": ("user_id",),
        "infrastructure_geography": ("name",),
        "infrastructure_freshwaterstation": ("name",),
        "infrastructure_area": ("name",),
        "infrastructure_hall": ("name",),
        "infrastructure_containertype": ("name",),
        "infrastructure_container": ("name",),
        "infrastructure_sensor": ("name",),
        "infrastructure_feedcontainer": ("name",),
        "batch_species": ("name",),
        "batch_lifecyclestage": ("name",),
        "environmental_environmentalparameter": ("name",),
        "inventory_feed": ("name",),
        "inventory_feedpurchase": ("batch_number",),
        "inventory_feedcontainerstock": ("feed_container_id", "feed_purchase_id"),
        "health_healthparameter": ("name",),
        "health_mortalityreason": ("name",),
        "health_sampletype": ("name",),
        "health_vaccinationtype": ("name",),
        "harvest_productgrade": ("code",),
        "environmental_photoperioddata": ("area_id", "date"),
        "environmental_weatherdata": ("area_id", "timestamp"),
        **scenario.NATURAL_KEYS,
    },
    environment=environment.build,
    migrations_seed=masterdata.MIGRATIONS_SEED,
    checks=checks.PHASE_COUNTS
    + checks.INVARIANTS
    + checks.HEALTH
    + checks.ENVIRONMENT
    + checks.LICE
    + checks.SAMPLING
    + scenario.CHECKS
    + scenario.PLAN_CHECKS,
)
