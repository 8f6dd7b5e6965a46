"""One full-life batch to Parquet: seconds and rows/s per table (target: under 2 s).

Run: python3 benchmarks/bench_batch.py
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path

from aquagen import batches
from aquagen.generate import add_batch
from aquagen.plan import area_id, station_id
from aquagen.simulate import BatchSpec, simulate_batch
from aquagen.snapshot import Snapshot


def main() -> None:
    start, as_of = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
    spec = BatchSpec(start, 3_500_000, "Faroe Islands", 42, 0, as_of)
    simulate_batch(spec)  # warm-up (imports, first-call costs)

    t0 = time.perf_counter()
    sim = simulate_batch(spec)
    t_sim = time.perf_counter() - t0
    plan = batches.BatchPlan(1, "FI-2023-001", station_id("FI-FW-01"), area_id("FI-SEA-01"))
    t0 = time.perf_counter()
    ids = {name: 1 for name in batches.BATCH_TABLES}
    tables = batches.build(plan, sim, ids, {})
    t_build = time.perf_counter() - t0
    rows = sum(df.height for df in tables.values())

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "snap"
        # the master data first, so the timed step is the batch alone
        add_batch(out, start_date=start, eggs=1, geography="Scotland", as_of=as_of)
        before = Snapshot.open(out)
        t0 = time.perf_counter()
        add_batch(out, start_date=start, eggs=3_500_000, geography="Faroe Islands")
        t_total = time.perf_counter() - t0
        after = Snapshot.open(out)
        size = sum(p.stat().st_size for p in out.rglob("*.parquet") if "batch-00001" in p.name)

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"simulate: {t_sim:.3f} s   build tables: {t_build:.3f} s   ({rows:,} rows)")
    print(f"{'table':45} {'rows':>9}")
    for name, df in sorted(tables.items(), key=lambda kv: -kv[1].height):
        print(f"{name:45} {df.height:>9,}")
    added = sum(after.rows(n) - before.rows(n) for n in after.manifest["tables"])
    print(f"full batch to Parquet (simulate + build + write + checksum): {t_total:.2f} s, {added:,} rows, "
          f"{added / t_total:,.0f} rows/s, {size / 1e6:.1f} MB; target < 2 s: {'met' if t_total < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
