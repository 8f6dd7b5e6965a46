"""aquagen load against the server's own best case, on the same rows and schema; or (--existing)
a load into an application's migrated schema against a fresh load of the same snapshot.

    python3 benchmarks/bench_load.py [BATCHES] [--repeat R] [--workers W] [--dsn ADMIN_URL] [--snapshot DIR]
                                     [--profile NAME ...]
    python3 benchmarks/bench_load.py [BATCHES] --existing [--in-place] ...

1. Generates a snapshot of BATCHES batches (default 10) with ``python3 -m aquagen generate``
   (or uses --snapshot DIR) in each --profile (default: the default profile). With two or more
   profiles, every measurement below runs for each in turn on the same fleet (same seed: the same
   fish, days and events, only the tables differ), alternated, and their ratio is printed.
2. (b) aquagen: ``loaders.postgres.load`` (what ``aquagen load`` runs) into a fresh database.
3. (a) the server's best case: every table of (b)'s database is written to a server-side
   binary COPY file (``COPY ... TO '/file' (FORMAT binary)``); then, in a fresh database and
   one session (the server's settings, with aquagen's maintenance_work_mem): bare tables, one stream of
   ``COPY ... FROM '/file' (FORMAT binary, FREEZE)``, then the same primary keys, UNIQUE and
   CHECK constraints, indexes and foreign keys (validated) as aquagen builds, then COMMIT.
4. (a) and (b) alternate R times (default 3; the machine may be shared); medians are compared.

--existing: (f) ``load`` into a fresh database (the schema created) and (e) ``load`` into a
database as the application's migrations leave it (``Profile.migrated_sql``: the profile's exact
DDL and the rows its migrations seed, e.g. cb41030's health parameters, lice types and mortality
reason, matched by natural key), alternated R times; the ratio
of the medians e / f is the goal of issue 18 (<= 1.1). --in-place adds (i) the same as (e)
with ``rebuild_indexes=True`` (the in-place path, one transaction) for comparison.

The server is --dsn (a superuser URL: it creates databases and reads/writes server files) or
env AQUAGEN_DSN, else an embedded PostgreSQL in a temporary folder. Run it on an otherwise
idle machine: both sides are CPU bound.
"""

from __future__ import annotations

import argparse
import os
import resource
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
from aquagen.profiles import get
from aquagen.snapshot import Snapshot
from loaders import postgres, session

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(pid: int | None) -> float:
    """CPU-seconds of process ``pid`` and its descendants, reaped children included (``/proc``:
    utime, stime, cutime, cstime): the server's whole process tree from its postmaster's pid.
    0.0 where unknown (no pid, not Linux)."""
    if pid is None:
        return 0.0
    kids: dict[int, list[tuple[int, list[str]]]] = {}
    own: list[str] | None = None
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2 :].split()
        if int(d) == pid:
            own = f
        kids.setdefault(int(f[1]), []).append((int(d), f))
    if own is None:
        return 0.0
    total, stack = sum(int(x) for x in own[11:15]), [pid]
    while stack:
        for child, f in kids.get(stack.pop(), []):
            total += sum(int(x) for x in f[11:15])
            stack.append(child)
    return total / _TICK


def own_cpu() -> float:
    """CPU-seconds of this process (every thread) and of its reaped children (pg_restore, ...)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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


def dump_tables(dsn: str, folder: Path, profile: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        for n in schemas.tables(profile):
            c.execute(f"COPY public.{n} TO '{folder / (n + '.bin')}' (FORMAT binary)")


def run_ceiling(admin: str, folder: Path, profile: str) -> tuple[float, dict]:
    ts = schemas.tables(profile)
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
        dump_tables(dsn, files, snap.profile)
        drop_db(admin, name)
        ours, best = [seconds], []
        ours_phases = [phases]
        best_phases = []
        for i in range(repeat):
            s, p = run_ceiling(admin, files, snap.profile)
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


def migrated_db(admin: str, profile: str) -> tuple[str, str]:
    """A database as ``profile``'s migrations leave it: its DDL and the rows they seed."""
    name, dsn = create_db(admin)
    with psycopg.connect(dsn) as c:
        c.execute(get(profile).migrated_sql())
    return name, dsn


def measure_existing(
    admin: str,
    snaps: dict[str, Snapshot],
    repeat: int = 3,
    workers: int = postgres.DEFAULT_WORKERS,
    in_place: bool = False,
    server_pid: int | None = None,
) -> dict:
    """Per profile: fresh vs existing-schema load of its snapshot; every (profile, kind) alternated
    ``repeat`` times (so a profile pair shares the machine's state); medians and their ratios.
    With ``server_pid`` (the postmaster's), each run's CPU-seconds: this process plus the server's
    process tree (a CHECKPOINT before each run, so that no earlier run's writes are counted)."""
    kinds = ("fresh", "existing", *(("in_place",) if in_place else ()))
    runs: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds} for p in snaps}
    cpus: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds} for p in snaps}
    loads: list[float] = []
    method: dict[str, str] = {}
    matched: dict[str, dict[str, int]] = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for profile, snap in snaps.items():
            for kind in kinds:
                name, dsn = create_db(admin) if kind == "fresh" else migrated_db(admin, profile)
                try:
                    with psycopg.connect(admin, autocommit=True) as c:
                        c.execute("CHECKPOINT")
                    loads.append(os.getloadavg()[0])
                    c0, t0 = own_cpu() + tree_cpu(server_pid), time.perf_counter()
                    r = postgres.load(snap, dsn, workers=workers, rebuild_indexes=kind == "in_place")
                    runs[profile][kind].append(time.perf_counter() - t0)
                    cpus[profile][kind].append(own_cpu() + tree_cpu(server_pid) - c0)
                    print(
                        f"  {profile} {kind}: {runs[profile][kind][-1]:.2f} s, {cpus[profile][kind][-1]:.1f} CPU-s, "
                        f"load {loads[-1]:.1f}",
                        flush=True,
                    )  # kept if a later run fails
                    if kind == "existing":
                        method[profile], matched[profile] = r.method, r.matched
                finally:
                    drop_db(admin, name)
    out = {}
    for profile, by_kind in runs.items():
        med = {k: statistics.median(v) for k, v in by_kind.items()}
        rows = sum(e["rows"] for e in snaps[profile].manifest["tables"].values())
        out[profile] = {
            "rows": rows,
            "runs": by_kind,
            "cpu": cpus[profile],
            "pairs": [e / f for f, e in zip(by_kind["fresh"], by_kind["existing"])],
            "cpu_pairs": [e / f for f, e in zip(cpus[profile]["fresh"], cpus[profile]["existing"]) if f],
            "median": med,
            "rows_per_s": {k: rows / v for k, v in med.items()},
            "ratio": med["existing"] / med["fresh"],
            "method": method[profile],
            "matched": matched[profile],
            **({"ratio_in_place": med["in_place"] / med["fresh"]} if in_place else {}),
        }
    return {
        "profiles": out,
        "workers": workers,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "loadavg_runs": loads,
    }


def print_existing(m: dict) -> None:
    labels = {
        "fresh": "(f) fresh database, schema created",
        "existing": "(e) migrated schema (default)",
        "in_place": "(i) migrated schema, --rebuild-indexes",
    }
    for profile, pm in m["profiles"].items():
        print(f"{profile}: {pm['rows']:,} rows")
        for k, runs in pm["runs"].items():
            s = pm["median"][k]
            print(
                f"  {labels[k]:<42} {s:6.2f} s  {pm['rows_per_s'][k]:>10,.0f} rows/s"
                f"   runs {', '.join(f'{x:.2f}' for x in runs)}"
                + (f";  CPU-s {', '.join(f'{x:.1f}' for x in pm['cpu'][k])}" if any(pm["cpu"][k]) else "")
            )
        seeded = ", ".join(f"{t} {n}" for t, n in sorted(pm["matched"].items()))
        print(f"      (e) chose: {pm['method']}; seeded rows matched: {seeded or 'none'}")
        print(
            f"  ratio existing / fresh: {pm['ratio']:.2f}   (goal <= 1.1)"
            + (f";  in place / fresh: {pm['ratio_in_place']:.2f}" if "ratio_in_place" in pm else "")
        )
        print(f"  per pair (each existing run / the fresh run before it): {', '.join(f'{x:.2f}' for x in pm['pairs'])}")
        if pm["cpu_pairs"]:
            print(f"  CPU-s per pair, existing / fresh: {', '.join(f'{x:.2f}' for x in pm['cpu_pairs'])}")
    names = list(m["profiles"])
    for other in names[1:]:  # each profile against the first: rows/s of the same fleet
        a, b = m["profiles"][names[0]], m["profiles"][other]
        print(
            f"{other} / {names[0]}: rows x{b['rows'] / a['rows']:.2f}; rows/s "
            + ", ".join(f"{k} {b['rows_per_s'][k] / a['rows_per_s'][k]:.2f}" for k in b["median"])
            + "; seconds "
            + ", ".join(f"{k} {b['median'][k] / a['median'][k]:.2f}" for k in b["median"])
        )
    print(
        f"load average {m['loadavg_before']:.2f} before, {m['loadavg_after']:.2f} after"
        f" (at the start of each run: {', '.join(f'{x:.1f}' for x in m['loadavg_runs'])})"
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


def generate(batches: int, profile: str) -> Snapshot:
    out = ROOT / "output" / f"bench-load-{batches}-{profile.replace('@', '_')}"
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "aquagen", "generate", "--batches", str(batches), "--profile", profile]
        + ["--out", str(out), "--force"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"generated {batches} batches ({profile}) in {time.perf_counter() - t0:.1f} s: {out}")
    return Snapshot.open(out)


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("batches", nargs="?", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=postgres.DEFAULT_WORKERS)
    ap.add_argument("--dsn", default=os.environ.get("AQUAGEN_DSN"))
    ap.add_argument("--snapshot", type=Path, default=None, help="use this snapshot instead of generating one")
    ap.add_argument(
        "--profile",
        action="append",
        help="generate in this profile (repeat it to compare profiles on the same fleet; default: the default)",
    )
    ap.add_argument("--existing", action="store_true", help="fresh load vs load into a migrated schema")
    ap.add_argument("--in-place", action="store_true", help="with --existing: also the in-place path")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    os.chmod(work, 0o777)
    server = None
    try:
        if args.snapshot:
            snap = Snapshot.open(args.snapshot)
            snaps = {snap.profile: snap}
        else:
            snaps = {p: generate(args.batches, p) for p in (args.profile or [get().name])}
        admin = args.dsn
        if admin is None:
            import pgserver

            server = pgserver.get_server(work / "pg", cleanup_mode="stop")
            admin = server.get_uri()
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
        for snap in snaps.values():
            rows = sum(e["rows"] for e in snap.manifest["tables"].values())
            tables = sum(1 for e in snap.manifest["tables"].values() if e["rows"])
            print(f"snapshot ({snap.profile}): {rows:,} rows in {tables} tables")
        if args.existing:
            pid = server.get_pid() if server is not None else None  # CPU of the server's tree: embedded only
            print_existing(measure_existing(admin, snaps, args.repeat, args.workers, args.in_place, pid))
        else:
            for snap in snaps.values():
                print(f"-- {snap.profile}")
                print_result(measure(admin, snap, args.repeat, args.workers, work))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
