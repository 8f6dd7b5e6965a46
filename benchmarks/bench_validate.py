"""``aquagen validate`` of a loaded database: the checks on one connection against -j N connections.

    python3 benchmarks/bench_validate.py --snapshot DIR [--jobs N] [--repeat R] [--dsn ADMIN_URL]
    python3 benchmarks/bench_validate.py [BATCHES] ...          # generates BATCHES batches first

Loads the snapshot once into a fresh database (of --dsn, env AQUAGEN_DSN, else an embedded
PostgreSQL in a temporary folder), then runs ``aquagen.check.validate.run`` over it with 1 and with
N connections (default: ``aquagen validate``'s, the cores up to 4), alternated R times (default 2),
and prints wall seconds, the server's CPU-seconds (embedded server only) and the ratio of the medians.
Both runs must give the same results (checked).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg
from bench_load import create_db, drop_db, generate, tree_cpu

from aquagen.check import validate
from aquagen.cli import DEFAULT_CHECK_JOBS
from aquagen.profiles import get
from aquagen.snapshot import Snapshot, moment_of
from loaders import postgres


def timed_run(dsn: str, snap: Snapshot, jobs: int, pid: int | None) -> tuple[float, float, list]:
    """(wall s, server CPU-s, results) of the checks over ``jobs`` connections."""
    as_of, _ = moment_of(snap.manifest["arguments"])
    conns = [psycopg.connect(dsn) for _ in range(jobs)]
    try:
        sources = [validate.DatabaseSource(c, as_of, snap.profile) for c in conns]
        cpu, t0 = tree_cpu(pid), time.perf_counter()
        results = validate.run(sources[0], sources[1:])
        return time.perf_counter() - t0, tree_cpu(pid) - cpu, results
    finally:
        for c in conns:
            c.close()


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("batches", nargs="?", type=int, default=10)
    ap.add_argument("--snapshot", type=Path, default=None, help="use this snapshot instead of generating one")
    ap.add_argument("--jobs", type=int, default=DEFAULT_CHECK_JOBS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    args = ap.parse_args()

    snap = Snapshot.open(args.snapshot) if args.snapshot else generate(args.batches, get().name)
    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    os.chmod(work, 0o777)
    server, admin, name = None, args.dsn, None
    try:
        if admin is None:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            admin = server.get_uri()
        pid = server.get_pid() if server is not None else None
        rows = sum(e["rows"] for e in snap.manifest["tables"].values())
        name, dsn = create_db(admin)
        t0 = time.perf_counter()
        postgres.load(snap, dsn)
        print(f"loaded {rows:,} rows ({snap.profile}) in {time.perf_counter() - t0:.1f} s")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the runs")
        walls: dict[int, list[float]] = {1: [], args.jobs: []}
        first = None
        for r in range(args.repeat):
            for jobs in (1, args.jobs):
                wall, cpu, results = timed_run(dsn, snap, jobs, pid)
                first = first or results
                assert results == first, "the same checks and values on any number of connections"
                walls[jobs].append(wall)
                load = os.getloadavg()[0]
                print(f"run {r + 1}, {jobs} connection(s): {wall:.1f} s wall, {cpu:.1f} server CPU-s, load {load:.2f}")
        one, many = statistics.median(walls[1]), statistics.median(walls[args.jobs])
        failed = sum(not x.ok for x in first or [])
        print(
            f"{len(first or [])} checks ({failed} failed): median {one:.1f} s on 1 connection, {many:.1f} s on "
            f"{args.jobs}: {one / many:.2f}x as fast"
        )
    finally:
        if name is not None and admin is not None:
            drop_db(admin, name)
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
