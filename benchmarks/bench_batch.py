"""One full-life batch to Parquet: seconds and rows/s per table (target: under 2 s), and
generation rows/s per table family.

Run: python3 benchmarks/bench_batch.py [--families]

``--families`` (``measure_families()``) runs the generator's own shard functions in this
process, one after the other, as ``aquagen generate --workers 1`` would for a one-batch
fleet: the master data, the batch's counting pass and writing pass, and its two feed
sites (its station's silos and its sea area's barges; the counting pass and the FIFO
writing pass). A clock marks the end of every step that finishes rows of a table
(simulating a table's frame, conforming a frame to its schema, numbering a table's
ids, writing a table's Parquet part) and charges the time since the previous mark to
that table's family. Simulation work shared by every table (weather, growth,
mortality model, daily rows) and pipeline glue (id allocation, hand-off files between
shards, the as-of cut) are charged to rows of their own, so the rows add up to the
whole run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from aquagen import batches
from aquagen.generate import add_batch
from aquagen.ids import Counting
from aquagen.plan import area_id, station_id
from aquagen.simulate import BatchSpec, simulate_batch
from aquagen.snapshot import Snapshot

# --- table families ---------------------------------------------------------------------

READINGS, EVENTS, FEEDING, STOCK, HISTORY, MASTER = (
    "readings", "batch events", "feeding", "feed stock", "history tables", "master data")
SHARED, GLUE = "simulation core (shared)", "pipeline glue"
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
    "batch_batch": EVENTS, "batch_batchcontainerassignment": EVENTS, "batch_batchtransfer": EVENTS,
    "batch_mortalityevent": EVENTS, "batch_growthsample": EVENTS, "health_journalentry": EVENTS,
    "inventory_feedingevent": FEEDING, "inventory_containerfeedingsummary": FEEDING,
    "inventory_batchfeedingsummary": FEEDING,
    "inventory_feedpurchase": STOCK, "inventory_feedcontainerstock": STOCK,
    "inventory_historicalfeedcontainerstock": STOCK,
}


def family(table: str) -> str:
    if table in _BASE:
        return _BASE[table]
    if "_historical" in table:
        return HISTORY
    return MASTER


class _Clock:
    """Charges the time since the previous mark to a family."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self.bytes: dict[str, int] = defaultdict(int)
        self.override: str | None = None
        self.t = time.perf_counter()

    def mark(self, fam: str) -> None:
        now = time.perf_counter()
        self.seconds[self.override or fam] += now - self.t
        self.t = now


@contextmanager
def _instrumented(clock: _Clock):
    """Wraps the generator's functions with marks; everything is restored on exit."""
    import aquagen.feedstock as feedstock_mod
    import aquagen.frames as frames_mod
    import aquagen.generate as gen
    import aquagen.ids as ids_mod
    import aquagen.simulate as sim_mod
    import schemas
    from aquagen.store import Store

    saved: list[tuple[object, str, object]] = []

    def patch(obj, name, make):
        orig = getattr(obj, name)
        saved.append((obj, name, orig))
        setattr(obj, name, make(orig))

    # simulation: each frame function is its family's; the work between them is shared
    sim_frames = {"_feedings": FEEDING, "_feedings_frame": FEEDING, "_readings_frame": READINGS,
                  "_transfers_frame": EVENTS, "_harvests_frame": EVENTS, "_mortality_frame": EVENTS,
                  "_samples_frame": EVENTS, "_journal_frame": EVENTS, "_assignments_frame": EVENTS}
    for fname, fam in sim_frames.items():
        def make(orig, fam=fam):
            def wrapped(*a, **k):
                clock.mark(SHARED)
                r = orig(*a, **k)
                clock.mark(fam)
                return r
            return wrapped
        patch(sim_mod, fname, make)

    def make_sim(orig):
        def wrapped(*a, **k):
            clock.mark(GLUE)
            r = orig(*a, **k)
            clock.mark(SHARED)
            return r
        return wrapped
    patch(gen, "simulate_batch", make_sim)

    # conform finishes a table's frame; rows with repeated ids are an object's states (history)
    def make_conform(orig):
        def wrapped(name, data, *a, **k):
            r = orig(name, data, *a, **k)
            t = schemas.table(name)
            fam = family(name)
            if not t.history_of and fam in (EVENTS, STOCK) and "id" in r.columns and r.height > 1 \
                    and r["id"].n_unique() < r.height:
                fam = family(t.history_table)
            clock.mark(fam)
            return r
        return wrapped
    for mod in (frames_mod, batches, feedstock_mod):
        patch(mod, "conform", make_conform)

    # numbering a table's rows (both passes)
    for cls in (ids_mod.Counting, ids_mod.Allocated):
        def make_assign(orig):
            def wrapped(self, table, df):
                r = orig(self, table, df)
                clock.mark(family(table))
                return r
            return wrapped
        patch(cls, "assign", make_assign)

    # the feed site's FIFO costing of the feeding events comes last in feedstock.build
    def make_feed_build(orig):
        def wrapped(*a, **k):
            clock.mark(GLUE)
            r = orig(*a, **k)
            clock.mark(FEEDING if k.get("costed_feedings", a[7] if len(a) > 7 else True) else STOCK)
            return r
        return wrapped
    patch(feedstock_mod, "build", make_feed_build)

    # Parquet parts (zstd, sha256) and the work folder's hand-off files
    def make_write_part(orig):
        def wrapped(root, name, df, part, *a, **k):
            clock.mark(GLUE)
            r = orig(root, name, df, part, *a, **k)
            fam = family(name)
            clock.mark(fam)
            if r is not None:
                clock.rows[clock.override or fam] += r["rows"]
                size = Path(root.path(r["path"])).stat().st_size
                clock.bytes[clock.override or fam] += size
            return r
        return wrapped
    patch(gen, "write_part", make_write_part)

    def make_io(orig):
        def wrapped(self, rel, *a, **k):
            clock.mark(GLUE)
            r = orig(self, rel, *a, **k)
            clock.mark(FEEDING if rel.startswith("feed/") else GLUE)
            return r
        return wrapped
    patch(Store, "write_parquet", make_io)
    patch(Store, "read_parquet", make_io)
    try:
        yield
    finally:
        for obj, name, orig in reversed(saved):
            setattr(obj, name, orig)


def _one_batch_pipeline(tmp: Path, clock: _Clock | None, seed: int = 42) -> None:
    """The shard functions of ``aquagen generate`` for a one-batch fleet, in this process."""
    from aquagen.generate import (FEED_KEY, MASTER_KEY, Job, count_batch, count_feed, feed_sites, fleet_eggs,
                                  master_shard, write_batch, write_feed)
    from aquagen.ids import allocate
    from aquagen.plan import LIFE_DAYS, plan_fleet
    from aquagen.store import Store

    first_start = dt.date(2023, 1, 1)
    as_of = first_start + dt.timedelta(days=LIFE_DAYS + 30)  # a full life: nothing cut
    (pb,) = plan_fleet(1, first_start, 20, fleet_eggs(seed), None)
    job = Job(root=Store(str(tmp)), seed=seed, as_of=as_of, first_start=first_start)
    if clock:
        clock.override = MASTER
        clock.t = time.perf_counter()
    _, master_counts, _ = master_shard(job)
    if clock:
        clock.mark(MASTER)
        clock.override = None
    counts = count_batch(job, pb)
    first = allocate({MASTER_KEY: master_counts, pb.shard: counts})
    write_batch(job, pb, first[pb.shard])
    fed = {int(p.split("/")[1]) for p in job.work.glob("feed/*/*.parquet")}
    sites = [s for s in feed_sites(job) if fed & set(s.containers["id"].to_list())]
    counts = {s.key: count_feed(job, s) for s in sites}
    first = allocate({MASTER_KEY: master_counts, **{FEED_KEY + k: c for k, c in counts.items()}})
    for s in sites:
        write_feed(job, s, first[FEED_KEY + s.key])
    if clock:
        clock.mark(GLUE)


def measure_families(seed: int = 42, repeat: int = 3) -> dict:
    """Generation rows/s per table family for one full-life batch (see the module docstring);
    each family's seconds are the median of ``repeat`` runs (the machine may be shared)."""
    import statistics

    clocks, totals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        _one_batch_pipeline(Path(tmp) / "warm-up", None, seed)  # imports, first-call costs
        for i in range(repeat):
            clock = _Clock()
            with _instrumented(clock):
                t0 = time.perf_counter()
                clock.t = t0
                _one_batch_pipeline(Path(tmp) / f"run-{i}", clock, seed)
                totals.append(time.perf_counter() - t0)
            clocks.append(clock)
    clock = clocks[0]
    fams = {}
    for fam in (*FAMILIES, SHARED, GLUE):
        s = statistics.median(c.seconds.get(fam, 0.0) for c in clocks)
        n, b = clock.rows.get(fam, 0), clock.bytes.get(fam, 0)
        fams[fam] = {"rows": n, "seconds": s, "bytes": b, "rows_per_s": n / s if n and s else None,
                     "mb_per_s": b / 1e6 / s if b and s else None, "tables": FAMILY_TABLES.get(fam, "")}
    return {"families": fams, "rows": sum(clock.rows.values()), "bytes": sum(clock.bytes.values()),
            "seconds": statistics.median(totals), "runs": totals, "repeat": repeat}


def print_families(m: dict) -> None:
    print(f"one full-life batch + master data + its 2 feed sites, in process (both id passes), "
          f"median of {m['repeat']} runs: "
          f"{m['rows']:,} rows in {m['seconds']:.2f} s = {m['rows'] / m['seconds']:,.0f} rows/s, "
          f"{m['bytes'] / 1e6:.1f} MB Parquet = {m['bytes'] / 1e6 / m['seconds']:.1f} MB/s")
    print(f"{'family':28} {'rows':>9} {'seconds':>8} {'rows/s':>11} {'MB/s':>6}")
    for fam, f in m["families"].items():
        rps = f"{f['rows_per_s']:,.0f}" if f["rows_per_s"] else "-"
        mbs = f"{f['mb_per_s']:.1f}" if f["mb_per_s"] else "-"
        print(f"{fam:28} {f['rows']:>9,} {f['seconds']:>8.3f} {rps:>11} {mbs:>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", action="store_true", help="also: generation rows/s per table family")
    args = ap.parse_args()
    start, as_of = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
    spec = BatchSpec(start, 3_500_000, "Faroe Islands", 42, 0, as_of)
    simulate_batch(spec)  # warm-up (imports, first-call costs)

    t0 = time.perf_counter()
    sim = simulate_batch(spec)
    t_sim = time.perf_counter() - t0
    plan = batches.BatchPlan(1, "FI-2023-001", station_id("FI-FW-01"), area_id("FI-SEA-01"))
    t0 = time.perf_counter()
    tables = batches.build(plan, sim, Counting())  # the counting pass: placeholder ids
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
    if args.families:
        print_families(measure_families())


if __name__ == "__main__":
    main()
