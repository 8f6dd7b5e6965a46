"""Row-at-a-time INSERT baseline: what an ORM's save() loop costs, against aquagen load.

    python3 benchmarks/bench_insert.py [--snapshot DIR] [--readings 20000] [--feedings 5000] [--dsn ADMIN_URL]

1. A snapshot: --snapshot DIR, or a one-batch fleet generated with ``python3 -m aquagen
   generate --batches 1`` (191k readings, 27.7k feeding events).
2. A fresh database gets the snapshot with ``loaders.postgres.load`` (timed, for reference),
   so the schema is aquagen's (AquaMind's tables, keys, indexes, deferred foreign keys) and
   every parent row (batches, assignments, containers, sensors, feeds, users) exists. Then
   ``environmental_environmentalreading`` and ``inventory_feedingevent`` are truncated.
3. The slice (the first --readings readings and --feedings feeding events of the snapshot,
   by id) goes back in as an ORM writes it: one ``INSERT ... VALUES (%s, ...) RETURNING id``
   per row (id left to the identity column, as Django does), one round trip each, in one
   transaction (psycopg, autocommit off), then COMMIT (which checks the deferred foreign
   keys). No executemany, no multi-row VALUES, no COPY. Only the statements and the COMMIT
   are timed; the rows are Python tuples beforehand. The ORM's own overhead (model
   instances, signals, and django-simple-history's second INSERT per feeding event) is not
   included, so this baseline is on the generous side.

The server is --dsn (a superuser URL; it creates and drops a database) or env AQUAGEN_DSN,
else an embedded PostgreSQL (pgserver) in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl
import psycopg
from psycopg.conninfo import make_conninfo

import schemas
from aquagen.snapshot import Snapshot
from loaders import postgres

READINGS, FEEDINGS = "environmental_environmentalreading", "inventory_feedingevent"


def slice_rows(snap: Snapshot, table: str, n: int) -> tuple[list[str], list[tuple]]:
    """The first ``n`` rows of ``table`` by id, without the id column, as Python tuples."""
    t = schemas.table(table)
    files = [snap.path / f["path"] for f in snap.manifest["tables"][table]["files"]]
    df = pl.scan_parquet(files).sort("id").head(n).collect()
    if df.height < n:
        raise SystemExit(f"{table}: the snapshot has only {df.height:,} rows, {n:,} asked")
    cols = [c for c in t.column_names if c != "id"]
    return cols, df.select(cols).rows()


def insert_rows(dsn: str, slices: dict[str, tuple[list[str], list[tuple]]]) -> dict:
    """One INSERT ... RETURNING id per row, one transaction; seconds per table and for the COMMIT."""
    out = {}
    with psycopg.connect(dsn) as conn:  # autocommit off: one transaction, as an atomic block
        with conn.cursor() as cur:
            t_all = time.perf_counter()
            for table, (cols, rows) in slices.items():
                names = ", ".join(f'"{c}"' for c in cols)
                sql = f"INSERT INTO public.{table} ({names}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id"
                t0 = time.perf_counter()
                for row in rows:
                    cur.execute(sql, row)
                    cur.fetchone()
                out[table] = {"rows": len(rows), "seconds": time.perf_counter() - t0}
            t0 = time.perf_counter()
            conn.commit()
            out["commit_seconds"] = time.perf_counter() - t0
            out["seconds"] = time.perf_counter() - t_all
    out["rows"] = sum(len(r) for _, r in slices.values())
    out["rows_per_s"] = out["rows"] / out["seconds"]
    return out


def measure(snapshot: Path, admin: str, readings: int = 20_000, feedings: int = 5_000) -> dict:
    """Loads ``snapshot`` into a fresh database on ``admin``'s server, then times the INSERT slice."""
    snap = Snapshot.open(snapshot)
    slices = {READINGS: slice_rows(snap, READINGS, readings), FEEDINGS: slice_rows(snap, FEEDINGS, feedings)}
    name = f"aquagen_insert_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = make_conninfo(admin, dbname=name)
        snap_rows = sum(e["rows"] for e in snap.manifest["tables"].values())
        t0 = time.perf_counter()
        postgres.load(snap, dsn)
        load_seconds = time.perf_counter() - t0
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"TRUNCATE public.{READINGS}, public.{FEEDINGS}")
            c.execute(f"VACUUM ANALYZE public.{READINGS}, public.{FEEDINGS}")
        result = insert_rows(dsn, slices)
        with psycopg.connect(dsn, autocommit=True) as c:
            n = {t: c.execute(f"SELECT count(*) FROM public.{t}").fetchone()[0] for t in slices}
        if n != {READINGS: readings, FEEDINGS: feedings}:
            raise AssertionError(f"rows after the inserts: {n}")
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["setup_load"] = {"rows": snap_rows, "seconds": load_seconds, "rows_per_s": snap_rows / load_seconds}
    return result


def print_result(r: dict) -> None:
    for table in (READINGS, FEEDINGS):
        t = r[table]
        print(f"  {table:36} {t['rows']:>7,} rows  {t['seconds']:7.2f} s  {t['rows'] / t['seconds']:>8,.0f} rows/s")
    print(f"  COMMIT (deferred FK checks)                        {r['commit_seconds']:7.2f} s")
    print(f"row-at-a-time INSERT: {r['rows']:,} rows in {r['seconds']:.2f} s = {r['rows_per_s']:,.0f} rows/s")
    s = r["setup_load"]
    print(
        f"aquagen load of the same snapshot (whole schema, {s['rows']:,} rows): {s['seconds']:.2f} s = "
        f"{s['rows_per_s']:,.0f} rows/s, {s['rows_per_s'] / r['rows_per_s']:.0f}x the INSERT rate"
    )


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, help="use this snapshot instead of generating a one-batch fleet")
    ap.add_argument("--readings", type=int, default=20_000)
    ap.add_argument("--feedings", type=int, default=5_000)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    server = None
    try:
        snapshot = args.snapshot
        if snapshot is None:
            snapshot = ROOT / "output" / "bench-insert-1"
            subprocess.run(
                [sys.executable, "-m", "aquagen", "generate", "--batches", "1", "--out", str(snapshot), "--force"],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        admin = args.dsn
        if admin is None:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            admin = server.get_uri()
        print_result(measure(snapshot, admin, args.readings, args.feedings))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
