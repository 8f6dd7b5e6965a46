"""``aquagen generate``: plan a fleet, simulate it in shards and write a snapshot.

Shards, as dbgen's chunks: the master data (phases 1-2), each batch, each feed
container. Each shard is a pure function of (seed, shard, plan) and runs in any
worker. Ids come in two passes (``aquagen.ids``): every shard first counts its
rows per table and day, then numbers and writes them. Batches write their
feeding events into a work folder by feed container; each feed container then
runs its FIFO over every batch it fed, and writes purchases, lots, decrements
and the costed feeding events.

Everything is built over the whole planned horizon and cut at the as-of date
(``batches.cut``), so a later as-of date only adds rows. Work happens in
``<out>.partial`` with ``progress.json``: a killed run continues with
``resume=True`` and ends byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import polars as pl

import schemas

from . import __version__, batches, feedstock, masterdata
from . import domain as D
from .errors import AquagenError
from .ids import Allocated, Counting, allocate, when_column
from .masterdata import SITES
from .plan import LIFE_DAYS, PlannedBatch, area_id, plan_batch, plan_fleet, station_id
from .simulate import BatchSpec, simulate_batch
from .snapshot import (
    BIGINT_MAX,
    MANIFEST,
    MAX_DATE,
    MIN_DATE,
    Snapshot,
    build_manifest,
    finish,
    locked,
    publish,
    recover,
    write_part,
)
from .store import Store

MASTER_SHARD = 1 << 31  # the RNG stream of phases 1-2, apart from every batch's
MASTER_KEY = -1  # the master data's place among shards in id order (first)
FEED_KEY = 1 << 40  # feed container shards come after batches (they share no table)
SETUP_LEAD_DAYS = 30  # infrastructure and initial stock exist this long before the first batch
DEFAULT_HISTORY_DAYS = 1000  # default first start: this long before the as-of date
DEFAULT_STAGGER_DAYS = 20
FEEDINGS, FEEDING_HISTORY = "inventory_feedingevent", "inventory_historicalfeedingevent"  # costed by feed sites
STOCK_TABLES = ("inventory_feedcontainerstock", "inventory_historicalfeedcontainerstock")  # owned by feed containers


def rng_for(seed: int, shard: int) -> np.random.Generator:
    """Independent, reproducible stream per shard (as dbgen seeds per chunk)."""
    return np.random.default_rng(np.random.SeedSequence([seed, shard]))


def default_first_start(as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=DEFAULT_HISTORY_DAYS)


def fleet_eggs(seed: int) -> Callable[[int], int]:
    return lambda i: int(rng_for(seed, i).integers(3_000_000, 3_800_001))


# --- shards (top-level functions: they run in worker processes) -------------------------


@dataclass(frozen=True)
class Job:
    """What every shard needs: where to write, the seed and the as-of date."""

    root: Store  # the work folder (becomes the snapshot), on any fsspec filesystem
    seed: int
    as_of: dt.date
    first_start: dt.date

    @property
    def work(self) -> Store:
        return self.root.child("_work")


def _master_frames(job: Job) -> dict[str, pl.DataFrame]:
    setup_date = job.first_start - dt.timedelta(days=SETUP_LEAD_DAYS)
    return masterdata.build(setup_date, rng_for(job.seed, MASTER_SHARD))


def _count(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Rows per table and day of frames numbered already (the master data's fixed ids)."""
    counter = Counting()
    for name, df in frames.items():
        if when_column(name) in df.columns:  # tables without created_at are master-only
            counter.assign(name, df)
    return counter.counts()


def master_shard(job: Job) -> tuple[dict, pl.DataFrame, int]:
    """Phases 1-2: written at once (fixed ids); the initial stock lots go to the feed containers."""
    frames = _master_frames(job)
    for name in STOCK_TABLES:
        job.work.write_parquet(f"{name}.parquet", frames[name])
    entries = {name: write_part(job.root, name, df, "master") for name, df in frames.items() if name not in STOCK_TABLES}
    return entries, _count(frames), sum(df.height for df in frames.values())


def _simulate(job: Job, pb: PlannedBatch) -> tuple[batches.BatchPlan, object]:
    """The batch's whole life, independent of the as-of date."""
    end = pb.start_date + dt.timedelta(days=LIFE_DAYS)
    sim = simulate_batch(BatchSpec(pb.start_date, pb.eggs, pb.geography, job.seed, pb.shard, end))
    return batches.BatchPlan(pb.batch_id, pb.batch_number, station_id(pb.station), area_id(pb.sea_area)), sim


def count_batch(job: Job, pb: PlannedBatch) -> pl.DataFrame:
    plan, sim = _simulate(job, pb)
    counter = Counting()
    batches.build(plan, sim, counter)
    return counter.counts()


def write_batch(job: Job, pb: PlannedBatch, first: pl.DataFrame) -> tuple[dict, int]:
    """The batch's rows up to the as-of date as part files; its feeding events (whole life)
    into the work folder, by feed container."""
    plan, sim = _simulate(job, pb)
    frames = batches.build(plan, sim, Allocated(first))
    part = f"batch-{pb.shard:05d}"
    # feeding events: rows plus their '+' history row's id; the feed site costs them and adds the history
    feedings = frames.pop(FEEDINGS).join(frames.pop(FEEDING_HISTORY).select("id", "history_id"), on="id",
                                         maintain_order="left")
    feedings = feedings.with_columns(_fc=feedstock.feed_container_of(pl.col("container_id")))
    for (fc,), g in feedings.partition_by("_fc", as_dict=True).items():
        job.work.write_parquet(f"feed/{fc:04d}/{part}.parquet", g.drop("_fc"))
    return _write_cut(job, frames, part)


@dataclass(frozen=True)
class FeedSite:
    """A feed shard: one station's silos or one sea area's barges, with their master rows."""

    key: int
    containers: pl.DataFrame  # id, capacity_kg
    lots: pl.DataFrame
    lot_history: pl.DataFrame
    purchases: pl.DataFrame

    @property
    def part(self) -> str:
        return f"feed-{self.key:03d}"


def feed_sites(job: Job) -> list[FeedSite]:
    """Feed shards from the master data: each station's 5 silos, each area's 3 barges."""
    containers = job.root.read_parquet("infrastructure_feedcontainer/master.parquet").select(
        "id", "capacity_kg", site=pl.coalesce(
            (pl.col("hall_id") - 1) // len(D.HALLS), SITES.n_stations + pl.col("area_id") - 1))
    lots = job.work.read_parquet("inventory_feedcontainerstock.parquet")
    lot_history = job.work.read_parquet("inventory_historicalfeedcontainerstock.parquet")
    purchases = job.root.read_parquet("inventory_feedpurchase/master.parquet")
    sites = []
    for (key,), c in sorted(containers.partition_by("site", as_dict=True).items()):
        mine = lots.filter(pl.col("feed_container_id").is_in(c["id"].implode()))
        sites.append(FeedSite(key, c.drop("site"), mine, lot_history.filter(pl.col("id").is_in(mine["id"].implode())),
                              purchases.filter(pl.col("id").is_in(mine["feed_purchase_id"].implode()))))
    return sites


def _feed_build(job: Job, site: FeedSite, ids, costed_feedings: bool = True) -> dict[str, pl.DataFrame]:
    files = [f for fc in site.containers["id"] for f in job.work.glob(f"feed/{fc:04d}/*.parquet")]
    feedings = pl.concat([job.work.read_parquet(f) for f in files]) if files else \
        pl.DataFrame(schema={**schemas.table(FEEDINGS).polars_schema, "history_id": pl.Int32})
    return feedstock.build(site.containers, site.lots, site.lot_history, site.purchases, feedings, job.seed, ids,
                           costed_feedings)


def count_feed(job: Job, site: FeedSite) -> pl.DataFrame:
    """The feed site's rows per table and day (its feeding events are numbered by their batches)."""
    counter = Counting()
    _feed_build(job, site, counter, costed_feedings=False)
    return counter.counts()


def write_feed(job: Job, site: FeedSite, first: pl.DataFrame) -> tuple[dict, int]:
    return _write_cut(job, _feed_build(job, site, Allocated(first)), site.part)


def _write_cut(job: Job, frames: dict[str, pl.DataFrame], part: str) -> tuple[dict, int]:
    """A shard's whole-horizon rows, cut at the as-of date, as part files: (manifest entries, rows)."""
    frames = batches.cut(frames, job.as_of)
    entries = {name: write_part(job.root, name, df, part) for name, df in frames.items()}
    return entries, sum(df.height for df in frames.values())


# --- the run: phases of shards, a progress file, resume ----------------------------------


class Progress:
    """What a run reports; the CLI shows it with rich. Default: silent."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


_STOP = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while worker processes are spawned: a spawn is never cut in
    half (a worker reading its start-up data from a dead pipe prints a traceback), and the blocked
    mask is inherited, so a worker starting up ignores them until ``_worker_init``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    handlers = {sig: signal.signal(sig, lambda signum, _: held.append(signum)) for sig in _STOP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal held by the kernel reaches `held` now
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if held:
        raise KeyboardInterrupt


def _worker_init() -> None:
    """In each worker: Ctrl-C (sent to the whole terminal group) is the parent's to handle, and
    a worker dies with its parent (no orphan keeps running after a kill -9 of the run)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)  # blocked since the spawn; SIGTERM ends a worker
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


class _Run:
    """Runs phases of shards over a worker pool (or a Dask cluster), recording each finished
    shard in ``progress.json`` so that a killed run resumes where it stopped."""

    PROGRESS = "progress.json"

    def __init__(self, job: Job, meta: dict, workers: int, progress: Progress, resume: bool,
                 scheduler: str | None = None):
        self.job, self.progress = job, progress
        self.state = {"meta": json.loads(json.dumps(meta, default=str)), "done": {}}
        if resume and job.root.exists(self.PROGRESS):
            try:
                saved = json.loads(job.root.read_text(self.PROGRESS))
                if not (isinstance(saved, dict) and isinstance(saved.get("meta"), dict)
                        and isinstance(saved.get("done"), dict)):
                    raise ValueError("not a progress record")
            except ValueError:
                raise AquagenError(f"{job.root.url}/{self.PROGRESS} is unreadable; pass --force to start over") from None
            if saved["meta"] != self.state["meta"]:
                raise AquagenError(f"{job.root.url} holds an interrupted run with other arguments "
                                   f"({saved['meta']['arguments']}); rerun those or pass --force to start over")
            self.state = saved
        self.pool, self.client = None, None
        if scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise AquagenError("--scheduler needs Dask: pip install 'aquagen[dask]'") from None
            try:
                self.client = Client(scheduler, timeout=10)
            except OSError as e:
                raise AquagenError(f"cannot reach the Dask scheduler {scheduler}: {e}") from None
        elif workers > 1:
            self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init)

    def close(self, abort: bool = False) -> None:
        """Stop the workers: when the run failed or was interrupted, at once (killed: they write
        only through temporary files, and nothing they did is recorded as done)."""
        if self.pool is not None:
            if abort:
                for proc in list(getattr(self.pool, "_processes", {}).values()):
                    proc.kill()
            self.pool.shutdown(wait=not abort, cancel_futures=True)
        if self.client is not None:
            self.client.close()

    def phase(self, name: str, tasks: Iterable[tuple[str, Callable, tuple]]) -> dict:
        """Run (key, function, args) tasks; results by key. Finished ones are taken from the
        progress file: counts are kept as Parquet in the work folder, entries in the JSON."""
        tasks = list(tasks)
        self.progress.phase(name, len(tasks))
        results, todo = {}, []
        for key, fn, args in tasks:
            if key in self.state["done"]:
                results[key] = self._load(key)
                self.progress.advance(0)
            else:
                todo.append((key, fn, args))
        if self.client is not None or self.pool is not None:
            # on Dask a failed task is retried (a lost worker's tasks run elsewhere)
            submit = partial(self.client.submit, retries=2, pure=False) if self.client else self.pool.submit
            with _signals_deferred():  # workers are spawned here
                futures = [(key, submit(fn, *args)) for key, fn, args in todo]
            done = ((key, f.result()) for key, f in futures)
        else:
            done = ((key, fn(*args)) for key, fn, args in todo)
        for key, result in done:
            results[key] = result
            self._store(key, result)
        return results

    def _store(self, key: str, result) -> None:
        """Record a finished shard: its counts as Parquet, its part files and rows in the JSON."""
        rows, saved = 0, {}
        if not isinstance(result, pl.DataFrame):  # (entries, rows) or (entries, counts, rows)
            entries, *rest = result
            rows = rest[-1]
            saved = {"entries": entries, "rows": rows}
            result = rest[0] if len(rest) == 2 else None
        if result is not None:
            saved["counts"] = f"_work/counts/{key}.parquet"
            self.job.root.write_parquet(saved["counts"], result)
        self.state["done"][key] = saved
        self.job.root.write_text(self.PROGRESS, json.dumps(self.state, default=str))
        self.progress.advance(rows)

    def _load(self, key: str):
        saved = self.state["done"][key]
        counts = self.job.root.read_parquet(saved["counts"]) if "counts" in saved else None
        if "entries" not in saved:
            return counts
        return (saved["entries"], counts, saved["rows"]) if counts is not None else (saved["entries"], saved["rows"])


def work_folder(out: str | Path) -> Store:
    """Where a run builds the snapshot ``out``: the sibling ``<out>.partial``."""
    return Store(str(out)).sibling(".partial")


def _usable_out(out: Path) -> None:
    """Refuse, in one line, an ``--out`` that cannot become a snapshot folder."""
    if out.exists() and not out.is_dir():
        raise AquagenError(f"--out {out} is a file, not a folder")
    up = out.parent
    while not up.exists():
        up = up.parent
    if not up.is_dir():
        raise AquagenError(f"--out {out} is below {up}, which is a file, not a folder")
    if not os.access(up, os.W_OK | os.X_OK):
        raise AquagenError(f"--out {out}: cannot write into {up} (read-only)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AquagenError(f"--out {out}: cannot create {out.parent} ({e.strerror})") from None


def _meta_of(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in ("tables", "format_version", "schema")}


def _no_space(work: Store, out: str | Path, planned: list[PlannedBatch]) -> AquagenError:
    """ENOSPC: drop the killed writes' temporary files (the work folder stays resumable) and say
    about how much more room the snapshot needs."""
    root = work.local or Path(str(out))
    written = 0
    for dirpath, _, filenames in os.walk(root):
        for fn in filenames:
            f = Path(dirpath) / fn
            if ".tmp-" in fn:
                f.unlink(missing_ok=True)
            else:
                written += f.stat().st_size
    up = root
    while not up.exists():
        up = up.parent
    device = _mount_point(up)
    need = max(1, (MB_MASTER + MB_PER_BATCH * len(planned)) - written // (1 << 20))
    return AquagenError(f"no space left on {device}: needs about {need} MB more; nothing was published "
                        "(free space, then rerun with --resume)")


def _mount_point(path: Path) -> str:
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return str(path)


MB_MASTER, MB_PER_BATCH = 2, 6  # snapshot and work files: master data, and each batch (measured ~1 and ~4.5)


def _build(out: str | Path, meta: dict, planned: list[PlannedBatch], job_args: dict, *, force: bool, resume: bool,
           workers: int, progress: Progress | None, replace_ok: bool = False, scheduler: str | None = None) -> Snapshot:
    """Write the snapshot of ``planned`` at ``out`` (see the module docstring), holding a lock on it."""
    if workers < 1:
        raise AquagenError(f"--workers {workers} must be at least 1")
    target = Store(str(out))
    if target.local is None:  # a shared filesystem: no lock, no recovery (one writer is the user's job)
        return _build_locked(out, meta, planned, job_args, force=force, resume=resume, workers=workers,
                             progress=progress, replace_ok=replace_ok, scheduler=scheduler)
    _usable_out(target.local)
    work = work_folder(out)
    try:
        with locked(target.local):
            return _build_locked(out, meta, planned, job_args, force=force, resume=resume, workers=workers,
                                 progress=progress, replace_ok=replace_ok, scheduler=scheduler)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise _no_space(work, out, planned) from None
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise AquagenError(f"cannot write {e.filename or out}: {e.strerror}") from None
        raise


def _build_locked(out: str | Path, meta: dict, planned: list[PlannedBatch], job_args: dict, *, force: bool,
                  resume: bool, workers: int, progress: Progress | None, replace_ok: bool,
                  scheduler: str | None) -> Snapshot:
    target, work = Store(str(out)), work_folder(out)
    wanted = json.loads(json.dumps(meta, default=str))
    if target.local is not None:
        recover(work.local, target.local)  # a publish killed half-way is finished first
        if resume and not replace_ok and not work.exists() and (target.local / MANIFEST).is_file():
            snap = Snapshot.open(target.local)
            if _meta_of(snap.manifest) != wanted:
                raise AquagenError(f"{out} holds a complete snapshot of other arguments "
                                   f"({snap.manifest['arguments']}); "
                                   "pass --force to replace it")
            snap.status = "complete"
            return snap
        if resume and work.exists() and (work.local / MANIFEST).is_file():  # killed while publishing
            if _meta_of(json.loads((work.local / MANIFEST).read_text())) != wanted:
                raise AquagenError(f"{work.url} holds a finished run of other arguments; pass --force to start over")
            finish(work.local, target.local)
            return Snapshot.open(target.local)
    if target.exists() and target.fs.ls(target.path()) and not (force or replace_ok):
        raise AquagenError(f"output folder {out} exists and is not empty; pass --force to replace it")
    if work.exists() and not resume:
        if not force:
            raise AquagenError(f"{work.url} holds an interrupted run; pass --resume to continue it or --force to "
                               "start over")
        work.rm()
    if resume and work.local is not None and work.exists():
        for leftover in work.local.rglob("*.tmp-*"):  # writes a kill cut short (never renamed in place)
            leftover.unlink()
    job = Job(root=work, **job_args)
    run = _Run(job, meta, workers, progress or Progress(), resume, scheduler)
    files: dict[str, list[dict]] = {}
    try:
        groups: list[dict] = []
        master_entries, master_counts, _ = run.phase("master data", [("master", master_shard, (job,))])["master"]
        groups.append(master_entries)
        if planned:
            counts = run.phase("batches: count", [(f"count-{pb.shard:05d}", count_batch, (job, pb)) for pb in planned])
            first = allocate({MASTER_KEY: master_counts, **{pb.shard: counts[f"count-{pb.shard:05d}"] for pb in planned}})
            written = run.phase("batches: write", [(f"write-{pb.shard:05d}", write_batch, (job, pb, first[pb.shard]))
                                                   for pb in planned])
            groups += [e for e, _ in written.values()]
            sites = feed_sites(job)
            counts = run.phase("feed stock: count", [(f"count-{s.part}", count_feed, (job, s)) for s in sites])
            first = allocate({MASTER_KEY: master_counts, **{FEED_KEY + s.key: counts[f"count-{s.part}"] for s in sites}})
            written = run.phase("feed stock: write", [(f"write-{s.part}", write_feed, (job, s, first[FEED_KEY + s.key]))
                                                      for s in sites])
            groups += [e for e, _ in written.values()]
        else:  # no batches: the initial lots as they are
            groups.append({name: write_part(work, name, job.work.read_parquet(f"{name}.parquet"), "master")
                           for name in STOCK_TABLES})
        for group in groups:
            for name, entry in group.items():
                if entry is not None:
                    files.setdefault(name, []).append(entry)
    except BaseException:
        run.close(abort=True)
        raise
    run.close()
    if target.local is None:
        work.rm("_work")
        work.rm(_Run.PROGRESS)
    publish(work, target, build_manifest(meta, files))  # locally, prunes the work files first
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


FEED_PER_FISH_KG = 10  # more than one fish eats in its life (harvest weight ≤ 7 kg × FCR ≤ 1.3)


def max_eggs() -> int:
    """The most eggs a batch may start with: its whole-life feed must fit the narrowest batch
    total of the schema (inventory_batchfeedingsummary.total_feed_kg, numeric(10,2))."""
    precision, scale = schemas.table("inventory_batchfeedingsummary").column("total_feed_kg").numeric
    return 10 ** (precision - scale) // FEED_PER_FISH_KG


def check_seed(seed: int) -> None:
    if not 0 <= seed <= BIGINT_MAX:
        raise AquagenError(f"--seed {seed} is outside 0..{BIGINT_MAX} (the load log stores it as bigint)")


def check_date(option: str, day: dt.date) -> dt.date:
    if not MIN_DATE <= day <= MAX_DATE:
        raise AquagenError(f"{option} {day} is outside {MIN_DATE}..{MAX_DATE}")
    return day


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
) -> Snapshot:
    """Write a snapshot of the infrastructure, master data and a fleet of ``batches`` staggered batches.

    ``out`` may be any fsspec URL; ``scheduler`` (a Dask scheduler address) runs the shards
    on that cluster instead of local worker processes, with the same bytes as a result."""
    n_batches = batches
    check_seed(seed)
    if n_batches < 0:
        raise AquagenError(f"--batches {n_batches} is negative; use an integer ≥ 0")
    if stagger_days < 1:
        raise AquagenError(f"--stagger-days {stagger_days} must be at least 1")
    as_of = check_date("--as-of", as_of or dt.date.today())
    first_start = check_date("--first-start" if first_start else "the default --first-start (as-of - 1000 days)",
                             first_start or default_first_start(as_of))
    if first_start > as_of:
        raise AquagenError(f"--first-start {first_start} is after the as-of date {as_of}")
    starts = (as_of - first_start).days // stagger_days + 1  # batch starts from first start up to the as-of date
    if n_batches > starts:
        raise AquagenError(f"--batches {n_batches}: only {starts} batches start every {stagger_days} days from "
                           f"{first_start} to the as-of date {as_of}; use fewer batches, an earlier --first-start "
                           "or a shorter --stagger-days")
    planned = plan_fleet(n_batches, first_start, stagger_days, fleet_eggs(seed), geography)
    meta = _meta(seed, as_of, first_start, planned, batches=n_batches, stagger_days=stagger_days, geography=geography)
    return _build(out, meta, planned, dict(seed=seed, as_of=as_of, first_start=first_start),
                  force=force, resume=resume, workers=workers, progress=progress, scheduler=scheduler)


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
) -> tuple[Snapshot, PlannedBatch]:
    """Add one batch to the snapshot at ``out``, creating it (with phases 1-2) when new.

    The snapshot is rebuilt with the new batch beside the planned ones (feed
    stock is shared, so FIFO runs again); it keeps its seed and as-of date
    unless ``as_of`` is given. The old snapshot stays until the new one is complete.
    """
    check_seed(seed)
    check_date("--start-date", start_date)
    if as_of is not None:
        check_date("--as-of", as_of)
    if isinstance(eggs, bool) or not isinstance(eggs, int) or not 0 < eggs <= max_eggs():
        raise AquagenError(f"--eggs {eggs!r} must be a positive whole number of eggs, at most {max_eggs():,} "
                           "(a batch's whole-life feed must fit inventory_batchfeedingsummary.total_feed_kg)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AquagenError(f"--out {out} is a file, not a folder")
    base = Snapshot.open(out) if (out / "manifest.json").exists() else None
    if base is None and out.exists() and any(out.iterdir()):
        raise AquagenError(f"{out} is neither empty nor a snapshot (no manifest.json)")
    if base is not None:
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
    snap = _build(out, meta, planned, dict(seed=seed, as_of=as_of, first_start=first_start), force=False,
                  resume=True, workers=workers, progress=progress, replace_ok=base is not None)
    return snap, pb
