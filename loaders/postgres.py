"""``load``: a snapshot into PostgreSQL with binary COPY, all or nothing.

Into a database without the schema (``loaders.staged``) the tables are built in a
staging schema over parallel connections and moved into ``public`` by one short
final transaction. Into a database that already has the schema (e.g. created by
AquaMind's migrations) the schema is verified first (``loaders.catalog``), master
rows that already exist are matched by natural key and every reference remapped
(``loaders.reconcile``), then the rows go either into copies of the tables built
in parallel and swapped in (``loaders.swap``; with ``--replace`` the copies leave the
replaced batches' rows out), or into the tables themselves in one transaction
(``loaders.existing``; with ``--replace`` after a purge), whichever is faster. An error or a kill leaves
``public`` exactly as it was. One load or purge runs at a time per database (an
advisory lock, ``loaders.session``), and ``aquagen_load_log`` records every load
(``loaders.loadlog``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import polars as pl
import psycopg

import schemas
from aquagen import killpoints, timing, words
from aquagen.errors import AquagenError
from aquagen.snapshot import Snapshot, moment_label, moment_of
from aquagen.tables.cut import end_of

from . import existing, purge, staged, swap
from .binarycopy import Progress, copy_rows
from .catalog import (  # noqa: F401 - re-exported
    database_profile,
    has_table,
    introspect,
    row_counts,
    schema_mismatches,
    set_sequences,
)
from .loadlog import LOAD_LOG, already_loaded, farm_moment, manifest_digest, write_log  # noqa: F401 - re-exported
from .purge import INITIAL_NOTE, PURCHASES
from .reconcile import snapshot_batches
from .rows import one
from .session import (  # noqa: F401 - re-exported
    DEFAULT_WORKERS,
    TABLE_LOCK_WAIT,
    check_client,
    connect,
    exclusive,
    lock_tables,
    redact,
)


@dataclass
class LoadResult:
    created_schema: bool
    rows: dict[str, int]
    matched: dict[str, int]
    seconds: float
    already_loaded: bool = False
    skipped_batches: list[str] = field(default_factory=list)
    replaced_batches: list[str] = field(default_factory=list)
    rebuilt: tuple[int, int] = (0, 0)  # secondary indexes and foreign keys dropped and recreated
    phases: dict = field(default_factory=dict)
    method: str = ""  # how the rows went in, and why (one line)
    other_batches: list[str] = field(default_factory=list)  # --replace: batches kept that the snapshot lacks


def _not_into_the_past(conn: psycopg.Connection, snapshot: Snapshot) -> None:
    """Refuse a snapshot cut before the database's farm (its latest load or ``aquagen advance``): the
    snapshot's sensors and feed stock would go back in time under the database's later weather and
    daylight, which no load removes, and the database would fail its checks."""
    farm = farm_moment(conn)
    mine = moment_of(snapshot.manifest["arguments"])
    if farm is not None and end_of(*mine) < end_of(*farm):
        raise AquagenError(
            f"the database's farm is at {moment_label(*farm)} (its latest load or advance) and {snapshot.path} is of "
            f"{moment_label(*mine)}: its sensors and feed stock would go back in time under the database's later "
            f"weather; load it into another database (--dsn), or generate it as of {moment_label(*farm)} or later"
        )


def load(
    snapshot: Snapshot,
    dsn: str,
    progress: Progress | None = None,
    *,
    skip_existing: bool = False,
    replace: bool = False,
    rebuild_indexes: bool = False,
    workers: int = DEFAULT_WORKERS,
    lock_wait: str = TABLE_LOCK_WAIT,
) -> LoadResult:
    """Load every table of ``snapshot`` into the database at ``dsn``, all or nothing.

    Batches already in the database are refused unless ``skip_existing`` (their rows
    are left out) or ``replace`` (they are purged first, in the same transaction).
    ``rebuild_indexes`` forces the in-place path with the target tables' secondary
    indexes and FKs dropped around the COPY and recreated exactly. Table locks the
    application holds are waited for at most ``lock_wait`` (then a one-line error names
    the session holding them).
    """
    if skip_existing and replace:
        raise AquagenError("--skip-existing and --replace exclude each other; choose one")
    if progress is not None:
        progress = _serialized(progress)
    with timing.timed(timing.LOAD_CHECK):  # checksums and schemas; values are checked as the rows stream in
        snapshot.verify(values=False)
    start = time.perf_counter()
    ts = schemas.tables(snapshot.profile)
    digest = manifest_digest(snapshot)
    with connect(dsn) as ctl:
        ctl.autocommit = True
        try:
            check_client(ctl)
            exclusive(ctl, "load")
            staged.drop_leftovers(ctl)
            problems = schema_mismatches(ctl, snapshot.profile)
            if problems:
                other = database_profile(ctl)
                if other is not None:
                    raise AquagenError(
                        f"the database has the schema of {other}, the snapshot is {snapshot.profile}: "
                        f"generate it with --profile {other}"
                    )
                raise AquagenError(f"schema mismatch with {snapshot.profile}: " + "; ".join(problems))
            if already_loaded(ctl, digest, replace):
                return LoadResult(problems is None, {}, {}, time.perf_counter() - start, already_loaded=True)
            if problems is None:
                result = _load_fresh(ctl, dsn, snapshot, ts, digest, progress, workers, start)
            else:
                _not_into_the_past(ctl, snapshot)
                _one_initial_stock(ctl, snapshot)
                staging = staged.new_staging_name()
                try:
                    with ctl.transaction():
                        result = _load_existing(
                            ctl,
                            dsn,
                            staging,
                            snapshot,
                            ts,
                            digest,
                            progress,
                            skip_existing,
                            replace,
                            rebuild_indexes,
                            workers,
                            start,
                            lock_wait,
                        )
                        commit = timing.Laps(timing.LOAD_FINAL)
                    commit("commit")
                    killpoints.reached("committed")
                    # the old tables the swap moved aside (the load is visible: no lock the application needs)
                    staged.drop_staging(ctl, swap.retired(staging))
                    staged.drop_staging(ctl, swap.scratch(staging))
                    commit("old tables dropped")
                except BaseException:
                    staged.drop_staging(ctl, staging)
                    staged.drop_staging(ctl, swap.scratch(staging))
                    raise
        except psycopg.Error as e:
            msg = " ".join(str(e).split())
            raise AquagenError(f"load failed and was rolled back: {msg}") from None
    result.seconds = time.perf_counter() - start
    return result


def _one_initial_stock(conn: psycopg.Connection, snapshot: Snapshot) -> None:
    """Refuse a snapshot whose initial feed stock is not the database's: a farm set up in another month
    (the lot numbers carry it). Both stocks would stand in the same silos and barges (the loader matches
    lots by number), and the database would fail its checks."""
    if snapshot.rows(PURCHASES) == 0 or not has_table(conn, PURCHASES):
        return
    mine = set(
        snapshot.scan(PURCHASES)
        .filter(pl.col("notes") == INITIAL_NOTE)
        .select("batch_number")
        .collect()["batch_number"]
    )
    theirs = {
        n for (n,) in conn.execute(f"SELECT batch_number FROM public.{PURCHASES} WHERE notes = %s", (INITIAL_NOTE,))
    }
    if mine and theirs and not theirs <= mine:
        raise AquagenError(
            f"the database's initial feed stock ({len(theirs)} lots, e.g. {min(theirs)}) is not {snapshot.path}'s "
            f"(e.g. {min(mine)}): its farm was set up in another month, and both stocks would stand in the same "
            "silos and barges; load it into another database (--dsn), or generate it with the first start of the "
            "database's farm"
        )


def _load_fresh(
    ctl: psycopg.Connection,
    dsn: str,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    digest: str,
    progress,
    workers: int,
    start: float,
) -> LoadResult:
    names = snapshot_batches(snapshot)["batch_number"].to_list()

    def copy_table(conn, snap, t, qualified):
        return copy_rows(conn, qualified, t, snap.record_batches(t.name), freeze=True, progress=progress)

    def finish(conn, rows):
        set_sequences(conn, ts)
        write_log(conn, snapshot, digest, rows, names, "created", time.perf_counter() - start)

    done = staged.load_fresh(ctl, dsn, snapshot, ts, copy_table, finish, connect, progress, workers)
    return LoadResult(True, done.rows, {}, 0.0, phases=done.phases, method="created the schema")


SWAP_RATIO = 4  # copies are built when the tables hold at most this many rows per row loaded


def _held(ctl: psycopg.Connection, tables: list[str], cap: int) -> int:
    """Rows the tables hold, counted up to ``cap`` (beyond it the answer is the same)."""
    total = 0
    for t in tables:
        total += one(ctl.execute(f'SELECT count(*) FROM (SELECT 1 FROM public."{t}" LIMIT %s) x', (cap - total,)))[0]
        if total >= cap:
            break
    return total


def _load_existing(
    ctl: psycopg.Connection,
    dsn: str,
    staging: str,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    digest: str,
    progress,
    skip_existing: bool,
    replace: bool,
    rebuild_indexes: bool,
    workers: int,
    start: float,
    lock_wait: str,
) -> LoadResult:
    """Into a schema that is already there, inside ``ctl``'s transaction: copies built in
    parallel and swapped in when the load is large against what the tables hold (keep), else in place."""
    laps = timing.Laps(timing.LOAD_PREPARE)
    tables = [n for n in ts if snapshot.rows(n)]
    locked = [f'public."{t}"' for t in tables]
    lock_tables(ctl, locked, "SHARE", lock_wait)  # reads go on; writes wait until the load is done
    p = existing.plan(ctl, snapshot, ts, skip_existing, replace)
    others = _other_batches(ctl, p) if replace else []  # the load leaves them as they are
    new = sum(snapshot.rows(t) for t in tables)
    why: str | None
    copied = tables
    if rebuild_indexes:
        why = "--rebuild-indexes"
    elif p.replaced:
        copied, why, held = _replace_by_copies(ctl, ts, tables, p, new, lock_wait)
    else:
        held = _held(ctl, tables, SWAP_RATIO * new + 1)
        why = f"the tables hold over {SWAP_RATIO}x the {new:,} rows loaded" if held > SWAP_RATIO * new else None
        why = why or swap.ineligible(ctl, tables)
    laps("plan")
    if why is None:
        done = swap.load_swapped(
            ctl,
            dsn,
            staging,
            snapshot,
            ts,
            digest,
            p,
            copied,
            workers,
            start,
            progress,
            lock_wait,
            p.replaced_ids,
        )
        without = f" without the rows of the {words.count(len(p.replaced), 'replaced batch')}" if p.replaced else ""
        return LoadResult(
            False,
            done.rows,
            done.matched,
            0.0,
            skipped_batches=p.skipped,
            replaced_batches=p.replaced,
            phases=done.phases,
            method=f"copies of {len(copied)} tables built on {workers} connections{without} and swapped in "
            f"(they held {'about ' if p.replaced else ''}{held:,} rows, {new:,} loaded)",
            other_batches=others,
        )
    existing.purge_replaced(ctl, p)
    if p.replaced and not rebuild_indexes:
        # a large load after the purge: secondary indexes and foreign keys dropped and built again
        # (6 batches replaced whole: 55 -> 27 s, measured), else the rows go into the indexes
        held = _held(ctl, tables, SWAP_RATIO * new + 1)  # what the tables keep (the purged batches gone)
        rebuild_indexes = held <= SWAP_RATIO * new
        if rebuild_indexes:
            why = f"{why}; indexes and foreign keys rebuilt: the tables kept {held:,} rows, {new:,} loaded"
        laps("purge")
    if rebuild_indexes:  # dropping indexes takes the tables from their readers too: a bounded wait
        lock_tables(ctl, locked, "ACCESS EXCLUSIVE", lock_wait)
    inplace = existing.load_in_place(ctl, snapshot, ts, digest, p, rebuild_indexes, start, progress)
    return LoadResult(
        False,
        inplace.rows,
        inplace.matched,
        0.0,
        skipped_batches=p.skipped,
        replaced_batches=p.replaced,
        rebuilt=inplace.rebuilt,
        method=f"in place, one transaction ({why})",
        other_batches=others,
    )


def _replace_by_copies(
    ctl: psycopg.Connection,
    ts: dict[str, schemas.Table],
    tables: list[str],
    p: existing.Plan,
    new: int,
    lock_wait: str,
) -> tuple[list[str], str | None, int]:
    """--replace: whether copies of the tables without the replaced batches' rows, swapped in, do
    it (returns the tables to copy, None and the rows held), or the purge in place (the tables
    loaded, why, the rows held). Copies are built when the tables keep (by the share of batches
    replaced, from the planner's row counts) at most SWAP_RATIO x the rows loaded, and every table
    holding rows of those batches can be copied (the snapshot's and any other of the profile)."""
    owned = purge.owned_tables(ctl)
    extra = [
        t
        for t in owned
        if t not in tables
        and one(ctl.execute(f'SELECT EXISTS (SELECT FROM public."{t}")'))[0]  # holds rows (maybe replaced ones)
    ]
    copied = tables + [t for t in extra if t in ts]
    if extra:
        lock_tables(ctl, [f'public."{t}"' for t in extra], "SHARE", lock_wait)
    held, batches = one(
        ctl.execute(
            "SELECT (SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_class c "
            "        WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)), "
            "       (SELECT count(*) FROM public.batch_batch)",
            (copied,),
        )
    )
    kept = round(held * (1 - len(p.replaced) / max(batches, 1)))
    purged = "; the replaced batches purged first"
    if kept > SWAP_RATIO * new:
        return tables, f"the tables keep about {kept:,} rows, over {SWAP_RATIO}x the {new:,} loaded{purged}", held
    outside = [t for t in extra if t not in ts]
    if outside:
        return tables, f"{outside[0]}, outside the profile, holds rows{purged}", held
    why = swap.ineligible(ctl, copied)
    return (tables, f"{why}{purged}", held) if why else (copied, None, held)


def _other_batches(ctl: psycopg.Connection, p: existing.Plan) -> list[str]:
    """The batches the database holds that the snapshot does not carry (after --replace: another
    snapshot's, or a later one's)."""
    return [
        r[0]
        for r in ctl.execute(
            "SELECT batch_number FROM public.batch_batch WHERE batch_number <> ALL(%s) ORDER BY batch_number",
            (p.batches["batch_number"].to_list(),),
        ).fetchall()
    ]


def _serialized(progress: Progress) -> Progress:
    """The caller's callback, called by one thread at a time."""
    lock = threading.Lock()

    def call(table: str, copied: int, done: int) -> None:
        with lock:
            progress(table, copied, done)

    return call
