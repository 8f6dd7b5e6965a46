"""Sharing data: an aquagen snapshot against a PostgreSQL dump of the same loaded database.

    python3 benchmarks/bench_dump.py [BATCHES] [--repeat R] [--dsn ADMIN_URL] [--snapshot DIR]

1. Generates a snapshot of BATCHES batches (default 10; or uses --snapshot DIR).
2. Loads it with ``aquagen load`` (``loaders.postgres.load``) into a fresh database: time (b).
3. Dumps that database with ``pg_dump -Fc`` (custom format, default compression): its size
   against the snapshot's Parquet bytes.
4. Restores the dump with ``pg_restore -j 2`` into a fresh database: time (a); then
   ``vacuumdb --analyze-only -j 2`` (the planner statistics a load leaves, which a restore
   does not): time (a) + ANALYZE, printed beside it.
5. (a) and (b) alternate R times (default 3); medians are compared, and each pair's ratio
   is printed (the machine may be shared: the load average is given before and after).

The issue's targets: the load ≥ 1.5× faster than ``pg_restore -j 2`` and the snapshot ≤ 0.8×
the dump's size. pg_dump/pg_restore are the server's own (the embedded server's binaries, or
those on PATH with --dsn). The server is --dsn (a superuser URL), env AQUAGEN_DSN, else an
embedded PostgreSQL in a temporary folder.
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
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg
import run_all
from bench_load import create_db, drop_db, own_cpu, tree_cpu

from aquagen.snapshot import Snapshot
from loaders import postgres


def _tool(name: str) -> str:
    """pg_dump / pg_restore of the embedded server (same major version), else from PATH."""
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    return str(bundled) if bundled.exists() else (shutil.which(name) or name)


def measure(
    batches: int, repeat: int, admin: str, snapshot: Path | None, work: Path, server_pid: int | None = None
) -> dict:
    if snapshot is None:
        snapshot = work / "snap"
        run_all.generate_cli(snapshot, batches, os.cpu_count() or 1)
    snap = Snapshot.open(snapshot)
    parquet_bytes = sum(f.stat().st_size for f in snap.path.rglob("*.parquet"))
    rows = sum(t["rows"] for t in snap.manifest["tables"].values())
    loads, restores, analyzed, dump_bytes = [], [], [], 0
    cpu: dict[str, list[float]] = {"load": [], "restore": [], "analyze": []}  # this process + children + server tree

    def cpu_now() -> float:
        return own_cpu() + tree_cpu(server_pid)

    def checkpoint() -> None:  # no earlier step's writes counted in the next
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CHECKPOINT")

    load_before = os.getloadavg()[0]

    from loaders import session

    with psycopg.connect(admin) as c:
        sort_mb = session.sort_memory_mb(c, session.DEFAULT_WORKERS)
    for _ in range(repeat):
        name, dsn = create_db(admin)
        checkpoint()
        c0, t0 = cpu_now(), time.perf_counter()
        postgres.load(snap, dsn)
        loads.append(time.perf_counter() - t0)
        cpu["load"].append(cpu_now() - c0)
        dump = work / "db.dump"
        subprocess.run([_tool("pg_dump"), "-Fc", "-f", str(dump), "-d", dsn], check=True)
        dump_bytes = dump.stat().st_size
        drop_db(admin, name)
        name, dsn = create_db(admin)
        checkpoint()
        c0, t0 = cpu_now(), time.perf_counter()
        subprocess.run([_tool("pg_restore"), "-j", "2", "--no-owner", "-d", dsn, str(dump)], check=True)
        restores.append(time.perf_counter() - t0)
        cpu["restore"].append(cpu_now() - c0)
        # what PostgreSQL's docs say to run after a restore (aquagen's load includes it)
        subprocess.run([_tool("vacuumdb"), "--analyze-only", "-j", "2", "-q", "-d", dsn], check=True)
        analyzed.append(time.perf_counter() - t0)
        cpu["analyze"].append(cpu_now() - c0)
        drop_db(admin, name)
        dump.unlink()
    load, restore = statistics.median(loads), statistics.median(restores)
    return {
        "rows": rows,
        "load_s": load,
        "restore_s": restore,
        "speedup": restore / load,
        "snapshot_mb": parquet_bytes / 1e6,
        "dump_mb": dump_bytes / 1e6,
        "size_ratio": parquet_bytes / dump_bytes,
        "loads": loads,
        "restores": restores,
        "analyzed": analyzed,
        "restore_analyze_s": statistics.median(analyzed),
        "load_before": load_before,
        "sort_mb": sort_mb,
        "cpu": cpu,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batches", type=int, nargs="?", default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    ap.add_argument("--snapshot", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = None
        if args.dsn is None:
            warnings.filterwarnings("ignore")
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        try:
            pid = server.get_pid() if server is not None else None  # CPU of the server's tree: embedded only
            r = measure(args.batches, args.repeat, args.dsn or server.get_uri(), args.snapshot, work, pid)
        finally:
            if server is not None:
                server.cleanup()
    m = run_all.machine()
    print(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['ram_gb'] or 0:.1f} GB, load average "
        f"{r['load_before']:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"aquagen's sort memory (maintenance_work_mem) per connection: {r['sort_mb']} MB")
    print(f"{args.batches} batches, {r['rows']:,} rows")
    print(f"aquagen load: {r['load_s']:.1f} s (runs {', '.join(f'{x:.1f}' for x in r['loads'])})")
    print(f"pg_restore -j 2: {r['restore_s']:.1f} s (runs {', '.join(f'{x:.1f}' for x in r['restores'])})")
    pairs = ", ".join(f"{b / a:.2f}" for a, b in zip(r["loads"], r["restores"]))
    print(f"load is {r['speedup']:.2f}x faster than pg_restore (target >= 1.5x); per pair {pairs}")
    print(
        f"pg_restore -j 2 + vacuumdb --analyze-only -j 2 (statistics, as the load has them): "
        f"{r['restore_analyze_s']:.1f} s (runs {', '.join(f'{x:.1f}' for x in r['analyzed'])}); "
        f"load is {r['restore_analyze_s'] / r['load_s']:.2f}x faster than that"
    )
    if any(r["cpu"]["load"]):
        c = r["cpu"]
        print(
            "CPU-s (client + server tree): load "
            + ", ".join(f"{x:.1f}" for x in c["load"])
            + "; pg_restore "
            + ", ".join(f"{x:.1f}" for x in c["restore"])
            + "; pg_restore + vacuumdb "
            + ", ".join(f"{x:.1f}" for x in c["analyze"])
            + "; per pair, pg_restore / load "
            + ", ".join(f"{b / a:.2f}" for a, b in zip(c["load"], c["restore"]))
        )
    print(f"snapshot {r['snapshot_mb']:.1f} MB, dump {r['dump_mb']:.1f} MB: {r['size_ratio']:.2f}x (target <= 0.8x)")


if __name__ == "__main__":
    main()
