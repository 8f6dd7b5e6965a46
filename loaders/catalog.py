"""What the database holds: its tables checked against the profile, described as the
reference JSON does, counted, and its identity sequences moved past the loaded ids."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

import schemas
from aquagen import profiles

from .rows import each, one

_CATALOG_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity <> ''
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
ORDER BY c.relname, a.attnum
"""


def schema_mismatches(conn: psycopg.Connection, profile: str = schemas.PROFILE) -> list[str] | None:
    """None when the database has none of the profile's tables, else every difference found."""
    ts = schemas.tables(profile)
    rows = conn.execute(_CATALOG_SQL, (list(ts),)).fetchall()
    if not rows:
        return None
    found: dict[str, dict[str, tuple]] = {}
    for rel, col, typ, notnull, identity in rows:
        found.setdefault(rel, {})[col] = (typ, notnull, identity)
    problems = []
    for name, t in ts.items():
        if name not in found:
            problems.append(f"table {name} is missing")
            continue
        have = found[name]
        for c in t.columns:
            if c.name not in have:
                problems.append(f"{name}.{c.name} is missing")
                continue
            typ, notnull, _ = have[c.name]
            if typ != c.sql_type:
                problems.append(f"{name}.{c.name} is {typ}, expected {c.sql_type}")
            if notnull == c.nullable:
                problems.append(
                    f"{name}.{c.name} is {'NOT NULL' if notnull else 'nullable'}, expected "
                    f"{'nullable' if c.nullable else 'NOT NULL'}"
                )
        for col, (_, notnull, identity) in have.items():
            if col not in t.column_names and notnull and not identity:
                problems.append(f"{name}.{col} is an unknown NOT NULL column")
    return problems


def has_table(conn: psycopg.Connection, name: str) -> bool:
    return one(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)))[0]


def database_profile(conn: psycopg.Connection) -> str | None:
    """The profile whose tables the database holds exactly, if any."""
    return next((p for p in profiles.names() if schema_mismatches(conn, p) == []), None)


def max_ids(conn: psycopg.Connection, tables: Iterable[schemas.Table], schema: str = "public") -> dict[str, int]:
    """The highest id each table holds (0 when empty), in one round trip; a table keyed by another
    table's id (e.g. batch_containerforecastsummary by its assignment) is left out."""
    tables = [t for t in tables if (t.identity_column or "id") in t.column_names]
    found = each(
        conn,
        [(f"SELECT COALESCE(max({t.identity_column or 'id'}), 0) FROM {schema}.{t.name}", None) for t in tables],
    )
    return {t.name: rows[0][0] for t, rows in zip(tables, found)}


def set_sequences(conn: psycopg.Connection, ts: dict[str, schemas.Table]) -> None:
    """Move every identity sequence past the highest id, never backwards.

    ALTER SEQUENCE ... RESTART is transactional (setval is not), so a load that
    is rolled back or killed leaves the sequences where they were too.
    """
    tables = [(t.name, t.identity_column) for t in ts.values() if t.identity_column]
    found = each(
        conn,
        [
            (f"SELECT pg_get_serial_sequence('public.{n}', '{col}'), (SELECT max({col}) FROM public.{n})", None)
            for n, col in tables
        ],
    )
    tops = [(r[0][0], r[0][1]) for r in found if r[0][1] is not None]
    states = each(conn, [(f"SELECT last_value, is_called FROM {seq}", None) for seq, _ in tops])
    moves = [
        f"ALTER SEQUENCE {seq} RESTART WITH {top + 1}"
        for (seq, top), ((last, called),) in zip(tops, states)
        if top + 1 > last + (1 if called else 0)
    ]
    if moves:
        conn.execute("; ".join(moves))


def row_counts(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, int]:
    return {n: one(conn.execute(f"SELECT count(*) FROM public.{n}"))[0] for n in names}


def introspect(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict]:
    """Tables as the reference JSON describes them (columns, keys, FKs, checks, indexes)."""
    names = list(names)
    out: dict[str, dict] = {}
    for rel, col, typ, notnull, identity in conn.execute(_CATALOG_SQL, (names,)).fetchall():
        t = out.setdefault(
            rel,
            {
                "columns": [],
                "primary_key": [],
                "foreign_keys": [],
                "unique": [],
                "unique_partial": [],
                "checks": [],
                "indexes": [],
            },
        )
        t["columns"].append({"name": col, "type": typ, "nullable": not notnull, "identity": identity})
    cons = conn.execute(
        """
        SELECT c.relname, k.contype, k.conname, pg_get_constraintdef(k.oid),
               ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
               r.relname, k.condeferrable, k.condeferred
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        LEFT JOIN pg_class r ON r.oid = k.confrelid
        WHERE c.relname = ANY(%s) ORDER BY c.relname, k.conname
        """,
        (names,),
    ).fetchall()
    constraint_indexes = set()
    for rel, kind, conname, definition, cols, ref, deferrable, deferred in cons:
        t = out[rel]
        if kind == "p":
            t["primary_key"] = list(cols)
            constraint_indexes.add(conname)
        elif kind == "u":
            t["unique"].append(list(cols))
            constraint_indexes.add(conname)
        elif kind == "c":
            t["checks"].append(definition.removeprefix("CHECK (").removesuffix(")"))
        elif kind == "f":
            t["foreign_keys"].append(
                {
                    "column": cols[0],
                    "ref_table": ref,
                    "deferrable": deferrable,
                    "initially_deferred": deferred,
                    "constraint": conname,
                }
            )
    for rel, idxname, indexdef in conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)",
        (names,),
    ).fetchall():
        if idxname in constraint_indexes:
            continue
        key = "unique_partial" if indexdef.startswith("CREATE UNIQUE INDEX") else "indexes"
        out[rel][key].append(indexdef)
    return out


def analyze(conn: psycopg.Connection, names: Iterable[str], schema: str = "public") -> None:
    """Fresh planner statistics for loaded tables: the application's first queries plan on real numbers."""
    for n in names:
        conn.execute(f'ANALYZE {schema}."{n}"')
