"""The validation checks, written once as SQL and run either on a snapshot (Polars' SQL engine
over the Parquet files) or on a loaded database: the profile's own counts and invariants, and
for every profile a '+' history row per object, the last history row of each changing object equal
to the row, and enum columns inside the application's choices."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from .. import words
from ..profiles import DEFAULT, Profile, get
from ..snapshot import Snapshot, moment_of


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    sql: str  # returns a single number
    expected: int  # counts: the plan's number; invariants: 0 violations


@dataclass(frozen=True)
class Result:
    check: Check
    actual: int

    @property
    def ok(self) -> bool:
        return self.actual == self.check.expected


class Source(Protocol):
    as_of: dt.date
    profile: str
    as_of_time: dt.time | None  # the cut's time of day on the as-of date (None: its end)
    partial_day: dt.date | None  # a day the data was cut part-way, read up to the cut only (None: none)
    at_once: int  # checks ``scalars`` takes at a time

    def scalar(self, sql: str) -> int: ...

    def scalars(self, sqls: Sequence[str]) -> list[int]: ...


class SnapshotSource:
    at_once = 16  # collected together: most of the saving of all at once, at a fraction of the memory

    def __init__(self, snapshot: Snapshot):
        self.ctx = pl.SQLContext({name: snapshot.scan(name) for name in snapshot.manifest["tables"]})
        self.as_of, self.as_of_time = moment_of(snapshot.manifest["arguments"])
        self.partial_day: dt.date | None = None  # a snapshot's cut is its as-of moment
        self.profile = snapshot.profile

    def scalar(self, sql: str) -> int:
        return self.scalars([sql])[0]

    def scalars(self, sqls: Sequence[str]) -> list[int]:
        """Each query's number, the queries collected together (one pass of Polars' engine over them,
        scans of the same files shared: a fifth less CPU than one by one); ``run`` hands ``at_once``."""
        return [int(f.item() or 0) for f in pl.collect_all([self.ctx.execute(sql) for sql in sqls])]


# a database session's memory per sort or hash: the default 4MB spills a farm's joins and groups to disk
# (a seventh more server CPU over the checks)
CHECK_WORK_MEM = "64MB"


class DatabaseSource:
    at_once = 1  # more connections run checks at once (``run``'s ``more``)

    def __init__(
        self, conn, as_of: dt.date | None = None, profile: str | None = None, as_of_time: dt.time | None = None
    ):
        self.conn = conn
        self.as_of = as_of or dt.date.today()
        self.profile = profile or DEFAULT
        conn.execute("SET TIME ZONE 'UTC'")  # dates of timestamps are UTC dates, as generated
        conn.execute(f"SET work_mem = '{CHECK_WORK_MEM}'")
        cut = self._loaded_cut()
        # the day of the last load's cut, when it was part-way through it: that day's rows are in only up
        # to its time, whatever the as-of date of the check (by default today, later than the data's)
        self.partial_day = cut[0] if cut is not None else None
        if as_of_time is None and cut is not None and cut[0] == self.as_of:
            as_of_time = cut[1]
        self.as_of_time = as_of_time

    def _loaded_cut(self) -> tuple[dt.date, dt.time] | None:
        """The date and time of day of the cut the load log records last, when it is at a time of day."""
        from loaders.loadlog import LOAD_LOG

        has_meta = self.conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
            "AND column_name = 'meta'",
            (LOAD_LOG,),
        ).fetchone()[0]
        if not has_meta:  # no load log, or one older than generation metadata
            return None
        row = self.conn.execute(
            f"SELECT meta->'arguments'->>'as_of', meta->'arguments'->>'as_of_time' FROM public.{LOAD_LOG} "
            "WHERE meta IS NOT NULL ORDER BY loaded_at DESC LIMIT 1"
        ).fetchone()
        if row is None or row[0] is None or row[1] is None:
            return None
        return dt.date.fromisoformat(row[0]), dt.time.fromisoformat(row[1])

    def scalar(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0] or 0)

    def scalars(self, sqls: Sequence[str]) -> list[int]:
        return [self.scalar(sql) for sql in sqls]


def _history_checks(profile: Profile) -> list[Check]:
    """Invariant: every object with a history twin has its '+' creation row. (Its '+' rows joined as they
    are, not DISTINCT: an object with several is matched all the same, and PostgreSQL plans the join as
    an anti join, a parallel hash of the history instead of a sorted, deduplicated scan in each worker.)"""
    out = []
    for t in profile.tables.values():
        if t.history_table:
            k = t.object_key or "id"
            out.append(
                Check(
                    "history",
                    f"{t.name} rows without '+' history",
                    f"SELECT COUNT(*) FROM {t.name} b LEFT JOIN (SELECT {k} FROM {t.history_table} "
                    f"WHERE history_type = '+') h ON h.{k} = b.{k} WHERE h.{k} IS NULL"
                    + (f" AND NOT ({profile.seeded[t.name]})" if t.name in profile.seeded else ""),
                    0,
                )
            )
    return out


def _either(terms: list[str]) -> str:
    """``terms`` joined by OR as a balanced tree (Polars' SQL parser limits the nesting depth)."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_either(terms[:half])} OR {_either(terms[half:])})"


def _last_history_checks(profile: Profile) -> list[Check]:
    """Invariant: a changing object's last history row (latest history_date, then history_id)
    equals the row itself in every column they share, as django-simple-history leaves them. (The
    highest history_id among the rows at an object's latest date: those rows picked by a join with
    the latest dates, not a group by (object, date) over the whole history.)"""
    out = []
    for name in profile.mutable:
        t = profile.tables[name]
        h, k = t.history_table, t.object_key or "id"
        assert h is not None, f"{name} changes but has no history table"
        shared = [c for c in profile.tables[h].column_names if c in t.column_names and c != k]
        differs = _either([f"(h.{c} IS DISTINCT FROM s.{c})" for c in shared])
        out.append(
            Check(
                "history",
                f"{name} rows whose last history row differs from the row",
                f"SELECT COUNT(*) FROM {name} s JOIN (SELECT x.{k}, MAX(x.history_id) AS i FROM {h} x "
                f"JOIN (SELECT {k}, MAX(history_date) AS d FROM {h} GROUP BY {k}) m ON m.{k} = x.{k} "
                f"AND m.d = x.history_date GROUP BY x.{k}) l ON l.{k} = s.{k} "
                f"JOIN {h} h ON h.history_id = l.i WHERE {differs}",
                0,
            )
        )
    return out


def _enum_checks(profile: Profile) -> list[Check]:
    """Invariant 8: enum columns hold only the application's choices."""
    out = []
    for (table, column), allowed in profile.choices.items():
        values = ", ".join(f"'{v}'" for v in allowed)
        out.append(
            Check(
                "schema",
                f"{table}.{column} outside its choices",
                f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN ({values})",
                0,
            )
        )
    return out


def checks(
    profile: Profile,
    as_of: dt.date | None = None,
    as_of_time: dt.time | None = None,
    partial_day: dt.date | None = None,
) -> list[Check]:
    """The checks of ``profile``; in their SQL ``{as_of}`` is the as-of date and ``{last_full_day}`` the
    last day whose rows are all in: the day before it when the cut is at ``as_of_time`` on it, or
    before ``partial_day``, a day the data was cut part-way (a database validated after its data's date)."""
    as_of = as_of or dt.date.today()
    full = as_of if as_of_time is None else as_of - dt.timedelta(days=1)
    if partial_day is not None and partial_day <= full:
        full = partial_day - dt.timedelta(days=1)
    day, last = f"DATE '{as_of.isoformat()}'", f"DATE '{full.isoformat()}'"
    return (
        _history_checks(profile)
        + _last_history_checks(profile)
        + _enum_checks(profile)
        + [
            Check(g, n, sql.replace("{as_of}", day).replace("{last_full_day}", last), e)
            for g, n, sql, e in profile.checks
        ]
    )


def run(source: Source, more: Sequence[Source] = (), done: Callable[[int, int], None] | None = None) -> list[Result]:
    """Every check of ``source``'s profile, in their order. ``more``: sources over other connections
    to the same data; each takes the next check not yet taken in a thread of its own, so that the
    server runs as many checks at once (a whole farm's 350 checks are a minute on one connection).
    A source takes its ``at_once`` checks at a time. ``done(checks done, checks)`` hears of each
    result as it comes."""
    cs = checks(get(source.profile), source.as_of, source.as_of_time, source.partial_day)
    values: list[int] = [0] * len(cs)
    taken = iter(range(0, len(cs), source.at_once))
    lock, stop = threading.Lock(), threading.Event()
    finished = 0

    def work(src: Source) -> None:
        nonlocal finished
        while True:
            with lock:
                i = None if stop.is_set() else next(taken, None)
            if i is None:
                return
            part = cs[i : i + source.at_once]
            values[i : i + len(part)] = src.scalars([c.sql for c in part])
            if done is not None:
                with lock:
                    for _ in part:
                        finished += 1
                        done(finished, len(cs))

    sources = [source, *more]
    if len(sources) == 1:
        work(source)
    else:
        with ThreadPoolExecutor(len(sources)) as pool:
            try:
                for f in [pool.submit(work, s) for s in sources]:
                    f.result()  # a check's error is raised here
            except BaseException:  # Ctrl-C or a failed check: the others stop after the check at hand
                stop.set()
                raise
    return [Result(c, v) for c, v in zip(cs, values, strict=True)]


def duplicate_keys(snapshot: Snapshot) -> dict[str, int]:
    """Per table, the rows whose primary key an earlier row holds (a database's PRIMARY KEY refuses
    them at the load; nothing in the Parquet files does): tables without any left out. The key's first
    column sorted (about a second for 20M ids, a hash of them took up to ten), the rows whose value a
    neighbour shares are the only candidates: their keys are counted whole."""
    profile = get(snapshot.profile)
    out = {}
    for name in snapshot.manifest["tables"]:
        if not snapshot.rows(name):
            continue
        key = profile.tables[name].primary_key
        first = pl.col(key[0])
        shared = (
            snapshot.scan(name).select(key).sort(key[0]).filter((first == first.shift()) | (first == first.shift(-1)))
        )
        extra = shared.select(pl.len() - pl.struct(key).n_unique()).collect().item()
        if extra:
            out[name] = extra
    return out


def run_snapshot(snapshot: Snapshot) -> list[Result]:
    """A snapshot's checks, first the folder's own: no file the manifest does not list, no primary
    key twice in a table."""
    extra = snapshot.unlisted()
    name = "files the manifest does not list" + (f" (e.g. {extra[0]})" if extra else "")
    twice = duplicate_keys(snapshot)
    dups = "rows repeating a primary key" + (f" ({words.some(list(twice))})" if twice else "")
    return [
        Result(Check("snapshot", name, "", 0), len(extra)),
        Result(Check("snapshot", dups, "", 0), sum(twice.values())),
        *run(SnapshotSource(snapshot)),
    ]
