"""``aquagen generate``: plan a fleet, simulate it in shards (``shards``) on a runner
(``runner``) and publish a snapshot.

Work happens in ``<out>.partial`` with ``progress.json``: a killed run continues with
``resume=True`` and ends byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, cast

import polars as pl

from .. import __version__, words
from ..errors import AquagenError
from ..model.domain import MAX_EGGS, MIN_EGGS
from ..model.fleet import (
    FARM_HISTORY_DAYS,
    PlannedBatch,
    default_farm_start,
    plan_batch,
    plan_farm,
    plan_fleet,
)
from ..model.fleet import geography as fleet_geography
from ..model.seeds import fleet_eggs
from ..profiles import get
from ..snapshot import (
    AS_OF_ARGUMENTS,
    BIGINT_MAX,
    MANIFEST,
    MAX_DATE,
    MIN_DATE,
    RemoteSnapshot,
    Snapshot,
    as_of_arguments,
    build_manifest,
    finish,
    locked,
    moment_of,
    publish,
    recover,
)
from ..store import Store
from ..tables.ids import allocate_each
from ..timing import ALLOCATE, timed
from .runner import Progress, Result, Runner, connect, differences
from .shards import (
    FEED_KEY,
    MASTER_KEY,
    Job,
    Written,
    build_batch,
    build_feed,
    build_idle_feeds,
    feed_files,
    feed_sites,
    first_file,
    forget_batches,
    gather,
    master_shard,
    small_files,
    write_batch,
    write_feed,
    write_idle_feeds,
)

MOMENT_ARGUMENTS = (*AS_OF_ARGUMENTS, "first_start")  # the arguments ``_meta`` takes by name
DEFAULT_HISTORY_DAYS = 1000  # default first start: this long before the as-of date
DEFAULT_STAGGER_DAYS = 20


def default_first_start(as_of: dt.date, batches: int = 0, stagger_days: int = DEFAULT_STAGGER_DAYS) -> dt.date:
    """1000 days before the as-of date, earlier when ``batches`` staggered starts need it (so that
    every batch has started by the as-of date), but never more than a full farm's history."""
    need = (max(batches, 1) - 1) * stagger_days
    return as_of - dt.timedelta(days=min(max(DEFAULT_HISTORY_DAYS, need), FARM_HISTORY_DAYS))


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
    """A manifest's generation arguments, its profile included ("schema")."""
    return {k: v for k, v in manifest.items() if k not in ("tables", "format_version")}


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
    return AquagenError(
        f"no space left on {device}: needs about {need} MB more; nothing was published "
        "(free space, then rerun with --resume)"
    )


def _mount_point(path: Path) -> str:
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return str(path)


MB_MASTER, MB_PER_BATCH = 2, 6  # snapshot and work files: master data, and each batch (measured ~1 and ~4.5)


def _build(
    out: str | Path,
    meta: dict,
    planned: list[PlannedBatch],
    job_args: dict,
    *,
    force: bool,
    resume: bool,
    workers: int,
    progress: Progress | None,
    replace_ok: bool = False,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> Snapshot | RemoteSnapshot:
    """Write the snapshot of ``planned`` at ``out`` (see the module docstring), holding a lock on it."""
    if workers < 1:
        raise AquagenError(f"--workers {workers} must be at least 1")
    if not str(out).strip():  # an unset shell variable: it would name the current folder
        raise AquagenError("--out is empty; give the snapshot's folder, e.g. --out output/snapshot")
    if "://" not in str(out):  # DIR/. is DIR: its work folder, lock and the old snapshot go beside DIR, not in it
        out = os.path.normpath(out)
        if os.path.islink(out):  # written through: the snapshot replaces the folder the link names, not the link
            out = os.path.realpath(out)
    target = _output(out)
    # before anything is written: a scheduler that cannot be reached or named so leaves nothing behind
    client = connect(scheduler, connect_timeout) if scheduler is not None else None
    args: dict[str, Any] = dict(
        force=force, resume=resume, workers=workers, progress=progress, replace_ok=replace_ok, client=client
    )
    try:
        if target.local is None:  # a shared filesystem: no lock, no recovery (one writer is the user's job)
            return _build_locked(out, meta, planned, job_args, **args)
        _usable_out(target.local)
        work = work_folder(out)
        try:
            with locked(target.local):
                return _build_locked(out, meta, planned, job_args, **args)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise _no_space(work, out, planned) from None
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise AquagenError(f"cannot write {e.filename or out}: {e.strerror}") from None
            raise
    finally:
        if client is not None:
            client.close()


def _output(out: str | Path) -> Store:
    """The snapshot's folder, on a filesystem this machine can write: an fsspec URL whose package is
    missing (s3fs for s3://) or whose protocol is unknown is refused in one line, before anything is written."""
    target = Store(str(out))
    try:
        target.fs  # noqa: B018 (its filesystem made: the package it needs is imported)
    except ImportError as e:
        raise AquagenError(f"--out {out} needs a package that is not installed: {str(e).splitlines()[0]}") from None
    except ValueError as e:
        raise AquagenError(
            f"--out {out}: {str(e).splitlines()[0]}; use a folder or an fsspec URL (s3://, gs://, memory://, ...)"
        ) from None
    return target


def _build_locked(
    out: str | Path,
    meta: dict,
    planned: list[PlannedBatch],
    job_args: dict,
    *,
    force: bool,
    resume: bool,
    workers: int,
    progress: Progress | None,
    replace_ok: bool,
    client: Any,
) -> Snapshot | RemoteSnapshot:
    target, work = Store(str(out)), work_folder(out)
    # what a finished or interrupted run must match to be kept or continued: the arguments and the profile
    wanted = json.loads(json.dumps({"schema": job_args["profile_name"], **meta}, default=str))
    if target.local is not None:
        assert work.local is not None  # the sibling of a local folder is local
        recover(work.local, target.local)  # a publish killed half-way is finished first
        # with --force, a run of other arguments is replaced (resumed: nothing of theirs to continue)
        if resume and not replace_ok and not work.exists() and (target.local / MANIFEST).is_file():
            snap = Snapshot.open(target.local)
            if _meta_of(snap.manifest) == wanted:
                snap.status = "complete"
                return snap
            if not force:
                raise AquagenError(
                    f"{out} holds a complete snapshot of other arguments "
                    f"({differences(_meta_of(snap.manifest), wanted)}); pass --force to replace it"
                )
        if resume and work.exists() and (work.local / MANIFEST).is_file():  # killed while publishing
            if _meta_of(json.loads((work.local / MANIFEST).read_text())) == wanted:
                finish(work.local, target.local)
                return Snapshot.open(target.local)
            if not force:
                raise AquagenError(f"{work.url} holds a finished run of other arguments; pass --force to start over")
            work.rm()
    if target.exists() and target.fs.ls(target.path()):
        if not target.exists(MANIFEST):  # --force replaces a snapshot, never a folder of other files
            raise AquagenError(
                f"output folder {out} holds files but no snapshot (no {MANIFEST}); --force replaces only a "
                "snapshot: choose another --out, or empty the folder"
            )
        if not (force or replace_ok):
            raise AquagenError(f"output folder {out} exists and is not empty; pass --force to replace it")
    if work.exists() and not resume:
        if not force:
            raise AquagenError(
                f"{work.url} holds an interrupted run; pass --resume to continue it or --force to start over"
            )
        work.rm()
    if resume and work.local is not None and work.exists():
        for leftover in work.local.rglob("*.tmp-*"):  # writes a kill cut short (never renamed in place)
            leftover.unlink()
    job = Job(root=work, **job_args)
    # at most a worker a batch: the feed sites and the gathering of one batch's rows are too little work
    # for a pool (each worker imports Polars, NumPy and aquagen)
    pool = min(workers, max(1, len(planned)))
    run = Runner(job, wanted, pool, progress or Progress(), resume, client, force=force)
    written: list[Written] = []
    try:
        run.start_workers()  # they start up while this process makes the master data
        master = run.phase("master data", [("master", master_shard, (job,))])["master"]
        assert isinstance(master, Written) and master.counts is not None
        written.append(master)
        if planned:
            # the counts stay in the work folder, the first ids go there (``_firsts``): the parent's
            # memory does not grow with the fleet
            run.phase(
                "batches: build", [(f"build-{pb.shard:05d}", build_batch, (job, pb)) for pb in planned], keep=False
            )
            _firsts(run, master.counts, {pb.shard: f"build-{pb.shard:05d}" for pb in planned})
            written += cast(  # a write pass returns part files
                dict[str, Written],
                run.phase(
                    "batches: write",
                    [(f"write-{pb.shard:05d}", write_batch, (job, pb, first_file(pb.shard))) for pb in planned],
                ),
            ).values()
            forget_batches(job)
        # the feed sites, idle ones too (without batches, every one): their initial lots expire. The idle
        # ones (no feeding event up to the horizon) in one task when the profile builds them at once
        sites = feed_sites(job)
        hand_off = feed_files(job, sites)
        idle_keys = {s.key for s in sites if not hand_off[s.key]} if job.profile.feed_idle is not None else set()
        idle = [s for s in sites if s.key in idle_keys]
        busy = [s for s in sites if s.key not in idle_keys]
        builds: list[tuple[str, Callable[..., Result], tuple]] = [
            (f"build-{s.part}", build_feed, (job, s, hand_off[s.key])) for s in busy
        ]
        writes: list[tuple[str, Callable[..., Result], tuple]] = [
            (f"write-{s.part}", write_feed, (job, s, first_file(FEED_KEY + s.key), hand_off[s.key])) for s in busy
        ]
        if idle:  # first: the biggest task
            builds.insert(0, (IDLE_FEEDS_BUILD, build_idle_feeds, (job, idle)))
            writes.insert(0, ("write-idle-feeds", write_idle_feeds, (job, idle)))
        run.phase("feed stock: build", builds, keep=False)
        built = {FEED_KEY + s.key: f"build-{s.part}" for s in busy} | {FEED_KEY + s.key: IDLE_FEEDS_BUILD for s in idle}
        _firsts(run, master.counts, built)
        written += cast(dict[str, Written], run.phase("feed stock: write", writes)).values()
        small = small_files(job)  # every shard's tables of a few rows: one part per table
        written += cast(
            dict[str, Written],
            run.phase("gather", [(f"gather-{name}", gather, (job, name, fs)) for name, fs in small.items()]),
        ).values()
    except BaseException:
        run.close(abort=True)
        raise
    run.close()
    files: dict[str, list[dict]] = {}
    for w in written:
        assert isinstance(w, Written)
        for entry in w.entries.values():  # keyed by table or by path: the table is the entry's folder
            if entry is not None:
                files.setdefault(entry["path"].split("/")[0], []).append(entry)
    if target.local is None:
        work.rm("_work")
        work.rm(Runner.PROGRESS)
    publish(work, target, build_manifest(meta, files, job.profile_name))  # locally, prunes the work files first
    return (
        Snapshot.open(target.local)
        if target.local is not None
        else RemoteSnapshot(target.url, json.loads(target.read_text("manifest.json")))
    )


IDLE_FEEDS_BUILD = "build-idle-feeds"  # the task that builds every idle feed site (``build_idle_feeds``)


def _firsts(run: Runner, master: pl.DataFrame, built: dict[int, str]) -> None:
    """Each built shard's first ids (``allocate_each``, after the master data's) into the work
    folder, shard by shard: its counts are read from there, one shard at a time (a task that built
    several shards, the idle feed sites, holds theirs by shard key, read once)."""

    @cache
    def idle() -> dict[int, pl.DataFrame]:  # the idle feed sites' counts by shard key, read once
        by_shard = run.counts(IDLE_FEEDS_BUILD).partition_by("shard", as_dict=True, include_key=False)
        return {k: c for (k,), c in by_shard.items()}

    def counts_of(key: int) -> pl.DataFrame:
        if key == MASTER_KEY:
            return master
        if built[key] != IDLE_FEEDS_BUILD:
            return run.counts(built[key])
        return idle().get(key, none)

    none = master.head(0).select_seq("table", "day", "n")  # an idle site without rows up to the as-of date

    with timed(ALLOCATE):
        for key, first in allocate_each(sorted([MASTER_KEY, *built]), counts_of):
            if key != MASTER_KEY:
                run.job.work.write_frame(first_file(key), first)


def _meta(
    seed: int,
    as_of: dt.date,
    first_start: dt.date,
    planned: list[PlannedBatch],
    as_of_time: dt.time | None = None,
    **args,
) -> dict:
    """The manifest's generation arguments and batches. ``as_of_time`` only when the cut is on the as-of
    day (a snapshot cut at the day's end has none: its manifest is as before there was a time)."""
    return {
        "generator": f"aquagen {__version__}",
        "seed": seed,
        "arguments": {**as_of_arguments(as_of, as_of_time), "first_start": first_start.isoformat(), **args},
        # the batches that exist at the as-of date (later ones are planned but not yet started)
        "batches": [b.to_json() for b in planned if b.start_date <= as_of],
        "planned_batches": [b.to_json() for b in planned],
    }


def full_farm(meta: dict) -> bool:
    """A full farm (``--batches`` not given) plans every egg intake up to its as-of date."""
    return "batches" in meta["arguments"] and meta["arguments"]["batches"] is None


def added_batches(meta: dict) -> list[tuple[dt.date, PlannedBatch]]:
    """The batches ``aquagen batch`` added to a full farm (its ``arguments.added``), each with the day from
    which the farm's intakes make way for it (``plan_farm``'s ``added``)."""
    by_shard = {b["shard"]: b for b in meta.get("planned_batches", meta["batches"])}
    return [
        (dt.date.fromisoformat(a["from"]), PlannedBatch.from_json(by_shard[a["shard"]]))
        for a in meta["arguments"].get("added", [])
    ]


def farm_plan(meta: dict, last_start: dt.date) -> list[PlannedBatch]:
    """A full farm's batches up to ``last_start``: its intakes and the batches added to it."""
    a = meta["arguments"]
    first, seed = dt.date.fromisoformat(a["first_start"]), meta["seed"]
    return plan_farm(first, last_start, fleet_eggs(seed), seed, a.get("geography"), added_batches(meta))


def clean_sensors_of(arguments: dict) -> bool:
    """Whether a snapshot's readings are clean: its --clean-sensors, or true for a snapshot written
    before sensor faults existed (so that regenerating it keeps its readings)."""
    return bool(arguments.get("clean_sensors", True))


def check_seed(seed: int) -> None:
    if not 0 <= seed <= BIGINT_MAX:
        raise AquagenError(f"--seed {seed} is outside 0..{BIGINT_MAX} (the load log stores it as bigint)")


def check_date(option: str, day: dt.date) -> dt.date:
    if not MIN_DATE <= day <= MAX_DATE:
        raise AquagenError(f"{option} {day} is outside {MIN_DATE}..{MAX_DATE}")
    return day


DEFAULT_MOMENT_STEP = dt.timedelta(hours=1)  # a cut at the moment of generation: floored to the hour


def utc_now() -> dt.datetime:
    """The wall clock, in UTC (the generated timestamps' zone): the one place that reads it."""
    return dt.datetime.now(dt.UTC)


def as_of_moment(
    as_of: dt.date | dt.datetime | None, now: dt.datetime | None = None, option: str = "--as-of"
) -> tuple[dt.date, dt.time | None]:
    """The as-of date and the time of day of the cut (None: the end of the day) of a run at ``now``
    (default the wall clock). A past date is cut at its end; today (the default) at ``now`` floored to
    the hour, so that rerunning within the hour gives the same bytes and no row is after the moment of
    generation; an explicit moment (to the minute, UTC unless it names its zone) where it says. A date
    or moment after ``now`` is refused: its rows would be dated after the moment of generation."""
    now = (now or utc_now()).astimezone(dt.UTC)
    if isinstance(as_of, dt.datetime):
        moment = as_of.astimezone(dt.UTC) if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
        if moment.second or moment.microsecond:
            raise AquagenError(f"{option} {as_of.isoformat()} is not a whole minute; use YYYY-MM-DDTHH:MM")
        if moment > now:
            raise AquagenError(
                f"{option} {moment:%Y-%m-%dT%H:%M} is after the moment of generation ({now:%Y-%m-%dT%H:%M} UTC): "
                "nothing can be dated later; use an earlier moment, or a date"
            )
        return check_date(option, moment.date()), moment.time()
    day = check_date(option, as_of or now.date())
    if day > now.date():
        raise AquagenError(
            f"{option} {day} is after today ({now.date()} UTC): nothing can be dated after the moment of "
            "generation; use today or an earlier date"
        )
    if day < now.date():
        return day, None
    floored = now - (now - dt.datetime.combine(day, dt.time(), dt.UTC)) % DEFAULT_MOMENT_STEP
    return day, floored.time()


def _resumed_moment(out: str | Path, now: dt.datetime | None) -> dt.datetime | None:
    """The as-of moment of the run ``--resume`` continues (interrupted, or complete), when it is today's:
    resumed without ``--as-of`` after the hour turned, it keeps its moment instead of refusing."""
    target = Store(str(out))
    work = work_folder(out)
    if target.local is None or work.local is None:
        return None
    for f in (work.local / Runner.PROGRESS, work.local / MANIFEST, target.local / MANIFEST):
        try:
            text = f.read_text()
            if f.name == Runner.PROGRESS:  # its first line: the run's meta
                args = json.loads(text.partition("\n")[0])["meta"]["arguments"]
            else:
                args = json.loads(text)["arguments"]
            day, at = moment_of(args)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if at is not None and day == (now or utc_now()).astimezone(dt.UTC).date():
            return dt.datetime.combine(day, at, dt.UTC)
        return None
    return None


def generate(
    out: str | Path,
    seed: int = 42,
    batches: int | None = 0,
    as_of: dt.date | dt.datetime | None = None,
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
    clean_sensors: bool = False,
    now: dt.datetime | None = None,
) -> Snapshot | RemoteSnapshot:
    """Write a snapshot of the infrastructure, master data and a fleet of ``batches`` staggered batches
    (0: none; None: a full farm, every egg intake that finds a free station and sea area from
    ``first_start``, by default 1 January four years before ``as_of``'s year).

    ``out`` may be any fsspec URL; ``scheduler`` (a Dask scheduler address) runs the shards
    on that cluster instead of local worker processes, with the same bytes as a result. ``as_of`` (a
    date or a moment) and ``now`` (default the wall clock): see ``as_of_moment``."""
    n_batches = batches
    check_seed(seed)
    geography = None if geography is None else fleet_geography(geography).name  # as typed: "faroe"; "" is refused
    if n_batches is not None and n_batches < 0:
        raise AquagenError(f"--batches {n_batches} is negative; use an integer ≥ 0")
    if stagger_days < 1:
        raise AquagenError(f"--stagger-days {stagger_days} must be at least 1")
    if as_of is None and resume:
        as_of = _resumed_moment(out, now)
    as_of, as_of_time = as_of_moment(as_of, now)
    first_start = check_date(
        "--first-start" if first_start else "the default --first-start",
        first_start
        or (default_farm_start(as_of) if n_batches is None else default_first_start(as_of, n_batches, stagger_days)),
    )
    if first_start > as_of:
        raise AquagenError(f"--first-start {first_start} is after the as-of date {as_of}")
    the_profile = get(profile)
    profile_name = the_profile.name
    last_start = as_of + dt.timedelta(days=the_profile.plan_ahead_days)  # later batches: shown as planned, if at all
    starts = (last_start - first_start).days // stagger_days + 1  # batch starts from first start up to then
    if n_batches is not None and n_batches > starts:
        raise AquagenError(
            f"--batches {n_batches}: only {words.count(starts, 'batch')} can start "
            f"every {words.count(stagger_days, 'day')} from {first_start} to {last_start}; use fewer batches"
            + (
                ", an earlier --first-start or a shorter --stagger-days"
                if stagger_days > 1
                else " or an earlier --first-start"
            )
        )
    if n_batches is None:
        planned = plan_farm(first_start, last_start, fleet_eggs(seed), seed, geography)
    else:
        planned = plan_fleet(
            n_batches, first_start, stagger_days, fleet_eggs(seed), geography, seed=seed, as_of=last_start
        )
    meta = _meta(
        seed,
        as_of,
        first_start,
        planned,
        as_of_time,
        batches=n_batches,
        stagger_days=stagger_days,
        geography=geography,
        clean_sensors=clean_sensors,
    )
    return _build(
        out,
        meta,
        planned,
        dict(
            profile_name=profile_name,
            seed=seed,
            as_of=as_of,
            first_start=first_start,
            clean_sensors=clean_sensors,
            as_of_time=as_of_time,
        ),
        force=force,
        resume=resume,
        workers=workers,
        progress=progress,
        scheduler=scheduler,
        connect_timeout=connect_timeout,
    )


def regenerate(
    meta: dict, as_of: dt.date, out: str | Path, *, workers: int = 1, progress: Progress | None = None
) -> Snapshot:
    """The snapshot a manifest's ``meta`` (its generation arguments and planned batches) describes,
    at another as-of date, cut at its end: the same rows up to the old date, ids included (prefix-stable)."""
    args = {k: v for k, v in meta["arguments"].items() if k not in MOMENT_ARGUMENTS}
    first_start = dt.date.fromisoformat(meta["arguments"]["first_start"])
    planned = [PlannedBatch.from_json(b) for b in meta.get("planned_batches", meta["batches"])]
    job_args = dict(
        profile_name=get(meta["schema"]).name,
        seed=meta["seed"],
        as_of=as_of,
        first_start=first_start,
        clean_sensors=clean_sensors_of(meta["arguments"]),
    )
    return _local(
        _build(
            out,
            _meta(meta["seed"], as_of, first_start, planned, **args),
            planned,
            job_args,
            force=True,
            resume=False,
            workers=workers,
            progress=progress,
        )
    )


def _local(snap: Snapshot | RemoteSnapshot) -> Snapshot:
    """The snapshot of a local folder (``regenerate`` and ``add_batch`` write nowhere else)."""
    assert isinstance(snap, Snapshot), snap.path
    return snap


def add_batch(
    out: str | Path,
    *,
    start_date: dt.date,
    eggs: int,
    geography: str,
    station: str | None = None,
    sea_area: str | None = None,
    batch_name: str | None = None,
    as_of: dt.date | dt.datetime | None = None,
    seed: int = 42,
    workers: int = 1,
    progress: Progress | None = None,
    profile: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Snapshot, PlannedBatch]:
    """Add one batch to the snapshot at ``out``, creating it (with phases 1-2) when new.

    The snapshot is rebuilt with the new batch beside the planned ones (feed
    stock is shared, so FIFO runs again); it keeps its seed and as-of date
    unless ``as_of`` is given (then as ``generate``'s). The old snapshot stays until the new one is complete.
    """
    check_seed(seed)
    geography = fleet_geography(geography).name
    check_date("--start-date", start_date)
    as_of_time: dt.time | None = None
    if as_of is not None:
        as_of, as_of_time = as_of_moment(as_of, now)
    if isinstance(eggs, bool) or not isinstance(eggs, int) or not MIN_EGGS <= eggs <= MAX_EGGS:
        raise AquagenError(
            f"--eggs {eggs!r} must be a whole number of eggs from {MIN_EGGS:,} (fewer leave some of the batch's "
            f"tanks and sea rings without fish) to {MAX_EGGS:,} (its whole-life feed must fit "
            "inventory_batchfeedingsummary.total_feed_kg)"
        )
    if "://" in str(out):  # Path() would make s3://b/x the local folder s3:/b/x
        raise AquagenError(
            f"--out {out}: aquagen batch writes a local folder, not a URL; add batches locally, then copy"
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AquagenError(f"--out {out} is a file, not a folder")
    base = Snapshot.open(out) if (out / "manifest.json").exists() else None
    if base is None and out.exists() and any(out.iterdir()):
        raise AquagenError(f"{out} is neither empty nor a snapshot (no manifest.json)")
    if base is not None:
        if profile is not None and get(profile).name != base.profile:
            raise AquagenError(
                f"--profile {profile} differs from the snapshot's profile {base.profile}; "
                f"omit --profile or pass {base.profile}"
            )
        profile = base.profile
        seed = base.manifest["seed"]
        if as_of is None:
            as_of, as_of_time = moment_of(base.manifest["arguments"])
        first_start = dt.date.fromisoformat(base.manifest["arguments"]["first_start"])
        existing = [PlannedBatch.from_json(b) for b in base.manifest.get("planned_batches", base.manifest["batches"])]
        arguments = base.manifest["arguments"]
    else:
        if as_of is None:
            as_of, as_of_time = as_of_moment(None, now)
        first_start, existing, arguments = start_date, [], {"clean_sensors": False}
    if start_date > as_of:
        raise AquagenError(f"--start-date {start_date} is after the as-of date {as_of}")
    # the snapshot's batches that would start after what an as-of this early plans: they would be lost
    ahead = dt.timedelta(days=get(profile).plan_ahead_days)
    last_start = as_of + ahead
    late = [b for b in existing if b.start_date > last_start]
    if late:
        last = max(late, key=lambda b: b.start_date)
        raise AquagenError(
            f"--as-of {as_of} is before batch {last.batch_number} of this snapshot starts ({last.start_date})"
            f"{f' and {len(late) - 1} more' if len(late) > 1 else ''}; give an as-of no earlier than "
            f"{last.start_date - ahead}, or generate an earlier snapshot"
        )
    if start_date < first_start:
        raise AquagenError(
            f"--start-date {start_date} is before this snapshot's infrastructure exists "
            f"(first start {first_start}); use {first_start} or later"
        )
    farm = base is not None and full_farm(base.manifest)
    if farm:  # its intakes up to this as-of and the batches added before; the farm's later intakes make way
        assert base is not None
        existing = farm_plan(base.manifest, last_start)
        joins = max([last_start + dt.timedelta(days=1), *(day for day, _ in added_batches(base.manifest))])
    pb = plan_batch(
        existing,
        start_date=start_date,
        eggs=eggs,
        geography_name=geography,
        station=station,
        sea_area=sea_area,
        batch_name=batch_name,
        seed=seed,
    )
    planned = existing + [pb]
    args = {k: v for k, v in arguments.items() if k not in MOMENT_ARGUMENTS}
    if farm:  # for ``farm_plan``: advance plans the farm on with it
        args["added"] = [*arguments.get("added", []), {"shard": pb.shard, "from": joins.isoformat()}]
    meta = _meta(seed, as_of, first_start, planned, as_of_time, **args)
    job_args = dict(
        profile_name=get(profile).name,
        seed=seed,
        as_of=as_of,
        first_start=first_start,
        clean_sensors=clean_sensors_of(arguments),
        as_of_time=as_of_time,
    )
    snap = _build(
        out,
        meta,
        planned,
        job_args,
        force=False,
        resume=True,
        workers=workers,
        progress=progress,
        replace_ok=base is not None,
    )
    return _local(snap), pb
