"""Load a snapshot into PostgreSQL with binary COPY, all or nothing.

Into a database without the schema (``loaders.staged``) the tables are created
bare in a staging schema, COPied with FREEZE over parallel connections, their
keys, indexes and foreign keys built there in parallel (the order of
``pgbench -i``: far faster than loading into indexed tables), and one short
final transaction moves them into ``public``. Into a database that already has
the schema (e.g. created by AquaMind's migrations) everything happens in one
transaction: the schema is verified first, master rows that already exist are
matched by natural key and every reference is remapped to the existing ids,
new rows get ids past the existing ones; ``rebuild_indexes`` drops and recreates
the target tables' secondary indexes and FKs around the COPY. Identity sequences
are moved past the loaded ids. An error or a kill leaves ``public`` exactly as
it was. One load or purge runs at a time per database (an advisory lock), and
``aquagen_load_log`` records every load.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import re
import time
from dataclasses import dataclass, field
from functools import reduce
from typing import Callable, Iterable

import pgpq
import polars as pl
import psycopg
import pyarrow as pa

import schemas
from aquagen.errors import AquagenError
from aquagen.snapshot import Snapshot

from . import killpoints

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


def profile_natural_keys(profile: str) -> dict[str, tuple[str, ...]]:
    """The snapshot's profile's natural keys (NATURAL_KEYS is the plan profile's)."""
    from aquagen.profiles import get

    return get(profile).natural_keys


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


def database_profile(conn: psycopg.Connection) -> str | None:
    """The profile whose tables the database holds exactly, if any."""
    return next((p for p in schemas.known() if schema_mismatches(conn, p) == []), None)


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
LOCK_ID = 0x61717561  # session advisory lock: one aquagen load or purge per database at a time
LOCK_WAIT_S = 120
DEFAULT_WORKERS = max(2, min(4, os.cpu_count() or 2))  # connections of a load into a new schema


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


def manifest_digest(snapshot: Snapshot) -> str:
    return hashlib.sha256((snapshot.path / "manifest.json").read_bytes()).hexdigest()


def exclusive(conn: psycopg.Connection, what: str = "load") -> None:
    """Take the database's aquagen lock for this session (a killed client's session ends and frees it)."""
    if conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_ID,)).fetchone()[0]:
        return
    try:
        conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
    except psycopg.errors.LockNotAvailable:
        raise AquagenError(f"another aquagen load or purge has held this database for over {LOCK_WAIT_S} s; "
                           f"try the {what} again when it has finished") from None
    finally:
        conn.execute("RESET lock_timeout")


def _has_table(conn, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)).fetchone()[0]


def _ensure_log(conn) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS public.{LOAD_LOG} (manifest_sha256 text PRIMARY KEY, "
                 "snapshot text NOT NULL, seed bigint, loaded_at timestamptz NOT NULL DEFAULT now(), "
                 "row_counts jsonb NOT NULL, batches jsonb, mode text, seconds double precision)")
    have = {r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (f"public.{LOAD_LOG}",)).fetchall()}
    for col, typ in (("batches", "jsonb"), ("mode", "text"), ("seconds", "double precision")):
        if col not in have:  # a log written by an earlier aquagen
            conn.execute(f"ALTER TABLE public.{LOAD_LOG} ADD COLUMN {col} {typ}")


def _write_log(conn, snapshot: Snapshot, digest: str, rows: dict[str, int], batches: list[str], mode: str,
               seconds: float) -> None:
    _ensure_log(conn)
    conn.execute(
        f"INSERT INTO public.{LOAD_LOG} (manifest_sha256, snapshot, seed, row_counts, batches, mode, seconds) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (manifest_sha256) DO UPDATE SET "
        "snapshot = EXCLUDED.snapshot, seed = EXCLUDED.seed, loaded_at = now(), row_counts = EXCLUDED.row_counts, "
        "batches = EXCLUDED.batches, mode = EXCLUDED.mode, seconds = EXCLUDED.seconds",
        (digest, str(snapshot.path), snapshot.manifest.get("seed"), json.dumps(rows), json.dumps(batches), mode,
         round(seconds, 3)))


def _already_loaded(conn, digest: str) -> bool:
    """True when this snapshot was loaded before and its batches are all still there (not purged)."""
    if not _has_table(conn, LOAD_LOG):
        return False
    has_batches = conn.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'batches' AND NOT attisdropped",
        (f"public.{LOAD_LOG}",)).fetchone()[0]
    row = conn.execute(f"SELECT {'batches' if has_batches else 'NULL'} FROM public.{LOAD_LOG} "
                       "WHERE manifest_sha256 = %s", (digest,)).fetchone()
    if row is None:
        return False
    names = row[0] or []
    if not names:
        return True
    if not _has_table(conn, "batch_batch"):
        return False
    found = conn.execute("SELECT count(DISTINCT batch_number) FROM public.batch_batch WHERE batch_number = ANY(%s)",
                         (names,)).fetchone()[0]
    return found == len(set(names))


def snapshot_batches(snapshot: Snapshot) -> pl.DataFrame:
    """(id, batch_number) of the snapshot's batches."""
    return snapshot.scan("batch_batch").select(pl.col("id").cast(pl.Int64), "batch_number").collect()


def _set_sequences(conn, ts: dict[str, schemas.Table]) -> None:
    """Move every identity sequence past the highest id, never backwards.

    ALTER SEQUENCE ... RESTART is transactional (setval is not), so a load that
    is rolled back or killed leaves the sequences where they were too.
    """
    for t in ts.values():
        col = t.identity_column
        if not col:
            continue
        seq, top = conn.execute(f"SELECT pg_get_serial_sequence('public.{t.name}', '{col}'), "
                                f"(SELECT max({col}) FROM public.{t.name})").fetchone()
        if top is None:
            continue
        last, called = conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
        if top + 1 > last + (1 if called else 0):
            conn.execute(f"ALTER SEQUENCE {seq} RESTART WITH {top + 1}")


def load(
    snapshot: Snapshot,
    dsn: str,
    progress: Callable[[str, int], None] | None = None,
    *,
    skip_existing: bool = False,
    replace: bool = False,
    rebuild_indexes: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> LoadResult:
    """Load every table of ``snapshot`` into the database at ``dsn``, all or nothing.

    Into a database without the schema: parallel COPY and builds in a staging schema,
    made visible by one short final transaction (``loaders.staged``). Into an
    existing schema: one transaction, verified and remapped; ``rebuild_indexes``
    drops the target tables' secondary indexes and FKs around the COPY and recreates
    them with their exact definitions. Batches already in the database are refused
    unless ``skip_existing`` (their rows are left out) or ``replace`` (they are purged
    first, in the same transaction).
    """
    if skip_existing and replace:
        raise AquagenError("--skip-existing and --replace exclude each other; choose one")
    snapshot.verify()
    start = time.perf_counter()
    ts = schemas.tables(snapshot.profile)
    digest = manifest_digest(snapshot)
    with connect(dsn) as ctl:
        ctl.autocommit = True
        try:
            if ctl.info.server_version >= 140000:  # a killed loader's statement stops within a second
                ctl.execute("SET client_connection_check_interval = '1s'")
            exclusive(ctl, "load")
            from . import staged

            staged.drop_leftovers(ctl)
            problems = schema_mismatches(ctl, snapshot.profile)
            if problems:
                other = database_profile(ctl)
                if other is not None:
                    raise AquagenError(f"the database has the schema of {other}, the snapshot is {snapshot.profile}: "
                                       f"generate it with --profile {other}")
                raise AquagenError(f"schema mismatch with {snapshot.profile}: " + "; ".join(problems))
            if _already_loaded(ctl, digest):
                return LoadResult(problems is None, {}, {}, time.perf_counter() - start, already_loaded=True)
            if problems is None:
                names = snapshot_batches(snapshot)["batch_number"].to_list()

                def copy_table(conn, snap, t, qualified):
                    return _copy_rows(conn, qualified, t, snap.record_batches(t.name), freeze=True)

                def finish(conn, rows):
                    _set_sequences(conn, ts)
                    _write_log(conn, snapshot, digest, rows, names, "created", time.perf_counter() - start)

                done = staged.load_fresh(ctl, dsn, snapshot, ts, copy_table, finish, connect, progress, workers)
                result = LoadResult(True, done.rows, {}, 0.0, phases=done.phases)
            else:
                with ctl.transaction():
                    result = _load_existing(ctl, snapshot, ts, digest, progress, skip_existing, replace,
                                            rebuild_indexes, start)
        except psycopg.Error as e:
            msg = " ".join(str(e).split())
            raise AquagenError(f"load failed and was rolled back: {msg}") from None
    result.seconds = time.perf_counter() - start
    return result


def _load_existing(conn, snapshot: Snapshot, ts: dict[str, schemas.Table], digest: str, progress,
                   skip_existing: bool, replace: bool, rebuild_indexes: bool, start: float) -> LoadResult:
    """Into a schema that is already there, inside the caller's transaction."""
    from . import rebuild

    batches = snapshot_batches(snapshot)
    existing = conn.execute(
        "SELECT id, batch_number FROM public.batch_batch WHERE batch_number = ANY(%s) ORDER BY batch_number",
        (batches["batch_number"].to_list(),)).fetchall() if batches.height else []
    names = [n for _, n in existing]
    skip: dict[str, pl.Series] = {}
    skipped: list[str] = []
    replaced: list[str] = []
    if existing:
        if replace:
            from .purge import purge_batches

            # the stock decrements stay: the snapshot's lots (matched by lot number) already hold them
            purge_batches(conn, [i for i, _ in existing], restore_stock=False)
            replaced = names
        elif skip_existing:
            ids = batches.filter(pl.col("batch_number").is_in(names))["id"]
            skip = batch_closure(snapshot, ts, ids)
            skipped = names
        else:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise AquagenError(f"the database already holds batch {shown} from another load; pass --skip-existing "
                               f"to load only the other batches, or --replace to purge and reload them")
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # parents come first; no queue of deferred checks
    saved = None
    if rebuild_indexes:
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        saved = rebuild.drop(conn, [n for n in ts if snapshot.rows(n)])

    maps: dict[str, IdMap] = {}
    rows: dict[str, int] = {}
    matched: dict[str, int] = {}
    for name, t in ts.items():
        if not t.history_of:
            maps[name] = _reconcile(conn, snapshot, t, ts, maps)
            if maps[name].matched is not None:
                matched[name] = maps[name].matched.len()
        rows[name] = _copy_existing(conn, snapshot, t, ts, maps, skip)
        if progress:
            progress(name, rows[name])
    if saved is not None:
        rebuild.restore(conn, saved)
    _set_sequences(conn, ts)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # surface any FK violation before COMMIT
    loaded = [n for n in batches["batch_number"].to_list() if n not in skipped]
    _write_log(conn, snapshot, digest, rows, loaded + skipped, "existing", time.perf_counter() - start)
    killpoints.reached("final")
    return LoadResult(False, rows, matched, 0.0, skipped_batches=skipped, replaced_batches=replaced,
                      rebuilt=(len(saved.indexes), len(saved.fks)) if saved else (0, 0))


def batch_closure(snapshot: Snapshot, ts: dict[str, schemas.Table], batch_ids: pl.Series) -> dict[str, pl.Series]:
    """Snapshot ids of every base row that belongs to these batches (follows FKs down from batch_batch)."""
    out = {"batch_batch": batch_ids.cast(pl.Int64)}
    for name, t in ts.items():
        if t.history_of or name == "batch_batch" or not snapshot.rows(name):
            continue
        refs = [(fk.column, fk.ref_table) for fk in t.foreign_keys if fk.ref_table in out and fk.ref_table != name]
        if not refs:
            continue
        cond = reduce(operator.or_, [pl.col(c).cast(pl.Int64).is_in(out[r].implode()) for c, r in refs])
        ids = snapshot.scan(name).filter(cond).select(pl.col("id").cast(pl.Int64)).collect()["id"]
        if ids.len():
            out[name] = ids
    return out


def _max_id(conn, t: schemas.Table) -> int:
    col = t.identity_column or "id"
    if col not in t.column_names:  # keyed by another table's id (batch_containerforecastsummary)
        return 0
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
    key = profile_natural_keys(snapshot.profile).get(t.name)
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


def _copy_rows(conn, qualified: str, t: schemas.Table, batches: Iterable, freeze: bool,
               transform: Callable[[pa.RecordBatch], pa.Table | pa.RecordBatch] | None = None) -> int:
    """Stream record batches into ``qualified`` with binary COPY; returns rows written."""
    schema = t.arrow_schema
    encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
    cols = ", ".join(f'"{c}"' for c in t.column_names)
    jsonb = [i for i, c in enumerate(t.columns) if c.sql_type == "jsonb"]
    n = 0
    with conn.cursor().copy(
        f"COPY {qualified} ({cols}) FROM STDIN WITH (FORMAT BINARY{', FREEZE' if freeze else ''})"
    ) as cp:
        cp.write(encoder.write_header())
        for batch in batches:
            if transform is not None:
                batch = transform(batch)
            for b in batch.cast(schema).to_batches() if isinstance(batch, pa.Table) else [batch.cast(schema)]:
                if b.num_rows:
                    cp.write(encoder.write_batch(_jsonb_binary(b, jsonb) if jsonb else b))
                    n += b.num_rows
            killpoints.reached("copy")
        cp.write(encoder.finish())
    return n


def _jsonb_binary(b: pa.RecordBatch, columns: list[int]) -> pa.RecordBatch:
    """jsonb's binary COPY format is a version byte (1) before the JSON text."""
    import pyarrow.compute as pc

    arrays = list(b.columns)
    for i in columns:
        arrays[i] = pc.binary_join_element_wise(pa.scalar("\x01"), arrays[i], "")
    return pa.RecordBatch.from_arrays(arrays, schema=b.schema)


# The feed stock is the state of the snapshot's FIFO over all its batches: lots and
# purchases already in the database (matched by lot number) take the snapshot's values
# and history instead of keeping their own, so stock and feedings stay consistent when
# batches are added to, or purged and reloaded into, a database aquagen filled before.
FOLLOW_SNAPSHOT = ("inventory_feedpurchase", "inventory_feedcontainerstock")


def _copy_existing(conn, snapshot: Snapshot, t: schemas.Table, ts, maps: dict[str, IdMap],
                   skip: dict[str, pl.Series]) -> int:
    """COPY one table's rows into an existing schema: skipped rows left out, ids remapped."""
    if snapshot.rows(t.name) == 0:
        return 0
    refs = _history_refs(t, ts)
    own = maps.get(t.history_of or t.name)
    needs_remap = any(not maps[r].identity for r in refs.values() if r in maps) or (own is not None and not own.identity)
    matched = own.matched if own is not None and own.matched is not None and own.matched.len() else None
    drop = [(c, r) for c, r in [*refs.items(), *([] if t.history_of else [("id", t.name)])] if r in skip]
    n = 0
    if matched is not None and (t.history_of or t.name) in FOLLOW_SNAPSHOT:
        existing = own.pairs.filter(pl.col("old").is_in(matched.implode()))["new"].to_list()
        if t.history_of:  # the matched rows' history is replaced by the snapshot's
            conn.execute(f"DELETE FROM public.{t.name} WHERE id = ANY(%s)", (existing,))
        else:  # the matched rows are updated to the snapshot's values
            rows = _remap(snapshot.scan(t.name).filter(pl.col("id").is_in(matched.implode())).collect(),
                          t, ts, maps, own)
            conn.execute(f"CREATE TEMP TABLE _aquagen_upsert (LIKE public.{t.name}) ON COMMIT DROP")
            _copy_rows(conn, "_aquagen_upsert", t, [rows.to_arrow()], freeze=False)
            sets = ", ".join(f'"{c}" = u."{c}"' for c in t.column_names if c != "id")
            n = conn.execute(f"UPDATE public.{t.name} b SET {sets} FROM _aquagen_upsert u WHERE b.id = u.id").rowcount
            conn.execute("DROP TABLE _aquagen_upsert")
        if t.history_of:
            matched = None
    history_offset = _max_id(conn, t) if t.history_of else 0
    if not (needs_remap or matched is not None or drop or history_offset):
        return n + _copy_rows(conn, f"public.{t.name}", t, snapshot.record_batches(t.name), freeze=False)

    def transform(batch: pa.RecordBatch) -> pa.Table:
        df = pl.from_arrow(batch)
        if matched is not None:
            df = df.filter(~pl.col("id").is_in(matched.implode()))
        if drop:
            df = df.filter(~reduce(operator.or_, [pl.col(c).cast(pl.Int64).is_in(skip[r].implode()).fill_null(False)
                                                  for c, r in drop]))
        df = _remap(df, t, ts, maps, own)
        if history_offset:
            df = df.with_columns(pl.col("history_id") + history_offset)
        return df.to_arrow()

    return n + _copy_rows(conn, f"public.{t.name}", t, snapshot.record_batches(t.name), freeze=False,
                          transform=transform)


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
