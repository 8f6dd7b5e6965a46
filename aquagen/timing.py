"""Timing hooks: the generator reports how long each phase of its work took, through ``logging``.

Shards, table builders and the Parquet writer wrap their natural steps in ``timed(phase, ...)``;
each step ends with one DEBUG record on the logger ``aquagen.timing`` whose ``timing`` attribute
is a :class:`Timing` (phase, seconds, rows, table). Nothing is recorded unless a handler listens
at DEBUG (the check is one ``isEnabledFor``), so the hooks cost nothing in normal runs.
Benchmarks collect the records with :class:`Collector` instead of patching the generator.
Records of worker processes stay in those processes: collect in-process (``workers=1``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Self

LOGGER = logging.getLogger("aquagen.timing")

# the phases the generator reports (a step's phase; ``table`` says which table it finished)
SIMULATE = "simulate"  # one batch's life as arrays (shared by every table)
BUILD = "build"  # a table's rows from the simulation (or the FIFO), ids included
FIFO = "fifo"  # a feed site's inventory math
NUMBER = "number"  # turning a shard's local ids into the snapshot's ids
CUT = "cut"  # the as-of cut of a shard
WRITE = "write"  # one Parquet part: encoding, checksum, file
HANDOFF = "handoff"  # work files between phases (feeding events, local frames)
ALLOCATE = "allocate"  # the first id of every shard's days, in the parent
MASTER = "master"  # phases 1-2: infrastructure and master data
# the phases a load reports (``loaders``; ``table`` of a task is its label, e.g. "copy <table>")
LOAD_CHECK = "load-check"  # the snapshot's files against its manifest and profile (values: as they stream)
LOAD_PREPARE = "load-prepare"  # into an existing schema: catalog reads, id maps, what to build
LOAD_TASK = "load-task"  # one task of the build graph on a worker connection (COPY, an index, FKs)
LOAD_FINAL = "load-final"  # the one transaction that makes the load visible


@dataclass(frozen=True)
class Timing:
    phase: str
    seconds: float  # wall clock
    rows: int = 0
    table: str | None = None
    cpu: float = 0.0  # CPU-seconds of the process (all its threads), steadier than wall on a shared machine


@dataclass
class Step:
    """What a ``timed`` block may fill in before it ends."""

    rows: int = 0
    table: str | None = None


@contextmanager
def timed(phase: str, table: str | None = None, rows: int = 0) -> Iterator[Step]:
    """Time the block as one step of ``phase`` (``step.rows``/``step.table`` may be set inside)."""
    if not LOGGER.isEnabledFor(logging.DEBUG):
        yield Step(rows, table)
        return
    step = Step(rows, table)
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        yield step
    finally:
        t = Timing(phase, time.perf_counter() - t0, step.rows, step.table, time.process_time() - c0)
        LOGGER.debug("%s %s %.4f s %d rows", t.phase, t.table or "", t.seconds, t.rows, extra={"timing": t})


class Laps:
    """Consecutive steps of one phase (a builder's sections): each call ends a step, timed from the
    previous call (or from the start)."""

    def __init__(self, phase: str) -> None:
        self.phase, self.on = phase, LOGGER.isEnabledFor(logging.DEBUG)
        self.t, self.c = time.perf_counter(), time.process_time()

    def __call__(self, table: str | None, rows: int = 0, phase: str | None = None) -> None:
        if not self.on:
            return
        now, cpu = time.perf_counter(), time.process_time()
        t = Timing(phase or self.phase, now - self.t, rows, table, cpu - self.c)
        LOGGER.debug("%s %s %.4f s %d rows", t.phase, t.table or "", t.seconds, t.rows, extra={"timing": t})
        self.t, self.c = now, cpu


@dataclass
class Collector(logging.Handler):
    """A logging handler that keeps every ``Timing`` it sees; ``with Collector() as c:`` listens
    on ``aquagen.timing`` at DEBUG for the block."""

    records: list[Timing] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        t = getattr(record, "timing", None)
        if t is not None:
            self.records.append(t)

    def __enter__(self) -> Self:
        self._level = LOGGER.level
        LOGGER.addHandler(self)
        LOGGER.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc) -> None:
        LOGGER.removeHandler(self)
        LOGGER.setLevel(self._level)

    def __hash__(self) -> int:  # handlers live in sets of the logging module
        return id(self)
