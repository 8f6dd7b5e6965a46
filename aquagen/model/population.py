"""Growth and mortality: the day loop that carries population and weight through the life."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .environment import Water
from .layout import Grid
from .timeline import HARVEST_START, LIFE_DAYS, N_TRACKS, SLOTS, STAGE_DAYS

# --- growth ---------------------------------------------------------------------------
TGC = np.array([0.0, 2.2, 2.7, 2.9, 3.2, 3.0])  # per 1,000 degree-days; no growth as eggs
FIRST_FEEDING_G = 0.2
TGC_HIGH_TEMP_C = 14.0  # above it the coefficient falls 10 % per °C (floor 50 %)
TGC_LARGE_FISH_G = 2750.0  # above it the coefficient falls as 1/W
FCR = np.array([0.0, 0.8, 0.9, 1.0, 1.05, 1.15])  # feed / biomass gain by stage; eggs not fed

# --- mortality ------------------------------------------------------------------------
BASE_MORTALITY = np.array([0.0015, 0.0005, 0.0003, 0.0002, 0.00015, 0.0001])  # per day
OPTIMUM_TEMP_C = np.array([8.0, 12.0, 12.0, 12.0, 12.0, 13.0])  # stress grows above it
LOW_OXYGEN_PCT = 80.0  # stress grows below it
HANDLING_LOSS = (0.001, 0.005)  # fraction lost per move, uniform

# Biomass per container at which stocking density costs 3 of its at most 6 points of
# oxygen saturation: about the end-of-stage biomass of a 3.5M-egg batch.
DENSITY_REF_KG = np.array([70.0, 3_000.0, 20_000.0, 65_000.0, 165_000.0, 875_000.0])


def effective_tgc(stage, temp_c, weight_g, container_factor=1.0) -> np.ndarray:
    """Thermal growth coefficient actually applied, per 1,000 degree-days.

    ``TGC_eff = TGC[stage] · f_c · f_T(T) · f_W(W)`` with
    ``f_T = 1 − 0.1·(T − 14)`` above 14 °C (floor 0.5), else 1, and
    ``f_W = min(1, 2750 g / W)``, and ``f_c`` a per-assignment factor ~N(1, 0.02).
    Why: the nominal TGCs grow fish far beyond 7 kg in 400 warm Scottish sea days;
    letting the coefficient fall inversely with weight above 2.75 kg compresses the
    spread between geographies (harvest weight rises only ~linearly with degree-days),
    landing 4.4–5.4 kg in the Faroes and 5.4–6.6 kg in Scotland whatever the season of
    sea transfer, while freshwater fish (≈7.3 °C halls) stay below 2.75 kg and keep the
    nominal TGCs: ≈185 g at the end of Smolt and ≈480 g at sea transfer.
    """
    return TGC[np.asarray(stage)] * container_factor * temperature_factor(temp_c) * weight_factor(weight_g)


def temperature_factor(temp_c):
    return np.clip(1.0 - 0.1 * (np.asarray(temp_c, dtype=float) - TGC_HIGH_TEMP_C), 0.5, 1.0)


def weight_factor(weight_g):
    return np.minimum(1.0, TGC_LARGE_FISH_G / np.maximum(weight_g, 1e-9))



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


def run_days(
    eggs: int,
    grid: Grid,
    temp: np.ndarray,
    water: Water,
    growth_factor: np.ndarray,
    egg_weight: np.ndarray,
    rng: np.random.Generator,
    move_rng: np.random.Generator,
) -> Life:
    """Daily population and weight of every track.

    A loop over days is needed because today's Poisson deaths depend on yesterday's
    survivors and today's growth on yesterday's weight (TGC falls with weight); each
    step is vectorized across the 30 tracks. Everything not carried over is precomputed.
    """
    shape = (LIFE_DAYS, N_TRACKS)
    stage = np.maximum(grid.stage, 0)
    live = grid.live
    asg = np.maximum(grid.assignment, 0)
    # cube-root growth per day before the weight factor, which the day loop applies
    tgc = TGC[stage] * growth_factor[asg] * temperature_factor(temp)
    cbrt_step = np.where(live, tgc * temp / 1000, 0.0)
    temp_stress = 1.0 + 0.3 * np.maximum(0.0, temp - OPTIMUM_TEMP_C[stage])
    base_rate = np.where(live, BASE_MORTALITY[stage], 0.0)
    density_ref = DENSITY_REF_KG[stage]
    loss_rate = move_rng.uniform(*HANDLING_LOSS, (5, SLOTS))
    loss_round = move_rng.random((5, SLOTS))  # stochastic rounding of the loss

    rec = {k: np.zeros(shape) for k in ("w_start", "w_end", "oxygen", "stress")}
    rec |= {k: np.zeros(shape, dtype=np.int64) for k in ("pop_start", "pop_end", "deaths")}
    source_count = np.zeros((5, SLOTS), dtype=np.int64)
    handling_loss = np.zeros((5, SLOTS), dtype=np.int64)
    pop = np.zeros(N_TRACKS, dtype=np.int64)
    pop[:SLOTS] = eggs // SLOTS + (np.arange(SLOTS) < eggs % SLOTS)
    w = np.zeros(N_TRACKS)
    w[:SLOTS] = egg_weight

    for t in range(LIFE_DAYS):
        k, d = divmod(t, STAGE_DAYS)
        if 1 <= k <= 5 and d < SLOTS:  # lineage d moves to the next stage at start of day
            p = pop[d]
            loss = min(p, int(p * loss_rate[k - 1, d] + loss_round[k - 1, d]))
            source_count[k - 1, d], handling_loss[k - 1, d] = p, loss
            pop[d] = p - loss
            if k == 5:  # split 50/50 into rings 2d, 2d+1
                n = pop[d]
                ring = SLOTS + 2 * d
                pop[ring : ring + 2] = (n - n // 2, n // 2)
                w[ring : ring + 2] = w[d]
                pop[d] = 0
        h = t - HARVEST_START
        if 0 <= h < SLOTS:  # rings 2h, 2h+1 are harvested (counts read from pop_end of t-1)
            pop[SLOTS + 2 * h : SLOTS + 2 * h + 2] = 0

        rec["pop_start"][t] = pop
        rec["w_start"][t] = w
        density = pop * w / 1000 / density_ref[t]
        oxygen = np.clip(water.oxygen_base[t] - 6.0 * density / (1.0 + density), 50.0, 100.0)
        stress = temp_stress[t] * (1.0 + 0.08 * np.maximum(0.0, LOW_OXYGEN_PCT - oxygen))
        dead = np.minimum(rng.poisson(pop * base_rate[t] * stress), pop)
        pop = pop - dead
        # 20:00 growth update
        step = cbrt_step[t]
        w = np.where(step > 0, (np.cbrt(w) + step * weight_factor(w)) ** 3, w)  # eggs keep their weight exactly
        rec["pop_end"][t] = pop
        rec["deaths"][t] = dead
        rec["w_end"][t] = w
        rec["oxygen"][t] = oxygen
        rec["stress"][t] = stress
    return Life(**rec, source_count=source_count, handling_loss=handling_loss)
