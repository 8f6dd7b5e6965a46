"""Arrow record batches streamed into a table with binary COPY (pgpq encodes them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pgpq
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

import schemas
from aquagen import killpoints

# A load's progress: (table, rows just copied, rows whose table is now complete — keys,
# indexes and FKs built); called from several threads, by a loader that serializes the calls.
Progress = Callable[[str, int, int], None]

ENCODE_ROWS = 1 << 14  # rows encoded into one buffer


def copy_rows(
    conn: psycopg.Connection,
    qualified: str,
    t: schemas.Table,
    batches: Iterable,
    freeze: bool,
    transform: Callable[[pa.RecordBatch], pa.Table | pa.RecordBatch] | None = None,
    progress: Progress | None = None,
) -> int:
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
            if batch.schema != schema:  # a cast to the same schema still costs its call
                batch = batch.cast(schema)
            for b in batch.to_batches() if isinstance(batch, pa.Table) else [batch]:
                if b.num_rows:
                    if jsonb:
                        b = _jsonb_binary(b, jsonb)
                    # encoded a slice at a time: buffers of a few MB are reused by the allocator,
                    # larger ones are fresh pages each (3.7M rows: 45k -> 11k page faults, 0.1-0.3
                    # system CPU-s less, measured); written as views (psycopg writes a large buffer
                    # in slices, of bytes each a copy)
                    for i in range(0, b.num_rows, ENCODE_ROWS):
                        cp.write(memoryview(encoder.write_batch(b.slice(i, ENCODE_ROWS))))
                    n += b.num_rows
                    if progress:
                        progress(t.name, b.num_rows, 0)
            killpoints.reached("copy")
        cp.write(encoder.finish())
    return n


def _jsonb_binary(b: pa.RecordBatch, columns: list[int]) -> pa.RecordBatch:
    """jsonb's binary COPY format is a version byte (1) before the JSON text."""
    arrays = list(b.columns)
    for i in columns:
        arrays[i] = pc.binary_join_element_wise(pa.scalar("\x01"), arrays[i], "")
    return pa.RecordBatch.from_arrays(arrays, schema=b.schema)


def update_rows(
    conn: psycopg.Connection, target: str, t: schemas.Table, rows: pl.DataFrame, only_changed: bool = False
) -> int:
    """Rows of ``target`` set to ``rows``' values by id (COPY into a temporary table, one UPDATE);
    with ``only_changed``, rows already equal are left untouched. Returns the rows updated."""
    if rows.height == 0:
        return 0
    conn.execute(f"CREATE TEMP TABLE _aquagen_update (LIKE {target}) ON COMMIT DROP")
    copy_rows(conn, "_aquagen_update", t, [rows.to_arrow()], freeze=False)
    key = t.key or "id"
    cols = [c for c in t.column_names if c != key]
    sets = ", ".join(f'"{c}" = u."{c}"' for c in cols)
    changed = ""
    if only_changed:
        mine = ", ".join(f'b."{c}"' for c in cols)
        theirs = ", ".join(f'u."{c}"' for c in cols)
        changed = f" AND ({mine}) IS DISTINCT FROM ({theirs})"
    where = f'b."{key}" = u."{key}"'
    n = conn.execute(f"UPDATE {target} b SET {sets} FROM _aquagen_update u WHERE {where}{changed}").rowcount
    conn.execute("DROP TABLE _aquagen_update")
    return n
