"""``aquagen generate``: plan, simulate and write a snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

import polars as pl

import schemas

from . import __version__, batches, masterdata
from . import domain as D
from .errors import AquagenError
from .plan import PlannedBatch, area_id, plan_batch, station_id
from .simulate import BatchSpec, simulate_batch
from .snapshot import Snapshot, SnapshotWriter

MASTER_SHARD = 1 << 31  # the RNG stream of phases 1-2, apart from every batch's
SETUP_LEAD_DAYS = 30  # infrastructure and initial stock exist this long before the first batch
DEFAULT_HISTORY_DAYS = 1000  # default first start: this long before the as-of date


def rng_for(seed: int, shard: int) -> np.random.Generator:
    """Independent, reproducible stream per shard (as dbgen seeds per chunk)."""
    return np.random.default_rng(np.random.SeedSequence([seed, shard]))


def default_first_start(as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=DEFAULT_HISTORY_DAYS)


DEFAULT_STAGGER_DAYS = 20
DEFAULT_EGGS = 3_500_000


def _first_free_ids(snapshot: Snapshot | None) -> dict[str, int]:
    """Next id per table (history tables: next history_id) after what ``snapshot`` holds."""
    out = {}
    for name in batches.BATCH_TABLES:
        for t in (name, schemas.table(name).history_table):
            if t is None:
                continue
            col = "history_id" if schemas.table(t).history_of else "id"
            top = snapshot.scan(t).select(pl.col(col).max()).collect().item() if snapshot else None
            out[t] = (top or 0) + 1
    return out


def _write_batch(w: SnapshotWriter, pb: PlannedBatch, seed: int, as_of: dt.date, next_id: dict[str, int]) -> None:
    """Simulate one planned batch, build its rows and write them as part files; advances ``next_id``."""
    sim = simulate_batch(BatchSpec(pb.start_date, pb.eggs, pb.geography, seed, pb.shard, as_of))
    plan = batches.BatchPlan(pb.batch_id, pb.batch_number, station_id(pb.station), area_id(pb.sea_area))
    ids = {**next_id, "batch_batch": pb.batch_id}
    for name, df in batches.build(plan, sim, ids, ids).items():
        w.write(name, df, f"batch-{pb.shard:05d}")
        if df.height:
            col = "history_id" if schemas.table(name).history_of else "id"
            next_id[name] = max(next_id.get(name, 1), int(df[col].max()) + 1)


def _write_master(w: SnapshotWriter, seed: int, first_start: dt.date) -> None:
    """Phases 1-2, set up SETUP_LEAD_DAYS before the first batch starts."""
    setup_date = first_start - dt.timedelta(days=SETUP_LEAD_DAYS)
    for name, df in masterdata.build(setup_date, rng_for(seed, MASTER_SHARD)).items():
        w.write(name, df, "master")


def _meta(seed: int, as_of: dt.date, first_start: dt.date, planned: list[PlannedBatch], **args) -> dict:
    return {
        "generator": f"aquagen {__version__}",
        "seed": seed,
        "arguments": {"as_of": as_of.isoformat(), "first_start": first_start.isoformat(), **args},
        "batches": [b.to_json() for b in planned],
    }


def generate(
    out: str | Path,
    seed: int = 42,
    batches: int = 0,
    as_of: dt.date | None = None,
    first_start: dt.date | None = None,
    force: bool = False,
    stagger_days: int = DEFAULT_STAGGER_DAYS,
) -> Snapshot:
    """Write a snapshot of the infrastructure, master data and ``batches`` staggered batches."""
    n_batches = batches
    if seed < 0:
        raise AquagenError(f"--seed {seed} is negative; use an integer ≥ 0")
    if n_batches < 0:
        raise AquagenError(f"--batches {n_batches} is negative; use an integer ≥ 0")
    as_of = as_of or dt.date.today()
    first_start = first_start or default_first_start(as_of)
    if first_start > as_of:
        raise AquagenError(f"--first-start {first_start} is after the as-of date {as_of}")
    # simple stagger: alternate geographies, every batch starts stagger_days after the previous
    planned: list[PlannedBatch] = []
    for i in range(n_batches):
        start = first_start + dt.timedelta(days=i * stagger_days)
        if start > as_of:
            raise AquagenError(f"--batches {n_batches} with a {stagger_days}-day stagger from {first_start} puts "
                               f"batch {i + 1} after the as-of date {as_of}; {i} batches fit")
        eggs = int(rng_for(seed, i).integers(3_000_000, 3_800_001))
        planned.append(plan_batch(planned, start_date=start, eggs=eggs,
                                  geography_name=D.GEOGRAPHIES[i % len(D.GEOGRAPHIES)].name))
    meta = _meta(seed, as_of, first_start, planned, batches=n_batches, stagger_days=stagger_days)
    with SnapshotWriter(out, meta, force=force) as w:
        _write_master(w, seed, first_start)
        next_id = _first_free_ids(None)
        for pb in planned:
            _write_batch(w, pb, seed, as_of, next_id)
        return w.commit()


def add_batch(
    out: str | Path,
    *,
    start_date: dt.date,
    eggs: int,
    geography: str,
    station: str | None = None,
    sea_area: str | None = None,
    batch_name: str | None = None,
    as_of: dt.date | None = None,
    seed: int = 42,
) -> tuple[Snapshot, PlannedBatch]:
    """Generate one batch into the snapshot at ``out``, creating it (with phases 1-2) when new.

    An existing snapshot keeps its seed and as-of date unless ``as_of`` is given.
    """
    out = Path(out)
    base = Snapshot.open(out) if (out / "manifest.json").exists() else None
    if base is None and out.exists() and any(out.iterdir()):
        raise AquagenError(f"{out} is neither empty nor a snapshot (no manifest.json)")
    if base is not None:
        seed = base.manifest["seed"]
        as_of = as_of or dt.date.fromisoformat(base.manifest["arguments"]["as_of"])
        first_start = dt.date.fromisoformat(base.manifest["arguments"]["first_start"])
        existing = [PlannedBatch.from_json(b) for b in base.manifest.get("batches", [])]
    else:
        as_of = as_of or dt.date.today()
        first_start, existing = start_date, []
    if start_date > as_of:
        raise AquagenError(f"--start-date {start_date} is after the as-of date {as_of}")
    if start_date < first_start:
        raise AquagenError(f"--start-date {start_date} is before this snapshot's infrastructure exists "
                           f"(first start {first_start}); use {first_start} or later")
    next_id = _first_free_ids(base)
    pb = plan_batch(existing, start_date=start_date, eggs=eggs, geography_name=geography, station=station,
                    sea_area=sea_area, batch_name=batch_name, first_id=next_id["batch_batch"])
    planned = existing + [pb]
    if base is not None:
        meta = {k: v for k, v in base.manifest.items() if k not in ("tables", "format_version", "schema")}
        meta["arguments"] = {**meta["arguments"], "as_of": as_of.isoformat()}
        meta["batches"] = [b.to_json() for b in planned]
    else:
        meta = _meta(seed, as_of, first_start, planned)
    with SnapshotWriter(out, meta, base=base) as w:
        if base is None:
            _write_master(w, seed, first_start)
        _write_batch(w, pb, seed, as_of, next_id)
        return w.commit(), pb
