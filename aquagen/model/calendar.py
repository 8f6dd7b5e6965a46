"""A batch's own calendar and growth draw, from its seed: what the fleet plan reserves and the
simulation lives. Drawn from a stream of their own, so the plan reads them without simulating.

- Freshwater stages: nominal 90 days ± N(0, 8) days (clipped ±20): hatcheries move fish by size.
- Growth: a batch TGC factor ~N(1, 0.06) (clipped ±13 %): strain, egg quality and site differ.
- Harvest by weight: a target weight uniform in 4.5–6.5 kg (Mowi handbook: harvest at 4–6 kg
  gutted ≈ 4.5–7 kg live); the sea phase is as long as the batch needs to reach it at the
  season's nominal sea temperature (without weather), so it is longer in the cold Faroes and
  for winter transfers, and the site is harvested ring by ring over 3–7 weeks around it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import domain as D
from .environment import HALL_TEMP_C, sea_season_c
from .population import (
    BATCH_TGC_CLIP,
    BATCH_TGC_SD,
    FIRST_FEEDING_G,
    SEA_CHECK_DAYS,
    SEA_CHECK_FLOOR,
    TGC,
    temperature_factor,
)
from .timeline import (
    ADULT,
    EPOCH,
    FRESHWATER_STAGES,
    HARVEST_SPAN_DAYS,
    SEA_DAYS,
    SLOTS,
    STAGE_DAYS_MAX_SHIFT,
    STAGE_DAYS_SD,
    Calendar,
)

CALENDAR_STREAM = 0xCA1E
TARGET_WEIGHT_G = (4500.0, 6500.0)
# mean size factor of the sea TGC over a cycle (population.weight_factor from 0.5 to 5.5 kg),
# calibrated on simulated batches so that the mean harvest weight meets the target
SEA_SIZE_FACTOR = 0.87


@dataclass(frozen=True)
class BatchDraw:
    """The batch-level draws the plan needs: calendar, growth factor, target weight."""

    calendar: Calendar
    tgc: float
    target_weight_g: float


@lru_cache(maxsize=8192)
def batch_draw(seed: int, shard: int, start_date: dt.date, geography: str) -> BatchDraw:
    """The fleet's batch ``shard``: stage lengths, growth factor, target weight and the sea phase
    that reaches it."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, shard, CALENDAR_STREAM]))
    z = rng.standard_normal(FRESHWATER_STAGES + 1)
    shift = np.rint(np.clip(z[:FRESHWATER_STAGES] * STAGE_DAYS_SD, -STAGE_DAYS_MAX_SHIFT, STAGE_DAYS_MAX_SHIFT))
    tgc = 1.0 + float(np.clip(BATCH_TGC_SD * z[-1], -BATCH_TGC_CLIP, BATCH_TGC_CLIP))
    target = float(rng.uniform(*TARGET_WEIGHT_G))
    span = int(rng.integers(HARVEST_SPAN_DAYS[0], HARVEST_SPAN_DAYS[1] + 1))
    fw_days = [int(s.days + d) for s, d in zip(D.STAGES[:-1], shift)]
    sea_start = sum(fw_days)
    # transfer weight: cube-root growth in the halls at their set points (lineage average)
    cbrt_w = (
        np.cbrt(FIRST_FEEDING_G)
        + tgc * sum(TGC[k] * HALL_TEMP_C[k] * fw_days[k] for k in range(1, FRESHWATER_STAGES)) / 1000
    )
    need = (np.cbrt(target) - cbrt_w) * 1000 / (TGC[ADULT] * tgc * SEA_SIZE_FACTOR)
    day0 = (start_date - EPOCH).days + sea_start + SLOTS // 2
    j = np.arange(SEA_DAYS[1] + HARVEST_SPAN_DAYS[1])
    temp = sea_season_c(geography, day0 + j)
    check = np.clip(SEA_CHECK_FLOOR + (1 - SEA_CHECK_FLOOR) * j / SEA_CHECK_DAYS, SEA_CHECK_FLOOR, 1.0)
    reach = int(np.searchsorted(np.cumsum(temperature_factor(temp) * temp * check), need))
    sea_days = int(np.clip(reach - span // 2, *SEA_DAYS))
    return BatchDraw(Calendar((*fw_days, sea_days), span), tgc, target)
