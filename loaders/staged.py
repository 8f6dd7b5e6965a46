"""Loading into a database without the schema: parallel, and safe to kill at any moment.

Worker connections (2-4) run a graph of tasks in a private staging schema, the
task with the longest chain of work behind it first (list scheduling):

- a big table (>= BIG_ROWS rows) is created and COPied (``FREEZE``: same
  transaction) on its own; its primary key and UNIQUE indexes and its other
  indexes are then built one statement each, side by side (CREATE INDEX takes
  a SHARE lock only), and attached as constraints (``ADD CONSTRAINT ... USING
  INDEX``: the same names and catalog as ``ADD PRIMARY KEY``) with its CHECKs;
- a small table is created, COPied, keyed and indexed in one transaction;
- a table's foreign keys come when it is built and the tables they reference
  have their keys (a big table's NOT VALID + VALIDATE CONSTRAINT, which locks
  the referenced tables in ROW SHARE mode only); after the indexes, the checks
  are index-only scans.

Then one short transaction moves every table into ``public`` (ALTER TABLE ...
SET SCHEMA carries indexes, constraints and identity sequences along), moves the
sequences past the loaded ids and writes the load log row.

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
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql

import schemas
from aquagen.snapshot import Snapshot

from . import killpoints
from .session import worker_sql

STAGING_PREFIX = "aquagen_staging_"
BIG_ROWS = 100_000  # tables at least this big get one task per index build
# rough cost per row (2 cores, PostgreSQL 15/16) of a COPY, an index build and an FK check
COPY_COST, INDEX_COST, FK_COST = 3.0, 1.0, 0.2
def leftovers(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1", (STAGING_PREFIX.replace("_", r"\_") + "%",)
    ).fetchall()]


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
    after: list["Task"] = field(default_factory=list)
    _waiting: int = 0
    _next: list["Task"] = field(default_factory=list)
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
        for i, t in enumerate(tasks):
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
                task.run(conn)
                task.seconds = time.perf_counter() - task.start
            except BaseException as e:  # noqa: BLE001 - handed to the main thread
                with self.cv:
                    if self.error is None:
                        self.error = e
                        for c in self.conns:
                            if c is not conn:
                                try:
                                    c.cancel_safe(timeout=5)
                                except Exception:  # noqa: BLE001
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
            for s in worker_sql(conn):
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
                except Exception:  # noqa: BLE001
                    pass
            for t in threads:
                t.join(10)
        finally:
            for c in self.conns:
                try:
                    c.close()
                except Exception:  # noqa: BLE001
                    pass
        if self.error is not None:
            raise self.error


# --- the load --------------------------------------------------------------------

@dataclass
class StagedLoad:
    rows: dict[str, int]
    phases: dict[str, float]


def _key_clause(t: schemas.Table) -> str | None:
    """Every key/UNIQUE/CHECK of a table as one ALTER TABLE (one lock, CHECKs verified in one scan)."""
    parts = [re.sub(r"^ALTER TABLE \S+ ", "", s) for s in t.key_sql()]
    return ", ".join(parts) if parts else None


def _split_keys(t: schemas.Table) -> tuple[list[str], str]:
    """A big table's keys as CREATE UNIQUE INDEX statements (for ``public``) plus one ALTER TABLE
    clause that turns them into the PRIMARY KEY / UNIQUE constraints (USING INDEX: same names,
    same catalog) and adds the CHECK constraints."""
    unique, clauses = [], []
    for stmt in t.key_sql():
        m = re.fullmatch(r"ALTER TABLE (\S+) ADD CONSTRAINT (\S+) (PRIMARY KEY|UNIQUE) \((.*)\)", stmt)
        if m:
            unique.append(f"CREATE UNIQUE INDEX {m[2]} ON {m[1]} USING btree ({m[4]})")
            clauses.append(f"ADD CONSTRAINT {m[2]} {m[3]} USING INDEX {m[2]}")
        else:
            clauses.append(re.sub(r"^ALTER TABLE \S+ ", "", stmt))
    return unique, ", ".join(clauses)


def load_fresh(
    ctl: psycopg.Connection,
    dsn: str,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    copy_table: Callable[[psycopg.Connection, Snapshot, schemas.Table, str], int],
    finish: Callable[[psycopg.Connection, dict[str, int]], None],
    connect: Callable[[str], psycopg.Connection],
    progress: Callable[[str, int], None] | None = None,
    workers: int = 2,
) -> StagedLoad:
    """Load ``snapshot`` into the empty schema ``public`` of ``dsn``; ``ctl`` holds the load lock.

    ``copy_table(conn, snapshot, table, qualified_name)`` streams one table;
    ``finish(conn, rows)`` runs inside the final transaction (sequences, load log).
    """
    staging = f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    S = sql.Identifier(staging)
    ctl.execute(sql.SQL("CREATE SCHEMA {}").format(S))
    rows: dict[str, int] = {n: 0 for n in ts}
    plock = threading.Lock()
    phases: dict[str, float] = {}
    t_start = time.perf_counter()

    def report(name: str, n: int) -> None:
        if progress:
            with plock:
                progress(name, n)

    def q(name: str) -> str:
        return f"{staging}.{name}"

    tasks: list[Task] = []
    keyed: dict[str, Task] = {}  # table -> the task after which it has its primary key
    idle: dict[str, Task] = {}  # table -> the task after which only its FK task touches it
    empty = [t for t in ts.values() if snapshot.rows(t.name) == 0]

    def fill(t: schemas.Table, with_builds: bool) -> Callable[[psycopg.Connection], None]:
        def run(conn: psycopg.Connection) -> None:
            with conn.transaction():
                conn.execute(_in(staging, t.create_sql()))
                n = copy_table(conn, snapshot, t, q(t.name))
                if with_builds:
                    key = _key_clause(t)
                    if key:
                        killpoints.reached("keys")
                        conn.execute(f"ALTER TABLE {q(t.name)} {key}")
                    for stmt in t.index_sql():
                        killpoints.reached("index")
                        conn.execute(_in(staging, stmt))
            rows[t.name] = n
            report(t.name, n)
        return run

    def create_empty(conn: psycopg.Connection) -> None:
        with conn.transaction():
            for t in empty:
                conn.execute(_in(staging, t.create_sql()))
                key = _key_clause(t)
                if key:
                    conn.execute(f"ALTER TABLE {q(t.name)} {key}")
                for stmt in t.index_sql():
                    conn.execute(_in(staging, stmt))

    def run_all(stmts: list[str]) -> Callable[[psycopg.Connection], None]:
        def run(conn: psycopg.Connection) -> None:
            for stmt in stmts:
                conn.execute(stmt)
        return run

    if empty:
        first = Task("empty tables", "copy", create_empty, 1000.0 * len(empty))
        tasks.append(first)
        for t in empty:
            keyed[t.name] = idle[t.name] = first
    for t in ts.values():
        n = snapshot.rows(t.name)
        if n == 0:
            continue
        if n < BIG_ROWS:  # one transaction: create, COPY, keys, indexes
            task = Task(f"load {t.name}", "copy", fill(t, True), n * (COPY_COST + INDEX_COST * (1 + len(t.index_sql()))))
            tasks.append(task)
            keyed[t.name] = idle[t.name] = task
            continue
        # A big table: its PK/UNIQUE and other indexes are built side by side (CREATE INDEX
        # takes a SHARE lock only), longest first, then attached as constraints (USING INDEX:
        # the same names and catalog as ADD PRIMARY KEY); its FKs come last, when the
        # indexes on their columns make the checks index-only scans.
        copy = Task(f"copy {t.name}", "copy", fill(t, False), n * COPY_COST)
        unique, attach = _split_keys(t)
        indexes = []
        for stmt in [*(u.replace("ON public.", f"ON {staging}.") for u in unique),
                     *(_in(staging, s) for s in t.index_sql())]:
            width = stmt.count(",") + 1  # a wider index costs more to build
            indexes.append(Task(stmt.split(" ON ")[0], "keys" if " UNIQUE " in stmt else "index",
                                run_all([stmt]), n * INDEX_COST * (1 + (width - 1) / 2), [copy]))
        done = Task(f"constraints of {t.name}", "keys", run_all([f"ALTER TABLE {q(t.name)} {attach}"]),
                    n * FK_COST * len(t.checks), indexes)
        tasks += [copy, *indexes, done]
        keyed[t.name] = idle[t.name] = done

    # foreign keys, when the table is built and the tables they reference have their keys;
    # a big table's are added NOT VALID and validated separately, which locks the referenced
    # tables in ROW SHARE mode only, so that several tables' checks run side by side
    for t in ts.values():
        if not t.foreign_keys:
            continue
        n = snapshot.rows(t.name)
        stmts = [_in(staging, s) for s in t.fk_sql()]
        if n >= BIG_ROWS:
            stmts = [x for s in stmts for x in (s + " NOT VALID", f"ALTER TABLE {q(t.name)} VALIDATE CONSTRAINT "
                                                + s.split(" ADD CONSTRAINT ")[1].split()[0])]
        parents = sorted({fk.ref_table for fk in t.foreign_keys} - {t.name})
        tasks.append(Task(f"foreign keys of {t.name}", "fk", run_all(stmts), 100.0 + n * FK_COST * len(t.foreign_keys),
                          [idle[t.name], *(keyed[p] for p in parents if keyed[p] is not idle[t.name])]))

    try:
        _Pool(dsn, tasks, max(1, workers), connect).run()
        phases["copy_and_build"] = time.perf_counter() - t_start
        # the one short transaction that makes the load visible
        t0 = time.perf_counter()
        with ctl.transaction():
            for t in ts.values():
                ctl.execute(f"ALTER TABLE {q(t.name)} SET SCHEMA public")
            finish(ctl, rows)
            ctl.execute(sql.SQL("DROP SCHEMA {}").format(S))
            killpoints.reached("final")
        phases["final"] = time.perf_counter() - t0
    except BaseException:
        try:
            ctl.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(S))
        except Exception:  # noqa: BLE001 - the next load drops it
            pass
        raise
    phases["tasks"] = {t.label: (round(t.start - t_start, 3), round(t.seconds, 3)) for t in tasks}  # type: ignore
    return StagedLoad(rows, phases)

