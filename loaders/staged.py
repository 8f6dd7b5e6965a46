"""Tables built in a private staging schema over parallel connections, then made
visible by one short transaction: safe to kill at any moment.

Used for a database without the schema (``load_fresh``) and, with copies of the
existing tables, for one that has it (``loaders.swap``). Worker connections (2-4)
run a graph of tasks, the task with the longest chain of work behind it first
(list scheduling):

- a big table (>= BIG_ROWS rows) is created and COPied (``FREEZE``: same
  transaction) on its own; its primary key and UNIQUE indexes and its other
  indexes are then built one statement each, side by side (CREATE INDEX takes
  a SHARE lock only), and attached as constraints (``ADD CONSTRAINT ... USING
  INDEX``: the same names and catalog as ``ADD PRIMARY KEY``) with its CHECKs;
- a small table is created, COPied, keyed, indexed and analyzed in one transaction;
- a table's foreign keys come when it is built and the tables they reference
  have their keys (a big table's NOT VALID + VALIDATE CONSTRAINT, which locks
  the referenced tables in ROW SHARE mode only); after the indexes, the checks
  are index-only scans.

- every table is ANALYZEd once built, so the application's first queries plan on
  real statistics (they move with the table).

Then one short transaction moves every table into ``public`` (ALTER TABLE ...
SET SCHEMA carries indexes, constraints, statistics and identity sequences
along), moves the sequences past the loaded ids and writes the load log row.

Until that commits, ``public`` is untouched. A failed load drops its staging
schema; a killed one leaves it behind, and the next load drops it while it holds
the advisory lock that keeps two loads apart.
"""

from __future__ import annotations

import heapq
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

import schemas
from aquagen import killpoints, timing
from aquagen.snapshot import Snapshot

from .binarycopy import Progress
from .session import worker_sql

STAGING_PREFIX = "aquagen_staging_"
BIG_ROWS = 100_000  # tables at least this big get one task per index build
# rough cost per row (2 cores, PostgreSQL 15/16) of a COPY, an index build and an FK check
COPY_COST, INDEX_COST, FK_COST = 3.0, 1.0, 0.2


def leftovers(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
            (STAGING_PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
    ]


def drop_leftovers(conn: psycopg.Connection) -> list[str]:
    """Drop the staging schemas of killed loads (call while holding the load lock)."""
    names = leftovers(conn)
    for name in names:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    return names


def _in(schema: str, stmt: str) -> str:
    """A profile DDL statement (written for ``public``) aimed at ``schema``."""
    return re.sub(r"\bpublic\.", f"{schema}.", stmt)


# --- a small dependency-aware task pool over worker connections ------------------


@dataclass(eq=False)
class Task:
    label: str
    point: str  # kill point reached before it runs
    run: Callable[[psycopg.Connection], None]
    cost: float  # estimated work (row units): priority is the longest chain of work from here to the end
    after: list[Task] = field(default_factory=list)
    _waiting: int = 0
    _next: list[Task] = field(default_factory=list)
    priority: float = 0.0
    start: float = 0.0
    seconds: float = 0.0


def _topological(tasks: list[Task]) -> list[Task]:
    order: list[Task] = []
    seen: set[int] = set()

    def visit(t: Task) -> None:
        if id(t) in seen:
            return
        seen.add(id(t))
        for d in t.after:
            visit(d)
        order.append(t)

    for t in tasks:
        visit(t)
    return order


class _Pool:
    def __init__(self, dsn: str, tasks: list[Task], workers: int, connect: Callable[[str], psycopg.Connection]):
        self.tasks = tasks
        self.cv = threading.Condition()
        self.ready: list[tuple[float, int, Task]] = []
        self.left = len(tasks)
        self.error: BaseException | None = None
        self.conns: list[psycopg.Connection] = []
        self.dsn, self.connect, self.workers = dsn, connect, workers
        for t in tasks:
            t._waiting = len(t.after)
            for d in t.after:
                d._next.append(t)
        # critical path first (upward rank, as list schedulers do): a task's priority is
        # its cost plus the costliest chain of tasks waiting on it
        for t in reversed(_topological(tasks)):
            t.priority = t.cost + max((n.priority for n in t._next), default=0.0)
        for i, t in enumerate(tasks):
            if not t._waiting:
                heapq.heappush(self.ready, (-t.priority, i, t))
        self.order = {id(t): i for i, t in enumerate(tasks)}

    def _worker(self, conn: psycopg.Connection) -> None:
        while True:
            with self.cv:
                while not self.ready and self.left and self.error is None:
                    self.cv.wait()
                if self.error is not None or not self.left:
                    return
                _, _, task = heapq.heappop(self.ready)
            try:
                killpoints.reached(task.point)
                task.start = time.perf_counter()
                with timing.timed(timing.LOAD_TASK, task.label):
                    task.run(conn)
                task.seconds = time.perf_counter() - task.start
            except BaseException as e:
                with self.cv:
                    if self.error is None:
                        self.error = e
                        for c in self.conns:
                            if c is not conn:
                                try:
                                    c.cancel_safe(timeout=5)
                                except Exception:
                                    pass
                    self.cv.notify_all()
                return
            with self.cv:
                self.left -= 1
                for n in task._next:
                    n._waiting -= 1
                    if not n._waiting:
                        heapq.heappush(self.ready, (-n.priority, self.order[id(n)], n))
                self.cv.notify_all()

    def run(self) -> None:
        for _ in range(self.workers):
            conn = self.connect(self.dsn)
            conn.autocommit = True
            for s in worker_sql(conn, self.workers):
                conn.execute(s)
            self.conns.append(conn)
        threads = [threading.Thread(target=self._worker, args=(c,), daemon=True) for c in self.conns]
        try:
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except BaseException as e:  # Ctrl-C in the main thread: stop the workers, then re-raise
            with self.cv:
                if self.error is None:
                    self.error = e
                self.cv.notify_all()
            for c in self.conns:
                try:
                    c.cancel_safe(timeout=5)
                except Exception:
                    pass
            for t in threads:
                t.join(10)
        finally:
            for c in self.conns:
                try:
                    c.close()
                except Exception:
                    pass
        if self.error is not None:
            raise self.error


# --- the load --------------------------------------------------------------------


@dataclass
class Build:
    """One table to build in the staging schema: its rows, then its keys, indexes and FKs,
    each statement aimed at the staging schema."""

    name: str
    rows: int  # rows it will hold (the cost model and the big/small choice)
    fill: Callable[[psycopg.Connection], int]  # creates the table and writes its rows (inside a transaction)
    keys: list[tuple[str, str]] = field(default_factory=list)  # (CREATE UNIQUE INDEX, ADD CONSTRAINT .. USING INDEX)
    checks: list[str] = field(default_factory=list)  # other ALTER TABLE clauses (CHECK, EXCLUDE)
    indexes: list[str] = field(default_factory=list)  # CREATE INDEX statements
    after: list[str] = field(default_factory=list)  # statements once indexed (CLUSTER ON, comments)
    fks: list[tuple[str, str, bool]] = field(default_factory=list)  # (constraint, ADD CONSTRAINT clause, validated)
    parents: set[str] = field(default_factory=set)  # staged tables its FKs reference


@dataclass
class StagedLoad:
    rows: dict[str, int]
    phases: dict[str, float]


def split_keys(t: schemas.Table, staging: str) -> tuple[list[tuple[str, str]], list[str]]:
    """A profile table's keys as CREATE UNIQUE INDEX statements plus the ALTER TABLE clauses
    that turn them into the PRIMARY KEY / UNIQUE constraints (USING INDEX: same names, same
    catalog as ADD PRIMARY KEY), and its CHECK clauses."""
    keys, checks = [], []
    for stmt in t.key_sql():
        m = re.fullmatch(r"ALTER TABLE (\S+) ADD CONSTRAINT (\S+) (PRIMARY KEY|UNIQUE) \((.*)\)", stmt)
        if m:
            keys.append(
                (
                    _in(staging, f"CREATE UNIQUE INDEX {m[2]} ON {m[1]} USING btree ({m[4]})"),
                    f"ADD CONSTRAINT {m[2]} {m[3]} USING INDEX {m[2]}",
                )
            )
        else:
            checks.append(re.sub(r"^ALTER TABLE \S+ ", "", stmt))
    return keys, checks


def profile_builds(
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    staging: str,
    copy_table: Callable[[psycopg.Connection, Snapshot, schemas.Table, str], int],
) -> list[Build]:
    """The profile's tables, bare, COPied with their snapshot rows (a fresh load)."""
    out = []
    for t in ts.values():

        def fill(conn: psycopg.Connection, t: schemas.Table = t) -> int:
            conn.execute(_in(staging, t.create_sql()))
            return copy_table(conn, snapshot, t, f"{staging}.{t.name}") if snapshot.rows(t.name) else 0

        keys, checks = split_keys(t, staging)
        fks = [
            (
                s.split(" ADD CONSTRAINT ")[1].split()[0],
                "ADD CONSTRAINT " + _in(staging, s).split(" ADD CONSTRAINT ", 1)[1],
                True,
            )
            for s in t.fk_sql()
        ]
        out.append(
            Build(
                t.name,
                snapshot.rows(t.name),
                fill,
                keys,
                checks,
                [_in(staging, s) for s in t.index_sql()],
                [],
                fks,
                {fk.ref_table for fk in t.foreign_keys} - {t.name},
            )
        )
    return out


def build_all(
    ctl: psycopg.Connection,
    dsn: str,
    staging: str,
    builds: list[Build],
    connect: Callable[[str], psycopg.Connection],
    progress: Progress | None = None,
    workers: int = 2,
) -> StagedLoad:
    """Build every table of ``builds`` in the (existing) schema ``staging`` over ``workers`` connections."""
    rows: dict[str, int] = {b.name: 0 for b in builds}
    plock = threading.Lock()
    t_start = time.perf_counter()

    def report(name: str) -> None:
        if progress:
            with plock:
                progress(name, 0, rows[name])

    def q(name: str) -> str:
        return f"{staging}.{name}"

    def alter(b: Build, clauses: list[str]) -> list[str]:
        return [f"ALTER TABLE {q(b.name)} {', '.join(clauses)}"] if clauses else []

    def fill(b: Build, with_builds: bool) -> Callable[[psycopg.Connection], None]:
        def run(conn: psycopg.Connection) -> None:
            with conn.transaction():
                n = b.fill(conn)
                if with_builds:
                    for stmt, _ in b.keys:
                        killpoints.reached("keys")
                        conn.execute(stmt)
                    for stmt in alter(b, [a for _, a in b.keys] + b.checks):
                        conn.execute(stmt)
                    for stmt in b.indexes:
                        killpoints.reached("index")
                        conn.execute(stmt)
                    for stmt in b.after:
                        conn.execute(stmt)
                    if n:
                        conn.execute(f"ANALYZE {q(b.name)}")
            rows[b.name] = n
            if with_builds:
                report(b.name)

        return run

    def run_all(stmts: list[str]) -> Callable[[psycopg.Connection], None]:
        def run(conn: psycopg.Connection) -> None:
            for stmt in stmts:
                conn.execute(stmt)

        return run

    tasks: list[Task] = []
    keyed: dict[str, Task] = {}  # table -> the task after which it has its primary key
    idle: dict[str, Task] = {}  # table -> the task after which only its FK task touches it
    empty = [b for b in builds if b.rows == 0]
    if empty:

        def create_empty(conn: psycopg.Connection) -> None:
            for b in empty:
                fill(b, True)(conn)

        first = Task("empty tables", "copy", create_empty, 1000.0 * len(empty))
        tasks.append(first)
        for b in empty:
            keyed[b.name] = idle[b.name] = first
    for b in builds:
        n = b.rows
        if n == 0:
            continue
        if n < BIG_ROWS:  # one transaction: create, COPY, keys, indexes
            task = Task(
                f"load {b.name}", "copy", fill(b, True), n * (COPY_COST + INDEX_COST * (len(b.keys) + len(b.indexes)))
            )
            tasks.append(task)
            keyed[b.name] = idle[b.name] = task
            continue
        # A big table: its PK/UNIQUE and other indexes are built side by side (CREATE INDEX
        # takes a SHARE lock only), longest first, then attached as constraints (USING INDEX:
        # the same names and catalog as ADD PRIMARY KEY); its FKs come last, when the
        # indexes on their columns make the checks index-only scans.
        copy = Task(f"copy {b.name}", "copy", fill(b, False), n * COPY_COST)
        indexes = []
        for stmt in [*(k for k, _ in b.keys), *b.indexes]:
            width = stmt.count(",") + 1  # a wider index costs more to build
            indexes.append(
                Task(
                    stmt.split(" ON ")[0],
                    "keys" if " UNIQUE " in stmt else "index",
                    run_all([stmt]),
                    n * INDEX_COST * (1 + (width - 1) / 2),
                    [copy],
                )
            )

        def finish(conn: psycopg.Connection, b: Build = b) -> None:
            run_all([*alter(b, [a for _, a in b.keys] + b.checks), *b.after, f"ANALYZE {q(b.name)}"])(conn)
            report(b.name)

        done = Task(f"constraints of {b.name}", "keys", finish, n * FK_COST * (len(b.checks) + 1), indexes)
        tasks += [copy, *indexes, done]
        keyed[b.name] = idle[b.name] = done

    # foreign keys, when the table is built and the tables they reference have their keys;
    # a big table's are added NOT VALID and validated separately, which locks the referenced
    # tables in ROW SHARE mode only, so that several tables' checks run side by side
    for b in builds:
        if not b.fks:
            continue
        stmts = []
        for name, clause, valid in b.fks:
            if b.rows >= BIG_ROWS and valid:
                stmts += [
                    f"ALTER TABLE {q(b.name)} {clause} NOT VALID",
                    f"ALTER TABLE {q(b.name)} VALIDATE CONSTRAINT {name}",
                ]
            else:
                stmts.append(f"ALTER TABLE {q(b.name)} {clause}")
        parents = sorted(p for p in b.parents if p != b.name and p in keyed)
        tasks.append(
            Task(
                f"foreign keys of {b.name}",
                "fk",
                run_all(stmts),
                100.0 + b.rows * FK_COST * len(b.fks),
                [idle[b.name], *(keyed[p] for p in parents if keyed[p] is not idle[b.name])],
            )
        )

    _Pool(dsn, tasks, max(1, workers), connect).run()
    phases: dict = {"copy_and_build": time.perf_counter() - t_start}
    phases["tasks"] = {t.label: (round(t.start - t_start, 3), round(t.seconds, 3)) for t in tasks}
    return StagedLoad(rows, phases)


def new_staging_name() -> str:
    return f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"


def new_staging(ctl: psycopg.Connection) -> str:
    staging = new_staging_name()
    ctl.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
    return staging


def drop_staging(ctl: psycopg.Connection, staging: str) -> None:
    """After a failure (the next load drops what a kill left)."""
    try:
        ctl.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging)))
    except Exception:
        pass


def load_fresh(
    ctl: psycopg.Connection,
    dsn: str,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    copy_table: Callable[[psycopg.Connection, Snapshot, schemas.Table, str], int],
    finish: Callable[[psycopg.Connection, dict[str, int]], None],
    connect: Callable[[str], psycopg.Connection],
    progress: Progress | None = None,
    workers: int = 2,
) -> StagedLoad:
    """Load ``snapshot`` into the empty schema ``public`` of ``dsn``; ``ctl`` holds the load lock.

    ``copy_table(conn, snapshot, table, qualified_name)`` streams one table;
    ``finish(conn, rows)`` runs inside the final transaction (sequences, load log).
    """
    staging = new_staging(ctl)
    try:
        done = build_all(
            ctl, dsn, staging, profile_builds(snapshot, ts, staging, copy_table), connect, progress, workers
        )
        # the one short transaction that makes the load visible
        t0 = time.perf_counter()
        with timing.timed(timing.LOAD_FINAL), ctl.transaction():
            ctl.execute("; ".join(f"ALTER TABLE {staging}.{t.name} SET SCHEMA public" for t in ts.values()))
            finish(ctl, done.rows)
            ctl.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(staging)))
            killpoints.reached("final")
        done.phases["final"] = time.perf_counter() - t0
    except BaseException:
        drop_staging(ctl, staging)
        raise
    return done
