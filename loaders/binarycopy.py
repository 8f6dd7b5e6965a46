"""Arrow record batches streamed into a table with binary COPY (pgpq encodes them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pgpq
import psycopg
import pyarrow as pa

import schemas

from aquagen import killpoints

# A load's progress: (table, rows just copied, rows whose table is now complete — keys,
# indexes and FKs built); called from several threads, by a loader that serializes the calls.
Progress = Callable[[str, int, int], None]


def copy_rows(conn: psycopg.Connection, qualified: str, t: schemas.Table, batches: Iterable, freeze: bool,
               transform: Callable[[pa.RecordBatch], pa.Table | pa.RecordBatch] | None = None,
               progress: Progress | None = None) -> int:
    """Stream record batches into ``qualified`` with binary COPY; returns rows written."""
    schema = t.arrow_schema
    encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
    cols = ", ".join(f'"{c}"' for c in t.column_names)
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
                    cp.write(encoder.write_batch(b))
                    n += b.num_rows
                    if progress:
                        progress(t.name, b.num_rows, 0)
            killpoints.reached("copy")
        cp.write(encoder.finish())
    return n
