"""Phases 1 and 2 of the plan: infrastructure and master data, as table frames.

Ids are dense and follow the natural order of the sites (``aquagen.model.sites``), so
the batch and feed tables compute any container's, sensor's or feed container's id
arithmetically instead of joining on names.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import cast

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import SYSTEM_ID
from aquagen.model.inventory import SHELF_LIFE_DAYS
from aquagen.model.sites import SITES
from aquagen.tables.conform import Bound, number_history

from . import harvest, scenario

UTC = dt.UTC
# what the application's migrations insert into a new database (health 0016): one mortality reason,
# matched by name when a snapshot is loaded into it
MIGRATIONS_SEED = (
    "INSERT INTO health_mortalityreason (name, description) "
    "VALUES ('UNKNOWN', 'Unknown or unspecified mortality reason')",
)


def _place(
    anchors: dict[str, tuple[tuple[float, float], ...]], sites, rng: np.random.Generator, jitter: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``sites`` (id, geography, name): the geography's anchor points in turn, a
    little apart when an anchor is used twice (sea areas in sea lochs and fjords, stations inland)."""
    lat, lon = [], []
    used: dict[str, int] = {}
    for _, g, _ in sites:
        k = used.get(g.name, 0)
        used[g.name] = k + 1
        a = anchors[g.name][k % len(anchors[g.name])]
        lat.append(a[0] + 0.03 * (k // len(anchors[g.name])))
        lon.append(a[1])
    n = len(lat)
    return np.round(np.array(lat) + rng.uniform(-jitter, jitter, n), 6), np.round(
        np.array(lon) + rng.uniform(-jitter, jitter, n), 6
    )


def password_hash(password: str, username: str) -> str:
    """A real Django pbkdf2_sha256 hash (deterministic salt), so users can log in. The default
    users' hashes are known (100,000 PBKDF2 rounds cost ~0.08 CPU-s each, every run)."""
    return KNOWN_HASHES.get((password, username)) or pbkdf2_hash(password, username)


# password_hash of the default users (tests/test_units.py recomputes each): a pure function of
# (password, username), whatever the seed
KNOWN_HASHES = {
    ("aquamind", user): f"pbkdf2_sha256$100000${salt_digest}"
    for user, salt_digest in (
        ("system_admin", "9f98e92d2f3e49055e170a$gsVENTdJE5UnTvTmw3zsaXgBzddraQs+9azlAKWfmEU="),
        ("operator_01", "dca64b8537f7f339293bb9$ydCL9y8XjsSIwR714T4qCNta8Tx1ewhspSbEW3ksJA0="),
        ("vet_01", "27c5c09565580344299d69$3mJXlO19RMi5gCbdqTGRUDzxJEi4AN78qnMCtZsw4Sk="),
        ("manager_01", "4be29394e55d0dec668ef1$+v28qUl1+SiXMWYIHKt167KAdNck6v96ZC1Zf0OaHqU="),
        ("operator_fo", "c8bf49b10aa099942e4f80$FN8CGqOFpAwe9SFSdNDxv3d7uwLpFLp2JLKsVwZceEI="),
        ("operator_sc", "0a05057f71daedc2fd7cf1$YJZYJPN1Er8n1KoMDVFeQKwhy6c+0xJBpOMtpPpVgOE="),
        ("hatchery_fo", "cc20f36acdae4b7d8342b5$tlxifbKA9A2ebKkjqm2I9+Kv3FYCDUsXPY0p2rdjDk8="),
        ("shipcrew_fo", "537a12575fc8e4e548ce03$Z6J0erOy32Ejf4h7urjZhY8XppnxRsC6UESXngAxhxE="),
        ("trays_sc", "fcf6a770d5c5e8fe18a85d$ewmP2VWgAcwf+GfikCy7aR2KyAwWTrC19Q2DQicwpj0="),
    )
}


def pbkdf2_hash(password: str, username: str) -> str:
    """``password_hash`` computed."""
    iterations = 100_000
    salt = hashlib.sha256(f"aquagen:{username}".encode()).hexdigest()[:22]
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def _stamps(start: dt.datetime, n: int, step_ms: int = 100) -> pl.Series:
    """Creation times of n objects made one after another by a setup script."""
    return pl.Series(
        np.datetime64(start.replace(tzinfo=None), "us") + np.arange(n) * np.timedelta64(step_ms, "ms")
    ).dt.replace_time_zone("UTC")


def _with_times(data: dict, start: dt.datetime, n: int) -> dict:
    t = _stamps(start, n)
    return {**data, "created_at": t, "updated_at": t}


def build(setup_date: dt.date, rng: np.random.Generator, profile: str) -> dict[str, pl.DataFrame]:
    """All phase 1-2 tables (base and their '+' history rows) for a setup on ``setup_date``."""
    T = Bound(profile)
    t0 = dt.datetime.combine(setup_date, dt.time(8, 0), UTC)
    step = dt.timedelta(minutes=5)  # each table a few minutes after the previous one
    out: dict[str, pl.DataFrame] = {}

    # --- users (phase 2, but every history row refers to them) ---
    n = len(D.USERS)
    out["auth_user"] = T.conform(
        "auth_user",
        {
            "id": list(range(1, n + 1)),
            "password": [password_hash(D.DEFAULT_PASSWORD, u.username) for u in D.USERS],
            "is_superuser": [u.is_superuser for u in D.USERS],
            "username": [u.username for u in D.USERS],
            "first_name": [u.first_name for u in D.USERS],
            "last_name": [u.last_name for u in D.USERS],
            "email": [f"{u.username}@aquamind.test" for u in D.USERS],
            "is_staff": [u.is_superuser or u.role == "MGR" for u in D.USERS],
            "is_active": [True] * n,
            "date_joined": _stamps(t0, n),
        },
    )
    out["users_userprofile"] = T.conform(
        "users_userprofile",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "user_id": list(range(1, n + 1)),
                "job_title": [u.job_title for u in D.USERS],
                "department": ["Operations"] * n,
                "language_preference": ["en"] * n,
                "date_format_preference": ["DMY"] * n,
                "full_name": [f"{u.first_name} {u.last_name}" for u in D.USERS],
                "geography": ["ALL"] * n,
                "role": [u.role for u in D.USERS],
                "subsidiary": ["ALL"] * n,
            },
            t0,
            n,
        ),
    )

    # --- infrastructure (phase 1) ---
    t = t0 + step
    out["infrastructure_geography"] = T.conform(
        "infrastructure_geography",
        _with_times(
            {
                "id": [1, 2],
                "name": [g.name for g in D.GEOGRAPHIES],
                "description": [f"{g.name} operations: freshwater stations and sea areas" for g in D.GEOGRAPHIES],
            },
            t,
            2,
        ),
    )

    stations = SITES.stations()
    geo_ids = {g.name: i + 1 for i, g in enumerate(D.GEOGRAPHIES)}
    n = len(stations)
    lat, lon = _place(D.STATION_SITES, stations, rng, 0.02)
    out["infrastructure_freshwaterstation"] = T.conform(
        "infrastructure_freshwaterstation",
        _with_times(
            {
                "id": [s for s, _, _ in stations],
                "name": [name for _, _, name in stations],
                "station_type": ["FRESHWATER"] * n,
                "latitude": lat,
                "longitude": lon,
                "description": [f"Freshwater hatchery and smolt station in {g.name}" for _, g, _ in stations],
                "active": [True] * n,
                "geography_id": [geo_ids[g.name] for _, g, _ in stations],
            },
            t + step,
            n,
        ),
    )

    areas = SITES.areas()
    n = len(areas)
    area_lat, area_lon = _place(D.AREA_SITES, areas, rng, 0.01)
    out["infrastructure_area"] = T.conform(
        "infrastructure_area",
        _with_times(
            {
                "id": [a for a, _, _ in areas],
                "name": [name for _, _, name in areas],
                "latitude": area_lat,
                "longitude": area_lon,
                "max_biomass": np.full(n, D.RINGS_PER_AREA * D.CONTAINER_TYPES[-1].max_biomass_kg),
                "active": [True] * n,
                "geography_id": [geo_ids[g.name] for _, g, _ in areas],
            },
            t + 2 * step,
            n,
        ),
    )

    halls = [(SITES.hall_id(s, h), s, name, D.STAGES[h]) for s, _, name in stations for h in range(len(D.HALLS))]
    n = len(halls)
    out["infrastructure_hall"] = T.conform(
        "infrastructure_hall",
        _with_times(
            {
                "id": [h for h, _, _, _ in halls],
                "name": [f"{name}-Hall-{st.hall}" for _, _, name, st in halls],
                "description": [f"Hall {st.hall}: {st.name} stage" for _, _, _, st in halls],
                "area_sqm": np.round(rng.uniform(800, 2500, n), 2),
                "active": [True] * n,
                "freshwater_station_id": [s for _, s, _, _ in halls],
            },
            t + 3 * step,
            n,
        ),
    )

    n = len(D.CONTAINER_TYPES)
    out["infrastructure_containertype"] = T.conform(
        "infrastructure_containertype",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "name": [c.name for c in D.CONTAINER_TYPES],
                "category": [c.category for c in D.CONTAINER_TYPES],
                "max_volume_m3": [c.max_volume_m3 for c in D.CONTAINER_TYPES],
                "description": [c.description for c in D.CONTAINER_TYPES],
            },
            t + 4 * step,
            n,
        ),
    )

    # containers: 10 per hall (type by hall stage), then 20 rings per area
    rows: list[tuple] = []
    for h, _, station, st in halls:
        kind = "TRAY" if st.hall == "A" else "TANK"
        rows += [
            (SITES.tank_id(h, j), f"{station}-{st.hall}-{kind}-{j + 1:02d}", st.order - 1, h, None)
            for j in range(D.CONTAINERS_PER_HALL)
        ]
    for a, _, area in areas:
        rows += [
            (SITES.ring_id(a, j), f"{area}-RING-{j + 1:02d}", len(D.STAGES) - 1, None, a)
            for j in range(D.RINGS_PER_AREA)
        ]
    types = [D.CONTAINER_TYPES[r[2]] for r in rows]
    n = len(rows)
    out["infrastructure_container"] = T.conform(
        "infrastructure_container",
        _with_times(
            {
                "id": [r[0] for r in rows],
                "name": [r[1] for r in rows],
                "volume_m3": [c.volume_m3 for c in types],
                "max_biomass_kg": [c.max_biomass_kg for c in types],
                "active": [True] * n,
                "hall_id": pl.Series([r[3] for r in rows], dtype=pl.Int64),
                "area_id": pl.Series([r[4] for r in rows], dtype=pl.Int64),
                "container_type_id": [r[2] + 1 for r in rows],
                "feed_recommendations_enabled": [True] * n,
            },
            t + 5 * step,
            n,
        ),
    )

    # sensors: one per parameter in every hall container, 4 per ring
    sensor_rows = []
    for cid, cname, _, hall, _ in rows:
        params = range(len(D.PARAMETERS)) if hall is not None else D.SEA_PARAMETERS
        for k, p in enumerate(params):
            sid = SITES.tank_sensor_id(cid, p) if hall is not None else SITES.ring_sensor_id(cid, k)
            sensor_rows.append((sid, f"{cname}-{D.PARAMETERS[p].name}", D.PARAMETERS[p].sensor_type, cid))
    n = len(sensor_rows)
    manufacturers = np.array(["Xylem", "OxyGuard", "Hach", "In-Situ"])
    out["infrastructure_sensor"] = T.conform(
        "infrastructure_sensor",
        _with_times(
            {
                "id": [r[0] for r in sensor_rows],
                "name": [r[1] for r in sensor_rows],
                "sensor_type": [r[2] for r in sensor_rows],
                "serial_number": [f"SN-{r[0]:06d}" for r in sensor_rows],
                "manufacturer": manufacturers[rng.integers(0, len(manufacturers), n)],
                "installation_date": [setup_date] * n,
                # not calibrated yet: calibrated when commissioned, then yearly (``environment.calibrations``)
                "last_calibration_date": pl.Series([None] * n, dtype=pl.Date),
                "active": [True] * n,
                "container_id": [r[3] for r in sensor_rows],
            },
            t + 6 * step,
            n,
        ),
    )

    # feed containers: a silo per hall, 3 barges per area
    fc: list[tuple] = [
        (
            SITES.silo_id(h),
            f"{station}-Hall-{st.hall}-Silo",
            "SILO",
            D.SILO_CAPACITY_KG[cast(str, st.hall)],  # the freshwater stages have halls
            h,
            None,
            D.HALL_FEED[cast(str, st.hall)],
            D.INITIAL_SILO_STOCK_KG,
        )
        for h, _, station, st in halls
    ]
    fc += [
        (
            SITES.barge_id(a, b),
            f"{area}-Barge-{b + 1}",
            "BARGE",
            D.BARGE_CAPACITY_KG,
            None,
            a,
            D.BARGE_FEED,
            D.INITIAL_BARGE_STOCK_KG,
        )
        for a, _, area in areas
        for b in range(D.BARGES_PER_AREA)
    ]
    n = len(fc)
    out["infrastructure_feedcontainer"] = T.conform(
        "infrastructure_feedcontainer",
        _with_times(
            {
                "id": [r[0] for r in fc],
                "name": [r[1] for r in fc],
                "container_type": [r[2] for r in fc],
                "capacity_kg": [r[3] for r in fc],
                "active": [True] * n,
                "hall_id": pl.Series([r[4] for r in fc], dtype=pl.Int64),
                "area_id": pl.Series([r[5] for r in fc], dtype=pl.Int64),
            },
            t + 7 * step,
            n,
        ),
    )

    # --- master data (phase 2) ---
    t = t0 + dt.timedelta(hours=1)
    out["batch_species"] = T.conform(
        "batch_species",
        _with_times(
            {
                "id": [1],
                "name": ["Atlantic Salmon"],
                "scientific_name": ["Salmo salar"],
                "description": ["Atlantic salmon farmed from egg to harvest"],
                "optimal_temperature_min": [6.0],
                "optimal_temperature_max": [16.0],
                "optimal_oxygen_min": [80.0],
                "optimal_ph_min": [6.5],
                "optimal_ph_max": [8.5],
            },
            t,
            1,
        ),
    )
    n = len(D.STAGES)
    out["batch_lifecyclestage"] = T.conform(
        "batch_lifecyclestage",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "name": [s.name for s in D.STAGES],
                "order": [s.order for s in D.STAGES],
                "description": [f"{s.name} stage, {s.days} days" for s in D.STAGES],
                "expected_weight_min_g": [s.weight_min_g for s in D.STAGES],
                "expected_weight_max_g": [s.weight_max_g for s in D.STAGES],
                "expected_length_min_cm": [s.length_min_cm for s in D.STAGES],
                "expected_length_max_cm": [s.length_max_cm for s in D.STAGES],
                "species_id": [1] * n,
            },
            t + step,
            n,
        ),
    )
    n = len(D.PARAMETERS)
    out["environmental_environmentalparameter"] = T.conform(
        "environmental_environmentalparameter",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "name": [p.name for p in D.PARAMETERS],
                "unit": [p.unit for p in D.PARAMETERS],
                "description": [p.description for p in D.PARAMETERS],
                "min_value": [float(p.min_value) for p in D.PARAMETERS],
                "max_value": [float(p.max_value) for p in D.PARAMETERS],
                "optimal_min": [float(p.optimal_min) for p in D.PARAMETERS],
                "optimal_max": [float(p.optimal_max) for p in D.PARAMETERS],
            },
            t + 2 * step,
            n,
        ),
    )
    n = len(D.FEEDS)
    out["inventory_feed"] = T.conform(
        "inventory_feed",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "name": [f.name for f in D.FEEDS],
                "brand": [D.FEED_BRAND] * n,
                "size_category": [f.size_category for f in D.FEEDS],
                "pellet_size_mm": [f.pellet_mm for f in D.FEEDS],
                "protein_percentage": [float(f.protein) for f in D.FEEDS],
                "fat_percentage": [float(f.fat) for f in D.FEEDS],
                "carbohydrate_percentage": [float(f.carbohydrate) for f in D.FEEDS],
                "description": [f"{f.name.split()[0]} diet, {f.pellet_mm} mm pellets" for f in D.FEEDS],
                "is_active": [True] * n,
            },
            t + 3 * step,
            n,
        ),
    )

    # initial feed inventory: one purchase and one stock lot per feed container (the plan's quantities)
    n = len(fc)
    feed_idx = np.array([r[6] for r in fc])
    price = np.array([D.FEEDS[i].base_price for i in feed_idx]) * rng.uniform(0.97, 1.03, n)
    purchase_day = setup_date
    out["inventory_feedpurchase"] = T.conform(
        "inventory_feedpurchase",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "purchase_date": [purchase_day] * n,
                "quantity_kg": [r[7] for r in fc],
                "cost_per_kg": np.clip(price, 1.80, 2.80),
                "supplier": [D.SUPPLIERS[i % len(D.SUPPLIERS)] for i in range(n)],
                "batch_number": [f"LOT-{purchase_day:%Y%m}-{i:05d}" for i in range(1, n + 1)],
                "expiry_date": [purchase_day + dt.timedelta(days=SHELF_LIFE_DAYS)] * n,
                "notes": ["Initial stock"] * n,
                "feed_id": feed_idx + 1,
            },
            t + 4 * step,
            n,
        ),
    )
    stamps = _stamps(t + 5 * step, n)
    out["inventory_feedcontainerstock"] = T.conform(
        "inventory_feedcontainerstock",
        {
            "id": list(range(1, n + 1)),
            "quantity_kg": [r[7] for r in fc],
            "entry_date": stamps,
            "created_at": stamps,
            "updated_at": stamps,
            "feed_container_id": [r[0] for r in fc],
            "feed_purchase_id": list(range(1, n + 1)),
        },
    )

    n = len(D.HEALTH_PARAMETERS)
    out["health_healthparameter"] = T.conform(
        "health_healthparameter",
        _with_times(
            {
                "id": list(range(1, n + 1)),
                "name": [name for name, _ in D.HEALTH_PARAMETERS],
                **{
                    f"description_score_{k}": [f"{label}: {desc}" for _, label in D.HEALTH_PARAMETERS]
                    for k, desc in enumerate(
                        ("normal", "slight changes", "moderate changes", "marked changes", "severe changes"), 1
                    )
                },
                "is_active": [True] * n,
            },
            t + 6 * step,
            n,
        ),
    )
    for name, rows_ in (("health_mortalityreason", D.MORTALITY_REASONS), ("health_sampletype", D.SAMPLE_TYPES)):
        out[name] = T.conform(
            name,
            {
                "id": list(range(1, len(rows_) + 1)),
                "name": [r[0] for r in rows_],
                "description": [r[1] for r in rows_],
            },
        )
    out["health_vaccinationtype"] = T.conform(
        "health_vaccinationtype",
        {
            "id": list(range(1, len(D.VACCINATION_TYPES) + 1)),
            "name": [v[0] for v in D.VACCINATION_TYPES],
            "manufacturer": [v[1] for v in D.VACCINATION_TYPES],
            "dosage": [v[2] for v in D.VACCINATION_TYPES],
            "description": [v[3] for v in D.VACCINATION_TYPES],
        },
    )

    out["harvest_productgrade"] = harvest.product_grades(t + 7 * step, profile)
    out |= scenario.master(t + 8 * step, T)
    add_history(out, T)
    return out


def add_history(out: dict[str, pl.DataFrame], T: Bound) -> None:
    """'+' history rows for every table of ``out`` that has a history twin (made by the setup)."""
    for name in list(out):
        t_ = T.table(name)
        if t_.history_table is None:
            continue
        created = "date_joined" if name == "auth_user" else "created_at"
        user = None if name in ("auth_user", "users_userprofile") else SYSTEM_ID
        out[t_.history_table] = T.conform(
            t_.history_table, number_history(T.history(name, out[name], created, "+", user), key=t_.object_key or "id")
        )
