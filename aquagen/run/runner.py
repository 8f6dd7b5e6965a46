"""The runner: phases of shards over a worker pool (or a Dask cluster), each finished shard
recorded in ``progress.json`` so that a killed run resumes where it stopped.

``progress.json`` is JSON lines: the run's arguments first, then one line per finished shard,
appended (a fleet's progress is written once, not once per shard). A line cut short by a kill
is ignored on resume: its shard runs again."""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial
from multiprocessing import get_context
from typing import cast

import polars as pl
import pyarrow as pa

from ..errors import AquagenError
from .shards import Job, Written

Result = pl.DataFrame | Written  # a counting pass's counts, or a writing pass's part files


class Progress:
    """What a run reports; the CLI shows it with rich. Default: silent."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


_STOP = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while worker processes are spawned: a spawn is never cut in
    half (a worker reading its start-up data from a dead pipe prints a traceback), and the blocked
    mask is inherited, so a worker starting up ignores them until ``_worker_init``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    handlers = {sig: signal.signal(sig, lambda signum, _: held.append(signum)) for sig in _STOP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal held by the kernel reaches `held` now
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if held:
        raise KeyboardInterrupt


@contextmanager
def _workers_single_threaded() -> Iterator[None]:
    """Worker processes spawned here run Polars on one thread: the shards are the parallelism (one
    worker per core), and a thread pool per worker only adds CPU-seconds (measured in
    benchmarks/RESULTS.md). A ``POLARS_MAX_THREADS`` set by the user is kept."""
    if "POLARS_MAX_THREADS" in os.environ:
        yield
        return
    os.environ["POLARS_MAX_THREADS"] = "1"  # children copy the environment when they are spawned
    try:
        yield
    finally:
        del os.environ["POLARS_MAX_THREADS"]


def _worker_init(parent: int) -> None:
    """In each worker: Ctrl-C (sent to the whole terminal group) is the parent's to handle, and
    a worker dies with its parent (no orphan keeps running after a kill -9 of the run), ``parent``
    the run's process id: one that died while this worker started up sends no death signal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)  # blocked since the spawn; SIGTERM ends a worker
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # orphaned already: nothing to do, nothing to say
        os._exit(0)
    atexit.register(_exit_now)  # registered last: runs first at exit


def _released(fn: Callable[..., Result], *args: object) -> Result:
    """``fn(*args)`` (``on_this_thread``), the free memory of Arrow's pool handed back to the system
    first when this process last ran another kind of shard (a new phase): the pool keeps the pages of
    the Arrow buffers a phase's shards made (Parquet pages, hand-off files) for the next, on top of
    what a shard of the next phase makes with Polars and NumPy (another allocator each). Measured at
    200 full lives, 2 workers: the tree's peak in the feed sites' build 665 -> 613 MB (after every
    shard: the same peak, 1.5 % more CPU, its pages faulted in again)."""
    if _last_run[0] is not fn:
        if _last_run[0] is not None:
            pa.default_memory_pool().release_unused()
        _last_run[0] = fn
    return on_this_thread(fn, *args)


_ONE_ROW = pl.LazyFrame({"x": [0]})  # the query ``on_this_thread`` runs a function in (made once: 0.17 ms a shard)


def on_this_thread(fn: Callable[..., Result], *args: object) -> Result:
    """``fn(*args)`` with every Polars query it makes run on this thread: called as a Python function
    of a query (``map_batches``) of the streaming engine, which calls it on this thread, and inside
    which Polars runs queries without its thread pool (Polars 2.1, measured; not so from the in-memory
    engine, whatever the user's default engine). A shard's queries are many and small (19,216 for the
    default fleet of 50) and meant to run on one thread (the shards are the parallelism); handed to the
    pool's thread instead, each wakes that thread's core, which costs most when the core is idle: a
    join of 100 rows 235 against 39 µs, a filter 69 against 24. The default fleet of 50 in one process
    (``--workers 1``) took 0.86x the CPU-seconds and wall time (3 pairs: 14.9-15.4 against 17.6-18.1 s),
    with 2 workers 0.95x (7 pairs). An exception comes out of ``fn`` as it was raised.

    Ctrl-C and SIGTERM (which the CLI makes a KeyboardInterrupt) are noted while ``fn`` runs and raised
    when it ends (a shard takes a second at most): Python runs a signal's handler in the main thread at
    its next step, and on this thread that may be inside Polars' own Python code, which Polars calls
    here and not on its pool's thread (a data type's conversion, the query's frame): a KeyboardInterrupt
    raised there made Polars panic or fail with a TypeError (seen in the signal tests), where the run
    must stop cleanly."""
    box: dict[str, object] = {}
    handlers = {sig: signal.getsignal(sig) for sig in _STOP}
    hold = threading.current_thread() is threading.main_thread() and None not in handlers.values()
    noted: list[int] = []

    def call(df: pl.DataFrame) -> pl.DataFrame:
        try:
            box["result"] = fn(*args)
        except BaseException as e:  # re-raised below, not wrapped in Polars' error
            box["error"] = e
        return df

    if hold:
        for sig in _STOP:
            signal.signal(sig, lambda signum, _: noted.append(signum))
    try:
        _ONE_ROW.map_batches(call).collect(engine="streaming")  # not "in-memory": see above
    finally:
        if hold:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            if noted:  # its handler (the CLI's, Python's Ctrl-C) raises here
                signal.raise_signal(noted[0])
    if "error" in box:
        raise cast(BaseException, box["error"])
    return cast(Result, box["result"])


_last_run: list[Callable | None] = [None]  # the function of the shard this process ran last (``_released``)


def _ready() -> None:
    """A worker's first task (``Runner.start_workers``): the shards' modules imported."""
    from . import shards  # noqa: F401


def _exit_now() -> None:
    """A worker's exit, once the pool lets it go: its output flushed, then the process ends without
    the interpreter's teardown (every module and object freed one by one: 0.1-0.2 CPU-s a worker,
    measured), which has nothing left to write. Its exit status is 0 (the pool reads none: a worker
    that dies while it has work breaks the pool whatever its status)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def differences(had: dict, asked: dict) -> str:
    """How a run's or snapshot's arguments (``meta``, its profile in "schema") differ from those asked, as
    options: "--seed 42 and --profile aquamind@cb41030, asked --seed 7 and --profile aquamind@8f2ab39"."""

    def options(meta: dict) -> dict:
        return {"profile": meta.get("schema"), "seed": meta.get("seed"), **meta.get("arguments", {})}

    a, b = options(had), options(asked)
    keys = [k for k in {**a, **b} if a.get(k) != b.get(k)]
    if not keys:
        return f"written by {had.get('generator')}, or its planned batches"
    return ", asked ".join(" and ".join(f"--{k.replace('_', '-')} {m.get(k)}" for k in keys) for m in (a, b))


def connect(scheduler: str, timeout: float):
    """A client of the Dask scheduler at ``scheduler`` (a ``distributed.Client``), or a one-line error naming
    the address: one that Dask cannot parse, or that does not answer within ``timeout`` seconds."""
    if not scheduler.strip():
        raise AquagenError("--scheduler is empty; give the Dask scheduler's address, e.g. tcp://scheduler:8786")
    try:
        from distributed import Client
        from distributed.comm import get_address_host_port
    except ImportError:
        raise AquagenError("--scheduler needs Dask: pip install 'aquagen[dask]'") from None
    try:
        try:
            port = get_address_host_port(scheduler)[1]
        except ValueError:
            port = None  # an address without a port (inproc://...), or none Dask knows: its client says which
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port {port} is outside 1..65535")
        return Client(scheduler, timeout=timeout)
    except (ValueError, TypeError) as e:
        raise AquagenError(
            f"--scheduler {scheduler!r} is not a Dask scheduler address ({str(e).splitlines()[0]}); "
            "use tcp://HOST:PORT, e.g. tcp://scheduler:8786"
        ) from None
    except OSError as e:
        raise AquagenError(f"cannot reach the Dask scheduler {scheduler}: {e}") from None


class Runner:
    """Runs phases of shards over a worker pool (or a Dask cluster), recording each finished
    shard in ``progress.json`` so that a killed run resumes where it stopped."""

    PROGRESS = "progress.json"
    # the work files' format, in the progress file's first line: 2 since the counts, first ids and stock
    # tables are Arrow IPC (``Store.write_frame``), not Parquet; a run of another format is not resumed
    WORK_FORMAT = 2

    def __init__(
        self,
        job: Job,
        meta: dict,
        workers: int,
        progress: Progress,
        resume: bool,
        client=None,
        force: bool = False,
    ):
        self.job, self.progress = job, progress
        self.state = {"meta": json.loads(json.dumps(meta, default=str)), "done": {}}
        saved = None
        if resume and job.root.exists(self.PROGRESS):
            try:
                saved = self._read()
                if saved["meta"] != self.state["meta"]:
                    raise AquagenError(
                        f"{job.root.url} holds an interrupted run with other arguments "
                        f"({differences(saved['meta'], self.state['meta'])}); rerun those or pass --force to start over"
                    )
            except AquagenError:
                if not force:
                    raise
                job.root.rm()  # --resume --force: what cannot be continued is started over
                saved = None
        if saved is not None:
            self.state = saved
        else:
            header = {"meta": self.state["meta"], "work": self.WORK_FORMAT}
            self.job.root.write_text(self.PROGRESS, json.dumps(header, default=str) + "\n")
        self.pool: ProcessPoolExecutor | None = None
        self.client = client  # a Dask client (``connect``; its caller closes it): the shards run on its cluster
        self.workers = workers

    def close(self, abort: bool = False) -> None:
        """Stop the workers: when the run failed or was interrupted, at once (killed: they write
        only through temporary files, and nothing they did is recorded as done)."""
        if self.pool is not None:
            if abort:
                for proc in list(getattr(self.pool, "_processes", {}).values()):
                    proc.kill()
            # waited for even on abort (the killed workers end at once): the pool's manager thread
            # then closes its wake-up pipe before exit, which Python 3.11's exit hook would
            # otherwise race to write to ("Bad file descriptor" traceback after an interruption)
            self.pool.shutdown(wait=True, cancel_futures=True)

    def phase(
        self, name: str, tasks: Iterable[tuple[str, Callable[..., Result], tuple]], keep: bool = True
    ) -> dict[str, Result]:
        """Run (key, function, args) tasks; results by key. Finished ones are taken from the
        progress file: counts are kept as Arrow IPC in the work folder, entries in the JSON. With
        ``keep`` false, nothing is returned (nor read back): each shard's counts stay in the work
        folder only (``counts``), so that memory does not grow with the shards."""
        tasks = list(tasks)
        self.progress.phase(name, len(tasks))
        results: dict[str, Result] = {}
        todo = []
        for key, fn, args in tasks:
            if key in self.state["done"]:
                if keep:
                    results[key] = self._load(key)
                self.progress.advance(0)
            else:
                todo.append((key, fn, args))
        done: Iterable[tuple[str, Result]]
        if self.client is not None:
            # on Dask a failed task is retried (a lost worker's tasks run elsewhere)
            submit = partial(self.client.submit, retries=2, pure=False)
            with _signals_deferred(), _workers_single_threaded():
                futures = [(key, submit(fn, *args)) for key, fn, args in todo]
            done = ((key, f.result()) for key, f in futures)
        elif self.workers > 1 and len(todo) > 1:
            done = self._shared(todo)
        else:
            done = ((key, _released(fn, *args)) for key, fn, args in todo)
        for key, result in done:
            if keep:
                results[key] = result
            self._store(key, result)
            del result
        return results

    def _shared(self, todo: list[tuple[str, Callable[..., Result], tuple]]) -> Iterator[tuple[str, Result]]:
        """``todo``'s (key, result) as its tasks finish, run by this process and a pool of ``workers``
        - 1 worker processes: this process would otherwise wait for them, and each worker costs its
        start-up (Polars, NumPy and aquagen imported: about half a CPU-second) and its memory. The
        pool gets a task whenever one of its tasks ends (from its own thread: it never waits for this
        process to end a long task), the first ones leaving this process one; this process takes the
        next task in order whenever it is free. Any order gives the
        same files: a task is a pure function of its arguments."""
        pending = deque(todo)
        inflight: dict[Future, str] = {}
        ahead = self.workers - 1  # a task each: the next is submitted as one ends
        lock = threading.RLock()  # the pool's thread tops up too (a future done at once: in this one)
        # the pool made before the signals are held: making it starts multiprocessing's resource tracker,
        # which unblocks them after its own start (a worker spawned after that, in the same hold, would
        # start with them unblocked)
        submit = self._pool().submit

        def top_up(leave: int) -> None:
            main = threading.current_thread() is threading.main_thread()
            if not main and len(getattr(self.pool, "_processes", {})) < ahead:
                return  # a submit could spawn a worker: only this process's main thread does (signals held)
            with lock:
                while len(pending) > leave and sum(not f.done() for f in inflight) < ahead:
                    key, fn, args = pending.popleft()
                    if main:  # workers are spawned here
                        with _signals_deferred(), _workers_single_threaded():
                            f = submit(_released, fn, *args)
                    else:  # the pool's thread, when a task ends: the pool is full, nothing is spawned
                        f = submit(_released, fn, *args)
                    inflight[f] = key
                    f.add_done_callback(refill)

        def _done(f: Future) -> tuple[str, Result]:
            with lock:
                key = inflight.pop(f)
            return key, f.result()

        def refill(_: Future) -> None:
            try:
                top_up(leave=0)
            except RuntimeError:  # the pool shut down (a failed or interrupted run): nothing more to run
                pass

        top_up(leave=1)
        while True:
            with lock:
                job = pending.popleft() if pending else None
            if job is None:
                break
            key, fn, args = job
            yield key, _released(fn, *args)
            with lock:
                finished = [f for f in inflight if f.done()]
            for f in finished:
                yield _done(f)
            top_up(leave=0)
        with lock:
            rest = list(inflight)  # nothing is submitted any more: every task is taken
        for f in as_completed(rest):
            yield _done(f)

    def start_workers(self) -> None:
        """Start the pool's worker processes now, before a phase that this process runs alone (the master
        data): each imports Polars, NumPy and aquagen (about half a second) while this process works,
        not when the batches' first phase needs it. Not on Dask, nor for a run of one process."""
        if self.client is not None or self.workers < 2:
            return
        pool = self._pool()  # before the signals are held: it starts the resource tracker (``_shared``)
        with _signals_deferred(), _workers_single_threaded():
            for _ in range(self.workers - 1):  # each submit starts a worker while none is idle
                pool.submit(_ready)

    def _pool(self) -> ProcessPoolExecutor:
        """The worker pool (``workers`` - 1 processes beside this one, ``_shared``), made by
        ``start_workers`` or when a phase first has more than one shard to run: a run of one process
        (``--workers 1``, or a fleet of one batch: ``generate`` gives a run at most a worker a batch)
        spawns none. It starts a worker per shard submitted while none is idle."""
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                self.workers - 1, mp_context=get_context("spawn"), initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self.pool

    def counts(self, key: str) -> pl.DataFrame:
        """A finished shard's counts, as ``_store`` keeps them."""
        saved = self.state["done"][key]["counts"]
        return self.job.root.read_frame(saved)

    def _store(self, key: str, result: Result) -> None:
        """Record a finished shard: its counts as Arrow IPC (``Store.write_frame``), its part files and rows in the JSON."""
        saved: dict = {}
        counts = result if isinstance(result, pl.DataFrame) else result.counts
        if isinstance(result, Written):
            saved = {"entries": result.entries, "rows": result.rows}
        if counts is not None:
            saved["counts"] = f"_work/counts/{key}.arrows"
            self.job.root.write_frame(saved["counts"], counts)
        self.state["done"][key] = saved
        self._append(json.dumps({"done": key, **saved}, default=str) + "\n")
        self.progress.advance(saved.get("rows", 0))

    def _append(self, line: str) -> None:
        root = self.job.root
        if root.local is not None:
            with open(root.local / self.PROGRESS, "a") as f:
                f.write(line)
            return
        try:
            with root.fs.open(root.path(self.PROGRESS), "ab") as f:
                f.write(line.encode())
        except (NotImplementedError, ValueError):  # a filesystem without append: rewrite
            root.write_text(self.PROGRESS, root.read_text(self.PROGRESS) + line)

    def _read(self) -> dict:
        """The saved state: the meta line, then the finished shards (a torn last line is dropped)."""
        try:
            lines = self.job.root.read_text(self.PROGRESS).splitlines()
        except UnicodeDecodeError:
            raise AquagenError(
                f"{self.job.root.url}/{self.PROGRESS} is unreadable; pass --force to start over"
            ) from None
        if not lines or (len(lines) == 1 and not lines[0].endswith("}")):  # killed while starting: nothing done
            return {"meta": self.state["meta"], "done": {}}
        try:
            header = json.loads(lines[0])
            meta, work = header["meta"], header.get("work", 1)  # format 1 wrote none
            if not isinstance(meta, dict):
                raise ValueError("not a progress record")
        except (ValueError, KeyError, TypeError):
            raise AquagenError(
                f"{self.job.root.url}/{self.PROGRESS} is unreadable; pass --force to start over"
            ) from None
        if work != self.WORK_FORMAT:
            raise AquagenError(
                f"{self.job.root.url} holds an interrupted run of an earlier aquagen, whose work files this one "
                "does not read; pass --force to start over"
            )
        state: dict = {"meta": meta, "done": {}}
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                key = entry.pop("done")
            except (ValueError, KeyError, TypeError, AttributeError):
                break  # a torn last line: that shard runs again
            state["done"][key] = entry
        return state

    def _load(self, key: str) -> Result:
        saved = self.state["done"][key]
        counts = self.job.root.read_frame(saved["counts"]) if "counts" in saved else None
        if "entries" not in saved:
            assert counts is not None
            return counts
        return Written(saved["entries"], saved["rows"], counts)
