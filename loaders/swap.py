"""Loading into an existing schema at the speed of a fresh load: build copies, swap them in.

For every table the snapshot fills, a copy is built in a staging schema over parallel
connections (``loaders.staged``): created ``LIKE`` the table (columns, defaults,
identity, storage, column comments), filled with the table's own rows (with ``--replace``,
but those of the replaced batches: ``loaders.purge.Doomed``) and then the snapshot's
(remapped, ``loaders.existing``), and given the table's own keys, CHECKs,
indexes (clustered marks, comments) and foreign keys, each from its definition in
the catalog (``pg_get_indexdef``, ``pg_get_constraintdef``), with the same names.
The tables themselves stay readable meanwhile; writes to them wait (SHARE lock), so
the copies hold every row.

One short final transaction then takes the tables (ACCESS EXCLUSIVE, bounded wait),
drops the foreign keys other tables hold on them, moves them aside (into a schema of
their own, with their foreign keys on tables the load leaves alone dropped), moves the
copies into their place, gives each identity sequence the old one's name and position,
the owner, grants and comments back, re-adds the dropped foreign keys (validated),
moves the sequences past the loaded ids, ANALYZEs nothing more (the copies were
analyzed when built) and writes the load log. A kill before that COMMIT leaves the
database exactly as it was; the next load drops the leftover staging schema. The old
tables are dropped after the COMMIT: unlinking their files (about 800 for a migrated
AquaMind schema, 0.4-2.6 s on an ext4 disk under load) no longer holds the locks the
application waits on; a kill in between leaves them in their schema until the next load.

Tables with anything a copy would not carry (triggers, rules, row security, views
on them, publications, partitions or inheritance, extended statistics, tablespaces,
storage options, a replica identity, column grants or options, generated columns, serial
sequences, an owner this role cannot act as) are loaded in place instead
(``ineligible`` says why).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

import schemas
from aquagen import killpoints, timing
from aquagen.snapshot import Snapshot

from . import purge, staged
from .binarycopy import Progress
from .catalog import set_sequences
from .existing import (
    Plan,
    copy_existing,
    followed,
    history_offsets,
    id_maps,
    id_segments,
    matched_counts,
    superseded_lots,
)
from .loadlog import write_log
from .rows import each, not_among, one
from .session import TABLE_LOCK_WAIT, connect, lock_tables

_BLOCKERS = """
SELECT c.relname, CASE
  WHEN c.relkind <> 'r' OR c.relispartition OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid
       OR i.inhparent = c.oid) THEN 'partitions or inheritance'
  WHEN EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) THEN 'a trigger'
  WHEN EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid) THEN 'a rule'
  WHEN EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
       WHERE d.refobjid = c.oid AND d.refclassid = 'pg_class'::regclass AND r.ev_class <> c.oid) THEN 'a view on it'
  WHEN c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) THEN 'row security'
  WHEN EXISTS (SELECT 1 FROM pg_publication_rel p WHERE p.prrelid = c.oid) THEN 'a publication'
  WHEN EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxrelid = c.oid) THEN 'extended statistics'
  WHEN c.reltablespace <> 0 OR EXISTS (SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
       WHERE x.indrelid = c.oid AND (i.reltablespace <> 0 OR i.reloptions IS NOT NULL))
       THEN 'a tablespace or index options'
  WHEN c.reloptions IS NOT NULL OR c.relpersistence <> 'p' THEN 'storage options'
  WHEN c.relreplident NOT IN ('d', 'n') OR EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid
       AND x.indisreplident) THEN 'a replica identity'
  WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       AND (a.attacl IS NOT NULL OR a.attgenerated <> '' OR a.attoptions IS NOT NULL
            OR COALESCE(a.attstattarget, -1) >= 0)) THEN 'column grants, options or generated columns'
  WHEN EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       WHERE d.refobjid = c.oid AND d.deptype = 'a') THEN 'a serial sequence'
  WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype NOT IN ('p', 'u', 'c', 'f', 'x'))
       THEN 'a constraint trigger'
  WHEN NOT pg_has_role(current_user, c.relowner, 'MEMBER') THEN 'an owner this role cannot act as'
  END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relname = ANY(%s)
ORDER BY 1
"""


def ineligible(conn: psycopg.Connection, tables: list[str]) -> str | None:
    """Why copies of ``tables`` would not be exact (the first reason found), or None."""
    for rel, why in conn.execute(_BLOCKERS, (tables,)).fetchall():
        if why:
            return f"{rel} has {why}"
    return None


@dataclass
class Inbound:
    """A foreign key another (not loaded) table holds on a loaded one: dropped and re-added by the swap."""

    table: str  # qualified
    name: str
    definition: str


@dataclass
class Copy:
    """What a loaded table's copy needs beyond its rows, read from the catalog."""

    name: str
    owner: str
    keys: list[tuple[str, str]]
    checks: list[str]
    indexes: list[str]
    after: list[str]
    fks: list[tuple[str, str, bool]]
    parents: set[str]
    comments: list[str]  # COMMENT statements run after the swap (table, constraints)
    grants: list[str]  # GRANT statements on the table, run after the swap


def _aim(stmt: str, staging: str, table: str) -> str:
    """An index definition on public.``table`` aimed at the staging copy."""
    return re.sub(rf" ON (ONLY )?public\.{re.escape(table)} ", rf" ON \g<1>{staging}.{table} ", stmt, count=1)


def _refs(definition: str, staging: str, staged_tables: set[str]) -> tuple[str, str | None]:
    """A foreign key definition whose referenced table, when it is loaded, is its staging copy."""
    m = re.search(r"REFERENCES public\.(\"?[\w$]+\"?)\(", definition)
    if not m:
        return definition, None
    parent = m[1].strip('"')
    if parent not in staged_tables:
        return definition, None
    return definition[: m.start(1)].replace("REFERENCES public.", f"REFERENCES {staging}.") + definition[
        m.start(1) :
    ], parent


def _literal(conn: psycopg.Connection, text: str) -> str:
    return sql.Literal(text).as_string(conn)


_GRANTS = (
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type, "
    "a.is_grantable FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
    "WHERE c.oid = %s ORDER BY 1, 2"
)


def _grant_sql(kind: str, qualified: str, rows: list) -> list[str]:
    return [
        f"GRANT {priv} ON {kind} {qualified} TO {grantee}{' WITH GRANT OPTION' if grantable else ''}"
        for grantee, priv, grantable in rows
    ]


_TABLE = (
    "SELECT c.oid, quote_ident(pg_get_userbyid(c.relowner)), obj_description(c.oid, 'pg_class') "
    "FROM pg_class c WHERE c.oid = %s::regclass"
)
_CONSTRAINTS = (
    "SELECT k.conname, k.contype, pg_get_constraintdef(k.oid), "
    "       CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) END, k.condeferrable, "
    "       k.condeferred, k.convalidated, obj_description(k.oid, 'pg_constraint') "
    "FROM pg_constraint k WHERE k.conrelid = %s::regclass ORDER BY k.conname"
)
_INDEXES = (
    "SELECT i.relname, pg_get_indexdef(i.oid), x.indisclustered, obj_description(i.oid, 'pg_class') "
    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid) "
    "ORDER BY 1"
)
_CLUSTERED_KEYS = (  # a key's index may be the clustered one
    "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    "JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid "
    "WHERE x.indrelid = %s::regclass AND x.indisclustered"
)


def describe_all(conn: psycopg.Connection, tables: list[str], staging: str) -> dict[str, Copy]:
    """Each table's keys, checks, indexes, FKs, grants and comments, as statements for its copy
    (the catalog read for every table in one round trip)."""
    staged_tables = set(tables)
    queries = []
    for table in tables:
        rel = (f'public."{table}"',)
        queries += [(_TABLE, rel), (_CONSTRAINTS, rel), (_INDEXES, rel), (_CLUSTERED_KEYS, rel)]
    found = each(conn, queries)
    grants = each(conn, [(_GRANTS, (found[4 * i][0][0],)) for i in range(len(tables))])
    return {
        table: describe(conn, table, staging, staged_tables, found[4 * i : 4 * i + 4], grants[i])
        for i, table in enumerate(tables)
    }


def describe(
    conn: psycopg.Connection, table: str, staging: str, staged_tables: set[str], found: list[list], grants: list
) -> Copy:
    """One table's copy from its catalog rows (``describe_all``'s queries, in that order)."""
    (_, owner, comment), constraints, index_rows, clustered_keys = found[0][0], found[1], found[2], found[3]
    q = f"{staging}.{table}"
    keys, checks, fks, parents, after, comments = [], [], [], set(), [], []
    if comment is not None:
        comments.append(f'COMMENT ON TABLE public."{table}" IS {_literal(conn, comment)}')
    for name, kind, definition, indexdef, deferrable, deferred, validated, ccomment in constraints:
        ident = sql.Identifier(name).as_string(conn)
        if kind in ("p", "u"):
            clause = f"ADD CONSTRAINT {ident} {'PRIMARY KEY' if kind == 'p' else 'UNIQUE'} USING INDEX {ident}"
            if deferrable:
                clause += " DEFERRABLE" + (" INITIALLY DEFERRED" if deferred else "")
            keys.append((_aim(indexdef, staging, table), clause))
        elif kind == "f":
            definition, parent = _refs(definition, staging, staged_tables)
            fks.append((ident, f"ADD CONSTRAINT {ident} {definition}", validated))
            if parent:
                parents.add(parent)
        else:
            checks.append(f"ADD CONSTRAINT {ident} {definition}")
        if ccomment is not None:
            comments.append(f'COMMENT ON CONSTRAINT {ident} ON public."{table}" IS {_literal(conn, ccomment)}')
    indexes = []
    for name, indexdef, clustered, icomment in index_rows:
        indexes.append(_aim(indexdef, staging, table))
        ident = sql.Identifier(name).as_string(conn)
        if clustered:
            after.append(f"ALTER TABLE {q} CLUSTER ON {ident}")
        if icomment is not None:
            after.append(f"COMMENT ON INDEX {staging}.{ident} IS {_literal(conn, icomment)}")
    for (name,) in clustered_keys:
        after.append(f"ALTER TABLE {q} CLUSTER ON {sql.Identifier(name).as_string(conn)}")
    return Copy(
        table,
        owner,
        keys,
        checks,
        indexes,
        after,
        fks,
        parents,
        comments,
        _grant_sql("TABLE", f'public."{table}"', grants),
    )


def inbound(conn: psycopg.Connection, tables: list[str]) -> list[Inbound]:
    """Foreign keys that tables not loaded hold on the loaded ones."""
    return [
        Inbound(*r)
        for r in conn.execute(
            "SELECT k.conrelid::regclass::text, quote_ident(k.conname), pg_get_constraintdef(k.oid) "
            "FROM pg_constraint k JOIN pg_class p ON p.oid = k.confrelid "
            "JOIN pg_namespace n ON n.oid = p.relnamespace AND n.nspname = 'public' "
            "WHERE k.contype = 'f' AND k.conparentid = 0 AND p.relname = ANY(%s) "
            "AND k.conrelid NOT IN (SELECT c.oid FROM pg_class c JOIN pg_namespace cn ON cn.oid = c.relnamespace "
            "                       AND cn.nspname = 'public' WHERE c.relname = ANY(%s)) ORDER BY 1, 2",
            (tables, tables),
        ).fetchall()
    ]


def retired(staging: str) -> str:
    """The schema the old tables are moved into by the swap, dropped after its COMMIT (a name the
    next load drops as a leftover if a kill comes in between)."""
    return f"{staging}_old"


def scratch(staging: str) -> str:
    """The schema of the id sets of the rows ``--replace`` leaves out of the copies, dropped when the
    load ends (a name the next load drops as a leftover if a kill comes first)."""
    return f"{staging}_sets"


@dataclass
class Swapped:
    rows: dict[str, int]
    matched: dict[str, int]
    phases: dict


def load_swapped(
    ctl: psycopg.Connection,
    dsn: str,
    staging: str,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    digest: str,
    p: Plan,
    tables: list[str],
    workers: int,
    start: float,
    progress: Progress | None = None,
    lock_wait: str = TABLE_LOCK_WAIT,
    purged: list[int] | None = None,
) -> Swapped:
    """Inside ``ctl``'s open transaction, which holds SHARE locks on ``tables`` (every table the
    snapshot fills): build their copies in the schema ``staging`` (the caller drops it and
    ``scratch(staging)`` if this fails), then swap them in before that transaction commits.

    ``purged``: batch ids (``--replace``) whose rows the copies leave out, as a purge of them would
    (``purge.Doomed``: the same id sets and conditions; the lots given back what their feedings
    drew); ``tables`` then holds every table such rows are in."""
    laps = timing.Laps(timing.LOAD_PREPARE)
    ctl.execute("SET LOCAL search_path = pg_catalog")  # every definition read schema-qualified
    copies = describe_all(ctl, tables, staging)
    holders = inbound(ctl, tables)
    # the snapshot's ids go past the tables' own, the replaced batches' rows included: finding the
    # highest id a table keeps would take a scan of it (37 s of a farm's 46M rows), before any copy
    maps = id_maps(ctl, snapshot, ts, p.skip, p.held)
    offsets = history_offsets(ctl, snapshot, ts, p.skip, maps)  # the copies hold the same rows (writes wait)
    segments = id_segments(maps, offsets)
    existing_rows: dict[str, int] = dict(
        ctl.execute(
            "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "AND n.nspname = 'public' WHERE c.relname = ANY(%s)",
            (tables,),
        ).fetchall()
    )
    role = one(ctl.execute("SELECT quote_ident(current_user)"))[0]
    ctl.execute("RESET search_path")
    laps("catalog and id maps")
    follow = followed(maps)  # rows whose values and history the snapshot's replace: not copied
    gone = superseded_lots(ctl, maps, p.held_lots)  # lots not copied at all, nor their history
    doomed: purge.Doomed | None = None
    if purged:  # the id sets, made on a connection of its own: the workers must see them
        with connect(dsn) as aside:
            aside.autocommit = True
            aside.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch(staging))))
            with aside.transaction():
                doomed = purge.doomed(
                    aside,
                    purged,
                    purge.Sets(scratch(staging)),
                    overwritten=follow.get(purge.LOTS, []) + p.held_lots + gone,
                )
        laps("rows of the replaced batches")

    # the staging schema is made on its own connection: the workers must see it now
    with connect(dsn) as aside:
        aside.autocommit = True
        aside.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
    laps("staging schema")

    def fill_for(name: str) -> Callable[[psycopg.Connection], int]:
        t = ts[name]
        kept = [doomed.kept(name)] if doomed is not None else []
        if t.history_of in follow:
            ident = sql.Identifier(t.object_key or "id")
            kept.append(not_among(sql.SQL("t.{}").format(ident), follow[t.history_of]))
        if gone and (t.history_of or name) == purge.LOTS:
            kept.append(not_among(sql.SQL("t.id"), gone))
        conds = [c.as_string(ctl) for c in kept if c is not None]
        where = f" t WHERE {' AND '.join(conds)}" if conds else ""

        def fill(conn: psycopg.Connection) -> int:
            conn.execute(  # one round trip
                f'CREATE TABLE {staging}."{name}" (LIKE public."{name}" INCLUDING ALL '
                "EXCLUDING CONSTRAINTS EXCLUDING INDEXES EXCLUDING STATISTICS); "
                f'INSERT INTO {staging}."{name}" OVERRIDING SYSTEM VALUE SELECT * FROM public."{name}"{where}'
            )
            if doomed is not None:
                doomed.give_back(conn, name, staging)
            return copy_existing(
                conn, staging, snapshot, t, ts, maps, p.left_out, offsets, freeze=True, progress=progress
            )

        return fill

    builds = [
        staged.Build(
            c.name,
            snapshot.rows(c.name) + max(0, existing_rows.get(c.name, 0)),
            fill_for(c.name),
            c.keys,
            c.checks,
            c.indexes,
            c.after,
            c.fks,
            c.parents,
        )
        for c in copies.values()
    ]
    done = staged.build_all(ctl, dsn, staging, builds, connect, progress, workers)
    rows = {n: done.rows.get(n, 0) for n in ts}
    laps = timing.Laps(timing.LOAD_FINAL)

    t0 = time.perf_counter()
    lock_tables(
        ctl, [f'public."{t}"' for t in tables] + sorted({h.table for h in holders}), "ACCESS EXCLUSIVE", lock_wait
    )
    laps("lock")
    # every per-table statement of this transaction goes in a few round trips (the tables are
    # locked from the application meanwhile)
    idents = [(t, ts[t].identity_column) for t in tables if ts[t].identity_column]
    found = each(ctl, [("SELECT pg_get_serial_sequence(%s, %s)", (f'public."{t}"', col)) for t, col in idents])
    owned = [(t, col, rows[0][0]) for (t, col), rows in zip(idents, found) if rows[0][0]]
    states = each(
        ctl,
        [
            (f"SELECT last_value, is_called, {_literal(ctl, seq)}::regclass::oid FROM {seq}", None)
            for _, _, seq in owned
        ],
    )
    seq_grants = each(ctl, [(_GRANTS, (st[0][2],)) for st in states])
    sequences = {
        t: (col, seq, last + 1 if called else last, _grant_sql("SEQUENCE", seq, g))
        for (t, col, seq), ((last, called, _),), g in zip(owned, states, seq_grants)
    }
    laps("sequences")
    killpoints.reached("swap")
    # the swap itself in one round trip: foreign keys other tables hold on the old tables dropped,
    # the old tables moved aside (into the schema ``retired``, dropped once this transaction has
    # committed: unlinking their files holds no lock the application waits on), with their own
    # foreign keys on tables the load leaves alone, the copies moved into their place with their
    # owners, grants and comments
    old = retired(staging)
    moves = [f"ALTER TABLE {h.table} DROP CONSTRAINT {h.name}" for h in holders]
    moves += [f"CREATE SCHEMA {old}", *(f'ALTER TABLE public."{t}" SET SCHEMA {old}' for t in tables)]
    moves += [
        f'ALTER TABLE {old}."{t}" DROP CONSTRAINT {name}'
        for t, c in copies.items()
        for name, clause, _ in c.fks
        if "REFERENCES public." in clause
    ]
    moves += [f'ALTER TABLE {staging}."{t}" SET SCHEMA public' for t in tables]
    for t, c in copies.items():
        if c.owner != role:
            moves.append(f'ALTER TABLE public."{t}" OWNER TO {c.owner}')
        moves += c.grants + c.comments
    ctl.execute("; ".join(moves))
    laps("swap")
    renamed = each(
        ctl, [("SELECT pg_get_serial_sequence(%s, %s)", (f'public."{t}"', col)) for t, (col, *_) in sequences.items()]
    )
    fixes = []
    for (_, seq, nxt, grants), found_new in zip(
        sequences.values(), renamed
    ):  # the copy's sequence takes the old one's place
        new = found_new[0][0]
        if new != seq:
            fixes.append(f"ALTER SEQUENCE {new} RENAME TO {seq.split('.', 1)[1]}")
        fixes.append(f"ALTER SEQUENCE {seq} RESTART WITH {nxt}")
        fixes += grants
    for h in holders:
        killpoints.reached("fk")
        fixes.append(f"ALTER TABLE {h.table} ADD CONSTRAINT {h.name} {h.definition}")
    if fixes:
        ctl.execute("; ".join(fixes))
    laps("sequences and inbound keys")
    set_sequences(ctl, ts)
    ctl.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(staging)))
    write_log(
        ctl,
        snapshot,
        digest,
        rows,
        p.loaded + p.skipped,
        "existing (swapped)",
        time.perf_counter() - start,
        p.skipped,
        segments,
    )
    killpoints.reached("final")
    laps("log")  # up to the COMMIT, which the caller runs
    done.phases["final"] = time.perf_counter() - t0
    return Swapped(rows, matched_counts(maps), done.phases)
