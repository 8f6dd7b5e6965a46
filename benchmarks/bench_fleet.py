"""Fleet generation: rows per CPU-second, wall time per phase, Parquet MB and peak RSS for N batches.

    python3 benchmarks/bench_fleet.py 10 50 200 [--workers 2] [--default]
    python3 benchmarks/bench_fleet.py 50 --default --against f27827c --pairs 4
    python3 benchmarks/bench_fleet.py --farm [--workers 2]

With ``--against REV``, each size runs ``--pairs`` times with the code of REV (a temporary git worktree,
imported through PYTHONPATH) and as many times with this tree's, alternately (the machine's speed drifts
by the hour, so only runs side by side compare): each run's line, then the ratio of CPU-seconds of each
pair and their median. The harness is this file's in both; REV must have the API it calls.

Each size runs in a fresh process (so that its peak memory is its own). CPU-seconds are those
of the whole process tree (the generator and its workers: user + system, from the kernel's
rusage of the process and its waited-for children), less the memory sampler's own thread (its
CPU is printed apart); peak RSS of the tree is the largest sum of the resident memory of the
generator and its live workers, sampled every 20 ms. Full lives (default): every batch is
harvested by the as-of date (the most rows a fleet of N can have); ``--default``: ``aquagen
generate --batches N`` as a user runs it (as-of 2026-11-24, the default first start and
stagger, so part of the fleet is still growing); ``--farm``: ``aquagen generate`` without ``--batches`` (the
full farm its calendar plans, about 130 batches from four years before the as-of year). Wall time per phase
comes from the runner's progress phases; the seconds inside the shards per kind of work from
the generator's timing hooks (``aquagen.timing``) when ``--workers 1``, and the build phase by section (a
batch's tables, each step named by a table it makes) with the CPU no hook holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import psutil

AS_OF = dt.date(2026, 11, 24)
# the fleets measured: full lives (every batch harvested by the as-of date), ``aquagen generate --batches N`` as
# a user runs it (--default), ``aquagen generate`` without --batches (--farm)
FULL, DEFAULT, FARM = "full lives", "default fleet", "the default farm"


def _size(n: int, fleet: str) -> str:
    return fleet if fleet == FARM else f"{n} batches"


class _TreeRss:
    """Samples the resident memory of this process and its children (the workers).

    Finding the children (``psutil.Process.children``) reads the status of every process on the
    machine, so it runs every ``refresh`` seconds only (the workers live as long as the run); the
    resident memory of the processes found is read every ``every`` seconds. The sampler's own CPU
    time (``cpu``) is not the generator's: ``one`` leaves it out of the run's CPU-seconds and
    reports it apart (sampling every process on a busy machine every 20 ms cost up to 4 CPU-s of a
    10-batch run's 15, measured)."""

    def __init__(self, every: float = 0.02, refresh: float = 0.5) -> None:
        self.peak, self.every, self.refresh, self._stop = 0, every, refresh, threading.Event()
        self.phase = "start"  # set by the run's progress: peaks are also kept per phase
        self.phases: dict[str, list[int]] = {}  # phase -> peak [tree, parent, largest worker] in bytes
        self.cpu = 0.0  # CPU-seconds of the sampling thread itself
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        kids: list[psutil.Process] = []
        found = -self.refresh
        while not self._stop.is_set():
            if time.monotonic() - found >= self.refresh:
                try:
                    kids = self._me.children(recursive=True)
                except psutil.Error:
                    kids = []
                found = time.monotonic()
            rss = []
            for p in [self._me, *kids]:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    rss.append(0)
            total = sum(rss)
            self.peak = max(self.peak, total)
            peaks = self.phases.setdefault(self.phase, [0, 0, 0])
            for i, v in enumerate((total, rss[0], max(rss[1:], default=0))):
                peaks[i] = max(peaks[i], v)
            self._stop.wait(self.every)
        self.cpu = time.thread_time()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one(n: int, workers: int, out: Path, fleet: str = FULL) -> dict:
    import aquagen
    from aquagen.model.timeline import LIFE_DAYS
    from aquagen.run.generate import (
        DEFAULT_STAGGER_DAYS,
        Progress,
        default_first_start,
        generate,
    )

    try:
        from aquagen.timing import Collector
    except ImportError:  # a tree from before the timing hooks
        Collector = None

    phases: dict[str, float] = {}

    class Timer(Progress):
        def __init__(self):
            self.name, self.t = None, time.perf_counter()

        def phase(self, name, total):
            now = time.perf_counter()
            if self.name:
                phases[self.name] = now - self.t
            self.name, self.t = name, now
            rss.phase = name

    timer = Timer()
    rss = _TreeRss()
    batches: int | None = n
    if fleet == FARM:  # ``aquagen generate`` without --batches: the full farm its calendar plans (its own first start)
        batches, args = None, {}
    elif fleet == DEFAULT:
        args = {"first_start": default_first_start(AS_OF), "stagger_days": DEFAULT_STAGGER_DAYS}
    else:  # full lives, a batch every 20 days (the farm's stations and sea areas take no more)
        stagger = 20
        args = {"first_start": AS_OF - dt.timedelta(days=LIFE_DAYS + n * stagger), "stagger_days": stagger}
    collector = Collector() if Collector is not None and workers == 1 else None
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    with rss:
        if collector is not None:
            collector.__enter__()
        try:
            snap = generate(
                out, seed=1, batches=batches, as_of=AS_OF, workers=workers, force=True, progress=timer, **args
            )
        finally:
            if collector is not None:
                collector.__exit__(None, None, None)
    total, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0 - rss.cpu  # the generator's, not the sampler's
    phases[timer.name] = time.perf_counter() - timer.t
    hooks: dict[str, float] = {}
    sections: dict[str, float] = {}  # the build phase's steps by the table that names them (a batch's sections)
    for t in collector.records if collector is not None else []:
        hooks[t.phase] = hooks.get(t.phase, 0.0) + t.cpu
        if t.phase == "build" and t.table:
            sections[t.table] = sections.get(t.table, 0.0) + t.cpu
    rows = sum(t["rows"] for t in snap.manifest["tables"].values())
    size = sum(p.stat().st_size for p in snap.path.rglob("*.parquet"))
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "batches": len(snap.manifest["batches"]),
        "seconds": total,
        "cpu_seconds": cpu,
        "sampler_cpu_seconds": rss.cpu,
        "rows": rows,
        "bytes": size,
        "tree_rss_mb": rss.peak / 2**20,
        "parent_rss_mb": parent,
        "worker_rss_mb": worker,
        "phases": phases,
        "phase_rss_mb": {k: [round(v / 2**20) for v in peaks] for k, peaks in rss.phases.items()},
        "hooks": hooks,
        "sections": sections,
        "fleet": fleet,
        "workers": workers,
        "code": str(Path(aquagen.__file__).parent.parent),
    }


def measure(n: int, workers: int, fleet: str = FULL, code: Path | None = None) -> dict:
    """``one(n, ...)`` in a fresh process (so that peak RSS is its own), in a temporary folder; with
    ``code``, aquagen imported from that folder (``--against``: each side's tree)."""
    tmp = Path(tempfile.mkdtemp(prefix="aquagen-bench-"))
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    try:
        r = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--workers", str(workers), "--out", str(tmp / "snap")]
            + {FULL: [], DEFAULT: ["--default"], FARM: ["--farm"]}[fleet],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if r.returncode:
            sys.exit(f"{_size(n, fleet)} failed:\n{r.stderr}")
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def describe() -> str:
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} (1 min), shared with other jobs unless idle"
    )


def line(m: dict) -> str:
    phases = ", ".join(f"{k} {v:.1f}" for k, v in m["phases"].items())
    hooks = ", ".join(f"{k} {v:.1f}" for k, v in sorted(m["hooks"].items(), key=lambda kv: -kv[1]))
    top = sorted(m.get("sections", {}).items(), key=lambda kv: -kv[1])
    sections = ", ".join(f"{k} {v:.2f}" for k, v in top[:10]) + (f", {len(top) - 10} more" if len(top) > 10 else "")
    hooked = sum(m["hooks"].values())
    return (
        f"{m['batches']:>7} {m['rows']:>12,} {m['seconds']:>7.1f} {m['cpu_seconds']:>7.1f} "
        f"{m['rows'] / m['cpu_seconds']:>12,.0f} {m['bytes'] / 1e6:>7.1f} {m['tree_rss_mb']:>8,.0f} "
        f"{m['parent_rss_mb']:>7,.0f} {m['worker_rss_mb']:>7,.0f}  {phases}"
        + (f"; hooks (CPU s): {hooks}" if hooks else "")
        + f"; memory sampler {m.get('sampler_cpu_seconds', 0.0):.2f} CPU-s (not counted)"
        + "\n        peak RSS per phase, MB (tree; parent; largest worker): "
        + ", ".join(f"{k} {t} ({p}; {w})" for k, (t, p, w) in m.get("phase_rss_mb", {}).items())
        + (
            f"\n        build by section (CPU s): {sections}; in no hook {m['cpu_seconds'] - hooked:.1f}"
            if sections
            else ""
        )
    )


HEADER = (
    f"{'batches':>7} {'rows':>12} {'wall s':>7} {'CPU s':>7} {'rows/CPU-s':>12} {'MB':>7} {'tree MB':>8} "
    f"{'parent':>7} {'worker':>7}  phases (wall s)"
)


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached git worktree of ``rev`` of this repository, removed afterwards."""
    repo = Path(__file__).resolve().parents[1]
    path = Path(tempfile.mkdtemp(prefix="aquagen-against-")) / "code"
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True, check=False)
    r = run("worktree", "add", "--detach", str(path), rev)
    if r.returncode:
        sys.exit(f"--against {rev}: {r.stderr.strip()}")
    try:
        yield path
    finally:
        run("worktree", "remove", "--force", str(path))
        shutil.rmtree(path.parent, ignore_errors=True)


def paired(n: int, workers: int, fleet: str, rev: str, base: Path, pairs: int) -> None:
    """``pairs`` runs of each code, alternately (which goes first flips each pair): their lines, then
    this tree's CPU-seconds over REV's per pair and the median. Both import aquagen through PYTHONPATH
    (this tree: the one this file is in, whatever aquagen is installed), checked in each run."""
    ratios = []
    code = {"against": base, "this": Path(__file__).resolve().parents[1]}
    for i in range(pairs):
        runs = {}
        for label in ("against", "this") if i % 2 == 0 else ("this", "against"):
            m = measure(n, workers, fleet, code[label])
            if m["code"] != str(code[label]):
                sys.exit(f"the {label} run imported aquagen from {m['code']}, not {code[label]}")
            runs[label] = m
            print(f"{rev if label == 'against' else 'this tree':>12} " + line(m).split("\n")[0], flush=True)
        ratios.append(runs["this"]["cpu_seconds"] / runs["against"]["cpu_seconds"])
    print(
        f"{_size(n, fleet)}: CPU-seconds of this tree / {rev}, per pair: "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f"; median {statistics.median(ratios):.3f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10, 50])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--default", action="store_true", help="the default fleet (as-of 2026-11-24), not full lives")
    ap.add_argument("--farm", action="store_true", help="the CLI's default, a full farm (no --batches): sizes ignored")
    ap.add_argument("--against", metavar="REV", help="also run the code of this git revision, alternately")
    ap.add_argument("--pairs", type=int, default=3, help="runs of each code with --against (default 3)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    fleet = FARM if args.farm else DEFAULT if args.default else FULL
    if args.one is not None:
        print(json.dumps(one(args.one, args.workers, args.out, fleet)))
        return
    print(describe() + f"; workers {args.workers}; {fleet}")
    sizes = [0] if fleet == FARM else args.sizes  # a farm's size is its calendar's
    if args.against:
        print(f"{'code':>12} " + HEADER)
        with worktree(args.against) as base:
            for n in sizes:
                paired(n, args.workers, fleet, args.against, base, args.pairs)
    else:
        print(HEADER)
        for n in sizes:
            print(line(measure(n, args.workers, fleet)), flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
