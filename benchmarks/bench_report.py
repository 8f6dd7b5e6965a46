"""Time `aquagen report` on a snapshot: wall time, rows/s, peak RSS and page size (and each figure's share of
it), with the machine and its load.

python3 benchmarks/bench_report.py output/snapshot            # an existing snapshot
python3 benchmarks/bench_report.py --batches 50               # generates output/bench-report/snapshot first
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aquagen.check.report import report_snapshot
from aquagen.snapshot import Snapshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("snapshot", nargs="?", type=Path)
    ap.add_argument("--batches", type=int, default=50, help="fleet to generate when no snapshot is given")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("output") / "bench-report")
    args = ap.parse_args()
    if args.snapshot is None:
        from aquagen.run.generate import generate

        args.snapshot = args.out / "snapshot"
        if not (args.snapshot / "manifest.json").is_file():
            generate(args.snapshot, seed=args.seed, batches=args.batches)
    rows = sum(t["rows"] for t in Snapshot.open(args.snapshot).manifest["tables"].values())
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    rep = report_snapshot(args.snapshot, args.out / "index.html")
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(
        f"report of {rep.batches} batches, {rows:,} rows: {wall:.1f} s ({rows / wall:,.0f} rows/s), "
        f"peak RSS {rss_mb:,.0f} MB, page {rep.path.stat().st_size / 1e6:.1f} MB; validation {rep.failed} failed"
    )
    sizes = [(c.key, len(c.figure.to_json()) if c.figure is not None else 0) for c in rep.charts]
    print("figure data (kB): " + ", ".join(f"{k} {n / 1e3:,.0f}" for k, n in sizes))


if __name__ == "__main__":
    main()
