"""Load a snapshot into PostgreSQL with binary COPY, in one transaction.

Into an empty database the schema is created bare, the rows are COPied (with
FREEZE), and keys, indexes and foreign keys are built afterwards (the order of
``pgbench -i``): far faster than loading into indexed tables. Into a database
that already has the schema (e.g. created by AquaMind's migrations) the schema
is verified first, master rows that already exist are matched by natural key
and every reference is remapped to the existing ids, and new rows get ids past
the existing ones. Identity sequences are moved past the loaded ids. Any error
rolls everything back, leaving the database exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import pgpq
import polars as pl
import psycopg
import pyarrow as pa

import schemas
from aquagen.errors import AquagenError
from aquagen.snapshot import Snapshot

# Natural keys of the rows a database may already hold (master data and
# infrastructure): a snapshot row with the same key is the same object.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "auth_user": ("username",),
    "users_userprofile": ("user_id",),
    "infrastructure_geography": ("name",),
    "infrastructure_freshwaterstation": ("name",),
    "infrastructure_area": ("name",),
    "infrastructure_hall": ("name",),
    "infrastructure_containertype": ("name",),
    "infrastructure_container": ("name",),
    "infrastructure_sensor": ("name",),
    "infrastructure_feedcontainer": ("name",),
    "batch_species": ("name",),
    "batch_lifecyclestage": ("name",),
    "environmental_environmentalparameter": ("name",),
    "inventory_feed": ("name",),
    "inventory_feedpurchase": ("batch_number",),
    "inventory_feedcontainerstock": ("feed_container_id", "feed_purchase_id"),
    "health_healthparameter": ("name",),
    "health_mortalityreason": ("name",),
    "health_sampletype": ("name",),
    "health_vaccinationtype": ("name",),
}


def connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, connect_timeout=5, autocommit=False)
    except psycopg.Error as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise AquagenError(f"cannot connect to the database {redact(dsn)}: {reason}") from None


def redact(dsn: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)


# --- schema ---------------------------------------------------------------

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
                problems.append(f"{name}.{c.name} is {'NOT NULL' if notnull else 'nullable'}, expected "
                                f"{'nullable' if c.nullable else 'NOT NULL'}")
        for col, (_, notnull, identity) in have.items():
            if col not in t.column_names and notnull and not identity:
                problems.append(f"{name}.{col} is an unknown NOT NULL column")
    return problems


# --- id reconciliation ----------------------------------------------------

@dataclass
class IdMap:
    """Where a table's snapshot ids go in the database."""

    offset: int = 0
    pairs: pl.DataFrame | None = None  # columns old, new (for reconciled tables)
    matched: pl.Series | None = None  # old ids of rows that already exist (not inserted)

    @property
    def identity(self) -> bool:
        return self.offset == 0 and self.pairs is None

    def expr(self, col: str) -> pl.Expr:
        if self.pairs is not None:
            return pl.col(col).replace_strict(self.pairs["old"], self.pairs["new"], default=pl.col(col))
        return pl.col(col) + self.offset


def _history_refs(t: schemas.Table, ts: dict[str, schemas.Table]) -> dict[str, str]:
    """column -> referenced table, for every id column a table carries."""
    if t.history_of:
        base = ts[t.history_of]
        refs = {fk.column: fk.ref_table for fk in base.foreign_keys}
        refs["id"] = base.name
        refs["history_user_id"] = "auth_user"
        return refs
    return {fk.column: fk.ref_table for fk in t.foreign_keys}


# --- loading --------------------------------------------------------------

LOAD_LOG = "aquagen_load_log"


@dataclass
class LoadResult:
    created_schema: bool
    rows: dict[str, int]
    matched: dict[str, int]
    seconds: float
    already_loaded: bool = False


def manifest_digest(snapshot: Snapshot) -> str:
    return hashlib.sha256((snapshot.path / "manifest.json").read_bytes()).hexdigest()


def _loaded_before(conn, digest: str) -> bool:
    """True when the snapshot with this manifest digest was loaded before (nothing to do)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS public.{LOAD_LOG} (manifest_sha256 text PRIMARY KEY, "
                 "snapshot text NOT NULL, seed bigint, loaded_at timestamptz NOT NULL DEFAULT now(), "
                 "row_counts jsonb NOT NULL)")
    return conn.execute(f"SELECT 1 FROM public.{LOAD_LOG} WHERE manifest_sha256 = %s", (digest,)).fetchone() is not None


def _refuse_existing_batches(conn, snapshot: Snapshot) -> None:
    names = [b["batch_number"] for b in snapshot.manifest.get("batches", [])]
    if not names:
        return
    found = [r[0] for r in conn.execute(
        "SELECT batch_number FROM public.batch_batch WHERE batch_number = ANY(%s) ORDER BY 1", (names,)).fetchall()]
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise AquagenError(f"the database already holds batch {shown} from another load; "
                           f"load into a fresh database or purge those batches first")


def load(
    snapshot: Snapshot,
    dsn: str,
    progress: Callable[[str, int], None] | None = None,
) -> LoadResult:
    """Load every table of ``snapshot`` into the database at ``dsn``, all or nothing."""
    snapshot.verify()
    start = time.perf_counter()
    profile = snapshot.profile
    ts = schemas.tables(profile)
    with connect(dsn) as conn:
        try:
            result = _load(conn, snapshot, ts, progress)
        except psycopg.Error as e:
            conn.rollback()
            msg = " ".join(str(e).split())
            raise AquagenError(f"load failed and was rolled back: {msg}") from None
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    result.seconds = time.perf_counter() - start
    return result


def _load(conn, snapshot: Snapshot, ts: dict[str, schemas.Table], progress) -> LoadResult:
    problems = schema_mismatches(conn, snapshot.profile)
    if problems:
        raise AquagenError(f"schema mismatch with {snapshot.profile}: " + "; ".join(problems))
    created = problems is None
    digest = manifest_digest(snapshot)
    if _loaded_before(conn, digest):
        return LoadResult(created, {}, {}, 0.0, already_loaded=True)
    if created:
        for t in ts.values():
            conn.execute(t.create_sql())
    else:
        _refuse_existing_batches(conn, snapshot)
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # parents come first; no queue of deferred checks

    maps: dict[str, IdMap] = {}
    rows: dict[str, int] = {}
    matched: dict[str, int] = {}
    for name, t in ts.items():
        if not created and not t.history_of:
            maps[name] = _reconcile(conn, snapshot, t, ts, maps)
            if maps[name].matched is not None:
                matched[name] = maps[name].matched.len()
        rows[name] = _copy(conn, snapshot, t, ts, maps, created)
        if progress:
            progress(name, rows[name])

    if created:
        for stage in ("key_sql", "index_sql", "fk_sql"):
            for t in ts.values():
                for stmt in getattr(t, stage)():
                    conn.execute(stmt)
    for t in ts.values():
        col = t.identity_column
        if col:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('public.{t.name}', '{col}'), "
                f"COALESCE((SELECT max({col}) FROM public.{t.name}), 1), "
                f"(SELECT count(*) > 0 FROM public.{t.name}))"
            )
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # surface any FK violation before COMMIT
    conn.execute(f"INSERT INTO public.{LOAD_LOG} (manifest_sha256, snapshot, seed, row_counts) VALUES (%s, %s, %s, %s)",
                 (digest, str(snapshot.path), snapshot.manifest.get("seed"), json.dumps(rows)))
    return LoadResult(created, rows, matched, 0.0)


def _max_id(conn, t: schemas.Table) -> int:
    col = t.identity_column or "id"
    return conn.execute(f"SELECT COALESCE(max({col}), 0) FROM public.{t.name}").fetchone()[0]


def _remap(df: pl.DataFrame, t: schemas.Table, ts, maps: dict[str, IdMap], own: IdMap | None) -> pl.DataFrame:
    exprs = []
    for col, ref in _history_refs(t, ts).items():
        m = maps.get(ref)
        if m is not None and not m.identity and col in df.columns:
            exprs.append(m.expr(col).cast(df.schema[col]))
    if own is not None and not own.identity and not t.history_of:
        exprs.append(own.expr("id").cast(df.schema["id"]))
    return df.with_columns(exprs) if exprs else df


def _reconcile(conn, snapshot: Snapshot, t: schemas.Table, ts, maps: dict[str, IdMap]) -> IdMap:
    """Ids for a base table's rows in a database that already holds rows."""
    existing_max = _max_id(conn, t)
    if snapshot.rows(t.name) == 0 or existing_max == 0:
        return IdMap()
    key = NATURAL_KEYS.get(t.name)
    if key is None:
        return IdMap(offset=existing_max)
    df = _remap(snapshot.read(t.name), t, ts, maps, None).select(["id", *key])
    cols = ", ".join(f'"{c}"' for c in key)
    existing = pl.DataFrame(
        conn.execute(f"SELECT id, {cols} FROM public.{t.name}").fetchall(),
        schema={"existing": pl.Int64, **{c: df.schema[c] for c in key}},
        orient="row",
    )
    joined = df.join(existing, on=list(key), how="left", nulls_equal=False)
    new = joined.filter(pl.col("existing").is_null()).with_columns(
        existing=pl.int_range(existing_max + 1, existing_max + 1 + pl.len(), dtype=pl.Int64)
    )
    found = joined.filter(pl.col("existing").is_not_null())
    pairs = pl.concat([found, new]).select(old=pl.col("id").cast(pl.Int64), new=pl.col("existing"))
    return IdMap(pairs=pairs, matched=found["id"])


def _copy(conn, snapshot: Snapshot, t: schemas.Table, ts, maps: dict[str, IdMap], freeze: bool) -> int:
    """COPY one table's part files in binary format; returns rows written."""
    if snapshot.rows(t.name) == 0:
        return 0
    refs = _history_refs(t, ts)
    own = maps.get(t.history_of or t.name)
    needs_remap = any(not maps[r].identity for r in refs.values() if r in maps) or (own is not None and not own.identity)
    skip = own.matched if own is not None and own.matched is not None and own.matched.len() else None
    history_offset = _max_id(conn, t) if (t.history_of and not freeze) else 0
    schema = t.arrow_schema
    encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
    cols = ", ".join(f'"{c}"' for c in t.column_names)
    n = 0
    with conn.cursor().copy(
        f"COPY public.{t.name} ({cols}) FROM STDIN WITH (FORMAT BINARY{', FREEZE' if freeze else ''})"
    ) as cp:
        cp.write(encoder.write_header())
        for batch in snapshot.record_batches(t.name):
            if needs_remap or skip is not None or history_offset:
                df = pl.from_arrow(batch)
                if skip is not None:
                    df = df.filter(~pl.col("id").is_in(skip.implode()))
                df = _remap(df, t, ts, maps, own)
                if history_offset:
                    df = df.with_columns(pl.col("history_id") + history_offset)
                batch = df.to_arrow()
            for b in batch.cast(schema).to_batches() if isinstance(batch, pa.Table) else [batch.cast(schema)]:
                cp.write(encoder.write_batch(b))
                n += b.num_rows
        cp.write(encoder.finish())
    return n


def row_counts(conn, names: Iterable[str]) -> dict[str, int]:
    return {n: conn.execute(f"SELECT count(*) FROM public.{n}").fetchone()[0] for n in names}


def introspect(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict]:
    """Tables as the reference JSON describes them (columns, keys, FKs, checks, indexes)."""
    names = list(names)
    out: dict[str, dict] = {}
    for rel, col, typ, notnull, identity in conn.execute(_CATALOG_SQL, (names,)).fetchall():
        t = out.setdefault(rel, {"columns": [], "primary_key": [], "foreign_keys": [], "unique": [],
                                 "unique_partial": [], "checks": [], "indexes": []})
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
            t["foreign_keys"].append({"column": cols[0], "ref_table": ref, "deferrable": deferrable,
                                      "initially_deferred": deferred, "constraint": conname})
    for rel, idxname, indexdef in conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)",
        (names,),
    ).fetchall():
        if idxname in constraint_indexes:
            continue
        key = "unique_partial" if indexdef.startswith("CREATE UNIQUE INDEX") else "indexes"
        out[rel][key].append(indexdef)
    return out
