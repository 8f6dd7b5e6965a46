"""Drop a table set's secondary indexes and foreign keys around a bulk load, and
recreate them with exactly their original definitions and names.

Used inside the load transaction (``aquagen load --rebuild-indexes`` into an
existing schema), so a failure or a kill leaves the catalog as it was. Primary
keys and UNIQUE constraints stay (other tables' FKs depend on them). Indexes that
cannot be recreated from ``pg_get_indexdef`` alone (a tablespace, a comment,
replica identity, used by a constraint) are left in place, as are FKs with a
comment: they are simply maintained row by row.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from aquagen import killpoints

_INDEXES = """
SELECT c.relname, i.relname, pg_get_indexdef(i.oid), x.indisclustered
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY(%s)
  AND x.indisvalid AND NOT x.indisreplident AND i.reltablespace = 0
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
  AND obj_description(i.oid, 'pg_class') IS NULL
ORDER BY c.relname, i.relname
"""

_FKS = """
SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND n.nspname = 'public' AND c.relname = ANY(%s) AND k.conparentid = 0
  AND obj_description(k.oid, 'pg_constraint') IS NULL
ORDER BY c.relname, k.conname
"""


@dataclass
class Saved:
    indexes: list[tuple[str, str, str, bool]]  # table, index, CREATE INDEX statement, clustered
    fks: list[tuple[str, str, str]]  # table, constraint, definition


def capture(conn: psycopg.Connection, tables: list[str]) -> Saved:
    return Saved(
        [tuple(r) for r in conn.execute(_INDEXES, (tables,)).fetchall()],
        [tuple(r) for r in conn.execute(_FKS, (tables,)).fetchall()],
    )


def drop(conn: psycopg.Connection, tables: list[str]) -> Saved:
    """Drop the secondary indexes and FKs of ``tables``; returns what to recreate."""
    saved = capture(conn, tables)
    for table, name, _ in saved.fks:
        conn.execute(
            sql.SQL("ALTER TABLE public.{} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
        )
    for _, name, _, _ in saved.indexes:
        conn.execute(sql.SQL("DROP INDEX public.{}").format(sql.Identifier(name)))
    return saved


def restore(conn: psycopg.Connection, saved: Saved) -> None:
    """Recreate what ``drop`` removed (same session, so the definitions resolve the same way)."""
    for table, name, definition, clustered in saved.indexes:
        killpoints.reached("index")
        conn.execute(definition)
        if clustered:
            conn.execute(
                sql.SQL("ALTER TABLE public.{} CLUSTER ON {}").format(sql.Identifier(table), sql.Identifier(name))
            )
    for table, name, definition in saved.fks:
        killpoints.reached("fk")
        conn.execute(
            sql.SQL("ALTER TABLE public.{} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )


def signature(conn: psycopg.Connection, tables: list[str]) -> dict[str, list[tuple]]:
    """Every index and constraint of ``tables`` with its definition: equal signatures, equal catalogs."""
    indexes = conn.execute(
        "SELECT tablename, indexname, indexdef, tablespace FROM pg_indexes "
        "WHERE schemaname = 'public' AND tablename = ANY(%s) ORDER BY 1, 2",
        (tables,),
    ).fetchall()
    constraints = conn.execute(
        """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred,
               k.convalidated, i.relname
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        LEFT JOIN pg_class i ON i.oid = k.conindid
        WHERE c.relname = ANY(%s) ORDER BY 1, 2
        """,
        (tables,),
    ).fetchall()
    clustered = conn.execute(
        "SELECT c.relname, i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = ANY(%s) AND x.indisclustered ORDER BY 1, 2",
        (tables,),
    ).fetchall()
    return {"indexes": indexes, "constraints": constraints, "clustered": clustered}
