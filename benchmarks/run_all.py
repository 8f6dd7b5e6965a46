"""Every benchmark in one command; writes a markdown report (and prints it).

    python3 benchmarks/run_all.py [--batches 50] [--sizes 10 50] [--default-sizes 50] [--out benchmarks/RESULTS.md]
                                  [--workers N] [--load-repeat 3] [--dsn ADMIN_URL] [--generation-only]

1. Generation rows per CPU-second per table family: ``bench_batch.measure_families`` (one full-life
   batch with the master data and its feed sites, ``aquagen generate --workers 1`` in process,
   split by the generator's timing hooks).
2. Fleet generation for each of --sizes (``bench_fleet.measure``: a fresh process per size,
   full lives, --workers) and each of --default-sizes (the default fleet, as-of 2026-11-24):
   rows per CPU-second of the process tree, Parquet MB, peak RSS of the process tree.
3. End to end for --batches: ``python3 -m aquagen generate --batches N --as-of 2026-11-24``
   (what a user runs), then the load benchmark on that snapshot (``bench_load.measure``):
   ``aquagen load`` into a fresh database against the server's own ``COPY FROM file`` best
   case on the same rows, alternated --load-repeat times, medians.
4. Row-at-a-time INSERT baseline (``bench_insert.measure``) on a slice of a one-batch
   snapshot, in a fresh database with the same schema.

``--generation-only`` stops after 2 (no database).

The PostgreSQL server is --dsn (a superuser URL: it creates and drops databases and
reads/writes server-side files in a temporary folder) or env AQUAGEN_DSN, else an embedded
PostgreSQL (pgserver) started in a temporary folder for the run. The defaults take about 6
minutes on 2 idle cores (more when the machine is shared); add 200 to --sizes for the
200-batch fleet (1.5 to 3 more minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import bench_batch
import bench_fleet
import bench_insert
import bench_load

E2E_AS_OF = dt.date(2026, 11, 24)  # fixed, so that every run generates the same rows
FLAT_GROWTH = 0.15  # peak RSS "flat": grows less than 15 % over the sizes measured (issue 18)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "aquagen", "loaders", "schemas"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
        code = head + (f", with uncommitted changes in {', '.join(dirty)}" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        code = "unknown (not a git checkout)"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram,
        "python": platform.python_version(),
        "code": code,
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC),
        "loadavg_start": os.getloadavg()[0],
    }


class _Done(Exception):
    """--generation-only: the database benchmarks are skipped."""


def step(title: str) -> float:
    print(f"--- {title} ({dt.datetime.now():%H:%M:%S})", flush=True)
    return time.perf_counter()


def generate_cli(out: Path, batches: int, workers: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "aquagen",
            "generate",
            "--batches",
            str(batches),
            "--as-of",
            E2E_AS_OF.isoformat(),
            "--workers",
            str(workers),
            "--out",
            str(out),
            "--force",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


# --- the report --------------------------------------------------------------------------


def _n(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def rss_verdict(fleet: list[dict]) -> str:
    if len(fleet) < 2:
        return "one size only: no growth to judge"
    lo, hi = min(fleet, key=lambda m: m["batches"]), max(fleet, key=lambda m: m["batches"])
    growth = hi["tree_rss_mb"] / lo["tree_rss_mb"] - 1
    flat = growth < FLAT_GROWTH
    return (
        f"{'flat' if flat else 'NOT flat'}: {growth:+.0%} for {hi['batches'] / lo['batches']:.0f}x the batches "
        f"({hi['rows'] / lo['rows']:.1f}x the rows); flat means under {FLAT_GROWTH:+.0%}"
    )


def report(
    args,
    m: dict,
    fams: dict,
    fleet: list[dict],
    fleet_default: list[dict],
    e2e: dict,
    load: dict,
    ins: dict,
    wall: float,
) -> str:
    L: list[str] = []
    add = L.append
    cmd = "python3 benchmarks/run_all.py " + " ".join(sys.argv[1:])
    add("# aquagen benchmarks")
    add("")
    add(f"`{cmd.strip()}` — {m['date']:%Y-%m-%d %H:%M} UTC, {wall / 60:.1f} min for the whole suite.")
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| CPU | {m['cpu']}, {m['cores']} cores |")
    add(f"| RAM | {m['ram_gb']:.1f} GB |" if m["ram_gb"] else "| RAM | unknown |")
    add(f"| OS | {m['os']} |")
    add(f"| Python | {m['python']} |")
    server = "embedded (pgserver)" if not args.dsn else "--dsn"
    if load:
        add(
            f"| PostgreSQL | {load['server_version']}, {server}; "
            + ", ".join(f"{k}={v}" for k, v in load["settings"].items())
            + " |"
        )
    add(f"| code | {m['code']} |")
    add(
        f"| load average | {m['loadavg_start']:.1f} at the start, {m['loadavg_end']:.1f} at the end "
        f"(the machine is shared with other jobs) |"
    )
    add("")

    big = max(fleet, key=lambda f: f["batches"])
    add("## Summary")
    add("")
    add("| measure | result | what it is |")
    add("|---|---:|---|")
    for fam in bench_batch.FAMILIES:
        f = fams["families"][fam]
        add(
            f"| generation, {fam} | {_n(f['rows_per_s'])} rows/CPU-s | {_n(f['rows'])} rows in {f['seconds']:.2f} "
            "CPU-s (one batch, one process, see below) |"
        )
    add(
        f"| generation, one batch | {_n(fams['rows'] / fams['seconds'])} rows/CPU-s | "
        f"{_n(fams['rows'])} rows in {fams['seconds']:.2f} CPU-s, one process, incl. shared steps |"
    )
    for f in sorted(fleet, key=lambda f: f["batches"]):
        add(
            f"| generation, {f['batches']}-batch fleet | {_n(f['rows'] / f['cpu_seconds'])} rows/CPU-s | "
            f"{_n(f['rows'])} rows in {f['cpu_seconds']:.1f} CPU-s of the process tree ({f['seconds']:.1f} s wall), "
            f"{args.workers} workers, full lives |"
        )
    add(
        f"| Parquet, {big['batches']}-batch fleet | {big['bytes'] / 1e6:,.0f} MB | zstd Parquet, "
        f"{big['bytes'] / 1e6 / big['seconds']:.1f} MB per wall second |"
    )
    for f in fleet_default:
        add(
            f"| generation, default {f['batches']}-batch fleet | {_n(f['rows'] / f['cpu_seconds'])} rows/CPU-s | "
            f"`aquagen generate --batches {f['batches']} --as-of {bench_fleet.AS_OF}`: {_n(f['rows'])} rows in "
            f"{f['cpu_seconds']:.1f} CPU-s of the process tree ({f['seconds']:.1f} s wall), {args.workers} workers |"
        )
    if load:
        _load_summary(add, args, load, e2e, ins)
    for f in sorted(fleet, key=lambda f: f["batches"]):
        add(
            f"| peak RSS, {f['batches']} batches | {f['tree_rss_mb']:,.0f} MB | whole process tree (parent + "
            f"workers, sampled), {_n(f['rows'])} rows |"
        )
    add(f"| peak RSS growth | {rss_verdict(fleet).split(':')[0]} | {rss_verdict(fleet).split(': ', 1)[-1]} |")
    add("")
    _generation(add, fams, fleet, args)
    if load:
        _load_sections(add, load, e2e, ins, args)
    return "\n".join(L) + "\n"


def _load_summary(add, args, load: dict, e2e: dict, ins: dict) -> None:
    add(
        f"| load, aquagen | {_n(load['aquagen_rows_per_s'])} rows/s | {_n(load['rows'])} rows "
        f"({e2e['batches']} batches) in {load['aquagen_seconds']:.1f} s into a fresh database, median of "
        f"{len(load['aquagen_runs'])} |"
    )
    add(
        f"| load, server's COPY FROM file ceiling | {_n(load['ceiling_rows_per_s'])} rows/s | the same rows, "
        f"1 session: bare tables, COPY FROM file, same keys/indexes/FKs, COMMIT; median of "
        f"{len(load['ceiling_runs'])} |"
    )
    add(
        f"| load ratio aquagen / ceiling | {load['aquagen_rows_per_s'] / load['ceiling_rows_per_s']:.2f} | "
        f"aquagen rows/s ÷ ceiling rows/s; as time: {load['ratio']:.2f}x the ceiling's (goal ≤ 1.3x) |"
    )
    add(
        f"| end to end, {e2e['batches']} batches | {e2e['generate_seconds'] + load['aquagen_seconds']:.1f} s | "
        f"generate {e2e['generate_seconds']:.1f} s + load {load['aquagen_seconds']:.1f} s; {_n(load['rows'])} "
        f"rows, as-of {E2E_AS_OF} |"
    )
    add(
        f"| row-at-a-time INSERT | {_n(ins['rows_per_s'])} rows/s | {_n(ins['rows'])} rows "
        f"({_n(ins[bench_insert.READINGS]['rows'])} readings + {_n(ins[bench_insert.FEEDINGS]['rows'])} "
        f"feeding events) in {ins['seconds']:.2f} s, one INSERT per row |"
    )
    add(
        f"| aquagen load / INSERT | {load['aquagen_rows_per_s'] / ins['rows_per_s']:.0f}x | aquagen load rows/s "
        "over row-at-a-time INSERT rows/s |"
    )


def _generation(add, fams: dict, fleet: list[dict], args) -> None:
    add("## Generation per table family")
    add("")
    add(
        "`bench_batch.measure_families()`: `aquagen generate --workers 1` of a one-batch fleet (a full 860-day "
        "life) in one process, listening to the generator's timing hooks (`aquagen.timing`, through `logging`): "
        "each step that builds or writes a table reports its CPU-seconds and rows; a family's seconds are its "
        "tables' build and write steps. Shared steps (simulation, FIFO, id numbering, the as-of cut, hand-off "
        "files, master data) are listed by name. CPU-seconds of the process (all threads), median of "
        f"{fams['repeat']} runs after a warm-up run."
    )
    add("")
    add("| family or shared step | tables | rows written | CPU-s | rows/CPU-s |")
    add("|---|---|---:|---:|---:|")
    for fam, f in fams["families"].items():
        rps = _n(f["rows_per_s"]) if f["rows_per_s"] else "–"
        add(f"| {fam} | {f['tables']} | {_n(f['rows']) if f['rows'] else '–'} | {f['seconds']:.3f} | {rps} |")
    add(
        f"| **all** | | **{_n(fams['rows'])}** | **{fams['seconds']:.3f}** | **{_n(fams['rows'] / fams['seconds'])}** |"
    )
    add("")

    add(f"## Fleet generation (`bench_fleet.py`, {args.workers} workers, full lives)")
    add("")
    add(
        "| batches | rows | CPU-s (tree) | rows/CPU-s | wall s | Parquet MB | peak RSS, tree | parent | largest "
        "worker | phases (wall s) |"
    )
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for f in sorted(fleet, key=lambda f: f["batches"]):
        phases = ", ".join(f"{k} {v:.1f}" for k, v in f["phases"].items())
        add(
            f"| {f['batches']} | {_n(f['rows'])} | {f['cpu_seconds']:.1f} | {_n(f['rows'] / f['cpu_seconds'])} | "
            f"{f['seconds']:.1f} | {f['bytes'] / 1e6:,.0f} | {f['tree_rss_mb']:,.0f} MB | "
            f"{f['parent_rss_mb']:,.0f} MB | "
            f"{f['worker_rss_mb']:,.0f} MB | {phases} |"
        )
    add("")
    add(f"Peak RSS of the process tree: {rss_verdict(fleet)}.")
    add("")


def _load_sections(add, load: dict, e2e: dict, ins: dict, args) -> None:

    add(f"## Load (`bench_load.py`, {e2e['batches']} batches, as-of {E2E_AS_OF})")
    add("")
    add(
        f"Snapshot: {_n(load['rows'])} rows in {load['tables']} tables, generated in {e2e['generate_seconds']:.1f} s "
        f"by `python3 -m aquagen generate --batches {e2e['batches']} --as-of {E2E_AS_OF} --workers {args.workers}`."
    )
    add("")
    add("| | seconds (median) | rows/s | runs (s) | phases of the median run (s) |")
    add("|---|---:|---:|---|---|")
    add(
        f"| server ceiling: COPY FROM file, 1 session | {load['ceiling_seconds']:.1f} | "
        f"{_n(load['ceiling_rows_per_s'])} | {', '.join(f'{x:.1f}' for x in load['ceiling_runs'])} | "
        + ", ".join(f"{k} {v:.1f}" for k, v in load["ceiling_phases"].items())
        + " |"
    )
    add(
        f"| aquagen load, {load['workers']} connections | {load['aquagen_seconds']:.1f} | "
        f"{_n(load['aquagen_rows_per_s'])} | {', '.join(f'{x:.1f}' for x in load['aquagen_runs'])} | "
        + ", ".join(f"{k} {v:.1f}" for k, v in load["aquagen_phases"].items())
        + " |"
    )
    add("")
    add(
        f"aquagen's time is {load['ratio']:.2f}x the ceiling's (rows/s ratio "
        f"{load['aquagen_rows_per_s'] / load['ceiling_rows_per_s']:.2f}). Both sides build the same keys, "
        "indexes and validated foreign keys; the ceiling reads server-side binary files written from "
        "aquagen's own result, so the rows are identical. The embedded server's start is not timed."
    )
    add("")

    add("## Row-at-a-time INSERT baseline (`bench_insert.py`)")
    add("")
    add("| table | rows | seconds | rows/s |")
    add("|---|---:|---:|---:|")
    for t in (bench_insert.READINGS, bench_insert.FEEDINGS):
        r = ins[t]
        add(f"| {t} | {_n(r['rows'])} | {r['seconds']:.2f} | {_n(r['rows'] / r['seconds'])} |")
    add(f"| COMMIT (deferred FK checks) | | {ins['commit_seconds']:.2f} | |")
    add(f"| **total** | **{_n(ins['rows'])}** | **{ins['seconds']:.2f}** | **{_n(ins['rows_per_s'])}** |")
    add("")
    add(
        "One `INSERT ... VALUES (%s, ...) RETURNING id` per row (psycopg 3, autocommit off, one transaction, "
        "one round trip per row, no executemany), into the two tables of a fresh database that holds a "
        "one-batch snapshot loaded by aquagen (so every parent row, key, index and deferred foreign key "
        "exists) after truncating them. Only the statements and the COMMIT are timed. It is generous "
        "to the ORM: no model instances or signals, no second INSERT for django-simple-history, "
        "psycopg's automatic server-side prepared statements, a local Unix socket (no network latency). "
        f"aquagen load moves {load['aquagen_rows_per_s'] / ins['rows_per_s']:.0f}x as many rows per second "
        f"({_n(load['aquagen_rows_per_s'])} rows/s for {e2e['batches']} batches, keys and indexes built "
        f"after the COPY): at the INSERT rate the {e2e['batches']}-batch snapshot's {_n(load['rows'])} rows "
        f"would take {load['rows'] / ins['rows_per_s'] / 60:.0f} min instead of {load['aquagen_seconds']:.0f} s."
    )
    add("")


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=50, help="end-to-end and load benchmark fleet (default 50)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50], help="fleet sizes for rows/s and peak RSS")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="generation workers")
    ap.add_argument("--load-repeat", type=int, default=3, help="(a)/(b) alternations of the load benchmark")
    ap.add_argument("--load-workers", type=int, default=bench_load.postgres.DEFAULT_WORKERS)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"), help="superuser URL of a PostgreSQL server")
    ap.add_argument("--insert-readings", type=int, default=20_000)
    ap.add_argument("--insert-feedings", type=int, default=5_000)
    ap.add_argument(
        "--default-sizes",
        type=int,
        nargs="*",
        default=[50],
        help="default fleets (aquagen generate --batches N, as-of fixed) for rows per CPU-second",
    )
    ap.add_argument("--generation-only", action="store_true", help="only the generation benchmarks (no database)")
    args = ap.parse_args()

    m = machine()
    wall = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-all-"))
    os.chmod(work, 0o777)
    server = None
    try:
        step("generation per table family (one batch, in process)")
        fams = bench_batch.measure_families()
        bench_batch.print_families(fams)

        fleet = []
        for n in args.sizes:
            step(f"fleet generation, {n} batches, {args.workers} workers")
            f = bench_fleet.measure(n, args.workers)
            fleet.append(f)
            print(bench_fleet.line(f))

        fleet_default = []
        for n in args.default_sizes:
            step(f"default fleet generation, {n} batches, {args.workers} workers")
            fleet_default.append(bench_fleet.measure(n, args.workers, default_fleet=True))
            print(bench_fleet.line(fleet_default[-1]))

        e2e = load = ins = {}
        if args.generation_only:
            raise _Done
        step(f"end to end: generate {args.batches} batches")
        snap_dir = work / f"snap-{args.batches}"
        e2e = {"batches": args.batches, "generate_seconds": generate_cli(snap_dir, args.batches, args.workers)}
        print(f"generated in {e2e['generate_seconds']:.1f} s")

        admin = args.dsn
        if admin is None:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            admin = server.get_uri()
        from aquagen.snapshot import Snapshot

        step(f"load vs COPY FROM file ceiling, {args.batches} batches, {args.load_repeat} alternations")
        load = bench_load.measure(admin, Snapshot.open(snap_dir), args.load_repeat, args.load_workers, work)
        bench_load.print_result(load)
        shutil.rmtree(work / "copy", ignore_errors=True)
        shutil.rmtree(snap_dir, ignore_errors=True)

        step("row-at-a-time INSERT baseline")
        one = work / "snap-1"
        generate_cli(one, 1, args.workers)
        ins = bench_insert.measure(one, admin, args.insert_readings, args.insert_feedings)
        bench_insert.print_result(ins)
    except _Done:
        pass
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    m["loadavg_end"] = os.getloadavg()[0]
    text = report(args, m, fams, fleet, fleet_default, e2e, load, ins, time.perf_counter() - wall)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
