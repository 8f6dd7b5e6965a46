"""The scenario app: growth, feed and mortality models per geography, a temperature profile per
geography, and one baseline scenario per batch with its projection, computed the way the
application's projection engine computes it (``aquamind-apps.md`` §4.3), so that its growth
analysis compares the batch's actual weights against a projection it would itself have made.

The models' values are the simulation's own (``aquagen.model.population``): the thermal growth
coefficient of the sea phase (the application's engines apply one coefficient to every day), FCR
by stage, the base mortality. Both commits' engines are here, chosen by the schema: the one that
keeps projections in a ``scenario_projection_run`` (cb41030) grows the cube root of the weight by
``coefficient × T`` a day, capped by stage name, with freshwater stages at a fixed 12 °C and the
stage timeline laid out from the FCR stage durations; the plan's (8f2ab39) grows the weight by
``tgc × T^n × W^m`` a day and picks the stage by weight.

The temperature profile of a geography is a batch's life from its first day (the engines read it
by the scenario's relative day): the hatchery's set points for the freshwater stages, then the
geography's seasonal sea temperature (``aquagen.model.environment``) as a batch started on 1 January
meets it (at sea from late March of its second year). Scenario start = batch start keeps the days
aligned; the season is that one batch's for every batch.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model import population as P
from aquagen.model.environment import HALL_TEMP_C, sea_season_c
from aquagen.model.seeds import rng_for
from aquagen.model.sites import SITES
from aquagen.model.timeline import ADULT, EPOCH, HARVEST_START, SEA_START
from aquagen.profiles import BatchPlan
from aquagen.tables.conform import Bound
from aquagen.tables.ids import IdBook

# the scenario app's tables in this profile (from the reference's apps extract): a model change and an
# FCR weight override stay outside (nothing writes them); the constraint set's history twin, which the
# extract leaves unpaired, is paired (``IRREGULAR_TWINS``)
TABLES = (
    "scenario",
    "scenario_biological_constraints",
    "scenario_fcrmodel",
    "scenario_fcrmodelstage",
    "scenario_historicalbiologicalconstraints",
    "scenario_historicalfcrmodel",
    "scenario_historicalmortalitymodel",
    "scenario_historicaltemperatureprofile",
    "scenario_historicaltgcmodel",
    "scenario_mortality_model_stage",
    "scenario_mortalitymodel",
    "scenario_scenarioprojection",
    "scenario_stage_constraint",
    "scenario_temperatureprofile",
    "scenario_temperaturereading",
    "scenario_tgc_model_stage",
    "scenario_tgcmodel",
)
IRREGULAR_TWINS = {"scenario_biological_constraints": "scenario_historicalbiologicalconstraints"}
# master rows matched in an existing database (a second load, advance) by these columns
NATURAL_KEYS = {
    "scenario_temperatureprofile": ("name",),
    "scenario_temperaturereading": ("profile_id", "day_number"),
    "scenario_tgcmodel": ("name",),
    "scenario_tgc_model_stage": ("tgc_model_id", "lifecycle_stage"),
    "scenario_fcrmodel": ("name",),
    "scenario_fcrmodelstage": ("model_id", "stage_id"),
    "scenario_mortalitymodel": ("name",),
    "scenario_mortality_model_stage": ("mortality_model_id", "lifecycle_stage"),
    "scenario_biological_constraints": ("name",),
    "scenario_stage_constraint": ("constraint_set_id", "lifecycle_stage"),
}
SCENARIO_STREAM = 0x5CE7  # the projection's rounding of deaths: its own stream inside the batch's shard
PROFILE_DAYS = 1200  # readings per profile: the longest scenario the application's API accepts
MIN_DURATION_DAYS = 900  # a baseline scenario covers at least this (the application's generator: 900)
PROFILE_YEAR_START = dt.date(2001, 1, 1)  # the profile's day 1 (a non-leap year: any year's season)
HEAD_FRESHWATER_TEMP_C = 12.0  # cb41030's engine: freshwater stages at a fixed temperature
# the sea phase's coefficient per degree-day: the simulation's sea TGC at the sea phase's middle weight
# (~2 kg, where its size factor is 0.87: 2.61 per 1,000 degree-days) less what fasting days (moves,
# delousing, before harvest) and the growth check after transfer take: the simulated sea phase grows
# at 2.42 (measured on 12 batches of both geographies, cube root of weight over degree-days)
SEA_GROWTH_SHARE = 0.925
TGC_PER_DEGREE_DAY = round(float(P.TGC[ADULT] * P.weight_factor(2000.0)) * SEA_GROWTH_SHARE / 1000, 5)
# 8f2ab39's engine: dW = tgc · T^n · W^m, near cube-root growth with these exponents
TGC_EXPONENT_N, TGC_EXPONENT_M = 1.0, 0.667
# FCR per stage: the simulation's by stage, the sea phase with its rise by size at ~2 kg of fish
FCR_BY_STAGE = tuple(round(float(f), 3) for f in P.FCR[:ADULT]) + (round(float(P.FCR[ADULT] + P.FCR_PER_KG), 3),)
EGG_FCR_8F2AB39 = 0.5  # 8f2ab39's engine fails on an FCR of 0; 0.5 is the least its validation accepts
# the application's declared lifecycle keys and the simulation's stage each stands for
STAGE_KEYS = (
    ("egg", 0),
    ("alevin", 0),
    ("fry", 1),
    ("parr", 2),
    ("smolt", 3),
    ("post_smolt", 4),
    ("harvest", ADULT),
)
# mortality: the simulation's base rate per day, in percent; the model's rate averages it over the life
STAGE_MORTALITY_PCT = tuple(round(float(r) * 100, 3) for r in P.BASE_MORTALITY)
MORTALITY_RATE_PCT = round(
    sum(r * s.days for r, s in zip(STAGE_MORTALITY_PCT, D.STAGES)) / sum(s.days for s in D.STAGES), 3
)
# stage constraints: the stages' weight ranges; 'harvest' tops at the harvest target, 'smolt' at sea transfer
HARVEST_MIN_G, HARVEST_TARGET_G = 4_000.0, 5_500.0
TEMP_RANGE_C = {"freshwater": (4.0, 16.0), "sea": (6.0, 18.0)}
GENOTYPE = "Atlantic salmon, commercial strain"
# the egg suppliers (chosen by batch id as cb41030's creation workflows choose theirs)
SUPPLIERS = ("AquaGen Norway", "Benchmark Genetics Iceland", "StofnFiskur Faroe")


def head_engine(T: Bound) -> bool:
    """cb41030's engine: projections hang off a projection run."""
    return "scenario_projection_run" in T.tables


@dataclass(frozen=True)
class Models:
    """What a geography's models hold, as the projection engine reads them."""

    temps: np.ndarray  # the temperature profile's readings, day 1 first
    tgc: float  # the TGC model's tgc_value
    exponents: tuple[float, float]  # its exponent_n, exponent_m
    fcr: np.ndarray  # FCR by stage (lifecycle stage order)
    rate: float  # the mortality model's daily rate, percent


@cache
def models(geography: str, head: bool) -> Models:
    """A geography's models in a profile (the engine's kind): one definition for the master rows and
    the projections the batches compute."""
    head_models = Models(
        temps=profile_temperatures(geography),
        tgc=TGC_PER_DEGREE_DAY,
        exponents=(TGC_EXPONENT_N, TGC_EXPONENT_M),
        fcr=np.array(FCR_BY_STAGE),
        rate=MORTALITY_RATE_PCT,
    )
    if head:
        return head_models
    # the plan's engine grows eggs too (it has no non-feeding stage and no caps): its coefficient is the
    # one that reaches cb41030's weight on the nominal first harvest day, so that both profiles'
    # projections meet at sea (the freshwater part runs ahead of the fish)
    day = HARVEST_START - 1
    target = _weights(True, head_models.temps, TGC_PER_DEGREE_DAY, head_models.exponents)[day]
    lo, hi = 0.0, 3 * TGC_PER_DEGREE_DAY
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (
            (mid, hi) if _weights(False, head_models.temps, mid, head_models.exponents)[day] < target else (lo, mid)
        )
    fcr = np.array((EGG_FCR_8F2AB39,) + FCR_BY_STAGE[1:])
    return replace(head_models, tgc=round((lo + hi) / 2, 6), fcr=fcr)


def _weights(head: bool, temps: np.ndarray, tgc: float, exponents: tuple[float, float]) -> np.ndarray:
    """Projected weight from first feeding's weight, days 1..HARVEST_START (the engines' growth alone)."""
    rows = project(head, HARVEST_START, P.FIRST_FEEDING_G, 1, temps, tgc, exponents, np.zeros(6), 0.0, _NO_RNG)
    return rows["average_weight"]


_NO_RNG = np.random.default_rng(0)  # with a rate of 0 no death is drawn: the weights do not depend on it


# --- master data ------------------------------------------------------------------------------
def profile_temperatures(geography: str) -> np.ndarray:
    """Daily temperature of a batch's life from its day 1: the halls' set points until sea transfer,
    then the sea's season (a batch started on 1 January: at sea from late March of its second year)."""
    days = np.arange(PROFILE_DAYS)
    stage_of_day = np.minimum(days // D.STAGES[0].days, len(HALL_TEMP_C) - 1)
    epoch = (PROFILE_YEAR_START - EPOCH).days + days
    sea = sea_season_c(geography, epoch)
    return np.round(np.where(days < SEA_START, HALL_TEMP_C[stage_of_day], sea), 2)


def master(t: dt.datetime, T: Bound) -> dict[str, pl.DataFrame]:
    """Temperature profiles with their readings, TGC, FCR and mortality models with their stage rows
    (one of each per geography, ids in geography order) and the biological constraint set."""
    head = head_engine(T)
    geos = [g.name for g in D.GEOGRAPHIES]
    n = len(geos)
    ids = list(range(1, n + 1))
    at = [t + dt.timedelta(seconds=i) for i in range(n)]
    times = {"created_at": at, "updated_at": at}
    out: dict[str, pl.DataFrame] = {}
    out["scenario_temperatureprofile"] = T.conform(
        "scenario_temperatureprofile", {"profile_id": ids, "name": [f"{g}: hatchery and sea" for g in geos], **times}
    )
    temps = np.concatenate([models(g, head).temps for g in geos])
    stamp = pl.Series([t] * len(temps), dtype=pl.Datetime("us", "UTC"))
    out["scenario_temperaturereading"] = T.conform(
        "scenario_temperaturereading",
        {
            "reading_id": np.arange(1, len(temps) + 1),
            "temperature": temps,
            "created_at": stamp,
            "updated_at": stamp,
            "profile_id": np.repeat(ids, PROFILE_DAYS),
            "day_number": np.tile(np.arange(1, PROFILE_DAYS + 1), n),
        },
    )
    out["scenario_tgcmodel"] = T.conform(
        "scenario_tgcmodel",
        {
            "model_id": ids,
            "name": [f"{g} TGC" for g in geos],
            "location": geos,
            "release_period": ["All year"] * n,
            "tgc_value": [models(g, head).tgc for g in geos],
            "exponent_n": [models(g, head).exponents[0] for g in geos],
            "exponent_m": [models(g, head).exponents[1] for g in geos],
            **times,
            "profile_id": ids,
        },
    )
    k = len(STAGE_KEYS)
    out["scenario_tgc_model_stage"] = T.conform(
        "scenario_tgc_model_stage",
        {
            "id": np.arange(1, n * k + 1),
            "lifecycle_stage": [key for _ in geos for key, _ in STAGE_KEYS],
            "tgc_value": [float(P.TGC[s]) for _ in geos for _, s in STAGE_KEYS],  # per 1,000 degree-days
            "temperature_exponent": [1.0] * (n * k),
            "weight_exponent": [0.33] * (n * k),
            "tgc_model_id": np.repeat(ids, k),
        },
    )
    s = len(D.STAGES)
    stage_stamp = [t] * (n * s)
    out["scenario_fcrmodel"] = T.conform(
        "scenario_fcrmodel", {"model_id": ids, "name": [f"{g} FCR" for g in geos], **times}
    )
    out["scenario_fcrmodelstage"] = T.conform(
        "scenario_fcrmodelstage",
        {
            "id": np.arange(1, n * s + 1),
            "fcr_value": np.concatenate([models(g, head).fcr for g in geos]),
            "duration_days": [st.days for st in D.STAGES] * n,
            "created_at": stage_stamp,
            "updated_at": stage_stamp,
            "model_id": np.repeat(ids, s),
            "stage_id": list(range(1, s + 1)) * n,
        },
    )
    out["scenario_mortalitymodel"] = T.conform(
        "scenario_mortalitymodel",
        {
            "model_id": ids,
            "name": [f"{g} mortality" for g in geos],
            "frequency": ["daily"] * n,
            "rate": [models(g, head).rate for g in geos],
            **times,
        },
    )
    daily = [STAGE_MORTALITY_PCT[s_] for _ in geos for _, s_ in STAGE_KEYS]
    out["scenario_mortality_model_stage"] = T.conform(
        "scenario_mortality_model_stage",
        {
            "id": np.arange(1, n * k + 1),
            "lifecycle_stage": [key for _ in geos for key, _ in STAGE_KEYS],
            "daily_rate_percent": daily,
            "weekly_rate_percent": [round(7 * r, 3) for r in daily],  # as the application's save() fills it
            "mortality_model_id": np.repeat(ids, k),
        },
    )
    out["scenario_biological_constraints"] = T.conform(
        "scenario_biological_constraints",
        {
            "id": [1],
            "name": ["Atlantic salmon"],
            "description": ["Weight and temperature ranges of each lifecycle stage (aquagen's domain)"],
            "is_active": [True],
            "created_at": [t],
            "updated_at": [t],
            "created_by_id": pl.Series([D.SYSTEM_ID], dtype=pl.Int32),
        },
    )
    lo = [D.STAGES[s_].weight_min_g for _, s_ in STAGE_KEYS]
    hi = [D.STAGES[s_].weight_max_g for _, s_ in STAGE_KEYS]
    lo[-1], hi[-1] = HARVEST_MIN_G, HARVEST_TARGET_G
    temp = [TEMP_RANGE_C["sea" if s_ == ADULT else "freshwater"] for _, s_ in STAGE_KEYS]
    out["scenario_stage_constraint"] = T.conform(
        "scenario_stage_constraint",
        {
            "id": np.arange(1, k + 1),
            "lifecycle_stage": [key for key, _ in STAGE_KEYS],
            "min_weight_g": lo,
            "max_weight_g": hi,
            "min_temperature_c": [a for a, _ in temp],
            "max_temperature_c": [b for _, b in temp],
            "typical_duration_days": [D.STAGES[s_].days for _, s_ in STAGE_KEYS],
            "max_freshwater_weight_g": [
                D.STAGES[ADULT - 1].weight_max_g if s_ == ADULT - 1 else None for _, s_ in STAGE_KEYS
            ],
            "constraint_set_id": [1] * k,
        },
    )
    return out


# --- the projection ---------------------------------------------------------------------------
def stage_cap_g(name: str) -> float:
    """cb41030's engine: the most a fish may weigh in a stage, by the stage's name."""
    n = name.lower()
    if "post" in n:
        return 700.0
    for key, cap in (("egg", 1.0), ("alevin", 1.0), ("fry", 10.0), ("parr", 100.0), ("smolt", 250.0)):
        if key in n:
            return cap
    return 8_000.0 if ("adult" in n or "harvest" in n) else 7_000.0


HEAD_FRESHWATER_NAMES = ("egg&alevin", "egg", "alevin", "fry", "parr", "smolt")


def project(
    head: bool,
    duration: int,
    w0: float,
    n0: int,
    temps: np.ndarray,
    tgc: float,
    exponents: tuple[float, float],
    fcr: np.ndarray,
    rate_pct: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Projection rows of days 1..duration (see the module docstring): stage index, temperature,
    weight, population, biomass, daily and cumulative feed."""
    day = np.arange(1, duration + 1)
    t_profile = temps[np.minimum(day, len(temps)) - 1]  # past the last reading its value repeats
    names = [s.name for s in D.STAGES]
    if head:
        ends = np.cumsum([s.days for s in D.STAGES])  # FCR stage rows laid end to end from day 1
        stage = np.minimum(np.searchsorted(ends, day, side="left"), len(ends) - 1)
        fresh = np.array([n.lower() in HEAD_FRESHWATER_NAMES for n in names])
        temp = np.where(fresh[stage], HEAD_FRESHWATER_TEMP_C, t_profile)
        coeff = tgc if tgc < 0.01 else tgc / 1000
        # x_d = min(x_{d-1} + c·T_d, cbrt(cap_d)) in closed form: S_d + min(x_0, min_{k<=d}(cbrt cap_k - S_k))
        s = np.cumsum(coeff * temp)
        caps = np.cbrt(np.array([stage_cap_g(n) for n in names]))[stage]
        x = s + np.minimum(np.cbrt(w0), np.minimum.accumulate(caps - s))
        weight = x**3
    else:
        temp = t_profile
        n_exp, m_exp = exponents
        growth = tgc * np.power(temp, n_exp)
        weight = np.empty(duration)
        w = w0
        for i in range(duration):  # each day's gain depends on the day before's weight (W^m)
            w = w + growth[i] * w**m_exp
            weight[i] = w
        lo = np.array([s.weight_min_g for s in D.STAGES])
        hi = np.array([s.weight_max_g for s in D.STAGES])
        order = np.argsort(lo, kind="stable")  # the first matching stage in ascending minimum weight
        inside = (weight[:, None] >= lo[order]) & (weight[:, None] <= hi[order])
        stage = np.where(inside.any(axis=1), order[inside.argmax(axis=1)], 0)
    # deaths: the model's rate applied as a percentage of a fraction (rate / 10,000 a day), a
    # fraction of a death rounded up or down at random, as the application's engine does
    q = rate_pct / 10_000
    expected = n0 * (1 - q) ** (day - 1) * q
    deaths = np.floor(expected + rng.random(duration))
    pop = n0 - np.cumsum(deaths)
    gain = np.diff(weight, prepend=w0)
    feed = np.round(gain * pop / 1000 * fcr[stage], 3)
    return {
        "stage": stage,
        "temperature": temp,
        "average_weight": weight,
        "population": pop,
        "biomass": np.round(weight * pop / 1000, 2),
        "daily_feed": feed,
        "cumulative_feed": np.round(np.cumsum(feed), 3),
    }


def geography_index(area_id: int) -> int:
    g = SITES.areas()[area_id - 1][1]
    return [x.name for x in D.GEOGRAPHIES].index(g.name)


def add(out: dict[str, pl.DataFrame], plan: BatchPlan, ids: IdBook) -> None:
    """The batch's baseline scenario (created with the batch, started with it, as many eggs at their
    weight), its projection (cb41030: in projection run 1, which the batch pins)."""
    T = Bound(ids.profile)
    head = head_engine(T)
    batch = out["batch_batch"]
    created = batch["created_at"][0]
    start = batch["start_date"][0]
    expected_end = batch["expected_end_date"][0]
    trays = out["batch_batchcontainerassignment"].filter(pl.col("lifecycle_stage_id") == 1)
    first = out["batch_historicalbatchcontainerassignment"].filter(
        pl.col("id").is_in(trays["id"].implode()) & (pl.col("population_count") > 0)
    )
    first = first.sort("history_id").group_by("id", maintain_order=True).first()
    eggs = int(first["population_count"].sum())
    w0 = round(float((first["avg_weight_g"].cast(pl.Float64) * first["population_count"]).sum()) / max(eggs, 1), 2)
    duration = int(min(PROFILE_DAYS, max(MIN_DURATION_DAYS, (expected_end - start).days + 31)))
    g = geography_index(plan.area_id)
    geo = D.GEOGRAPHIES[g].name
    m = models(geo, head)
    rows = project(
        head,
        duration,
        w0,
        eggs,
        m.temps,
        m.tgc,
        m.exponents,
        m.fcr,
        m.rate,
        rng_for(plan.seed, plan.shard, SCENARIO_STREAM),
    )
    scen = batch.select_seq("created_at")
    scenario_id = ids.assign("scenario", scen)[0]
    out["scenario"] = T.conform(
        "scenario",
        scen.with_columns_seq(
            scenario_id=pl.lit(scenario_id, dtype=pl.Int64),
            name=pl.lit(f"Baseline {plan.batch_number}"),
            start_date=pl.lit(start),
            duration_days=pl.lit(duration, dtype=pl.Int32),
            initial_count=pl.lit(eggs, dtype=pl.Int32),
            genotype=pl.lit(GENOTYPE),
            supplier=pl.lit(SUPPLIERS[plan.batch_id % len(SUPPLIERS)]),
            initial_weight=pl.lit(w0),
            updated_at=pl.col("created_at"),
            batch_id=pl.lit(plan.batch_id, dtype=pl.Int64),
            created_by_id=pl.lit(D.SYSTEM_ID, dtype=pl.Int32),
            fcr_model_id=pl.lit(g + 1, dtype=pl.Int64),
            mortality_model_id=pl.lit(g + 1, dtype=pl.Int64),
            tgc_model_id=pl.lit(g + 1, dtype=pl.Int64),
            biological_constraints_id=pl.lit(1, dtype=pl.Int64),
        ),
    )
    day = np.arange(1, duration + 1)
    dates = pl.date_range(start, start + dt.timedelta(days=duration - 1), "1d", eager=True)
    every_day = batch["created_at"].gather([0] * duration)  # the batch's creation (not a datetime a row)
    rows_df = pl.DataFrame(
        {
            "projection_date": dates,
            "day_number": day.astype(np.int32),
            "average_weight": rows["average_weight"],
            "population": rows["population"],
            "biomass": rows["biomass"],
            "daily_feed": rows["daily_feed"],
            "cumulative_feed": rows["cumulative_feed"],
            "temperature": rows["temperature"],
            "created_at": every_day,
            "current_stage_id": (rows["stage"] + 1).astype(np.int64),
            "updated_at": every_day,
        }
    )
    if head:
        run = scen
        run_id = ids.assign("scenario_projection_run", run)[0]
        snapshot = {
            "scenario": {"name": f"Baseline {plan.batch_number}", "start_date": start.isoformat()},
            "initial_count": eggs,
            "initial_weight": w0,
            "duration_days": duration,
            "tgc_model": {"id": g + 1, "name": f"{geo} TGC", "tgc_value": m.tgc, "profile_id": g + 1},
            "fcr_model": {"id": g + 1, "name": f"{geo} FCR", "stages": [float(f) for f in m.fcr]},
            "mortality_model": {"id": g + 1, "name": f"{geo} mortality", "frequency": "daily", "rate": m.rate},
            "captured_at": created.isoformat(),
        }
        out["scenario_projection_run"] = T.conform(
            "scenario_projection_run",
            run.with_columns_seq(
                run_id=pl.lit(run_id, dtype=pl.Int64),
                run_date=pl.col("created_at"),
                run_number=pl.lit(1, dtype=pl.Int32),
                label=pl.lit("Baseline"),
                parameters_snapshot=pl.lit(json.dumps(snapshot, sort_keys=True)),
                notes=pl.lit(""),
                total_projections=pl.lit(duration, dtype=pl.Int32),
                final_weight_g=pl.lit(float(rows["average_weight"][-1])),
                final_biomass_kg=pl.lit(float(rows["biomass"][-1])),
                updated_at=pl.col("created_at"),
                created_by_id=pl.lit(D.SYSTEM_ID, dtype=pl.Int32),
                scenario_id=pl.lit(scenario_id, dtype=pl.Int64),
            ),
        )
        owner = {"projection_run_id": pl.lit(run_id, dtype=pl.Int64)}
        # the batch pins its run from its creation on (every state of it: the as-of cut keeps the last)
        for name in ("batch_batch", "batch_historicalbatch"):
            out[name] = out[name].with_columns_seq(pinned_projection_run_id=pl.lit(run_id, dtype=pl.Int64))
    else:
        owner = {"scenario_id": pl.lit(scenario_id, dtype=pl.Int64)}
    rows_df = rows_df.with_columns_seq(projection_id=ids.assign("scenario_scenarioprojection", rows_df), **owner)
    out["scenario_scenarioprojection"] = T.conform("scenario_scenarioprojection", rows_df)


# --- checks (``aquagen validate``): SQL returning one number, expected ---------------------------
def _coverage(rows_by: str, owner: str, owner_key: str, duration: str) -> str:
    """SQL: owners whose projection rows are not exactly days 1..duration."""
    return (
        f"SELECT COUNT(*) FROM {owner} o LEFT JOIN (SELECT {rows_by}, COUNT(*) AS n, COUNT(DISTINCT day_number) AS d, "
        f"MIN(day_number) AS lo, MAX(day_number) AS hi FROM scenario_scenarioprojection GROUP BY {rows_by}) p "
        f"ON p.{rows_by} = o.{owner_key} WHERE p.n IS NULL OR p.n <> {duration} OR p.d <> {duration} "
        f"OR p.lo <> 1 OR p.hi <> {duration}"
    )


def _count(table: str) -> str:
    return f"SELECT COUNT(*) FROM {table}"


N_GEO = len(D.GEOGRAPHIES)
CHECKS = [
    ("scenario", "temperature profiles (one per geography)", _count("scenario_temperatureprofile"), N_GEO),
    (
        "scenario",
        "temperature readings (days 1..1200 per profile)",
        _count("scenario_temperaturereading"),
        N_GEO * PROFILE_DAYS,
    ),
    ("scenario", "TGC models (one per geography)", _count("scenario_tgcmodel"), N_GEO),
    ("scenario", "FCR models (one per geography)", _count("scenario_fcrmodel"), N_GEO),
    ("scenario", "mortality models (one per geography)", _count("scenario_mortalitymodel"), N_GEO),
    (
        "scenario",
        "temperature profiles whose readings are not days 1..n",
        "SELECT COUNT(*) FROM scenario_temperatureprofile t LEFT JOIN (SELECT profile_id, COUNT(*) AS n, "
        "MIN(day_number) AS lo, MAX(day_number) AS hi FROM scenario_temperaturereading GROUP BY profile_id) r "
        "ON r.profile_id = t.profile_id WHERE r.n IS NULL OR r.lo <> 1 OR r.hi <> r.n",
        0,
    ),
    (
        "scenario",
        "FCR models without one row per lifecycle stage",
        "SELECT COUNT(*) FROM scenario_fcrmodel f LEFT JOIN (SELECT model_id, COUNT(DISTINCT stage_id) AS n "
        "FROM scenario_fcrmodelstage GROUP BY model_id) st ON st.model_id = f.model_id "
        "CROSS JOIN (SELECT COUNT(*) AS k FROM batch_lifecyclestage) ls WHERE st.n IS NULL OR st.n <> ls.k",
        0,
    ),
    (
        "scenario",
        "model values the application's validation refuses (TGC, FCR, mortality)",
        "SELECT COUNT(*) FROM (SELECT model_id FROM scenario_tgcmodel WHERE tgc_value <= 0 OR tgc_value > 0.1 "
        "OR exponent_n < 0 OR exponent_n > 2 OR exponent_m <= 0 OR exponent_m > 1 "
        "UNION ALL SELECT id FROM scenario_fcrmodelstage WHERE fcr_value > 3 OR (fcr_value < 0.5 AND fcr_value <> 0) "
        "OR (fcr_value = 0 AND stage_id <> 1) OR duration_days < 1 OR duration_days > 500 "
        "UNION ALL SELECT model_id FROM scenario_mortalitymodel WHERE rate < 0 OR rate > 5) v",
        0,
    ),
    (
        "scenario",
        "batches without a baseline scenario",
        "SELECT COUNT(*) FROM batch_batch b LEFT JOIN scenario s ON s.batch_id = b.id WHERE s.scenario_id IS NULL",
        0,
    ),
    (
        "scenario",
        "scenarios whose models or temperature profile do not exist",
        "SELECT COUNT(*) FROM scenario s LEFT JOIN scenario_tgcmodel t ON t.model_id = s.tgc_model_id "
        "LEFT JOIN scenario_fcrmodel f ON f.model_id = s.fcr_model_id "
        "LEFT JOIN scenario_mortalitymodel m ON m.model_id = s.mortality_model_id "
        "LEFT JOIN scenario_temperatureprofile p ON p.profile_id = t.profile_id "
        "WHERE t.model_id IS NULL OR f.model_id IS NULL OR m.model_id IS NULL OR p.profile_id IS NULL",
        0,
    ),
    (
        "scenario",
        "scenarios not started with their batch, under 900 days or without an initial weight",
        "SELECT COUNT(*) FROM scenario s JOIN batch_batch b ON b.id = s.batch_id WHERE s.start_date <> b.start_date "
        f"OR s.duration_days < {MIN_DURATION_DAYS} OR s.duration_days > {PROFILE_DAYS} "
        "OR s.initial_weight IS NULL OR s.initial_weight <= 0 OR s.initial_count <= 0",
        0,
    ),
    (
        "scenario",
        "scenarios whose initial weight lies in no stage of their constraint set",
        "SELECT COUNT(*) FROM scenario s WHERE s.biological_constraints_id IS NOT NULL AND s.scenario_id NOT IN "
        "(SELECT s2.scenario_id FROM scenario s2 JOIN scenario_stage_constraint c "
        "ON c.constraint_set_id = s2.biological_constraints_id WHERE s2.initial_weight "
        "BETWEEN CAST(c.min_weight_g AS DOUBLE PRECISION) AND CAST(c.max_weight_g AS DOUBLE PRECISION))",
        0,
    ),
]
# 8f2ab39: projection rows hang off the scenario
PLAN_CHECKS = [
    (
        "scenario",
        "scenarios whose projection rows are not days 1..duration",
        _coverage("scenario_id", "scenario", "scenario_id", "o.duration_days"),
        0,
    ),
    (
        "scenario",
        "projection rows not dated start + day - 1",
        "SELECT COUNT(*) FROM scenario_scenarioprojection p JOIN scenario s ON s.scenario_id = p.scenario_id "
        "WHERE p.projection_date <> s.start_date + CAST(p.day_number - 1 AS INTEGER)",
        0,
    ),
]
# cb41030: projection rows hang off a run of the scenario, which the batch pins
HEAD_CHECKS = [
    (
        "scenario",
        "scenarios without projection run 1",
        "SELECT COUNT(*) FROM scenario s LEFT JOIN scenario_projection_run r ON r.scenario_id = s.scenario_id "
        "AND r.run_number = 1 WHERE r.run_id IS NULL",
        0,
    ),
    (
        "scenario",
        "projection runs whose rows are not days 1..duration (or total_projections differs)",
        "SELECT COUNT(*) FROM (SELECT r.run_id, r.total_projections, s.duration_days FROM scenario_projection_run r "
        "JOIN scenario s ON s.scenario_id = r.scenario_id) o LEFT JOIN (SELECT projection_run_id, COUNT(*) AS n, "
        "COUNT(DISTINCT day_number) AS d, MIN(day_number) AS lo, MAX(day_number) AS hi "
        "FROM scenario_scenarioprojection GROUP BY projection_run_id) p ON p.projection_run_id = o.run_id "
        "WHERE p.n IS NULL OR p.n <> o.duration_days OR p.d <> o.duration_days OR p.lo <> 1 "
        "OR p.hi <> o.duration_days OR o.total_projections <> o.duration_days",
        0,
    ),
    (
        "scenario",
        "projection rows not dated start + day - 1",
        "SELECT COUNT(*) FROM scenario_scenarioprojection p JOIN scenario_projection_run r "
        "ON r.run_id = p.projection_run_id JOIN scenario s ON s.scenario_id = r.scenario_id "
        "WHERE p.projection_date <> s.start_date + CAST(p.day_number - 1 AS INTEGER)",
        0,
    ),
    (
        "scenario",
        "batches whose pinned projection run is missing or not of their own scenario",
        "SELECT COUNT(*) FROM batch_batch b LEFT JOIN scenario_projection_run r ON r.run_id = b.pinned_projection_run_id "
        "LEFT JOIN scenario s ON s.scenario_id = r.scenario_id WHERE r.run_id IS NULL OR s.batch_id IS NULL "
        "OR s.batch_id <> b.id",
        0,
    ),
    (
        "scenario",
        "projection runs whose final weight or biomass is not their last day's",
        "SELECT COUNT(*) FROM scenario_projection_run r JOIN scenario_scenarioprojection p "
        "ON p.projection_run_id = r.run_id AND p.day_number = r.total_projections "
        "WHERE r.final_weight_g <> p.average_weight OR r.final_biomass_kg <> p.biomass",
        0,
    ),
]
