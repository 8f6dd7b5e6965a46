"""The farm generated ahead, so that ``aquagen advance`` cuts each day out instead of generating it.

aquagen's output is prefix-stable: the snapshot at a later as-of date A, cut at any D <= A, is the
snapshot at D (ids are numbered by day first, every shard builds its whole horizon and is cut,
FIFO at a date depends only on what was fed before it). So one snapshot at A (a year past the
date asked for), kept per table as one id-ordered Parquet file with a per-day index, gives any
window (D1, D2] by reading a row group or two per table: the rows created in it, and the changing
rows (``Profile.mutable``) whose state moved on, at D2 (their last history row, as ``cut`` does).

A farm is generated ahead once per generation arguments and code version (``key``); later
advances simulate nothing until D2 passes A. The folder is written aside and renamed into place,
so a killed build leaves no half cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl

import schemas

from .. import __version__
from ..profiles import Profile, get
from ..snapshot import AS_OF_ARGUMENTS, MAX_DATE, Snapshot, as_of_arguments
from ..tables.cut import counted, last_history
from ..tables.cut import end_of as _end_of_day
from ..tables.ids import id_column, when_column
from .generate import added_batches, farm_plan, full_farm, regenerate
from .runner import Progress

AHEAD_DAYS = 365  # a farm is generated this far past the date asked for: a year of daily advances per build
ROW_GROUP = 16_384  # rows per Parquet row group: a day's window reads one or two of each table
INFO = "ahead.json"


def cache_root() -> Path:
    """``$AQUAGEN_CACHE``, else ``$XDG_CACHE_HOME/aquagen``, else ``~/.cache/aquagen``."""
    if os.environ.get("AQUAGEN_CACHE"):
        return Path(os.environ["AQUAGEN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aquagen"


def _code() -> str:
    """The generator's code and schema files (plug-in profiles' too): a cache made by other code is never used."""
    return _hash_code((Path(__file__).parents[1], Path(schemas.__file__).parent, *schemas.profile_dirs()))


@cache
def _hash_code(bases: tuple[Path, ...]) -> str:
    h = hashlib.sha256(__version__.encode() + pl.__version__.encode())
    for base in bases:
        for f in sorted(base.rglob("*")) if base.is_dir() else []:
            if f.suffix in (".py", ".json") and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def last_start(meta: dict, as_of: dt.date) -> dt.date:
    """The last start a snapshot of ``meta`` at ``as_of`` plans: its profile shows batches that many days ahead."""
    return as_of + dt.timedelta(days=get(meta["schema"]).plan_ahead_days)


def planned(meta: dict, as_of: dt.date) -> list[dict]:
    """The batches a snapshot of ``meta``'s arguments plans at ``as_of``: a fleet's fixed list, or a
    full farm's intakes up to that date and the profile's days ahead, and the batches added to it (the
    plan is prefix-stable: a later date only adds batches)."""
    if not full_farm(meta):
        return meta.get("planned_batches", meta["batches"])
    return [b.to_json() for b in farm_plan(meta, last_start(meta, as_of))]


def key(meta: dict) -> str:
    """What the farm's rows depend on: the generation arguments (not the as-of date) and the code."""
    args = {k: v for k, v in meta["arguments"].items() if k not in AS_OF_ARGUMENTS}
    if full_farm(meta):  # planned from the arguments, and the batches added to it
        plan = [b.to_json() for _, b in added_batches(meta)] or None
    else:
        plan = meta.get("planned_batches", meta["batches"])
    what = {"schema": meta["schema"], "seed": meta["seed"], "arguments": args, "planned": plan}
    return hashlib.sha256((json.dumps(what, sort_keys=True, default=str) + _code()).encode()).hexdigest()[:24]


def _day_of(end: dt.datetime) -> dt.date:
    """The day an as-of moment (exclusive) is on: the day before, for a day's end (midnight)."""
    return (end - dt.timedelta(microseconds=1)).date()


@dataclass
class Window:
    """What the snapshot at the moment ``to`` holds beyond the one at ``since`` (moments as
    ``aquagen.tables.cut.end_of`` gives them), table by table."""

    since: dt.datetime
    to: dt.datetime
    meta: dict  # the snapshot at ``to``'s manifest without its tables (what the load log records)
    old_max: dict[str, int] = field(default_factory=dict)  # largest id at ``since`` (0: none)
    new: dict[str, pl.DataFrame] = field(default_factory=dict)  # rows created in the window
    changed: dict[str, pl.DataFrame] = field(default_factory=dict)  # earlier changing rows, at ``to``

    @property
    def rows(self) -> int:
        return sum(df.height for df in self.new.values()) + sum(df.height for df in self.changed.values())


@dataclass
class Ahead:
    """A farm generated ahead to ``as_of``: one Parquet file per table, ordered by id, and per table
    and day the rows created (``n``) and the largest id so far (``top``)."""

    path: Path
    as_of: dt.date
    manifest: dict
    index: pl.DataFrame  # table, day (date), n, top

    @property
    def profile(self) -> Profile:
        return get(self.manifest["schema"])

    @classmethod
    def open(cls, path: Path) -> Ahead:
        info = json.loads((path / INFO).read_text())
        return cls(
            path, dt.date.fromisoformat(info["as_of"]), info["manifest"], pl.read_parquet(path / "index.parquet")
        )

    @staticmethod
    def intact(path: Path) -> bool:
        """Whether the cache at ``path`` holds every file its build wrote, at the size it wrote it: one
        deleted, truncated or half-copied since is built again (deleting any of it is always safe)."""
        try:
            sizes = json.loads((path / INFO).read_text()).get("sizes", {})
            return all((path / rel).stat().st_size == size for rel, size in sizes.items())
        except (OSError, ValueError):
            return False

    def scan(self, table: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / "tables" / f"{table}.parquet")

    def top(self, table: str, day: dt.date) -> int:
        """The largest id of ``table`` at the end of ``day`` (0: none)."""
        got = self.index.filter(pl.col("table") == table, pl.col("day") <= day).select_seq(pl.col("top").max()).item()
        return int(got) if got is not None else 0

    def old(self, table: str, since: dt.datetime) -> pl.LazyFrame:
        """The rows of ``table`` that exist before the moment ``since`` (every row of a table without a
        creation time)."""
        when = when_column(table, self.profile.name)
        lf = self.scan(table)
        return lf.filter(self._counted(table) < since) if when in self.profile.tables[table].column_names else lf

    def _counted(self, table: str) -> pl.Expr:
        p = self.profile
        return counted(when_column(table, p.name), p.booked.get(table), p.unbooked.get(table))

    def window(self, since: dt.datetime, to: dt.datetime) -> Window:
        """The rows of the window [``since``, ``to``) between two as-of moments: see the module
        docstring. Ids are numbered by day first, so the rows of a day cut part-way (``since`` or
        ``to`` not at midnight) are a subset of the day's ids, not a prefix: on such a day the window
        takes the day's rows by when they exist (``counted``), and ``old_max`` is the largest id that
        existed at ``since`` (the rows cut from below it keep their ids when they come)."""
        if not since <= to <= _end_of_day(self.as_of):
            raise ValueError(f"window {since}..{to} outside the farm generated to {self.as_of}")
        p = self.profile
        ts = p.tables
        win = Window(since, to, self._meta(to))
        first, last = since.date(), _day_of(to)  # the days the window has rows of
        for name, t in ts.items():
            lo = self.top(name, first - dt.timedelta(days=1))  # every id up to here existed at ``since``
            win.old_max[name] = lo
            if when_column(name, p.name) not in t.column_names:
                win.old_max[name] = self.top(name, _day_of(since))
                continue  # master data: nothing new
            idcol = id_column(name, p.name)
            hi = self.top(name, last)
            if hi <= lo:
                continue
            rows = self.scan(name).filter(pl.col(idcol).is_between(lo + 1, hi))
            if since.time() != dt.time():  # the old snapshot's part of ``since``'s day: below its largest id
                got = rows.filter(self._counted(name) < since).select_seq(pl.col(idcol).max()).collect().item()
                win.old_max[name] = lo if got is None else int(got)
                rows = rows.filter(self._counted(name) >= since)
            if to.time() != dt.time():
                rows = rows.filter(self._counted(name) < to)
            if name not in p.mutable:
                win.new[name] = rows.collect()
        for name in p.mutable:
            t = ts[name]
            if t.history_table is None or t.history_table not in ts:
                continue
            h = t.history_table
            lo, hi = self.top(h, first - dt.timedelta(days=1)), self.top(h, last)
            when = self._counted(h)
            changes = self.scan(h).filter(pl.col("history_id").is_between(lo + 1, hi), when >= since, when < to)
            # the last history row at ``to`` of every row that changed in the window
            state = last_history(changes, "id").select_seq(t.column_names).sort("id").collect()
            is_new = self._counted(name) >= since  # created in the window (its '+' history row is)
            win.new[name] = state.filter(is_new)
            win.changed[name] = state.filter(~is_new)
        return win

    def _meta(self, to: dt.datetime) -> dict:
        """The manifest (without tables) a snapshot generated at the moment ``to`` has."""
        meta = {k: v for k, v in self.manifest.items() if k != "tables"}
        day = _day_of(to)
        args = {k: v for k, v in meta["arguments"].items() if k not in AS_OF_ARGUMENTS}
        meta["arguments"] = as_of_arguments(day, None if to.time() == dt.time() else to.time()) | args
        if full_farm(meta):
            meta["planned_batches"] = [b for b in meta["planned_batches"] if _start(b) <= last_start(meta, day)]
        meta["batches"] = [b for b in meta["planned_batches"] if _start(b) <= day]
        return meta


def _start(b: dict) -> dt.date:
    return dt.date.fromisoformat(b["start_date"])


def ahead(
    meta: dict,
    to: dt.date,
    root: Path | None = None,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> tuple[Ahead, bool]:
    """The farm of ``meta`` generated ahead to ``to`` or later, from the cache under ``root`` (default
    ``cache_root()``) or built now (then True): generated to ``to`` + AHEAD_DAYS, kept per table."""
    root = root or cache_root()
    folder = root / key(meta)
    if Ahead.intact(folder):  # its record and every file it lists, as built
        found = Ahead.open(folder)
        if found.as_of >= to:
            return found, False
    as_of = min(to + dt.timedelta(days=AHEAD_DAYS), MAX_DATE)
    tmp = root / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        meta = {**meta, "planned_batches": planned(meta, as_of)}
        snap = regenerate(meta, as_of, tmp / "snapshot", workers=workers, progress=progress)
        _keep(snap, tmp, as_of)
        shutil.rmtree(tmp / "snapshot")
        old = root / f".{folder.name}.old-{os.getpid()}"
        if folder.exists():
            folder.rename(old)
        try:
            tmp.rename(folder)
        except OSError:  # another advance put the same farm in place meanwhile: use it
            if not (folder / INFO).is_file():
                raise
            shutil.rmtree(tmp)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Ahead.open(folder), True


def _keep(snap: Snapshot, out: Path, as_of: dt.date) -> None:
    """The snapshot as one id-ordered file per table with small row groups, and the per-day index."""
    p = get(snap.profile)
    (out / "tables").mkdir()
    index = []
    for name, t in p.tables.items():
        if t.key is None:  # keyed by another table's id (a forecast summary): no ids of its own to index
            snap.scan(name).collect().write_parquet(out / "tables" / f"{name}.parquet")
            continue
        idcol, when = t.key, when_column(name, p.name)
        df = snap.scan(name).sort(idcol).collect()
        df.write_parquet(out / "tables" / f"{name}.parquet", row_group_size=ROW_GROUP, statistics=True)
        if df.height == 0:
            continue
        day = pl.col(when).dt.date() if when in t.column_names else pl.lit(dt.date(1970, 1, 1))
        index.append(
            df.group_by(day.alias("day"))
            .agg(n=pl.len().cast(pl.Int64), top=pl.col(idcol).max().cast(pl.Int64))
            .sort("day")
            .select_seq(pl.lit(name).alias("table"), "day", "n", pl.col("top").cum_max())
        )
        del df
    pl.concat(index).write_parquet(out / "index.parquet")
    manifest = {k: v for k, v in snap.manifest.items() if k != "tables"}
    sizes = {str(f.relative_to(out)): f.stat().st_size for f in [out / "index.parquet", *(out / "tables").iterdir()]}
    (out / INFO).write_text(json.dumps({"as_of": as_of.isoformat(), "manifest": manifest, "sizes": sizes}, default=str))
