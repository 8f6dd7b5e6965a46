"""Connections to the target database: connecting, hiding passwords, the settings of a
loader session, bounded lock waits, and the advisory lock that keeps loads and purges apart."""

from __future__ import annotations

import os
import re

import psycopg

import schemas
from aquagen.errors import AquagenError

from .rows import one

LOCK_ID = 0x61717561  # session advisory lock: one aquagen load or purge per database at a time
LOCK_WAIT_S = 120  # how long a load or purge waits for another one to finish
TABLE_LOCK_WAIT = "10s"  # how long a load waits for a table lock the application holds
DEFAULT_WORKERS = max(2, min(4, os.cpu_count() or 2))  # connections of a staged load
# Index sorts (maintenance_work_mem per connection): a share of the memory this machine has
# available, split between the index builds that run at once (one per connection), so that the
# big tables' sorts stay in memory instead of spilling to disk; within these bounds. A server on
# another machine (its memory unknown here) gets SORT_MB_REMOTE.
SORT_MEMORY_SHARE = 0.25
SORT_MB_MIN, SORT_MB_MAX, SORT_MB_REMOTE = 64, 2048, 256
# per worker session: no parallel workers of the server's own (the loader's connections already
# use every core); bounded waits for the few locks a worker takes on tables it did not create
# (an FK's check on a table the load leaves alone)
WORKER_SQL = (
    "SET max_parallel_maintenance_workers = 0",
    "SET synchronous_commit = off",
    f"SET lock_timeout = '{TABLE_LOCK_WAIT}'",
)


def connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, connect_timeout=5, autocommit=False)
    except psycopg.Error as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise AquagenError(f"cannot connect to the database {redact(dsn)}: {reason}") from None


def redact(dsn: str) -> str:
    """The DSN without its password, in any of libpq's forms: ``user:pw@`` and ``?password=`` of a URL,
    ``password=`` (quoted or not) of a keyword string."""
    if "://" in dsn:
        return re.sub(r"([?&]password=)[^&]*", r"\1***", re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn))
    return re.sub(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def check_client(conn: psycopg.Connection) -> None:
    """From PostgreSQL 14 on, a statement whose client died (killed loader) is cancelled
    within a second instead of running to its end."""
    if conn.info.server_version >= 140000:
        conn.execute("SET client_connection_check_interval = '1s'")


def _available_mb() -> float | None:
    """Memory this machine can give without swapping (MemAvailable), in MB; None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def server_is_local(conn: psycopg.Connection) -> bool:
    """The server runs on this machine (a Unix socket or a loopback address)."""
    host = conn.info.host or ""
    return host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")


def sort_memory_mb(conn: psycopg.Connection, builds: int) -> int:
    """maintenance_work_mem (MB) for each of ``builds`` index builds that run at once."""
    avail = _available_mb() if server_is_local(conn) else None
    if avail is None:
        return SORT_MB_REMOTE
    return int(min(SORT_MB_MAX, max(SORT_MB_MIN, avail * SORT_MEMORY_SHARE / max(1, builds))))


def worker_sql(conn: psycopg.Connection, workers: int = 1) -> list[str]:
    """Settings for one of ``workers`` loader worker sessions."""
    out = [f"SET maintenance_work_mem = '{sort_memory_mb(conn, workers)}MB'", *WORKER_SQL]
    if conn.info.server_version >= 140000:
        out.append("SET client_connection_check_interval = '1s'")
    return out


def exclusive(conn: psycopg.Connection, what: str = "load") -> None:
    """Take the database's aquagen lock for this session (a killed client's session ends and frees it)."""
    if one(conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_ID,)))[0]:
        return
    try:
        conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    except psycopg.errors.LockNotAvailable:
        raise AquagenError(
            f"another aquagen load or purge has held this database for over {LOCK_WAIT_S} s; "
            f"try the {what} again when it has finished"
        ) from None
    finally:
        conn.execute("RESET lock_timeout")


_HOLDERS = """
SELECT DISTINCT a.pid, COALESCE(NULLIF(a.application_name, ''), '?'), COALESCE(a.usename::text, '?'),
       COALESCE(a.client_addr::text, 'local'), a.state, c.relname
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
JOIN pg_class c ON c.oid = l.relation
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.relation = ANY(%s::regclass[])
ORDER BY 1 LIMIT 3
"""


def lock_tables(conn: psycopg.Connection, tables: list[str], mode: str, wait: str = TABLE_LOCK_WAIT) -> None:
    """LOCK TABLE ``tables`` (schema-qualified) IN ``mode``, inside the caller's transaction, waiting at most ``wait``:
    the application's queries never queue behind a loader stuck on a long reader. On timeout, a
    one-line error names the sessions holding the tables."""
    if not tables:
        return
    names = ", ".join(tables)
    conn.execute(f"SET LOCAL lock_timeout = '{wait}'")
    try:
        with conn.transaction():  # a savepoint: the holders are looked up in the same transaction
            conn.execute(f"LOCK TABLE {names} IN {mode} MODE")
    except psycopg.errors.LockNotAvailable:
        holders = conn.execute(_HOLDERS, (tables,)).fetchall()
        who = (
            "; ".join(
                f"pid {pid} ({app}, user {user}, {addr}, {state}) on {rel}"
                for pid, app, user, addr, state, rel in holders
            )
            or "another session"
        )
        raise AquagenError(
            f"the tables stayed locked for over {wait}: {who}; stop that session or try again when it has finished"
        ) from None
    conn.execute("SET LOCAL lock_timeout = 0")


def immediate_constraints(conn: psycopg.Connection, ts: dict) -> None:
    """Parents are written first, so every FK is checked at once (no queue of deferred checks),
    except the references into a table written later (a cycle in the schema), checked at COMMIT."""
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    late = schemas.late_references(ts)
    if late:
        conn.execute("SET CONSTRAINTS " + ", ".join(f'"{c}"' for c in late) + " DEFERRED")
