"""Keeping a database current: ``aquagen advance`` by one day against a full reload at the new date.

    python3 benchmarks/bench_advance.py [BATCHES] [--days N] [--repeat R] [--workers W] [--dsn ADMIN_URL]

1. Generates BATCHES batches (default 50, the other fleet options default at D1) at D1 = D2 - N days
   (D2 fixed, N default 1) and loads them into a fresh database, kept as a template.
2. First advance D1 -> D2 on a copy of it with an empty cache: generates the farm ahead (once per
   farm and code version) and applies the window.
3. Daily advance: the same on R fresh copies with the cache built (what a daily cron job costs).
4. Full reload at D2: ``generate`` (same arguments, W workers, default all cores) and ``aquagen load`` into a
   fresh database, R times; the last one is compared table by table with the advanced database
   (row counts and an md5 of every row, sequences included).

Prints the machine and its load, the medians and the ratio reload / daily advance. The server is
--dsn (a superuser URL), env AQUAGEN_DSN, else an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all
from bench_load import create_db, drop_db

from aquagen.run.generate import default_first_start, generate
from loaders import postgres
from loaders.advance import advance
from tests.test_advance import contents

D2 = run_all.E2E_AS_OF


def copy_db(admin: str, template: str) -> tuple[str, str]:
    name, dsn = create_db(admin)
    drop_db(admin, name)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, dsn


def measure(batches: int, days: int, repeat: int, workers: int, admin: str, work: Path) -> dict:
    d1 = D2 - dt.timedelta(days=days)
    t0 = run_all.step(f"generate {batches} batches at {d1}")
    first_start = default_first_start(d1, batches)  # the default at D1: a fresh D2 generate must repeat it
    snap = generate(work / "d1", batches=batches, as_of=d1, first_start=first_start, workers=workers)
    rows = sum(t["rows"] for t in snap.manifest["tables"].values())
    template, dsn = create_db(admin)
    run_all.step(f"load at {d1} ({time.perf_counter() - t0:.1f} s to generate)")
    postgres.load(snap, dsn)
    cache = work / "cache"
    advanced, phases = [], []
    cold = 0.0
    for i in range(repeat + 1):
        name, dsn = copy_db(admin, template)
        run_all.step("advance, " + ("empty cache" if i == 0 else f"cache built, run {i}"))
        t0, c0 = time.perf_counter(), time.process_time()
        r = advance(dsn, D2, workers=workers, cache=cache)
        took = time.perf_counter() - t0
        if i == 0:
            cold, window = took, sum(r.rows.values()) + sum(r.updated.values())
        else:
            advanced.append(took)
            phases.append({**r.phases, "CPU-s of this process": time.process_time() - c0})
        if i < repeat:
            drop_db(admin, name)
    kept, kept_dsn = name, dsn
    reloads = []
    for i in range(repeat):
        run_all.step(f"full reload at {D2}, run {i + 1}")
        t0 = time.perf_counter()
        snap = generate(work / "d2", batches=batches, as_of=D2, first_start=first_start, workers=workers, force=True)
        name, dsn = create_db(admin)
        postgres.load(snap, dsn)
        reloads.append(time.perf_counter() - t0)
        if i < repeat - 1:
            drop_db(admin, name)
    same = contents(kept_dsn) == contents(dsn)
    drop_db(admin, name)
    drop_db(admin, kept)
    drop_db(admin, template)
    daily, reload = statistics.median(advanced), statistics.median(reloads)
    return dict(
        rows=rows,
        window=window,
        cold=cold,
        daily=daily,
        advanced=advanced,
        phases={k: statistics.median(p[k] for p in phases) for k in phases[0]},
        reload=reload,
        reloads=reloads,
        same=same,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batches", type=int, nargs="?", default=50)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    args = ap.parse_args()
    m = run_all.machine()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = None
        if args.dsn is None:
            warnings.filterwarnings("ignore")
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        try:
            r = measure(args.batches, args.days, args.repeat, args.workers, args.dsn or server.get_uri(), work)
        finally:
            if server is not None:
                server.cleanup()
    print(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['ram_gb']:.0f} GB, code {m['code']}; "
        f"load average {m['loadavg_start']:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"{args.batches} batches, {r['rows']:,} rows at D1; advance by {args.days} day(s) to {D2}")
    print(f"window: {r['window']:,} rows inserted or moved on; advanced database equals the fresh load: {r['same']}")
    print(f"first advance (generates the farm ahead, {args.workers} workers): {r['cold']:.1f} s")
    print(f"daily advance: {r['daily']:.2f} s (runs {', '.join(f'{x:.2f}' for x in r['advanced'])})")
    print("daily advance phases (median wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()))
    print(f"full reload (generate + load): {r['reload']:.1f} s (runs {', '.join(f'{x:.1f}' for x in r['reloads'])})")
    print(f"daily advance is {r['reload'] / r['daily']:.0f}x faster than a full reload")
    if not r["same"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
