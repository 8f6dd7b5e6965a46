"""Random streams: one per (seed, shard) and one per model inside it, so that a shard's draws
do not depend on which worker runs it or on any other shard, and changing one model leaves
the others' draws alone."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MASTER_STREAM = 1 << 31  # phases 1-2, apart from every batch's stream (batch i: stream i)
PRICE_STREAM = 0x9A1CE  # a feed's price drift, per feed
LEAD_TIME_STREAM = 0x5EED  # a feed container's order lead times and suppliers
HEALTH_STREAM = 0x4EA17  # a batch's health records (lice, sampling, lab, harvest grading), per purpose
SENSOR_STREAM = 0x5E4503  # the farm's sensors: calibration plan and drift (``sensors.Calibrations``)
EGGS_MIN, EGGS_MAX = 3_000_000, 3_800_000  # eggs per batch of a planned fleet


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """Independent, reproducible stream for (seed, stream...) (as dbgen seeds per chunk)."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def fleet_eggs(seed: int) -> Callable[[int], int]:
    """Eggs of the fleet's batch ``i``, drawn from batch i's stream."""
    return lambda i: int(rng_for(seed, i).integers(EGGS_MIN, EGGS_MAX + 1))
