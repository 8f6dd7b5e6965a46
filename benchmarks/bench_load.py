"""aquagen load against the server's own best case, on the same rows and schema; or (--existing)
a load into an application's migrated schema against a fresh load of the same snapshot.

    python3 benchmarks/bench_load.py [BATCHES] [--repeat R] [--workers W] [--dsn ADMIN_URL] [--snapshot DIR]
    python3 benchmarks/bench_load.py [BATCHES] --existing [--in-place] ...

1. Generates a snapshot of BATCHES batches (default 10) with ``python3 -m aquagen generate``
   (or uses --snapshot DIR).
2. (b) aquagen: ``loaders.postgres.load`` (what ``aquagen load`` runs) into a fresh database.
3. (a) the server's best case: every table of (b)'s database is written to a server-side
   binary COPY file (``COPY ... TO '/file' (FORMAT binary)``); then, in a fresh database and
   one session (the server's settings, with aquagen's maintenance_work_mem): bare tables, one stream of
   ``COPY ... FROM '/file' (FORMAT binary, FREEZE)``, then the same primary keys, UNIQUE and
   CHECK constraints, indexes and foreign keys (validated) as aquagen builds, then COMMIT.
4. (a) and (b) alternate R times (default 3; the machine may be shared); medians are compared.

--existing: (f) ``load`` into a fresh database (the schema created) and (e) ``load`` into a
database whose schema was made by ``schemas.schema_sql()`` (the profile's exact DDL, as the
application's migrations make it) with one seeded master row, alternated R times; the ratio
of the medians e / f is the goal of issue 18 (<= 1.1). --in-place adds (i) the same as (e)
with ``rebuild_indexes=True`` (the in-place path, one transaction) for comparison.

The server is --dsn (a superuser URL: it creates databases and reads/writes server files) or
env AQUAGEN_DSN, else an embedded PostgreSQL in a temporary folder. Run it on an otherwise
idle machine: both sides are CPU bound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
from psycopg.conninfo import make_conninfo

import schemas
from aquagen.snapshot import Snapshot
from loaders import postgres, session


def create_db(admin: str) -> tuple[str, str]:
    name = f"aquagen_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(admin, dbname=name)


def drop_db(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_aquagen(admin: str, snap: Snapshot, workers: int) -> tuple[float, dict, str, str]:
    name, dsn = create_db(admin)
    t0 = time.perf_counter()
    result = postgres.load(snap, dsn, workers=workers)
    return time.perf_counter() - t0, result.phases, name, dsn


def dump_tables(dsn: str, folder: Path) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        for n in schemas.tables():
            c.execute(f"COPY public.{n} TO '{folder / (n + '.bin')}' (FORMAT binary)")


def run_ceiling(admin: str, folder: Path) -> tuple[float, dict]:
    ts = schemas.tables()
    name, dsn = create_db(admin)
    phases = {}
    try:
        with psycopg.connect(dsn) as c:
            # the same sort memory as each aquagen worker; the server's own parallel index builds stay on
            c.execute(f"SET maintenance_work_mem = '{session.sort_memory_mb(c, session.DEFAULT_WORKERS)}MB'")
            t0 = time.perf_counter()
            for t in ts.values():
                c.execute(t.create_sql())
            for n in ts:
                c.execute(f"COPY public.{n} FROM '{folder / (n + '.bin')}' (FORMAT binary, FREEZE)")
            phases["copy"] = time.perf_counter() - t0
            for stage in ("key_sql", "index_sql", "fk_sql"):
                t1 = time.perf_counter()
                for t in ts.values():
                    for stmt in getattr(t, stage)():
                        c.execute(stmt)
                phases[stage.removesuffix("_sql")] = time.perf_counter() - t1
            c.commit()
            seconds = time.perf_counter() - t0
    finally:
        drop_db(admin, name)
    return seconds, phases


def measure(
    admin: str, snap: Snapshot, repeat: int = 3, workers: int = postgres.DEFAULT_WORKERS, work: Path | None = None
) -> dict:
    """(a) and (b) alternated ``repeat`` times on ``admin``'s server; medians, runs and phases.

    ``work``: a folder the server can write (the COPY files go there); default a temporary one."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-")) if own else work
    os.chmod(work, 0o777)  # the server (maybe another OS user) writes and reads the COPY files here
    try:
        rows = sum(e["rows"] for e in snap.manifest["tables"].values())
        with psycopg.connect(admin) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
            settings = {
                k: c.execute(f"SHOW {k}").fetchone()[0]
                for k in ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers", "wal_level")
            }
        load_before = os.getloadavg()[0]
        # the ceiling's files come from aquagen's own result: the very same rows
        seconds, phases, name, dsn = run_aquagen(admin, snap, workers)
        files = work / "copy"
        files.mkdir(exist_ok=True)
        os.chmod(files, 0o777)
        dump_tables(dsn, files)
        drop_db(admin, name)
        ours, best = [seconds], []
        ours_phases = [phases]
        best_phases = []
        for i in range(repeat):
            s, p = run_ceiling(admin, files)
            best.append(s)
            best_phases.append(p)
            if i < repeat - 1:
                s, p, name, _ = run_aquagen(admin, snap, workers)
                drop_db(admin, name)
                ours.append(s)
                ours_phases.append(p)
        a, b = statistics.median(best), statistics.median(ours)
        return {
            "rows": rows,
            "tables": sum(1 for e in snap.manifest["tables"].values() if e["rows"]),
            "server_version": version,
            "settings": settings,
            "workers": workers,
            "ceiling_seconds": a,
            "ceiling_runs": best,
            "ceiling_rows_per_s": rows / a,
            "ceiling_phases": best_phases[best.index(sorted(best)[len(best) // 2])],
            "aquagen_seconds": b,
            "aquagen_runs": ours,
            "aquagen_rows_per_s": rows / b,
            "aquagen_phases": {
                k: v for k, v in ours_phases[ours.index(sorted(ours)[len(ours) // 2])].items() if k != "tasks"
            },
            "ratio": b / a,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg()[0],
        }
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def migrated_db(admin: str) -> tuple[str, str]:
    """A database as the application's migrations leave it: the profile's DDL, a seeded row."""
    name, dsn = create_db(admin)
    with psycopg.connect(dsn) as c:
        c.execute(schemas.schema_sql())
        c.execute("INSERT INTO health_mortalityreason (name, description) VALUES ('UNKNOWN', 'Unknown cause')")
    return name, dsn


def measure_existing(
    admin: str, snap: Snapshot, repeat: int = 3, workers: int = postgres.DEFAULT_WORKERS, in_place: bool = False
) -> dict:
    """Fresh load vs existing-schema load of ``snap``, alternated ``repeat`` times; medians and their ratio."""
    runs: dict[str, list[float]] = {"fresh": [], "existing": [], **({"in_place": []} if in_place else {})}
    method = ""
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for kind in runs:
            name, dsn = create_db(admin) if kind == "fresh" else migrated_db(admin)
            try:
                t0 = time.perf_counter()
                r = postgres.load(snap, dsn, workers=workers, rebuild_indexes=kind == "in_place")
                runs[kind].append(time.perf_counter() - t0)
                if kind == "existing":
                    method = r.method
            finally:
                drop_db(admin, name)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "runs": runs,
        "median": med,
        "ratio": med["existing"] / med["fresh"],
        "method": method,
        "workers": workers,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        **({"ratio_in_place": med["in_place"] / med["fresh"]} if in_place else {}),
    }


def print_existing(m: dict, rows: int) -> None:
    labels = {
        "fresh": "(f) fresh database, schema created",
        "existing": "(e) migrated schema (default)",
        "in_place": "(i) migrated schema, --rebuild-indexes",
    }
    for k, runs in m["runs"].items():
        s = m["median"][k]
        print(f"{labels[k]:<42} {s:6.2f} s  {rows / s:>10,.0f} rows/s   runs {', '.join(f'{x:.2f}' for x in runs)}")
    print(f"    (e) chose: {m['method']}")
    print(
        f"ratio existing / fresh: {m['ratio']:.2f}   (goal <= 1.1)"
        + (f";  in place / fresh: {m['ratio_in_place']:.2f}" if "ratio_in_place" in m else "")
        + f";  load average {m['loadavg_before']:.2f} before, {m['loadavg_after']:.2f} after"
    )


def print_result(m: dict) -> None:
    rows, a, b = m["rows"], m["ceiling_seconds"], m["aquagen_seconds"]
    print(
        f"(a) server best case, 1 stream COPY FROM file + builds: {a:6.2f} s  {rows / a:>10,.0f} rows/s"
        f"   runs {', '.join(f'{x:.2f}' for x in m['ceiling_runs'])}"
    )
    print("      " + ", ".join(f"{k} {v:.2f} s" for k, v in m["ceiling_phases"].items()))
    print(
        f"(b) aquagen load ({m['workers']} workers):                   {b:6.2f} s  {rows / b:>10,.0f} rows/s"
        f"   runs {', '.join(f'{x:.2f}' for x in m['aquagen_runs'])}"
    )
    print("      " + ", ".join(f"{k} {v:.2f} s" for k, v in m["aquagen_phases"].items()))
    print(f"ratio aquagen / best case: {b / a:.2f}   (goal <= 1.3; load average now {os.getloadavg()[0]:.2f})")


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("batches", nargs="?", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=postgres.DEFAULT_WORKERS)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    ap.add_argument("--snapshot", type=Path, default=None, help="use this snapshot instead of generating one")
    ap.add_argument("--existing", action="store_true", help="fresh load vs load into a migrated schema")
    ap.add_argument("--in-place", action="store_true", help="with --existing: also the in-place path")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    os.chmod(work, 0o777)
    server = None
    try:
        if args.snapshot:
            snap = Snapshot.open(args.snapshot)
        else:
            out = ROOT / "output" / f"bench-load-{args.batches}"
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "aquagen",
                    "generate",
                    "--batches",
                    str(args.batches),
                    "--out",
                    str(out),
                    "--force",
                ],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            print(f"generated {args.batches} batches in {time.perf_counter() - t0:.1f} s: {out}")
            snap = Snapshot.open(out)
        admin = args.dsn
        if admin is None:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            admin = server.get_uri()
        rows = sum(e["rows"] for e in snap.manifest["tables"].values())
        with psycopg.connect(admin) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
            settings = {
                k: c.execute(f"SHOW {k}").fetchone()[0]
                for k in ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers", "wal_level")
            }
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; PostgreSQL {version} "
            f"({', '.join(f'{k}={v}' for k, v in settings.items())})"
        )
        print(f"snapshot: {rows:,} rows in {sum(1 for e in snap.manifest['tables'].values() if e['rows'])} tables")
        if args.existing:
            print_existing(measure_existing(admin, snap, args.repeat, args.workers, args.in_place), rows)
        else:
            print_result(measure(admin, snap, args.repeat, args.workers, work))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
