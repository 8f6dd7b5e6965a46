"""Master rows a database already holds, matched by natural key, and the id each snapshot row
gets there: matched rows take the existing ids, new rows ids past the existing ones, and every
reference follows (``IdMap``)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

import polars as pl
import psycopg

import schemas
from aquagen.profiles import get
from aquagen.snapshot import Snapshot
from aquagen.tables.ids import UNDECLARED_REFERENCES

from .rows import one


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


def history_refs(t: schemas.Table, ts: dict[str, schemas.Table]) -> dict[str, str]:
    """column -> referenced table, for every id column a table carries: its foreign keys and the
    references a version's schema leaves without one (``UNDECLARED_REFERENCES``: cb41030's readings
    name their assignment), which move with the ids all the same."""
    base = ts[t.history_of] if t.history_of else t
    refs = {c: r for c, r in UNDECLARED_REFERENCES.get(base.name, {}).items() if r in ts}
    refs |= {fk.column: fk.ref_table for fk in base.foreign_keys}
    if t.history_of:
        refs[base.object_key or "id"] = base.name
        refs["history_user_id"] = "auth_user"
    return refs


def snapshot_batches(snapshot: Snapshot) -> pl.DataFrame:
    """(id, batch_number) of the snapshot's batches."""
    return snapshot.scan("batch_batch").select(pl.col("id").cast(pl.Int64), "batch_number").collect()


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
        key = t.key or "id"
        ids = snapshot.scan(name).filter(cond).select(pl.col(key).cast(pl.Int64)).collect()[key]
        if ids.len():
            out[name] = ids
    return out


def remap(df: pl.DataFrame, t: schemas.Table, ts, maps: dict[str, IdMap], own: IdMap | None) -> pl.DataFrame:
    exprs = []
    for col, ref in history_refs(t, ts).items():
        m = maps.get(ref)
        if m is not None and not m.identity and col in df.columns:
            exprs.append(m.expr(col).cast(df.schema[col]))
    if own is not None and not own.identity and not t.history_of:
        key = t.key or "id"
        exprs.append(own.expr(key).cast(df.schema[key]))
    return df.with_columns(exprs) if exprs else df


def by_natural_key(
    conn: psycopg.Connection, name: str, rows: pl.DataFrame, key: tuple[str, ...], id_col: str = "id"
) -> pl.DataFrame:
    """``rows`` (their id column ``id_col`` and the key columns, references already in the database's
    ids) with ``existing``: the id of the database's row of the same natural key, null where there is none."""
    names = {"existing": id_col, **{c: c for c in key}}
    types: dict[str, pl.DataType] = {"existing": pl.Int64(), **{c: rows.schema[c] for c in key}}
    # one row of arrays (binary): the columns come back as lists, dates and times as integers (days,
    # microseconds since 1970), not as a Python tuple and datetime a row (346k weather rows: 0.6 ->
    # 0.05 CPU-s, measured)
    # (the aggregates of one SELECT read the rows in the same order: the arrays line up)
    selects = ", ".join(f"array_agg({_as_number(c, types[k])})" for k, c in names.items())
    cur = conn.cursor(binary=True)
    arrays = one(cur.execute(f"SELECT {selects} FROM public.{name}"))
    existing = pl.DataFrame([_from_numbers(k, v or [], types[k]) for k, v in zip(names, arrays, strict=True)])
    return rows.join(existing, on=list(key), how="left", nulls_equal=False)


def _as_number(col: str, dtype: pl.DataType) -> str:
    """SQL for ``col`` as the integer Polars holds of it (dates: days, times: microseconds since 1970)."""
    if isinstance(dtype, pl.Datetime):
        return f'round(EXTRACT(EPOCH FROM "{col}") * 1000000)::bigint'
    if dtype == pl.Date:
        return f"(\"{col}\" - DATE '1970-01-01')"
    return f'"{col}"'


def _from_numbers(name: str, values: list, dtype: pl.DataType) -> pl.Series:
    """A column fetched by ``_as_number`` as ``dtype``."""
    if isinstance(dtype, pl.Datetime):
        return pl.Series(name, values, pl.Int64).cast(pl.Datetime("us", dtype.time_zone)).cast(dtype)
    if dtype == pl.Date:
        return pl.Series(name, values, pl.Int32).cast(dtype)
    return pl.Series(name, values, dtype)


def reconcile(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    t: schemas.Table,
    ts,
    maps: dict[str, IdMap],
    existing_max: int,
) -> IdMap:
    """Ids for a base table's rows in a database that already holds rows (``existing_max``: the
    highest id it holds, ``catalog.max_ids``)."""
    if snapshot.rows(t.name) == 0 or existing_max == 0:
        return IdMap()
    key = get(snapshot.profile).natural_keys.get(t.name)  # master rows: the same object by natural key
    if key is None:
        return IdMap(offset=existing_max)
    id_col = t.key or "id"
    # only the columns matched on are read (``remap`` moves each column by itself)
    rows = remap(snapshot.scan(t.name).select([id_col, *key]).collect(), t, ts, maps, None)
    joined = by_natural_key(conn, t.name, rows, key, id_col)
    new = joined.filter(pl.col("existing").is_null()).with_columns(
        existing=pl.int_range(existing_max + 1, existing_max + 1 + pl.len(), dtype=pl.Int64)
    )
    found = joined.filter(pl.col("existing").is_not_null())
    pairs = pl.concat([found, new]).select(old=pl.col(id_col).cast(pl.Int64), new=pl.col("existing"))
    return IdMap(pairs=pairs, matched=found[id_col])
