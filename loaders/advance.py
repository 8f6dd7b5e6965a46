"""``aquagen advance``: move a loaded database on to a later as-of date, without reloading.

aquagen's output is prefix-stable: a snapshot at a later date holds every row of an earlier
one unchanged, ids included, and only the rows of the tables whose rows change (batches,
assignments, stock lots: the profile's ``mutable`` tables) move on. So advancing a database
from D1 to D2 cuts the window (D1, D2] out of the same farm generated ahead
(``aquagen.run.ahead``: generated once, a year past D2, and kept in a cache) and, in one
transaction, inserts the rows created in it (per table, exactly the ids above D1's largest),
updates the changing rows whose state moved on to their D2 state, moves the sequences and
logs D2. A one-day window is a few thousand rows for a 50-batch farm. D1 and D2 may be moments
on their days (``aquagen.tables.cut``): a day cut part-way holds a subset of its ids, not a prefix
(ids are numbered by day, then shard), so on such a day the window takes rows by when they exist
(``Window``) and the missing ones come with their own ids, below the database's largest.

Rows the application's users added in between are never touched: where one holds an id that
aquagen's new rows would take, all new rows of that table move past the table's largest id,
and every reference to them follows (``Segments``). The offsets are kept in the load log so
that the next advance maps ids the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl
import psycopg

import schemas
from aquagen import killpoints, words
from aquagen.errors import AquagenError
from aquagen.profiles import Profile
from aquagen.run.ahead import Ahead, Window, ahead
from aquagen.run.generate import as_of_moment
from aquagen.run.runner import Progress
from aquagen.snapshot import Snapshot, moment_label, moment_of
from aquagen.tables.cut import end_of
from aquagen.tables.ids import id_column

from .binarycopy import copy_rows, update_rows
from .catalog import set_sequences
from .loadlog import LOAD_LOG, log_columns, write_log
from .reconcile import by_natural_key, history_refs
from .rows import one
from .session import check_client, connect, exclusive, immediate_constraints


@dataclass
class Segments:
    """Where a table's snapshot ids sit in the database: id s moves by the offset of the last
    segment starting at or below s (one segment per load or advance that had to move ids)."""

    starts: list[int] = field(default_factory=lambda: [1])
    offsets: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def from_json(cls, raw: list | None) -> Segments:
        return cls([s for s, _ in raw], [o for _, o in raw]) if raw else cls()

    def to_json(self) -> list[list[int]]:
        return [[s, o] for s, o in zip(self.starts, self.offsets)]

    @property
    def identity(self) -> bool:
        return not any(self.offsets)

    def add(self, start: int, offset: int) -> None:
        if offset != self.offsets[-1]:
            self.starts.append(start)
            self.offsets.append(offset)

    def expr(self, col: str) -> pl.Expr:
        out = pl.col(col) + self.offsets[0]
        for s, o in zip(self.starts[1:], self.offsets[1:]):
            out = pl.when(pl.col(col) >= s).then(pl.col(col) + o).otherwise(out)
        return out


@dataclass
class AdvanceResult:
    from_date: dt.date
    to_date: dt.date
    from_time: dt.time | None = None  # the cut's time of day on from_date (None: its end)
    to_time: dt.time | None = None  # the cut's time of day on to_date (None: its end)
    rows: dict[str, int] = field(default_factory=dict)  # rows inserted per table
    updated: dict[str, int] = field(default_factory=dict)  # changing rows moved on, per table
    moved: dict[str, int] = field(default_factory=dict)  # tables whose new ids moved past users' rows: by how much
    seconds: float = 0.0
    generated: bool = False  # the farm was generated ahead by this advance (the cache did not hold it)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: farm ahead (cache or build), window, apply

    @property
    def noop(self) -> bool:
        return (self.from_date, self.from_time) == (self.to_date, self.to_time)

    @property
    def since(self) -> str:
        return moment_label(self.from_date, self.from_time)

    @property
    def until(self) -> str:
        return moment_label(self.to_date, self.to_time)


@dataclass
class _State:
    """What the load log says the database holds."""

    meta: dict  # the snapshot's manifest without its table list: profile, seed, arguments, planned batches
    as_of: dt.date
    as_of_time: dt.time | None  # the cut's time of day on the as-of date (None: its end)
    segments: dict[str, Segments]


def _state(conn: psycopg.Connection) -> _State:
    exists = one(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{LOAD_LOG}",)))[0]
    if not exists:
        raise AquagenError("this database has no aquagen load log: load a snapshot first (aquagen load)")
    cols = log_columns(conn)
    if not {"meta", "id_segments"} <= cols:
        raise AquagenError(
            "the load log was written by an older aquagen and does not say how the data was "
            "generated; load the snapshot once more with this version, then advance"
        )
    row = conn.execute(
        f"SELECT meta, id_segments FROM public.{LOAD_LOG} WHERE meta IS NOT NULL ORDER BY loaded_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise AquagenError("the load log holds no snapshot loaded by this aquagen version; load one first")
    meta, segments = row
    return _State(meta, *moment_of(meta["arguments"]), {t: Segments.from_json(s) for t, s in (segments or {}).items()})


def _way_on(state: _State) -> str:
    """What to do instead of advancing a database whose farm advance cannot follow (both ways tested)."""
    return (
        f"load a snapshot of this farm as of {moment_label(state.as_of, state.as_of_time)} with --replace first "
        "(every batch then comes from it), or purge --all --reset-inventory and load one of the later date"
    )


def _refuse_purged_early(conn: psycopg.Connection, state: _State) -> None:
    """Before the farm ahead (it may take minutes): refused, a database holding fewer batches than its
    latest load brought, some of them gone by name (purged); and one whose latest load skipped batches
    already there (--skip-existing) and moved the ids of the others past theirs, as the one log row of
    the snapshot now says of all its rows: advance could not tell which of the farm's rows moved."""
    row = conn.execute(
        f"SELECT batches, skipped, id_segments FROM public.{LOAD_LOG} WHERE meta IS NOT NULL "
        "AND mode IS DISTINCT FROM 'advanced' ORDER BY loaded_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return
    batches, skipped, segments = row
    if skipped and segments:
        raise AquagenError(
            f"the database's last load skipped {words.count(len(skipped), 'batch')} already there (--skip-existing) "
            f"and numbered the others past them, which advance cannot follow; {_way_on(state)}"
        )
    have = [name for (name,) in conn.execute("SELECT batch_number FROM public.batch_batch")]
    if len(have) < len(batches or []):  # a batch renamed through the application is still there
        _refuse_purged(sorted(set(batches) - set(have)), state)
    # batches an earlier load brought that the last one does not carry (a --replace by fewer batches): the farm
    # ahead is the last load's, so they would stay at its date, fed and sampled no more (a batch entered
    # through the application is in no load: it stays as entered)
    earlier = conn.execute(
        f"SELECT DISTINCT jsonb_array_elements_text(batches) FROM public.{LOAD_LOG} "
        "WHERE jsonb_typeof(batches) = 'array' AND mode IS DISTINCT FROM 'advanced'"
    ).fetchall()
    left = sorted(({n for (n,) in earlier} - set(batches or [])) & set(have))
    if left:
        raise AquagenError(
            f"the database also holds {words.count(len(left), 'batch')} of an earlier load ({words.some(left)}) "
            f"that its last load did not bring, and advance moves only that load's farm on (they would stay at "
            f"{moment_label(state.as_of, state.as_of_time)}); load a snapshot with every batch with --replace, "
            "or purge them (aquagen purge --batch-name NAME)"
        )


def _refuse_purged(missing: list[str], state: _State) -> None:
    """Refuse to advance a database that lacks batches of its farm (purged): the farm's new rows
    reference them, and its feed lots draw for their feedings."""
    if missing:
        raise AquagenError(
            f"the database lacks {words.count(len(missing), 'batch')} of its farm ({words.some(missing)}: purged?) "
            f"and advance moves the whole farm on; {_way_on(state)}"
        )


def _missing_batches(conn: psycopg.Connection, farm: Ahead, since: dt.datetime, state: _State) -> list[str]:
    """The farm's batches at ``since`` whose rows are not in the database, by id (where the load log
    says its loads put them), so that a batch renamed through the application is no batch missing."""
    ids = state.segments.get("batch_batch", Segments()).expr("id")
    farm_batches = farm.old("batch_batch", since).select(ids.alias("id"), "batch_number").collect()
    have = [i for (i,) in conn.execute("SELECT id FROM public.batch_batch")]
    return sorted(farm_batches.filter(~pl.col("id").is_in(have))["batch_number"].to_list())


def advance(
    dsn: str,
    to: dt.date | dt.datetime | None = None,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    work: Path | None = None,
    cache: Path | None = None,
    now: dt.datetime | None = None,
) -> AdvanceResult:
    """Advance the database at ``dsn`` to ``to`` (a date or a moment, as ``generate``'s as-of: default
    now, today at ``now`` floored to the hour, ``now`` default the wall clock): see the module docstring.
    The farm generated ahead is kept under ``cache`` (default: ``work``/cache if ``work`` is given, else
    ``aquagen.run.ahead.cache_root()``)."""
    start = time.perf_counter()
    day, at = as_of_moment(to, now, "--to")
    with connect(dsn) as conn:
        conn.autocommit = True
        check_client(conn)
        exclusive(conn, "advance")
        state = _state(conn)
        since, until = end_of(state.as_of, state.as_of_time), end_of(day, at)
        if until < since:
            raise AquagenError(
                f"--to {moment_label(day, at)} is before the database's as-of date "
                f"{moment_label(state.as_of, state.as_of_time)}; advance only moves forward "
                "(to go back, load a snapshot of that date into another database)"
            )
        if until == since:
            return AdvanceResult(state.as_of, state.as_of, state.as_of_time, state.as_of_time)
        _refuse_purged_early(conn, state)
        t0 = time.perf_counter()
        farm, built = ahead(
            state.meta,
            day,
            cache or (work / "cache" if work is not None else None),
            workers=workers,
            progress=progress,
        )
        _refuse_purged(_missing_batches(conn, farm, since, state), state)
        t1 = time.perf_counter()
        win = farm.window(since, until)
        t2 = time.perf_counter()
        try:
            with conn.transaction():
                result = _apply(conn, farm, win, state)
                killpoints.reached("final")
            result.phases = {"farm ahead": t1 - t0, "window": t2 - t1, "apply": time.perf_counter() - t2}
        except psycopg.Error as e:
            raise AquagenError(
                "advance failed and was rolled back (did the application change or delete "
                f"aquagen's rows?): {' '.join(str(e).split())}"
            ) from None
    result.generated = built
    result.seconds = time.perf_counter() - start
    return result


def _apply(conn: psycopg.Connection, farm: Ahead, win: Window, state: _State) -> AdvanceResult:
    """Inside the caller's transaction: insert what the window adds, move the changing rows on."""
    profile = farm.profile
    ts = profile.tables
    to_date, to_time = moment_of(win.meta["arguments"])
    result = AdvanceResult(state.as_of, to_date, state.as_of_time, to_time)
    immediate_constraints(conn, ts)
    maps: dict[str, Segments | pl.DataFrame] = {}
    for name, t in ts.items():
        idcol = id_column(name, profile.name)
        keyed = t.key is not None  # a table keyed by another table's id (a forecast summary) has no ids of its own
        new = win.new.get(name)
        old_max = win.old_max[name]
        db_max: int = one(conn.execute(f'SELECT COALESCE(max("{idcol}"), 0) FROM public.{name}'))[0] if keyed else 0
        if name in profile.natural_keys:  # master rows: found by natural key, wherever the loader put them
            pairs = _natural_pairs(conn, profile, name, farm.old(name, win.since), maps)
            offset = max(0, db_max - old_max)
            added = (
                new.select(old=pl.col(idcol).cast(pl.Int64), new=pl.col(idcol).cast(pl.Int64) + offset)
                if new is not None
                else pl.DataFrame(schema={"old": pl.Int64, "new": pl.Int64})
            )
            maps[name] = pl.concat([pairs, added])
            moved = offset if added.height and db_max > cast(int, pairs["new"].max() or 0) else 0
        else:  # events: where the load and earlier advances put them (the log's segments)
            seg = state.segments.get(name, Segments())
            moved = max(0, db_max - (old_max + seg.offsets[-1]))
            if moved:  # the application's users added rows: aquagen's new ones go past them
                seg.add(old_max + 1, db_max - old_max)
            state.segments[name] = maps[name] = seg
        if moved and new is not None and new.height:
            result.moved[name] = moved
    # then the rows, once every table's ids are mapped: a changing row may name a row of a table after
    # its own (a batch its pinned projection run: after a --replace load, unmapped, it named another's)
    for name, t in ts.items():
        new = win.new.get(name)
        if new is not None and new.height:
            result.rows[name] = copy_rows(
                conn, f"public.{name}", t, [_remap(new, t, ts, maps).to_arrow()], freeze=False
            )
        changed = win.changed.get(name)
        if changed is not None and changed.height:
            result.updated[name] = update_rows(conn, f"public.{name}", t, _remap(changed, t, ts, maps))
    set_sequences(conn, ts)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # any violation surfaces here, before COMMIT
    meta = json.dumps(win.meta, sort_keys=True, default=str)
    write_log(
        conn,
        Snapshot(farm.path, {**win.meta, "tables": {}}),
        "advanced:" + hashlib.sha256(meta.encode()).hexdigest(),
        result.rows,
        [],
        "advanced",
        0.0,
        segments={n: s.to_json() for n, s in state.segments.items() if not s.identity},
    )
    return result


def _natural_pairs(conn, profile: Profile, name: str, old: pl.LazyFrame, maps: dict) -> pl.DataFrame:
    """old -> database ids of aquagen's earlier rows of a master table, by natural key (as the loader
    matched them: a schema made by the application's migrations holds some of them already)."""
    key = profile.natural_keys[name]
    t = profile.tables[name]
    idcol = t.key or "id"
    rows = _remap(old.select(idcol, *key).collect(), t, profile.tables, maps, own=False)
    pairs = by_natural_key(conn, name, rows, key, idcol).select(old=pl.col(idcol).cast(pl.Int64), new="existing")
    missing = pairs.filter(pl.col("new").is_null())
    if missing.height:
        raise AquagenError(
            f"{name}: {missing.height} of aquagen's rows are no longer in the database (e.g. id "
            f"{missing['old'][0]}); advance cannot reconcile it: purge and load instead"
        )
    return pairs


def _ref_expr(m: Segments | pl.DataFrame, col: str) -> pl.Expr:
    if isinstance(m, Segments):
        return m.expr(col)
    return pl.col(col).replace_strict(m["old"], m["new"], default=pl.col(col))


def _remap(
    df: pl.DataFrame, t: schemas.Table, ts: dict[str, schemas.Table], maps: dict, own: bool = True
) -> pl.DataFrame:
    """Every id column (the row's own and its references) moved to where the database holds it."""
    exprs = []
    refs = dict(history_refs(t, ts))
    if own:
        refs[t.key or "id"] = t.name
    for col, ref in refs.items():
        m = maps.get(ref)
        if col in df.columns and m is not None and not (isinstance(m, Segments) and m.identity):
            exprs.append(_ref_expr(m, col).cast(df.schema[col]))
    return df.with_columns(exprs) if exprs else df


def describe(result: AdvanceResult) -> str:
    """One line for the CLI."""
    if result.noop:
        return f"the database is already at {result.until}; nothing to do"
    line = "generated the farm ahead (reused by the next advances); " if result.generated else ""
    line += (
        f"advanced from {result.since} to {result.until}: {sum(result.rows.values()):,} new rows in "
        f"{len(result.rows)} tables, {sum(result.updated.values()):,} rows moved on, in {result.seconds:.1f} s"
    )
    if result.moved:
        line += (
            "; rows added through the application kept their ids, aquagen's new rows moved past them in "
            + ", ".join(f"{n} (+{k})" for n, k in sorted(result.moved.items()))
        )
    return line
