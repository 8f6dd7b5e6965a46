"""Fleet generation: time per phase, rows/s, MB/s and peak RSS for N batches.

    python3 benchmarks/bench_fleet.py 10 50 200 [--workers 2]

Each size runs in a fresh process (so peak RSS is its own); peak RSS is the
largest of the parent and its worker processes. Flat growth with N means memory
is bounded by a shard, not by the fleet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2026, 11, 24)


def _without_inventory() -> None:
    """The baseline for the inventory's cost: feed sites only pass the feeding events through
    (no FIFO, no reorders, no lot history), as a generator without feed stock would write them."""
    from aquagen import feedstock
    from aquagen.frames import history

    def build(containers, lots, lot_history, purchases, feedings, seed, ids, costed_feedings=True):
        if not costed_feedings:
            return {}
        rows = feedings.select(feedstock.schemas.table(feedstock.FEEDINGS).column_names)
        return {feedstock.FEEDINGS: rows, "inventory_historicalfeedingevent": history(
            feedstock.FEEDINGS, rows, "created_at", "+", 2).with_columns(history_id=feedings["history_id"])}

    feedstock.build = build


def one(n: int, workers: int, out: Path, baseline: bool = False) -> dict:
    from aquagen.generate import Progress, generate

    if baseline:
        _without_inventory()
    from aquagen.plan import LIFE_DAYS

    phases: dict[str, float] = {}

    class Timer(Progress):
        def __init__(self):
            self.name, self.t = None, time.perf_counter()

        def phase(self, name, total):
            now = time.perf_counter()
            if self.name:
                phases[self.name] = now - self.t
            self.name, self.t = name, now

    timer = Timer()
    t0 = time.perf_counter()
    # full lives: every batch is harvested by the as-of date (the most rows a fleet of n can have)
    stagger = 20 if n <= 50 else 12  # Scotland's 20 sea areas take a batch every 22 days at most
    snap = generate(out, seed=1, batches=n, as_of=AS_OF, first_start=AS_OF - dt.timedelta(days=LIFE_DAYS + n * stagger),
                    stagger_days=stagger, workers=workers, force=True, progress=timer)
    total = time.perf_counter() - t0
    phases[timer.name] = time.perf_counter() - timer.t
    rows = sum(t["rows"] for t in snap.manifest["tables"].values())
    size = sum(p.stat().st_size for p in snap.path.rglob("*.parquet"))
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers_ = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"batches": n, "seconds": total, "rows": rows, "bytes": size, "peak_rss_mb": max(parent, workers_),
            "parent_rss_mb": parent, "worker_rss_mb": workers_, "phases": phases}


def measure(n: int, workers: int, baseline: bool = False) -> dict:
    """``one(n, ...)`` in a fresh process (so that peak RSS is its own), in a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    try:
        r = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(workers),
                            "--out", str(tmp / "snap")] + (["--baseline"] if baseline else []),
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{n} batches failed:\n{r.stderr}")
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10, 50])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--inventory-cost", action="store_true",
                    help="also run each size without feed inventory (one worker, so the stub reaches it)")
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.workers, args.out, args.baseline)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"workers {args.workers}")
    print(f"{'batches':>7} {'rows':>12} {'seconds':>8} {'rows/s':>10} {'MB/s':>6} {'peak RSS MB':>11}  "
          "inventory share   phases (s)")
    for n in args.sizes:
        m = measure(n, args.workers)
        feed = sum(v for k, v in m["phases"].items() if k.startswith("feed"))
        phases = ", ".join(f"{k} {v:.1f}" for k, v in m["phases"].items())
        phases += f"; peak RSS parent {m['parent_rss_mb']:,.0f} MB, largest worker {m['worker_rss_mb']:,.0f} MB"
        print(f"{n:>7} {m['rows']:>12,} {m['seconds']:>8.1f} {m['rows'] / m['seconds']:>10,.0f} "
              f"{m['bytes'] / 1e6 / m['seconds']:>6.1f} {m['peak_rss_mb']:>11,.0f}  "
              f"{feed / m['seconds']:>14.0%}   {phases}")
    if args.inventory_cost:
        for n in args.sizes:
            full, base = measure(n, 1), measure(n, 1, baseline=True)
            print(f"inventory cost, {n} batches, 1 worker: {full['seconds']:.1f} s with feed inventory, "
                  f"{base['seconds']:.1f} s without: +{full['seconds'] / base['seconds'] - 1:.0%}")


if __name__ == "__main__":
    main()
