"""``aquagen generate``: plan, simulate and write a snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from . import __version__, masterdata
from .errors import AquagenError
from .snapshot import Snapshot, SnapshotWriter

MASTER_SHARD = 1 << 31  # the RNG stream of phases 1-2, apart from every batch's
SETUP_LEAD_DAYS = 30  # infrastructure and initial stock exist this long before the first batch
DEFAULT_HISTORY_DAYS = 1000  # default first start: this long before the as-of date


def rng_for(seed: int, shard: int) -> np.random.Generator:
    """Independent, reproducible stream per shard (as dbgen seeds per chunk)."""
    return np.random.default_rng(np.random.SeedSequence([seed, shard]))


def default_first_start(as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=DEFAULT_HISTORY_DAYS)


def generate(
    out: str | Path,
    seed: int = 42,
    batches: int = 0,
    as_of: dt.date | None = None,
    first_start: dt.date | None = None,
    force: bool = False,
) -> Snapshot:
    """Write a snapshot of the infrastructure, master data and ``batches`` batches."""
    if seed < 0:
        raise AquagenError(f"--seed {seed} is negative; use an integer ≥ 0")
    if batches < 0:
        raise AquagenError(f"--batches {batches} is negative; use an integer ≥ 0")
    if batches > 0:
        raise AquagenError(f"--batches {batches}: the batch engine has not landed yet; only --batches 0 is supported")
    as_of = as_of or dt.date.today()
    first_start = first_start or default_first_start(as_of)
    if first_start > as_of:
        raise AquagenError(f"--first-start {first_start} is after the as-of date {as_of}")
    setup_date = first_start - dt.timedelta(days=SETUP_LEAD_DAYS)
    meta = {
        "generator": f"aquagen {__version__}",
        "seed": seed,
        "arguments": {"batches": batches, "as_of": as_of.isoformat(), "first_start": first_start.isoformat()},
    }
    with SnapshotWriter(out, meta, force=force) as w:
        for name, df in masterdata.build(setup_date, rng_for(seed, MASTER_SHARD)).items():
            w.write(name, df, "master")
        return w.commit()
