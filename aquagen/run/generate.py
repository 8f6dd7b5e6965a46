"""``aquagen generate``: plan a fleet, simulate it in shards (``shards``) on a runner
(``runner``) and publish a snapshot.

Work happens in ``<out>.partial`` with ``progress.json``: a killed run continues with
``resume=True`` and ends byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .. import __version__
from ..errors import AquagenError
from ..model.fleet import PlannedBatch, plan_batch, plan_fleet
from ..model.seeds import fleet_eggs
from ..profiles import get
from ..snapshot import Snapshot, build_manifest, publish
from ..store import Store
from ..tables.ids import allocate
from .runner import Progress, Runner
from .shards import (
    FEED_KEY,
    MASTER_KEY,
    Job,
    Written,
    count_batch,
    count_feed,
    feed_sites,
    master_shard,
    master_stock,
    write_batch,
    write_feed,
)

DEFAULT_HISTORY_DAYS = 1000  # default first start: this long before the as-of date
DEFAULT_STAGGER_DAYS = 20


def default_first_start(as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=DEFAULT_HISTORY_DAYS)


def work_folder(out: str | Path) -> Store:
    """Where a run builds the snapshot ``out``: the sibling ``<out>.partial``."""
    return Store(str(out)).sibling(".partial")


def _build(out: str | Path, meta: dict, planned: list[PlannedBatch], job_args: dict, *, force: bool, resume: bool,
           workers: int, progress: Progress | None, replace_ok: bool = False, scheduler: str | None = None,
           connect_timeout: float = 10.0) -> Snapshot:
    """Write the snapshot of ``planned`` at ``out`` (see the module docstring)."""
    if workers < 1:
        raise AquagenError(f"--workers {workers} must be at least 1")
    target, work = Store(str(out)), work_folder(out)
    if target.exists() and target.fs.ls(target.path()) and not (force or replace_ok):
        raise AquagenError(f"output folder {out} exists and is not empty; pass --force to replace it")
    if work.exists() and not resume:
        if not force:
            raise AquagenError(f"{work.url} holds an interrupted run; pass --resume to continue it or --force to "
                               "start over")
        work.rm()
    job = Job(root=work, **job_args)
    run = Runner(job, meta, workers, progress or Progress(), resume, scheduler, connect_timeout)
    written: list[Written] = []
    try:
        master = run.phase("master data", [("master", master_shard, (job,))])["master"]
        assert isinstance(master, Written) and master.counts is not None
        written.append(master)
        if planned:
            counts = run.phase("batches: count", [(f"count-{pb.shard:05d}", count_batch, (job, pb)) for pb in planned])
            first = allocate({MASTER_KEY: master.counts, **{pb.shard: counts[f"count-{pb.shard:05d}"] for pb in planned}})
            written += run.phase("batches: write", [(f"write-{pb.shard:05d}", write_batch, (job, pb, first[pb.shard]))
                                                    for pb in planned]).values()
            sites = feed_sites(job)
            counts = run.phase("feed stock: count", [(f"count-{s.part}", count_feed, (job, s)) for s in sites])
            first = allocate({MASTER_KEY: master.counts, **{FEED_KEY + s.key: counts[f"count-{s.part}"] for s in sites}})
            written += run.phase("feed stock: write", [(f"write-{s.part}", write_feed, (job, s, first[FEED_KEY + s.key]))
                                                       for s in sites]).values()
        else:  # no batches: the initial lots as they are
            written.append(master_stock(job))
    finally:
        run.close()
    files: dict[str, list[dict]] = {}
    for w in written:
        assert isinstance(w, Written)
        for name, entry in w.entries.items():
            if entry is not None:
                files.setdefault(name, []).append(entry)
    work.rm("_work")
    work.rm(Runner.PROGRESS)
    publish(work, target, build_manifest(meta, files, job.profile_name))
    return Snapshot.open(target.local) if target.local is not None else Snapshot(target.url, json.loads(
        target.read_text("manifest.json")))


def _meta(seed: int, as_of: dt.date, first_start: dt.date, planned: list[PlannedBatch], **args) -> dict:
    return {
        "generator": f"aquagen {__version__}",
        "seed": seed,
        "arguments": {"as_of": as_of.isoformat(), "first_start": first_start.isoformat(), **args},
        # the batches that exist at the as-of date (later ones are planned but not yet started)
        "batches": [b.to_json() for b in planned if b.start_date <= as_of],
        "planned_batches": [b.to_json() for b in planned],
    }


def generate(
    out: str | Path,
    seed: int = 42,
    batches: int = 0,
    as_of: dt.date | None = None,
    first_start: dt.date | None = None,
    force: bool = False,
    stagger_days: int = DEFAULT_STAGGER_DAYS,
    geography: str | None = None,
    workers: int = 1,
    resume: bool = False,
    progress: Progress | None = None,
    scheduler: str | None = None,
    profile: str | None = None,
    connect_timeout: float = 10.0,
) -> Snapshot:
    """Write a snapshot of the infrastructure, master data and a fleet of ``batches`` staggered batches.

    ``out`` may be any fsspec URL; ``scheduler`` (a Dask scheduler address) runs the shards
    on that cluster instead of local worker processes, with the same bytes as a result."""
    n_batches = batches
    if seed < 0:
        raise AquagenError(f"--seed {seed} is negative; use an integer ≥ 0")
    if n_batches < 0:
        raise AquagenError(f"--batches {n_batches} is negative; use an integer ≥ 0")
    if stagger_days < 1:
        raise AquagenError(f"--stagger-days {stagger_days} must be at least 1")
    as_of = as_of or dt.date.today()
    first_start = first_start or default_first_start(as_of)
    if first_start > as_of:
        raise AquagenError(f"--first-start {first_start} is after the as-of date {as_of}")
    profile_name = get(profile).name
    planned = plan_fleet(n_batches, first_start, stagger_days, fleet_eggs(seed), geography)
    meta = _meta(seed, as_of, first_start, planned, batches=n_batches, stagger_days=stagger_days, geography=geography)
    return _build(out, meta, planned, dict(profile_name=profile_name, seed=seed, as_of=as_of, first_start=first_start),
                  force=force, resume=resume, workers=workers, progress=progress, scheduler=scheduler,
                  connect_timeout=connect_timeout)


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
    workers: int = 1,
    progress: Progress | None = None,
    profile: str | None = None,
) -> tuple[Snapshot, PlannedBatch]:
    """Add one batch to the snapshot at ``out``, creating it (with phases 1-2) when new.

    The snapshot is rebuilt with the new batch beside the planned ones (feed
    stock is shared, so FIFO runs again); it keeps its seed and as-of date
    unless ``as_of`` is given. The old snapshot stays until the new one is complete.
    """
    out = Path(out)
    base = Snapshot.open(out) if (out / "manifest.json").exists() else None
    if base is None and out.exists() and any(out.iterdir()):
        raise AquagenError(f"{out} is neither empty nor a snapshot (no manifest.json)")
    if base is not None:
        if profile is not None and get(profile).name != base.profile:
            raise AquagenError(f"--profile {profile} differs from the snapshot's profile {base.profile}; "
                               f"omit --profile or pass {base.profile}")
        profile = base.profile
        seed = base.manifest["seed"]
        as_of = as_of or dt.date.fromisoformat(base.manifest["arguments"]["as_of"])
        first_start = dt.date.fromisoformat(base.manifest["arguments"]["first_start"])
        existing = [PlannedBatch.from_json(b) for b in base.manifest.get("planned_batches", base.manifest["batches"])]
        arguments = base.manifest["arguments"]
    else:
        as_of = as_of or dt.date.today()
        first_start, existing, arguments = start_date, [], {}
    if start_date > as_of:
        raise AquagenError(f"--start-date {start_date} is after the as-of date {as_of}")
    if start_date < first_start:
        raise AquagenError(f"--start-date {start_date} is before this snapshot's infrastructure exists "
                           f"(first start {first_start}); use {first_start} or later")
    pb = plan_batch(existing, start_date=start_date, eggs=eggs, geography_name=geography, station=station,
                    sea_area=sea_area, batch_name=batch_name)
    planned = existing + [pb]
    args = {k: v for k, v in arguments.items() if k not in ("as_of", "first_start")}
    meta = _meta(seed, as_of, first_start, planned, **args)
    job_args = dict(profile_name=get(profile).name, seed=seed, as_of=as_of, first_start=first_start)
    snap = _build(out, meta, planned, job_args, force=False,
                  resume=False, workers=workers, progress=progress, replace_ok=base is not None)
    return snap, pb
