"""Growth and mortality: the day loop that carries population and weight through the life.

Sources for the numbers (per 1,000 degree-days for the thermal growth coefficient, TGC):
- Mowi, *Salmon Farming Industry Handbook* 2023: sea phase 14–24 months, harvest at 4–6 kg,
  economic FCR 1.1–1.3, sea mortality 10–20 % per generation in Norway/Scotland/Faroes.
- Norwegian Veterinary Institute, *Fish Health Report* 2023: monthly sea mortality ≈1 %
  (≈0.03–0.04 %/day), loss concentrated after sea transfer and in disease episodes (AGD,
  winter ulcer, jellyfish), treatment (delousing) mortality; 1 in 5 cycles loses > 25 %.
- Marine Scotland, *Scottish Fish Farm Production Survey* 2022: sea survival 73–87 %,
  smolts 80–150 g ashore, post-smolts up to 500 g.
- Thorarensen & Farrell 2011 (Aquaculture 312): TGC 2.5–3.3 in freshwater tanks, falling
  gently with size at sea; growth depression for 2–4 weeks after transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from . import domain as D
from .environment import Water
from .layout import Grid, Layout
from .timeline import ADULT, N_STAGES, N_TRACKS, RINGS, SLOTS, Calendar

# --- growth ---------------------------------------------------------------------------
TGC = np.array([0.0, 2.2, 2.7, 2.9, 3.2, 3.0])  # per 1,000 degree-days; no growth as eggs
FIRST_FEEDING_G = 0.2
TGC_HIGH_TEMP_C = 13.0  # above it the coefficient falls 8 % per °C (floor 60 %)
TGC_SIZE_REF_G = 500.0  # above it the coefficient falls gently: (W / 500 g)^-0.1, floor 0.75
TGC_SIZE_EXPONENT = 0.1
SEA_CHECK_DAYS = 28  # growth check after sea transfer: 40 % of the coefficient, back to 100 % in 4 weeks
SEA_CHECK_FLOOR = 0.4
# random effects (Thorarensen & Farrell: between-batch TGC spread ±10–15 %; pen-to-pen weight CV 5–10 %)
BATCH_TGC_SD, BATCH_TGC_CLIP = 0.06, 0.13
CONTAINER_TGC_SD, CONTAINER_TGC_CLIP = 0.025, 0.06

# feed conversion: FCR by stage at the reference size and temperature; × the batch's factor
FCR = np.array([0.0, 0.8, 0.9, 1.0, 1.05, 1.03])  # feed / biomass gain by stage; eggs not fed
FCR_PER_KG = 0.04  # at sea FCR rises 0.04 per kg of fish (Mowi handbook: 1.05 at 1 kg .. 1.3 at 6 kg)
FCR_TEMP_BAND_C = (6.0, 14.0)  # outside it FCR rises 4 % per °C
BATCH_FCR_SD, BATCH_FCR_CLIP = 0.05, 0.12

FAST_BEFORE_HARVEST = 5  # days without feed before slaughter
FAST_TREATMENT_DAYS = 2  # around a delousing

# --- mortality ------------------------------------------------------------------------
BASE_MORTALITY = np.array([0.0004, 0.0005, 0.0003, 0.0002, 0.00015, 0.00035])  # per day; sea ≈ 1 %/month
# Egg&Alevin losses at picking (first 3 weeks), hatching (mid-stage) and first feeding (end):
# (peak day as a fraction of the stage, width in days, peak daily rate)
EGG_LOSS_PEAKS = ((0.0, 10.0, 0.003), (0.5, 5.0, 0.004), (0.92, 6.0, 0.003))
OPTIMUM_TEMP_C = np.array([8.0, 12.0, 12.0, 12.0, 12.0, 13.0])  # stress grows above it
LOW_OXYGEN_PCT = 80.0  # stress grows below it
HANDLING_LOSS = (0.001, 0.005)  # fraction lost per move, uniform
POST_TRANSFER_LOSS = (0.01, 0.03)  # extra loss in the weeks after sea transfer (NVI: 1–3 %)
POST_TRANSFER_DAYS = 12.0  # e-folding time of that extra loss
# a batch's heavy-tailed mortality multiplier (lognormal): the worst fifth of cycles lose 25–35 % at sea
BATCH_MORTALITY_SIGMA = 0.65
FRESHWATER_MORTALITY_SIGMA = 0.25
# episodes at sea: (kind, cause, months it happens in (1-12), P(kind | month ok)); 1–3 per cycle,
# lasting 1–4 weeks in some rings, loss in the rings affected lognormal around 3 % (NVI, Marine Scotland)
EPISODES = (
    ("gill disease", "DISEASE", (7, 8, 9, 10, 11), 1.0),
    ("winter ulcer", "DISEASE", (12, 1, 2, 3), 1.0),
    ("jellyfish", "ENVIRONMENTAL", (8, 9, 10, 11), 0.6),
    ("delousing handling", "HANDLING", tuple(range(1, 13)), 1.0),
)
EPISODES_PER_CYCLE = (1, 3)
EPISODE_DAYS = (7, 28)
EPISODE_LOSS_MEDIAN, EPISODE_LOSS_SIGMA = 0.035, 0.8

# Biomass per container at which stocking density costs 3 of its at most 6 points of
# oxygen saturation: about 60 % of the container's capacity.
CAPACITY_KG = np.array([c.max_biomass_kg for c in D.CONTAINER_TYPES])  # by stage (one type per stage)
DENSITY_REF_KG = 0.6 * CAPACITY_KG
# A hatchery grades or splits a tank before it is full: growth holds at 90 % of the tank's
# max_biomass_kg (sea rings at their legal maximum). The headroom keeps what the farm's own estimates
# show (a growth sample's mean, the nightly TGC estimate between samples: 3-10 % off the true weight)
# within the tank's capacity; held at 100 %, 2 of 140 batches of the default farm showed daily states
# at up to 108 %.
TANK_OPERATING_SHARE = 0.9
HOLD_KG = CAPACITY_KG * np.where(np.arange(N_STAGES) < ADULT, TANK_OPERATING_SHARE, 1.0)


def temperature_factor(temp_c):
    return np.clip(1.0 - 0.08 * (np.asarray(temp_c, dtype=float) - TGC_HIGH_TEMP_C), 0.6, 1.0)


def weight_factor(weight_g):
    """Gentle decline of the coefficient with size (1 up to 500 g, 0.79 at 5 kg)."""
    w = np.maximum(np.asarray(weight_g, dtype=float), TGC_SIZE_REF_G)  # 1 up to 500 g (ufuncs: the day loop calls it)
    return np.maximum(np.power(w / TGC_SIZE_REF_G, -TGC_SIZE_EXPONENT), 0.75)


def effective_tgc(stage, temp_c, weight_g, container_factor=1.0, check=1.0) -> np.ndarray:
    """Thermal growth coefficient actually applied, per 1,000 degree-days.

    ``TGC_eff = TGC[stage] · f_c · f_T(T) · f_W(W) · f_check`` with ``f_T = 1 − 0.08·(T − 13)``
    above 13 °C (floor 0.6), ``f_W = (W / 500 g)^−0.1`` above 500 g (floor 0.75), ``f_c`` the
    container's factor (batch × container random effects) and ``f_check`` the growth check of the
    first 4 weeks at sea. No bend: weight grows smoothly, SGR falls gradually with size.
    """
    return TGC[np.asarray(stage)] * container_factor * temperature_factor(temp_c) * weight_factor(weight_g) * check


def fcr(stage, weight_g, temp_c, batch_factor=1.0) -> np.ndarray:
    """Feed conversion ratio of a day's gain: by stage, rising with size at sea and outside 6–14 °C."""
    stage = np.asarray(stage)
    lo, hi = FCR_TEMP_BAND_C
    t = np.asarray(temp_c, dtype=float)
    extreme = 1.0 + 0.04 * (np.maximum(0.0, lo - t) + np.maximum(0.0, t - hi))
    size = np.where(stage == ADULT, FCR_PER_KG * (np.asarray(weight_g) / 1000 - 1.0), 0.0)
    return (FCR[stage] + size) * extreme * batch_factor


@dataclass(frozen=True)
class Traits:
    """A batch's own random effects, drawn from its stream."""

    tgc: np.ndarray  # per assignment: batch × container growth factor
    fcr: float  # batch feed-conversion factor
    mortality: float  # batch sea mortality multiplier (heavy-tailed)
    mortality_fw: float  # batch freshwater mortality multiplier
    egg_weight: np.ndarray  # per lineage: weight at first feeding
    post_transfer_loss: float
    episodes: Episodes


@dataclass(frozen=True)
class Episodes:
    """Disease and handling episodes at sea: one row per episode."""

    kind: np.ndarray  # index into EPISODES
    first_day: np.ndarray
    days: np.ndarray
    rings: np.ndarray  # (n, RINGS) bool: rings affected
    loss: np.ndarray  # fraction lost over the episode in a ring affected


def draw_traits(rng: np.random.Generator, batch_tgc: float, cal: Calendar, start: int, n_assignments: int) -> Traits:
    """The batch's random effects: container growth, FCR, mortality multipliers, episodes."""
    container = np.clip(CONTAINER_TGC_SD * rng.standard_normal(n_assignments), -CONTAINER_TGC_CLIP, CONTAINER_TGC_CLIP)
    fcr_factor = 1.0 + float(np.clip(BATCH_FCR_SD * rng.standard_normal(), -BATCH_FCR_CLIP, BATCH_FCR_CLIP))
    z = rng.standard_normal(2)
    mortality = float(np.clip(np.exp(BATCH_MORTALITY_SIGMA * z[0] - BATCH_MORTALITY_SIGMA**2 / 2), 0.4, 3.0))
    mortality_fw = float(np.exp(FRESHWATER_MORTALITY_SIGMA * z[1] - FRESHWATER_MORTALITY_SIGMA**2 / 2))
    egg_weight = FIRST_FEEDING_G * np.clip(1.0 + 0.03 * rng.standard_normal(SLOTS), 0.94, 1.06)
    post = float(rng.uniform(*POST_TRANSFER_LOSS))
    # episodes: 1–3, starting after the first month at sea and ending before the first harvest
    n = int(rng.integers(EPISODES_PER_CYCLE[0], EPISODES_PER_CYCLE[1] + 1))
    sea_days = cal.harvest_start - cal.sea_start
    first = cal.sea_start + 30 + rng.integers(0, max(1, sea_days - 30 - EPISODE_DAYS[1]), n)
    days = rng.integers(EPISODE_DAYS[0], EPISODE_DAYS[1] + 1, n)
    month = (np.asarray(start + first, dtype="datetime64[D]").astype("datetime64[M]").astype(int) % 12) + 1
    ok = np.array([[m in e[2] for e in EPISODES] for m in month], dtype=float).reshape(n, len(EPISODES))
    w = ok * np.array([e[3] for e in EPISODES])
    u = rng.random(n)
    kind = (u[:, None] * w.sum(1, keepdims=True) > np.cumsum(w, axis=1)).sum(1)
    share = rng.uniform(0.3, 1.0, n)  # share of rings affected
    rings = rng.random((n, RINGS)) < share[:, None]
    rings[np.arange(n), rng.integers(0, RINGS, n)] = True  # at least one
    loss = EPISODE_LOSS_MEDIAN * np.exp(EPISODE_LOSS_SIGMA * rng.standard_normal(n)) * mortality
    return Traits(
        tgc=batch_tgc * (1.0 + container),
        fcr=fcr_factor,
        mortality=mortality,
        mortality_fw=mortality_fw,
        egg_weight=egg_weight,
        post_transfer_loss=post,
        episodes=Episodes(kind, first, days, rings, np.minimum(loss, 0.25)),
    )


def egg_loss_rate(day_in_stage: np.ndarray, stage_days: int) -> np.ndarray:
    """Extra daily loss of eggs and alevins at picking, hatching and first feeding."""
    out = np.zeros(np.shape(day_in_stage))
    for at, width, peak in EGG_LOSS_PEAKS:
        out += peak * np.exp(-(((day_in_stage - at * stage_days) / width) ** 2))
    return out


@dataclass(frozen=True)
class Life:
    """State per (day, track) over the full life, plus the fish counted at each transfer."""

    pop_start: np.ndarray  # after the day's move, before mortality (= previous 20:00)
    pop_end: np.ndarray
    deaths: np.ndarray
    w_start: np.ndarray
    w_end: np.ndarray
    oxygen: np.ndarray  # daily DO % the readings show
    stress: np.ndarray
    source_count: np.ndarray  # (5, 10): fish in source just before transition k+1 of lineage d
    handling_loss: np.ndarray  # (5, 10)
    rates: dict  # expected daily death rate per (day, track) by cause component (for the mortality causes)


def mortality_rates(cal: Calendar, grid: Grid, asg: Layout, traits: Traits) -> dict[str, np.ndarray]:
    """Expected daily death rate per (day, track) by component: base, eggs, post-transfer, episodes by cause."""
    days = np.arange(cal.life_days)[:, None]
    stage = np.maximum(grid.stage, 0)
    live = grid.live
    mult = np.where(grid.sea[None, :], traits.mortality, traits.mortality_fw)
    base = np.where(live, BASE_MORTALITY[stage] * mult, 0.0)
    eggs = np.where(live & (grid.stage == 0), egg_loss_rate(days, cal.stage_days[0]), 0.0)
    ring_first = asg.first_day[asg.stage == ADULT]
    since = days - ring_first[None, :]
    post = np.zeros_like(base)
    post[:, SLOTS:] = np.where(
        since >= 0,
        traits.post_transfer_loss / POST_TRANSFER_DAYS * np.exp(-np.maximum(since, 0) / POST_TRANSFER_DAYS),
        0.0,
    )
    ep = traits.episodes
    by_cause: dict[str, np.ndarray] = {}
    for i in range(len(ep.kind)):  # each episode on its own days only (a delousing is one day)
        d0, d1 = max(int(ep.first_day[i]), 0), min(int(ep.first_day[i] + ep.days[i]), cal.life_days)
        t = np.arange(d0, max(d0, d1)) - ep.first_day[i]
        # a bell over the episode's days whose daily rates add up to its loss
        shape = np.sin(np.pi * (t + 0.5) / ep.days[i])
        shape = shape / max(shape.sum(), 1e-12)
        r = by_cause.setdefault(EPISODES[ep.kind[i]][1], np.zeros_like(base))
        r[d0 : max(d0, d1), SLOTS:] += shape[:, None] * ep.loss[i] * ep.rings[i][None, :]
    return {
        "base": base,
        "eggs": eggs,
        "post_transfer": np.where(live, post, 0.0),
        **{k: np.where(live, v, 0.0) for k, v in by_cause.items()},
    }


def fasting_days(cal: Calendar, asg: Layout, traits: Traits, treated: np.ndarray) -> np.ndarray:
    """(day, track) without feeding (and so without growth): the day before and the day of a move,
    the last FAST_BEFORE_HARVEST days before a ring's harvest, the first days of a delousing
    episode in the rings it treats (Mowi handbook: fish are starved before handling and slaughter),
    and the (day, track) pairs ``treated`` of disease treatments (``treatment.FASTS``)."""
    n_days = cal.life_days
    fast = np.zeros((n_days, N_TRACKS), dtype=bool)
    fed = asg.stage > 0
    for day, track in ((asg.first_day[fed], asg.track[fed]), (asg.end_day[fed] - 1, asg.track[fed])):
        ok = (day >= 0) & (day < n_days)
        fast[day[ok], track[ok]] = True
    rings = asg.stage == ADULT
    for k in range(1, FAST_BEFORE_HARVEST + 1):
        fast[asg.end_day[rings] - k, asg.track[rings]] = True
    ep = traits.episodes
    for i in np.flatnonzero(np.array([EPISODES[k][1] == "HANDLING" for k in ep.kind], dtype=bool)):
        days = np.arange(ep.first_day[i], min(ep.first_day[i] + FAST_TREATMENT_DAYS, n_days))
        fast[np.ix_(days, SLOTS + np.flatnonzero(ep.rings[i]))] = True
    ok = (treated[:, 0] >= 0) & (treated[:, 0] < n_days)
    fast[treated[ok, 0], treated[ok, 1]] = True
    return fast


def run_days(
    eggs: int,
    cal: Calendar,
    grid: Grid,
    asg: Layout,
    temp: np.ndarray,
    water: Water,
    traits: Traits,
    treated: np.ndarray,
    rng: np.random.Generator,
    move_rng: np.random.Generator,
    last_day: int | None = None,
) -> Life:
    """Daily population and weight of every track.

    A loop over days is needed because today's Poisson deaths depend on yesterday's
    survivors and today's growth on yesterday's weight (TGC falls with weight); each
    step is vectorized across the 30 tracks. Everything not carried over is precomputed.
    Growth never takes a container above its ``max_biomass_kg`` (a tank above 90 % of it,
    ``HOLD_KG``): there the ration is cut to maintenance (as farms do until a tank is graded or moved).
    Days after ``last_day`` are not run (their rows stay zero): a day's draws come after the earlier
    days' only, so the days run are the same whatever the last.
    """
    n_days = cal.life_days
    shape = (n_days, N_TRACKS)
    stage = np.maximum(grid.stage, 0)
    live = grid.live
    asg_no = np.maximum(grid.assignment, 0)
    days = np.arange(n_days)[:, None]
    ring_first = asg.first_day[asg.stage == ADULT]
    check = np.ones(shape)
    check[:, SLOTS:] = np.clip(
        SEA_CHECK_FLOOR + (1 - SEA_CHECK_FLOOR) * (days - ring_first[None, :]) / SEA_CHECK_DAYS, SEA_CHECK_FLOOR, 1.0
    )
    # cube-root growth per day before the weight factor, which the day loop applies; none on fasting days
    tgc = TGC[stage] * traits.tgc[asg_no] * temperature_factor(temp) * check
    cbrt_step = np.where(live & ~fasting_days(cal, asg, traits, treated), tgc * temp / 1000, 0.0)
    capacity_g = HOLD_KG[stage] * 1000.0
    temp_stress = 1.0 + 0.3 * np.maximum(0.0, temp - OPTIMUM_TEMP_C[stage])
    rates = mortality_rates(cal, grid, asg, traits)
    other_rate = cast(
        np.ndarray, sum(v for k, v in rates.items() if k != "base")
    )  # rates beside base: an array  # not scaled by stress
    base_rate = rates["base"]
    density_ref = DENSITY_REF_KG[stage]
    loss_rate = move_rng.uniform(*HANDLING_LOSS, (N_STAGES - 1, SLOTS))
    loss_round = move_rng.random((N_STAGES - 1, SLOTS))  # stochastic rounding of the loss
    # transitions: on day stage_start[k] + d lineage d moves (k = 1..5)
    move_day = {int(cal.stage_start[k]) + d: (k, d) for k in range(1, N_STAGES) for d in range(SLOTS)}
    harvest_on: dict[int, list[int]] = {}
    for r, h in enumerate(cal.harvest_day):
        harvest_on.setdefault(int(h), []).append(r)

    rec = {k: np.zeros(shape) for k in ("w_start", "w_end", "oxygen", "stress")}
    rec |= {k: np.zeros(shape, dtype=np.int64) for k in ("pop_start", "pop_end", "deaths")}
    source_count = np.zeros((N_STAGES - 1, SLOTS), dtype=np.int64)
    handling_loss = np.zeros((N_STAGES - 1, SLOTS), dtype=np.int64)
    pop = np.zeros(N_TRACKS, dtype=np.int64)
    pop[:SLOTS] = eggs // SLOTS + (np.arange(SLOTS) < eggs % SLOTS)
    w = np.zeros(N_TRACKS)
    w[:SLOTS] = traits.egg_weight

    for t in range(n_days if last_day is None else min(last_day + 1, n_days)):
        if t in move_day:  # lineage d moves to the next stage at start of day
            k, d = move_day[t]
            p = pop[d]
            loss = min(p, int(p * loss_rate[k - 1, d] + loss_round[k - 1, d]))
            source_count[k - 1, d], handling_loss[k - 1, d] = p, loss
            pop[d] = p - loss
            if k == ADULT:  # split 50/50 into rings 2d, 2d+1
                n = pop[d]
                ring = SLOTS + 2 * d
                pop[ring : ring + 2] = (n - n // 2, n // 2)
                w[ring : ring + 2] = w[d]
                pop[d] = 0
        for r in harvest_on.get(t, ()):  # ring r is harvested (counts read from pop_end of t-1)
            pop[SLOTS + r] = 0

        rec["pop_start"][t] = pop
        rec["w_start"][t] = w
        density = pop * w / 1000 / density_ref[t]
        # np.minimum/np.maximum: the same values as np.clip, without its per-call overhead (a call per day)
        oxygen = np.minimum(np.maximum(water.oxygen_base[t] - 6.0 * density / (1.0 + density), 50.0), 100.0)
        stress = temp_stress[t] * (1.0 + 0.08 * np.maximum(0.0, LOW_OXYGEN_PCT - oxygen))
        p_death = np.minimum(base_rate[t] * stress + other_rate[t], 0.5)
        dead = np.minimum(rng.poisson(pop * p_death), pop)
        pop = pop - dead
        # 20:00 growth update, never above the container's capacity
        step = cbrt_step[t]
        grown = (np.cbrt(w) + step * weight_factor(w)) ** 3
        # 0.01 g below the limit: the tables round the weight to 2 dp and derive biomass from it
        cap = np.maximum(w, capacity_g[t] / np.maximum(pop, 1) - 0.01)
        w = np.where(step > 0, np.minimum(grown, cap), w)  # eggs keep their weight exactly
        rec["pop_end"][t] = pop
        rec["deaths"][t] = dead
        rec["w_end"][t] = w
        rec["oxygen"][t] = oxygen
        rec["stress"][t] = stress
    return Life(**rec, source_count=source_count, handling_loss=handling_loss, rates=rates)
