"""One full-life batch to Parquet: seconds and rows/s per table (target: under 2 s), and
generation rows per CPU-second per table family.

Run: python3 benchmarks/bench_batch.py [--families]

``--families`` (``measure_families()``) runs ``aquagen generate --workers 1`` for a one-batch
fleet of full lives in this process (the master data, the batch, its feed sites) and listens
to the generator's timing hooks (``aquagen.timing``, through ``logging``): every step that
builds or writes a table reports its CPU-seconds and rows, and a family's seconds are those of
its tables' build and write steps. Work shared by every table (the simulation, FIFO, the id
numbering, the as-of cut, hand-off files between shards, the master data) is reported under
its own name, so the rows add up to the whole run. CPU-seconds (all threads of the process),
not wall time: the machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from aquagen.model.simulate import BatchSpec, simulate_batch
from aquagen.model.sites import area_id, station_id
from aquagen.profiles import BatchPlan, get
from aquagen.run.generate import add_batch, generate
from aquagen.snapshot import Snapshot
from aquagen.tables.ids import Counting
from aquagen.timing import BUILD, WRITE, Collector

# --- table families ---------------------------------------------------------------------
READINGS, EVENTS, FEEDING, STOCK, HISTORY, MASTER = (
    "readings",
    "batch events",
    "feeding",
    "feed stock",
    "history tables",
    "master data",
)
FAMILIES = (READINGS, EVENTS, FEEDING, STOCK, HISTORY, MASTER)
FAMILY_TABLES = {
    READINGS: "environmental_environmentalreading",
    EVENTS: "batch_batch, batch_batchcontainerassignment, batch_batchtransfer, batch_mortalityevent, "
    "batch_growthsample, health_journalentry",
    FEEDING: "inventory_feedingevent, inventory_containerfeedingsummary, inventory_batchfeedingsummary",
    STOCK: "inventory_feedpurchase, inventory_feedcontainerstock, inventory_historicalfeedcontainerstock",
    HISTORY: "every other historical* table (14)",
    MASTER: "infrastructure, species, feeds, users, health ... and the initial stock lots (phases 1-2)",
}
_BASE = {
    "environmental_environmentalreading": READINGS,
    "batch_batch": EVENTS,
    "batch_batchcontainerassignment": EVENTS,
    "batch_batchtransfer": EVENTS,
    "batch_mortalityevent": EVENTS,
    "batch_growthsample": EVENTS,
    "health_journalentry": EVENTS,
    "inventory_feedingevent": FEEDING,
    "inventory_containerfeedingsummary": FEEDING,
    "inventory_batchfeedingsummary": FEEDING,
    "inventory_feedpurchase": STOCK,
    "inventory_feedcontainerstock": STOCK,
    "inventory_historicalfeedcontainerstock": STOCK,
}


def family(table: str) -> str:
    if table in _BASE:
        return _BASE[table]
    if "_historical" in table:
        return HISTORY
    return MASTER


def _one_batch(out: Path, seed: int) -> int:
    """``aquagen generate --workers 1`` for one batch over a full life; its rows."""
    first_start = dt.date(2023, 1, 1)
    snap = generate(
        out,
        seed=seed,
        batches=1,
        as_of=first_start + dt.timedelta(days=900),
        first_start=first_start,
        workers=1,
        force=True,
    )
    return sum(t["rows"] for t in snap.manifest["tables"].values())


def measure_families(seed: int = 42, repeat: int = 3) -> dict:
    """Generation rows per CPU-second per table family for one full-life batch (see the module
    docstring); each family's seconds are the median of ``repeat`` runs after a warm-up run."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        _one_batch(Path(tmp) / "warm-up", seed)  # imports, first-call costs
        for i in range(repeat):
            c0 = time.process_time()
            with Collector() as c:
                rows = _one_batch(Path(tmp) / f"run-{i}", seed)
            total = time.process_time() - c0
            seconds, n = defaultdict(float), defaultdict(int)
            for t in c.records:
                key = family(t.table) if t.phase in (BUILD, WRITE) and t.table else t.phase
                seconds[key] += t.cpu
                if t.phase == WRITE and t.table:
                    n[family(t.table)] += t.rows
            seconds["other (manifest, progress, files)"] = total - sum(seconds.values())
            runs.append((total, rows, dict(seconds), dict(n)))
    rows, counts = runs[0][1], runs[0][3]
    names = list(FAMILIES) + sorted({k for r in runs for k in r[2]} - set(FAMILIES))
    fams = {}
    for fam in names:
        s = statistics.median(r[2].get(fam, 0.0) for r in runs)
        k = counts.get(fam, 0)
        fams[fam] = {
            "rows": k,
            "seconds": s,
            "rows_per_s": k / s if k and s > 0 else None,
            "tables": FAMILY_TABLES.get(fam, ""),
        }
    totals = [r[0] for r in runs]
    return {"families": fams, "rows": rows, "seconds": statistics.median(totals), "runs": totals, "repeat": repeat}


def print_families(m: dict) -> None:
    print(
        f"one full-life batch + master data + feed sites, aquagen generate --workers 1 in process, median of "
        f"{m['repeat']} runs: {m['rows']:,} rows in {m['seconds']:.2f} CPU-s = {m['rows'] / m['seconds']:,.0f} "
        "rows per CPU-second"
    )
    print(f"{'family or shared step':38} {'rows':>9} {'CPU s':>7} {'rows/CPU-s':>11}")
    for fam, f in m["families"].items():
        rps = f"{f['rows_per_s']:,.0f}" if f["rows_per_s"] else "-"
        print(f"{fam:38} {f['rows']:>9,} {f['seconds']:>7.3f} {rps:>11}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", action="store_true", help="also: generation rows per CPU-second per table family")
    args = ap.parse_args()
    start, as_of = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
    station, area = station_id("FI-FW-01"), area_id("FI-SEA-01")  # its sensors: those of the tables below
    spec = BatchSpec(start, 3_500_000, "Faroe Islands", 42, 0, as_of, False, station, area)
    simulate_batch(spec)  # warm-up (imports, first-call costs)
    profile = get()

    t0 = time.perf_counter()
    sim = simulate_batch(spec)
    t_sim = time.perf_counter() - t0
    plan = BatchPlan(1, "FI-2023-001", station, area)
    t0 = time.perf_counter()
    tables = profile.batch(plan, sim, Counting(profile.name))  # placeholder ids
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

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} (shared with other jobs unless idle)"
    )
    print(f"simulate: {t_sim:.3f} s   build tables: {t_build:.3f} s   ({rows:,} rows)")
    print(f"{'table':45} {'rows':>9}")
    for name, df in sorted(tables.items(), key=lambda kv: -kv[1].height):
        print(f"{name:45} {df.height:>9,}")
    added = sum(after.rows(n) - before.rows(n) for n in after.manifest["tables"])
    print(
        f"full batch to Parquet (simulate + build + write + checksum): {t_total:.2f} s, {added:,} rows, "
        f"{added / t_total:,.0f} rows/s, {size / 1e6:.1f} MB; target < 2 s: {'met' if t_total < 2 else 'NOT met'}"
    )
    if args.families:
        print_families(measure_families())


if __name__ == "__main__":
    main()
