"""Row ids in time order: dense per table, the same for any number of workers,
and prefix-stable in time.

A row's id is its rank in the order (day it was created, shard, order within
the shard). Each shard (master data, each batch, each feed site) builds its rows
once, with local ids (``Local``: LOCAL_BASE + the row's rank in its table, in the
same order) and its rows per (table, day); the counts of all shards give every
shard the first id of each of its days (``allocate``), and ``renumber`` turns the
local ids (in id and reference columns alike) into the snapshot's by arithmetic
on (day, rank). Because the order starts with the day, the rows of a snapshot cut
at any as-of date are exactly ids 1..n of the full-horizon numbering, so a later
as-of date only appends ids: every earlier row keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Protocol

import numpy as np
import polars as pl

import schemas

from ..model.timeline import DAY_IN_UNIT
from .order import physical


class IdBook(Protocol):
    profile: str  # the schema profile whose tables are numbered

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        """Ids for ``df``'s rows of ``table``, in row order (rows dated by ``when_column``)."""


@cache
def table_enum(profile: str) -> pl.Enum:
    """Table names in the counts: 4 bytes a row, not a string."""
    return pl.Enum(sorted(schemas.tables(profile)))


@cache
def when_column(table: str, profile: str) -> str:
    """The column that dates a row's creation: history_date for history rows, else created_at, else
    (tables without one) the application's computation time, or the first NOT NULL timestamp: the
    event's own time (e.g. health_licecount)."""
    t = schemas.table(table, profile)
    if t.history_of:
        return "history_date"
    for name in ("created_at", "last_computed_at"):
        if name in t.column_names:
            return name
    stamps = [c.name for c in t.columns if c.sql_type == "timestamp with time zone" and not c.nullable]
    return stamps[0] if stamps else "created_at"


def id_column(table: str, profile: str) -> str:
    """The column holding a row's own id: its primary key (``history_id`` in a history table)."""
    return schemas.table(table, profile).key or "id"


LOCAL_BASE = 1 << 30  # local ids start here: above every real id (checked by ``allocate``), and fit an integer column


class Counting:
    """Counts rows per table and day and gives them placeholder ids (for rows with fixed ids,
    e.g. the master data, and for benchmarks that only build)."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # table -> (days, rows per day)

    def _count(self, table: str, day: np.ndarray) -> None:
        if table in self._counts:
            raise ValueError(f"ids of {table} assigned twice in one shard")
        self._counts[table] = _per_day(day)

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        self._count(table, _day_array(df, when_column(table, self.profile)))
        # placeholders: negative, so they never meet a real id in a join
        return -pl.int_range(1, df.height + 1, dtype=pl.Int64, eager=True)

    def add(self, table: str, df: pl.DataFrame) -> None:
        """Count ``df``'s rows of ``table`` after its rows counted before (a table counted piece by
        piece, in time order: a piece's days are the last piece's last day or later)."""
        days, n = _per_day(_day_array(df, when_column(table, self.profile)))
        if table in self._counts and len(days):
            before, counted = self._counts[table]
            if len(before) and before[-1] > days[0]:
                raise ValueError(f"{table}: rows of day {days[0]} counted after day {before[-1]}")
            if len(before) and before[-1] == days[0]:
                counted = counted.copy()
                counted[-1] += n[0]
                days, n = days[1:], n[1:]
            days, n = np.concatenate([before, days]), np.concatenate([counted, n])
        elif table in self._counts:
            return
        self._counts[table] = days, n

    @property
    def tables(self) -> set[str]:
        """The tables this book numbered."""
        return set(self._counts)

    def counts(self, last_day: int | None = None) -> pl.DataFrame:
        """table, day, n — the shard's rows per table and day (up to ``last_day``, days since 1970)."""
        tables = sorted(self._counts)
        days = [self._counts[t][0] for t in tables]
        # each table's name once as the enum, repeated by position (not a string per row, then cast:
        # 16 times the CPU on a batch's 30k rows)
        names = pl.Series("table", tables, dtype=pl.String).cast(table_enum(self.profile))
        of = np.repeat(np.arange(len(tables)), [len(d) for d in days])
        day = np.concatenate(days) if tables else np.empty(0, np.int32)
        n = np.concatenate([self._counts[t][1] for t in tables]) if tables else np.empty(0, np.int64)
        if last_day is not None and len(day) and day.max() > last_day:  # the rows up to it: a mask, no query
            kept = day <= last_day
            of, day, n = of[kept], day[kept], n[kept]
        return pl.DataFrame(
            {
                "table": names.gather(of),
                "day": pl.Series(day, dtype=pl.Int32),
                "n": pl.Series(n, dtype=pl.Int64),
            }
        )


class Local(Counting):
    """The one building pass: numbers each table's rows with local ids in id order, from
    ``LOCAL_BASE``: ordered by (day, row order), like the final ids, so that sorting, cutting
    and joining on them gives what the final ids would. ``renumber`` turns them into the
    snapshot's ids once every shard's counts are known, by arithmetic on (day, rank)."""

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        day = _day_array(df, when_column(table, self.profile))
        if table in self._counts:
            raise ValueError(f"ids of {table} assigned twice in one shard")
        if len(day) < 2 or bool((day[1:] >= day[:-1]).all()):  # in day order (most tables): the ranks in row order
            self._counts[table] = _per_day(day, ordered=True)
            return pl.Series(np.arange(LOCAL_BASE, LOCAL_BASE + len(day), dtype=np.int64))
        order = np.argsort(day, kind="stable")
        self._counts[table] = _per_day(day[order], ordered=True)
        rank = np.empty(len(day), dtype=np.int64)
        rank[order] = np.arange(LOCAL_BASE, LOCAL_BASE + len(day), dtype=np.int64)
        return pl.Series(rank)


def _per_day(day: np.ndarray, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(days, rows per day) of a table's row days, days ascending (``ordered``: ``day`` is sorted)."""
    if not ordered:
        day = np.sort(day, kind="stable")
    if not len(day):
        return np.empty(0, np.int32), np.empty(0, np.int64)
    starts = np.flatnonzero(np.diff(day, prepend=day[0] - 1))
    return day[starts].astype(np.int32), np.diff(starts, append=len(day)).astype(np.int64)


def _day_array(df: pl.DataFrame, when: str) -> np.ndarray:
    """Each row's UTC day (days since 1970): integer arithmetic on the timestamps, no Polars operation."""
    s = df.get_column(when)
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone in (None, "UTC") and not s.null_count():
        return (physical(s) // DAY_IN_UNIT[s.dtype.time_unit]).astype(np.int32)
    return s.dt.date().cast(pl.Int32).to_numpy()


# columns that hold ids of a table without a foreign key declaring it in some version of the schema
# (cb41030 dropped the readings' constraint to the assignment): renumbered all the same
UNDECLARED_REFERENCES = {
    "environmental_environmentalreading": {"batch_container_assignment_id": "batch_batchcontainerassignment"},
}


@cache
def id_references(profile: str) -> dict[str, dict[str, str]]:
    """Per table: its columns that hold ids of a table (column -> table), its own id column
    included; a history table's columns as its base table's. Foreign keys of the schema, and the
    ``UNDECLARED_REFERENCES`` a version's schema leaves without one."""
    ts = schemas.tables(profile)
    out: dict[str, dict[str, str]] = {}
    for name, t in ts.items():
        base = ts[t.history_of] if t.history_of else t
        refs = {c: r for c, r in UNDECLARED_REFERENCES.get(base.name, {}).items() if r in ts}
        refs |= {fk.column: fk.ref_table for fk in base.foreign_keys if fk.ref_column == ts[fk.ref_table].key}
        if base.object_key in t.column_names:
            refs[base.object_key] = base.name
        if t.history_of:
            refs["history_id"] = name
        out[name] = {c: r for c, r in refs.items() if c in t.column_names}
    return out


def renumber(frames: dict[str, pl.DataFrame], first: pl.DataFrame, profile: str) -> dict[str, pl.DataFrame]:
    """``frames`` numbered by ``Local`` with the snapshot's ids: a local id is ``LOCAL_BASE`` +
    its rank in the shard's table; its day's block of ranks starts at the shard's first id of
    that day (``allocate``), so the id is local + (first - block start) of its day."""
    first = first.sort("table", "day")  # one sort for all; each table's rows then together (by array slices)
    run = first["table"].rle_id().to_numpy().astype(np.int64)
    ends = np.flatnonzero(np.diff(run, append=-1)) + 1  # where each table's rows end
    names = first["table"].gather(ends - 1).cast(pl.String).to_list()
    n_all, first_all = first["n"].to_numpy(), first["first"].to_numpy()
    maps = {}
    for table, a, b in zip(names, np.append(0, ends)[:-1].tolist(), ends.tolist(), strict=True):
        n = n_all[a:b]
        start = LOCAL_BASE + np.cumsum(n) - n
        # each local id's shift (first - block start of its day), by its rank: one lookup per value
        maps[table] = (np.repeat(first_all[a:b] - start, n), LOCAL_BASE + int(n.sum()))
    refs = id_references(profile)
    out = {}
    for name, df in frames.items():
        mapped = [
            (df.get_column_index(col), _mapped(df[col], *maps[table]))
            for col, table in refs.get(name, {}).items()
            if table in maps and col in df.columns
        ]
        if mapped:  # columns replaced in a copy of the frame (``with_columns`` costs a query)
            df = df.clone()
            for i, s in mapped:
                df.replace_column(i, s)
        out[name] = df
    return out


def _mapped(s: pl.Series, shift: np.ndarray, end: int) -> pl.Series:
    v = s.to_numpy()
    if not s.null_count() and len(v) and v.min() >= LOCAL_BASE:  # every value local (a table's own ids): no masks
        lv = v.astype(np.int64, copy=False)
        if lv.max() >= end:
            raise AssertionError(f"{s.name}: a local id beyond the counted rows")
        return pl.Series(s.name, lv + shift[lv - LOCAL_BASE], dtype=pl.Int64).cast(s.dtype)
    local = v >= LOCAL_BASE
    if s.null_count():
        local &= ~s.is_null().to_numpy()
    if not local.any():
        return s
    lv = v[local].astype(np.int64)
    if lv.max() >= end:
        raise AssertionError(f"{s.name}: a local id beyond the counted rows")
    nulls = s.is_null().to_numpy() if s.null_count() else None
    out = np.where(nulls, 0, v).astype(np.int64) if nulls is not None else v.astype(np.int64, copy=True)
    out[local] = lv + shift[lv - LOCAL_BASE]
    mapped = pl.Series(s.name, out, dtype=pl.Int64)
    if nulls is not None:  # a NULL reference stays NULL
        mapped = mapped.scatter(np.flatnonzero(nulls), None)
    return mapped.cast(s.dtype)


def allocate(counts: dict[int, pl.DataFrame]) -> dict[int, pl.DataFrame]:
    """First id per (shard, table, day) from every shard's counts (``allocate_each`` over them)."""
    return dict(allocate_each(sorted(counts), counts.__getitem__))


FIRST_SCHEMA = {"table": pl.String, "day": pl.Int32, "first": pl.Int64, "n": pl.Int64}


def allocate_each(keys: list[int], counts_of: Callable[[int], pl.DataFrame]) -> Iterator[tuple[int, pl.DataFrame]]:
    """First id per (shard, table, day), shard by shard in key order (``keys`` ascending): within a
    day, the lower shard key comes first. Holds no shard's counts beyond the one at hand, only two
    dense (table x day) arrays of the whole fleet (a few MB): every shard's rows per day summed,
    then, in a second pass over the shards, the rows of the shards already numbered. So a caller
    that reads each shard's counts from a file and puts its first ids in one keeps the parent's
    memory flat in the number of shards (loops over shards: each step depends on the ones before)."""
    if list(keys) != sorted(keys):
        raise ValueError("allocate_each: keys must be ascending")
    if not keys:
        return
    enum = None
    grid = _DayGrid()
    for k in keys:  # pass 1: rows per (table, day) over every shard
        c = counts_of(k)
        enum = c.schema["table"] if enum is None else enum
        grid.add(*_codes(c, enum), c["n"].to_numpy())
    totals = grid.values
    over = totals.sum(axis=1) >= LOCAL_BASE
    if over.any():
        raise AssertionError(f"{_names(enum)[int(np.flatnonzero(over)[0])]}: rows do not fit below the local ids")
    start = np.cumsum(totals, axis=1) - totals + 1  # the first id of each (table, day) over all shards
    done = np.zeros_like(totals)  # rows of the shards already numbered, per (table, day)
    for k in keys:  # pass 2: each shard's first ids follow those of the lower keys on the same day
        c = counts_of(k)
        t, d = _codes(c, enum)
        n = c["n"].to_numpy().astype(np.int64)
        d = d - grid.lo
        first = start[t, d] + done[t, d]
        done[t, d] += n  # a shard counts each (table, day) once
        yield (
            k,
            pl.DataFrame(
                {"table": c["table"], "day": c["day"], "first": first, "n": n},
                schema={**FIRST_SCHEMA, "table": c.schema["table"]},
            ),
        )


def _codes(c: pl.DataFrame, enum) -> tuple[np.ndarray, np.ndarray]:
    """(table index, day) of a shard's counts; table names as ``enum``'s (counts read back from a
    file may hold them as strings)."""
    t = c["table"].cast(pl.String).cast(enum).to_physical().to_numpy().astype(np.int64)
    return t, c["day"].to_numpy().astype(np.int64)


def _names(enum) -> list[str]:
    return list(enum.categories) if isinstance(enum, pl.Enum) else []


class _DayGrid:
    """Sums per (table code, day) in a dense array whose day range grows as days come."""

    def __init__(self) -> None:
        self.lo = 0
        self.values = np.zeros((0, 0), np.int64)

    def add(self, t: np.ndarray, d: np.ndarray, n: np.ndarray) -> None:
        if not len(t):
            return
        rows, lo = max(self.values.shape[0], int(t.max()) + 1), int(d.min())
        if self.values.size:
            lo = min(lo, self.lo)
        hi = max(int(d.max()), self.lo + self.values.shape[1] - 1) if self.values.size else int(d.max())
        if (rows, hi - lo + 1) != self.values.shape or lo != self.lo:
            grown = np.zeros((rows, hi - lo + 1), np.int64)
            if self.values.size:
                grown[: self.values.shape[0], self.lo - lo : self.lo - lo + self.values.shape[1]] = self.values
            self.values, self.lo = grown, lo
        np.add.at(self.values, (t, d - self.lo), n)
