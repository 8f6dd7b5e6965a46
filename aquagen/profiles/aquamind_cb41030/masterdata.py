"""Phases 1-2 for cb41030: the plan profile's infrastructure and master data, adapted.

The frames of ``aquamind@8f2ab39`` are built first (same random draws, same ids) and then
changed where the application's migrations changed the tables: every container is a HOLDING
container; health parameters are the 9 rows the migrations seed (matched by name when loading
into a migrated database) with scores 0-3 and one score definition per score; the 15 lice types
the migrations seed; egg suppliers for the creation workflows; users with geography-scoped roles.
"""

from __future__ import annotations

import datetime as dt

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
EGG_SUPPLIERS = (
    ("AquaGen Norway", "Trondheim, Norway; orders@aquagen.test", "ISA-free; ASC; GLOBALG.A.P."),
    ("Benchmark Genetics Iceland", "Vogar, Iceland; eggs@benchmark.test", "ISA-free; ASC"),
    ("StofnFiskur Faroe", "Tórshavn, Faroe Islands; sales@stofnfiskur.test", "ISA-free"),
)
# users added by this profile: (username, first, last, role, job title, geography code, subsidiary)
SCOPED_USERS = (
    ("operator_fo", "Faroe", "Operator", "OPR", "Farm Operator, Faroe Islands", "FO", "FM"),
    ("operator_sc", "Scotland", "Operator", "OPR", "Farm Operator, Scotland", "SC", "FM"),
    ("hatchery_fo", "Faroe", "Hatchery", "OPR", "Hatchery Operator, Faroe Islands", "FO", "FW"),
    ("shipcrew_fo", "Vessel", "Crew", "SHIP_CREW", "Well-boat Crew, Faroe Islands", "FO", "LG"),
)


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
            df = df.with_columns(hierarchy_role=pl.lit("HOLDING"))
        if name == "health_healthparameter":
            continue
        out[name] = T.conform(name, df)
    out |= scenario.master(plan["scenario_tgcmodel"]["created_at"][0], T)  # this profile's engine's values
    out["planning_activitytemplate"] = planning.templates(plan["scenario_tgcmodel"]["created_at"][0], T)
    t = dt.datetime.combine(setup_date, dt.time(9, 0), UTC)
    _users(out, T, t)
    _health(out, T, t + dt.timedelta(minutes=10))
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
