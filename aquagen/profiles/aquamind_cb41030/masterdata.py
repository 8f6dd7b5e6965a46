"""Phases 1-2 for cb41030: the plan profile's infrastructure and master data, adapted.

The frames of ``aquamind@8f2ab39`` are built first (same random draws, same ids) and then
changed where the application's migrations changed the tables: every container is a HOLDING
container; health parameters are the 9 rows the migrations seed (matched by name when loading
into a migrated database) with scores 0-3 and one score definition per score; the 15 lice types
the migrations seed; egg suppliers for the creation workflows; users with geography-scoped roles.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.profiles.aquamind_8f2ab39 import masterdata as plan_master
from aquagen.profiles.aquamind_8f2ab39 import scenario
from aquagen.tables.conform import Bound

from . import planning

PLAN_PROFILE = "aquamind@8f2ab39"
UTC = dt.UTC

# health_healthparameter as the migrations seed it (name unique; min/max the model's defaults)
HEALTH_PARAMETERS = (
    "Gill Condition",
    "Eye Condition",
    "Wounds/Lesions",
    "Fin Condition",
    "Body Condition",
    "Swimming Behavior",
    "Appetite",
    "Mucous Membrane",
    "Color/Pigmentation",
)
MIN_SCORE, MAX_SCORE = 0, 3
SCORE_LABELS = ("Normal", "Mild", "Moderate", "Severe")
# health_licetype as the migrations seed it: (species, gender, development_stage, description)
SALMON_LOUSE, CALIGUS = "Lepeophtheirus salmonis", "Caligus elongatus"
LICE_TYPES = (
    *(
        (SALMON_LOUSE, g, s, f"{s.capitalize()} {g} salmon louse")
        for g in ("female", "male")
        for s in ("copepodid", "chalimus", "pre-adult", "adult")
    ),
    *((CALIGUS, g, s, f"{s.capitalize()} {g} Caligus") for g in ("female", "male") for s in ("juvenile", "adult")),
    ("Unknown", "unknown", "juvenile", "Unidentified juvenile lice"),
    ("Unknown", "female", "adult", "Adult female lice, species unidentified"),
    ("Unknown", "male", "adult", "Adult male lice, species unidentified"),
)


def _quoted(x: str) -> str:
    return "'" + x.replace("'", "''") + "'"


# what the application's migrations insert into a new database (health 0016, 0021, 0023 and the
# parameters' restructuring): the plan's mortality reason, the health parameters with the model's
# default score range, the lice types; matched by natural key when a snapshot is loaded into it
MIGRATIONS_SEED = (
    *plan_master.MIGRATIONS_SEED,
    "INSERT INTO health_healthparameter (name, is_active, created_at, updated_at, min_score, max_score) VALUES "
    + ", ".join(f"({_quoted(n)}, true, now(), now(), {MIN_SCORE}, {MAX_SCORE})" for n in HEALTH_PARAMETERS),
    "INSERT INTO health_licetype (species, gender, development_stage, description, is_active, created_at, "
    "updated_at) VALUES " + ", ".join(f"({', '.join(map(_quoted, x))}, true, now(), now())" for x in LICE_TYPES),
)
EGG_SUPPLIERS = (
    ("AquaGen Norway", "Trondheim, Norway; orders@aquagen.test", "ISA-free; ASC; GLOBALG.A.P."),
    ("Benchmark Genetics Iceland", "Vogar, Iceland; eggs@benchmark.test", "ISA-free; ASC"),
    ("StofnFiskur Faroe", "Tórshavn, Faroe Islands; sales@stofnfiskur.test", "ISA-free"),
)
# users added by this profile: (username, first, last, role, job title, geography code, subsidiary,
# where an operator works: sea areas, stations or the incubation trays of the geography's first station)
SCOPED_USERS = (
    ("operator_fo", "Faroe", "Operator", "OPR", "Farm Operator, Faroe Islands", "FO", "FM", "areas"),
    ("operator_sc", "Scotland", "Operator", "OPR", "Farm Operator, Scotland", "SC", "FM", "areas"),
    ("hatchery_fo", "Faroe", "Hatchery", "OPR", "Hatchery Operator, Faroe Islands", "FO", "FW", "stations"),
    ("shipcrew_fo", "Vessel", "Crew", "SHIP_CREW", "Well-boat Crew, Faroe Islands", "FO", "LG", ""),
    ("trays_sc", "Incubation", "Technician", "OPR", "Incubation Technician, Scotland", "SC", "FW", "containers"),
)
# sea-area groups: a root per geography and leaves, each leaf taking the areas its rule selects (first match)
AREA_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {  # geography -> (leaf, rule on latitude/longitude)
    "Faroe Islands": (("South", "lat < 61.75"), ("West", "lon < -7.0"), ("North", "")),
    "Scotland": (
        ("Outer Hebrides", "lon < -6.5"),
        ("Kintyre and Clyde", "lat < 56.2"),
        ("Mull and Lorn", "lat < 57.0"),
        ("Skye and Mainland", ""),
    ),
}
# well boats and smolt trucks per geography: (name, type, capacity m3, plate, IMO number, captain)
CARRIERS = {
    "Faroe Islands": (
        ("Well-boat Lundin", "VESSEL", 3200, "", "9871231", "Captain J. Joensen, +298 210 001, lundin@carriers.test"),
        ("Well-boat Tjaldur", "VESSEL", 2400, "", "9871243", "Captain H. Poulsen, +298 210 002, tjaldur@carriers.test"),
        ("Smolt Truck FO-1", "TRUCK", 28, "KF 4711", "", ""),
    ),
    "Scotland": (
        (
            "Well-boat Kittiwake",
            "VESSEL",
            3000,
            "",
            "9871255",
            "Captain A. MacLeod, +44 1851 700 001, kw@carriers.test",
        ),
        ("Well-boat Gannet", "VESSEL", 2000, "", "9871267", "Captain R. Morrison, +44 1851 700 002, gn@carriers.test"),
        ("Smolt Truck SC-1", "TRUCK", 30, "SV21 AQM", "", ""),
        ("Smolt Truck SC-2", "TRUCK", 30, "SV21 AQN", "", ""),
    ),
}


def build(setup_date: dt.date, rng: np.random.Generator, profile: str) -> dict[str, pl.DataFrame]:
    """All phase 1-2 tables of this profile (base and their '+' history rows)."""
    T = Bound(profile)
    plan = plan_master.build(setup_date, rng, PLAN_PROFILE)
    plan_tables = Bound(PLAN_PROFILE)
    out: dict[str, pl.DataFrame] = {}
    for name, df in plan.items():
        if name not in T.tables or plan_tables.table(name).history_of is not None:
            continue  # a table this profile lacks; or history, rebuilt below from the adapted rows
        if name == "infrastructure_container":
            df = df.with_columns_seq(hierarchy_role=pl.lit("HOLDING"))
        if name == "health_healthparameter":
            continue
        out[name] = T.conform(name, df)
    _area_groups(out, T)
    out |= scenario.master(plan["scenario_tgcmodel"]["created_at"][0], T)  # this profile's engine's values
    out["planning_activitytemplate"] = planning.templates(plan["scenario_tgcmodel"]["created_at"][0], T)
    t = dt.datetime.combine(setup_date, dt.time(9, 0), UTC)
    _users(out, T, t)
    _health(out, T, t + dt.timedelta(minutes=10))
    _carriers(out, T, t + dt.timedelta(minutes=30))
    _user_scopes(out, T)
    n = len(EGG_SUPPLIERS)
    out["broodstock_eggsupplier"] = T.conform(
        "broodstock_eggsupplier",
        _times(
            t + dt.timedelta(minutes=20),
            n,
            {
                "id": list(range(1, n + 1)),
                "name": [s[0] for s in EGG_SUPPLIERS],
                "contact_details": [s[1] for s in EGG_SUPPLIERS],
                "certifications": [s[2] for s in EGG_SUPPLIERS],
            },
        ),
    )
    plan_master.add_history(out, T)
    return out


def _times(start: dt.datetime, n: int, data: dict) -> dict:
    stamps = [start + dt.timedelta(milliseconds=100 * i) for i in range(n)]
    return {**data, "created_at": stamps, "updated_at": stamps}


def _users(out: dict[str, pl.DataFrame], T: Bound, t: dt.datetime) -> None:
    """The plan's users (all geographies) plus users whose role is scoped to one geography."""
    first = out["auth_user"].height + 1
    n = len(SCOPED_USERS)
    ids = list(range(first, first + n))
    joined = [t + dt.timedelta(milliseconds=100 * i) for i in range(n)]
    users = T.conform(
        "auth_user",
        {
            "id": ids,
            "password": [plan_master.password_hash(D.DEFAULT_PASSWORD, u[0]) for u in SCOPED_USERS],
            "is_superuser": [False] * n,
            "username": [u[0] for u in SCOPED_USERS],
            "first_name": [u[1] for u in SCOPED_USERS],
            "last_name": [u[2] for u in SCOPED_USERS],
            "email": [f"{u[0]}@aquamind.test" for u in SCOPED_USERS],
            "is_staff": [False] * n,
            "is_active": [True] * n,
            "date_joined": joined,
        },
    )
    profiles = T.conform(
        "users_userprofile",
        {
            "id": ids,
            "user_id": ids,
            "job_title": [u[4] for u in SCOPED_USERS],
            "department": ["Operations"] * n,
            "language_preference": ["fo" if u[5] == "FO" else "en" for u in SCOPED_USERS],
            "date_format_preference": ["DMY"] * n,
            "full_name": [f"{u[1]} {u[2]}" for u in SCOPED_USERS],
            "geography": [u[5] for u in SCOPED_USERS],
            "role": [u[3] for u in SCOPED_USERS],
            "subsidiary": [u[6] for u in SCOPED_USERS],
            "created_at": joined,
            "updated_at": joined,
        },
    )
    out["auth_user"] = pl.concat([out["auth_user"], users])
    out["users_userprofile"] = pl.concat([out["users_userprofile"], profiles])


def _health(out: dict[str, pl.DataFrame], T: Bound, t: dt.datetime) -> None:
    """Health parameters, their score definitions and the lice types, as the migrations seed them."""
    n = len(HEALTH_PARAMETERS)
    out["health_healthparameter"] = T.conform(
        "health_healthparameter",
        _times(
            t,
            n,
            {
                "id": list(range(1, n + 1)),
                "name": list(HEALTH_PARAMETERS),
                "is_active": [True] * n,
                "description": [
                    f"{name} scored {MIN_SCORE} (normal) to {MAX_SCORE} (severe)" for name in HEALTH_PARAMETERS
                ],
                "max_score": [MAX_SCORE] * n,
                "min_score": [MIN_SCORE] * n,
            },
        ),
    )
    scores = range(MIN_SCORE, MAX_SCORE + 1)
    rows = [(p, s) for p in range(1, n + 1) for s in scores]
    out["health_parameterscoredefinition"] = T.conform(
        "health_parameterscoredefinition",
        _times(
            t + dt.timedelta(minutes=1),
            len(rows),
            {
                "id": list(range(1, len(rows) + 1)),
                "score_value": [s for _, s in rows],
                "label": [SCORE_LABELS[s - MIN_SCORE] for _, s in rows],
                "description": [f"{HEALTH_PARAMETERS[p - 1]}: {SCORE_LABELS[s - MIN_SCORE].lower()}" for p, s in rows],
                "display_order": [s - MIN_SCORE + 1 for _, s in rows],
                "parameter_id": [p for p, _ in rows],
            },
        ),
    )
    n = len(LICE_TYPES)
    out["health_licetype"] = T.conform(
        "health_licetype",
        _times(
            t + dt.timedelta(minutes=2),
            n,
            {
                "id": list(range(1, n + 1)),
                "species": [x[0] for x in LICE_TYPES],
                "gender": [x[1] for x in LICE_TYPES],
                "development_stage": [x[2] for x in LICE_TYPES],
                "description": [x[3] for x in LICE_TYPES],
                "is_active": [True] * n,
            },
        ),
    )


def _area_groups(out: dict[str, pl.DataFrame], T: Bound) -> None:
    """A root group per geography ('<geography> Marine') and its leaves; every sea area in the leaf of its
    geography whose rule it meets first. Created a minute after the geographies, before the areas."""
    geos = out["infrastructure_geography"].sort("id")
    t = cast(dt.datetime, geos["created_at"].max()) + dt.timedelta(minutes=1)
    rows: list[tuple[str, str, int, int | None]] = []  # name, code, geography id, parent id
    for geo_id, geo in zip(geos["id"], geos["name"]):
        root = len(rows) + 1
        rows.append((f"{geo} Marine", D.GEOGRAPHY_BY_NAME[geo].profile_code + "_MARINE", geo_id, None))
        rows += [
            (leaf, f"{D.GEOGRAPHY_BY_NAME[geo].profile_code}_{leaf.upper().replace(' ', '_')}", geo_id, root)
            for leaf, _ in AREA_GROUPS[geo]
        ]
    out["infrastructure_areagroup"] = T.conform(
        "infrastructure_areagroup",
        _times(
            t,
            len(rows),
            {
                "id": list(range(1, len(rows) + 1)),
                "name": [r[0] for r in rows],
                "code": [r[1] for r in rows],
                "active": [True] * len(rows),
                "geography_id": [r[2] for r in rows],
                "parent_id": [r[3] for r in rows],
            },
        ),
    )
    leaf_id = {(r[2], r[0]): i + 1 for i, r in enumerate(rows) if r[3] is not None}
    areas = out["infrastructure_area"]
    lat, lon = pl.col("latitude").cast(pl.Float64), pl.col("longitude").cast(pl.Float64)
    group = pl.lit(None, dtype=pl.Int64)
    for geo_id, geo in zip(geos["id"], geos["name"]):
        for leaf, rule in reversed(AREA_GROUPS[geo]):  # the first matching rule wins: built last
            test = {"": pl.lit(True), "lat <": lat, "lon <": lon}
            cond = pl.lit(True) if not rule else test[rule[:5]] < float(rule[5:])
            group = pl.when((pl.col("geography_id") == geo_id) & cond).then(leaf_id[(geo_id, leaf)]).otherwise(group)
    out["infrastructure_area"] = T.conform("infrastructure_area", areas.with_columns_seq(area_group_id=group))


def _carriers(out: dict[str, pl.DataFrame], T: Bound, t: dt.datetime) -> None:
    """Well boats and smolt trucks of each geography (no carrier tanks: fish move straight between sites)."""
    geo_id = dict(zip(out["infrastructure_geography"]["name"], out["infrastructure_geography"]["id"]))
    rows = [(geo_id[g], *c) for g, cs in CARRIERS.items() for c in cs]
    n = len(rows)
    out["infrastructure_transportcarrier"] = T.conform(
        "infrastructure_transportcarrier",
        _times(
            t,
            n,
            {
                "id": list(range(1, n + 1)),
                "name": [r[1] for r in rows],
                "carrier_type": [r[2] for r in rows],
                "capacity_m3": [float(r[3]) for r in rows],
                "license_plate": [r[4] for r in rows],
                "imo_number": [r[5] for r in rows],
                "captain_contact": [r[6] for r in rows],
                "active": [True] * n,
                "geography_id": [r[0] for r in rows],
            },
        ),
    )


def _user_scopes(out: dict[str, pl.DataFrame], T: Bound) -> None:
    """Where each scoped operator works (the application shows an operator only these): the sea areas or
    the freshwater stations of their geography, or the incubation trays (Hall A) of its first station."""
    geos = out["infrastructure_geography"]
    geo_of = {D.GEOGRAPHY_BY_NAME[name].profile_code: i for name, i in zip(geos["name"], geos["id"])}
    profiles = (
        out["auth_user"]
        .select_seq("username", user_id="id")
        .join(out["users_userprofile"], on="user_id", maintain_order="left")
    )
    profile_of = dict(zip(profiles["username"], profiles["id"]))
    stations = out["infrastructure_freshwaterstation"].sort("id")
    first_station = {g: stations.filter(pl.col("geography_id") == g)["id"][0] for g in geo_of.values()}
    halls = out["infrastructure_hall"].sort("id")
    places = {
        "areas": (
            "users_userprofile_allowed_areas",
            "area_id",
            lambda g: out["infrastructure_area"].filter(pl.col("geography_id") == g)["id"],
        ),
        "stations": (
            "users_userprofile_allowed_stations",
            "freshwaterstation_id",
            lambda g: stations.filter(pl.col("geography_id") == g)["id"],
        ),
        "containers": (
            "users_userprofile_allowed_containers",
            "container_id",
            lambda g: out["infrastructure_container"].filter(
                pl.col("hall_id") == halls.filter(pl.col("freshwater_station_id") == first_station[g])["id"][0]
            )["id"],
        ),
    }
    for kind, (table, column, ids_of) in places.items():
        frames = [
            pl.DataFrame({"userprofile_id": profile_of[u[0]], column: ids_of(geo_of[u[5]])}).sort(column)
            for u in SCOPED_USERS
            if u[7] == kind
        ]
        df = pl.concat(frames)
        out[table] = T.conform(table, df.with_columns_seq(id=pl.int_range(1, df.height + 1, dtype=pl.Int64)))
