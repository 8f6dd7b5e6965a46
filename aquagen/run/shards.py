"""Shards, as dbgen's chunks: the master data, each batch, each feed site. Each is a pure
function of (seed, shard, plan) and runs in any worker process (so these are top-level
functions). Each shard builds its tables once, with local ids (``aquagen.tables.ids``), keeps
them in the work folder and returns its rows per table and day; once every shard's counts are
in, it numbers them with the snapshot's ids and writes them. Batches hand their feeding events
to the feed sites by feed container; each feed site then runs FIFO over every batch it fed and
writes purchases, lots, decrements and the costed feeding events.

A shard builds up to the as-of date plus ``LOOKAHEAD_DAYS`` (what a row on the as-of day
depends on: the month's feeding summary, FIFO's reorders) and is cut at the as-of date
(``aquagen.tables.cut``): a batch's tables but its feedings as soon as they are built. Rows are
numbered in time order, so the ids of the rows kept do not depend on the rows after them: a later
as-of date only adds rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import mmap
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as pa_ipc

from ..model.arrays import kept_rows
from ..model.fleet import PlannedBatch
from ..model.inventory import COVER_DAYS, LEAD_DAYS, SAFETY_DAYS
from ..model.seeds import MASTER_STREAM, rng_for
from ..model.simulate import BatchSim, BatchSpec, simulate_batch
from ..model.sites import SETUP_LEAD_DAYS, area_id, station_id
from ..model.timeline import MAX_LIFE_DAYS
from ..profiles import FEED_CHANGES, FEED_COSTS, BatchPlan, FeedSite, Profile, get
from ..snapshot import PartWriter, write_part, write_pieces
from ..store import Store, replacing
from ..tables.conform import with_column
from ..tables.cut import before, cut, end_of, last_history, until
from ..tables.ids import Counting, IdBook, Local, renumber, when_column
from ..tables.order import physical, sort_unique
from ..timing import BUILD, CUT, HANDOFF, MASTER, NUMBER, SIMULATE, WRITE, timed

MASTER_KEY = -1  # the master data's place among shards in id order (first)
FEED_KEY = 1 << 40  # feed sites come after batches in id order (they share no table)
# Rows on the as-of day depend on this much of the future: a month's feeding summary is dated at
# the month's end (31 days), a reorder bought on a day is for consumption up to a lead time
# (≤ 7 days) and a cover (30 days) later, triggered by the coming week's need (7 days).
LOOKAHEAD_DAYS = max(31, LEAD_DAYS[1] + COVER_DAYS + SAFETY_DAYS) + 1


@dataclass(frozen=True)
class Job:
    """What every shard needs: where to write, the profile, the seed and the dates."""

    root: Store  # the work folder (becomes the snapshot), on any fsspec filesystem
    profile_name: str
    seed: int
    as_of: dt.date
    first_start: dt.date
    clean_sensors: bool = False  # readings without sensor faults (--clean-sensors)
    as_of_time: dt.time | None = None  # the cut's time of day on the as-of date (None: its end)

    @property
    def work(self) -> Store:
        return self.root.child("_work")

    @property
    def profile(self) -> Profile:
        return get(self.profile_name)

    @property
    def cut_at(self) -> dt.datetime:
        """The as-of moment: rows created before it are written (``aquagen.tables.cut``)."""
        return end_of(self.as_of, self.as_of_time)

    @property
    def setup_date(self) -> dt.date:
        """The day the farm is set up: infrastructure (sensors included) and initial stock."""
        return self.first_start - dt.timedelta(days=SETUP_LEAD_DAYS)

    @property
    def horizon(self) -> dt.date:
        """The last day built: the as-of date plus what its rows depend on."""
        return self.as_of + dt.timedelta(days=LOOKAHEAD_DAYS)


@dataclass(frozen=True)
class Written:
    """A shard's result: its part files (table or part path -> manifest entry, None when empty),
    its rows and, for the master shard, its per-day counts (its ids are fixed, so it is counted as
    it is written)."""

    entries: dict[str, dict | None]
    rows: int
    counts: pl.DataFrame | None = None


def master_shard(job: Job) -> Written:
    """Phases 1-2: written at once (fixed ids); the stock tables go to the feed sites. A table the
    profile makes piece by piece (the weather of a long history) is counted, cut and written as it
    is made (``_write_made``), before the profile makes the next."""
    p = job.profile
    setup_date = job.setup_date
    counter = Counting(p.name)
    entries: dict[str, dict | None] = {}
    rows = 0
    with timed(MASTER) as step:
        frames = p.master(setup_date, rng_for(job.seed, MASTER_STREAM), p.name)
        step.rows = sum(df.height for df in frames.values())
    # the master's tables as they are before the profile makes the environment's (some replace them)
    master = dict(frames)
    environment = iter(()) if p.environment is None else p.environment(master, setup_date, job.as_of, job.seed, p.name)
    while True:
        with timed(MASTER) as step:
            made = next(environment, None)
            step.rows = made[1].height if made is not None and isinstance(made[1], pl.DataFrame) else 0
        if made is None:
            break
        name, table = made
        if isinstance(table, pl.DataFrame):
            frames[name] = table
        else:
            entries[name], n = _write_made(job, name, table, counter)
            rows += n
        del made, table
    del master
    for name in p.stock_tables:
        job.work.write_frame(f"{name}.arrows", frames[name])
    for name, df in frames.items():
        if when_column(name, p.name) in df.columns:  # tables without created_at are master-only
            counter.assign(name, df)
    if job.as_of_time is not None:  # counted whole (ids as at the day's end), written up to the moment, a
        # changing master row (a calibrated sensor) as its last history row before it
        mine = {n: df for n, df in frames.items() if n not in p.stock_tables}
        frames |= cut(mine, job.cut_at, p.name, p.mutable, p.booked, p.unbooked)
    for name, df in frames.items():
        if name not in p.stock_tables:
            entries[name] = _write(job, name, df, "master")
    rows += sum(df.height for df in frames.values())
    return Written(entries, rows, counter.counts())


def _write_made(job: Job, name: str, pieces: Iterator[pl.DataFrame], counter: Counting) -> tuple[dict | None, int]:
    """A master table made piece by piece in id order (``pieces``): each counted, cut (as
    ``master_shard`` cuts the others: ids as at the day's end, rows up to the moment) and added to
    its part file, whose row groups are those of the whole table's (``PartWriter``, exact): memory
    holds a row group and a piece, not the table. Its entry and rows written."""
    p = job.profile
    assert name not in p.mutable  # cut piece by piece: no row's state depends on a later piece
    with PartWriter(job.root, name, "master", p.name, exact=True) as writer:
        while True:
            with timed(MASTER, name) as step:
                df = next(pieces, None)
                step.rows = 0 if df is None else df.height
            if df is None:
                break
            counter.add(name, df)
            if job.as_of_time is not None:
                df = cut({name: df}, job.cut_at, p.name, p.mutable, p.booked, p.unbooked)[name]
            with timed(WRITE, name, df.height):
                writer.add(df)
            del df
        with timed(WRITE, name):
            writer.close()
    return writer.entry, writer.rows


def _batch(job: Job, pb: PlannedBatch, ids: IdBook) -> dict[str, pl.DataFrame]:
    """The batch's tables, simulated up to the horizon (cut there by the caller). Its draws are those
    of its whole life, whatever the horizon (``BatchSpec.through``): the as-of date only adds rows."""
    end = pb.start_date + dt.timedelta(days=MAX_LIFE_DAYS)
    station, area = station_id(pb.station), area_id(pb.sea_area)
    with timed(SIMULATE) as step:
        sim: BatchSim = simulate_batch(
            BatchSpec(
                pb.start_date,
                pb.eggs,
                pb.geography,
                job.seed,
                pb.shard,
                end,
                job.clean_sensors,
                station,
                area,
                job.setup_date,
                through=job.horizon,
            )
        )
        step.rows = sim.daily.height
    plan = BatchPlan(pb.batch_id, pb.batch_number, station, area, job.seed, pb.shard, job.horizon)
    return job.profile.batch(plan, sim, ids)  # timed table by table (``aquagen.timing.Laps``)


def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _until(job: Job, frames: dict[str, pl.DataFrame], last: dt.date) -> dict[str, pl.DataFrame]:
    """The rows created up to the end of day ``last``."""
    end = end_of(last)
    with timed(CUT):
        return {name: until(df, when_column(name, job.profile_name), end) for name, df in frames.items()}


def _keep(job: Job, part: str, frames: dict[str, pl.DataFrame]) -> None:
    """A shard's locally numbered tables, until its ids are known: locally one file (``_kept_file``)
    of uncompressed Arrow IPC streams, one per table, then their index (LZ4 wrote an eighth of the
    bytes but cost as much CPU as it saved, measured; a file per table cost a file's creation
    each); elsewhere one pickled file."""
    with timed(HANDOFF, "local out") as step:
        if job.work.local is not None:
            bases = {t.history_table: name for name, t in job.profile.tables.items() if t.history_table}
            _write_streams(job.work.local / _kept_file(part), frames, bases)
        else:
            job.work.write_bytes(
                f"local/{part}.pickle",
                pickle.dumps({name: _ipc(df) for name, df in frames.items()}, protocol=pickle.HIGHEST_PROTOCOL),
            )
        step.rows = sum(df.height for df in frames.values())


def _write_streams(path: Path, frames: dict[str, pl.DataFrame], bases: dict[str, str] | None = None) -> dict[str, list]:
    """``frames`` as one local file: an uncompressed Arrow IPC stream per frame, then their index
    (name -> offset, size) and its size; written under a temporary name, in place when complete.
    With ``bases`` (history table -> its base table), a history frame's columns that are its base
    frame's very arrays (the '+' rows of objects that never changed) are left out of its stream and
    listed after its size instead, with their base and places (``_read_kept`` puts them back): a
    quarter of a batch's bytes; and then (the kept file) a large frame's columns of one value
    (``_constant``) left out too, listed with their places and an offset and size of a stream of their
    first row, written after the frame's, and its columns that repeat an earlier one's arrays
    (``_arrays``), listed with that column: a quarter of the rest (1322 -> 978 -> 925 MB for the
    default 50-batch fleet: every MB written costs about 2 ms of the kernel's CPU, measured). The index."""
    index: dict[str, list] = {}
    constants, bases = bases is not None, bases or {}
    # frames from half a megabyte, as Arrow without a copy (string views as they are)
    big = {
        n: df.to_arrow(compat_level=pl.CompatLevel.newest())
        for n, df in frames.items()
        if df.estimated_size() >= SMALL_STREAM_BYTES
    }
    with replacing(str(path), lambda tmp: pa.OSFile(tmp, "wb")) as sink:
        for name, df in frames.items():
            at = sink.tell()
            table, shared, constant, same = big.get(name), [], [], []
            if table is None:
                piece = io.BytesIO()
                df.write_ipc_stream(piece, compression="uncompressed", compat_level=pl.CompatLevel.newest())
                sink.write(piece.getbuffer())
            else:
                base = big.get(bases.get(name, ""))
                if base is not None and base.num_rows == table.num_rows:
                    shared = [
                        [c, i]
                        for i, c in enumerate(table.column_names)
                        if c in base.column_names and _arrays(table[c]) == _arrays(base[c])
                    ]
                if constants:
                    out = {c for c, _ in shared}
                    constant = [
                        [c, i] for i, c in enumerate(table.column_names) if c not in out and _constant(table[c])
                    ]
                    out |= {c for c, _ in constant}
                    first: dict[tuple, str] = {}  # a column's arrays -> the first column of them
                    for i, c in enumerate(table.column_names):
                        if c not in out:
                            source = first.setdefault(_arrays(table[c]), c)
                            if source != c:
                                same.append([c, i, source])
                    if len(shared) + len(constant) + len(same) == table.num_columns:  # a stream keeps its height
                        constant, same = [], []
                table = table.drop_columns([c for c, *_ in shared + constant + same])
                with pa_ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
            index[name] = [at, sink.tell() - at]
            c_at = c_size = 0
            if constant:  # their first row after the stream, by Polars (read back as written)
                one = io.BytesIO()
                df.select_seq(c for c, _ in constant).head(1).write_ipc_stream(
                    one, compression="uncompressed", compat_level=pl.CompatLevel.newest()
                )
                c_at = sink.tell()
                sink.write(one.getbuffer())
                c_size = sink.tell() - c_at
            if constant or same:
                index[name] += [bases.get(name) if shared else None, shared, constant, c_at, c_size, same]
            elif shared:
                index[name] += [bases[name], shared]
        sink.write(_index_bytes(index))
    return index


def _constant(a: pa.ChunkedArray) -> bool:
    """Whether every row of ``a`` holds one value (or every one is NULL): a literal's column (a batch id,
    an empty note, a history row's type) written in full by Arrow. Three rows looked at first, so that
    a column that varies costs no scan."""
    n, nulls = len(a), a.null_count
    if n < 2 or nulls not in (0, n):
        return False
    if nulls == n:
        return True
    first = a[0]
    if not (a[n - 1].equals(first) and a[n // 2].equals(first)):
        return False
    try:
        return bool(pc.all(pc.equal(a, first)).as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # a type without a comparison kernel
        return False


def _arrays(a: pa.ChunkedArray) -> tuple:
    """A column's memory (its type, and each chunk's offset, length and buffers): equal for two
    columns that are one array, so the same values (a column selected twice: ``created_at`` and
    ``updated_at``; a '+' history row's column and its base row's)."""
    return (
        str(a.type),
        tuple(
            (x.offset, len(x), tuple((u.address, u.size) if u is not None else None for u in x.buffers()))
            for x in a.chunks
        ),
    )


# A stream (``_write_streams``) of a frame under this many bytes is written and read by Polars' own IPC
# writer and reader, a larger one by pyarrow's (memory-mapped, without a copy): a table's conversion to
# and from Arrow costs about 0.15 ms each way whatever its rows (its columns' schema), a third of a small
# table's hand-off, while Polars' writer and reader copy the bytes, costlier past half a megabyte
# (measured on a batch's 55 tables: 0.03-0.1 against 0.1-0.4 ms each under 0.5 MB).
SMALL_STREAM_BYTES = 1 << 19


def _index_bytes(index: dict[str, list[int]]) -> bytes:
    """The end of a file of streams (``_write_streams``, ``_put_small``): their index (name -> offset,
    size) as JSON, then its size."""
    footer = json.dumps(index).encode()
    return footer + len(footer).to_bytes(8, "little")


def _streams_index(job: Job, rel: str) -> dict[str, list]:
    """The index of a work file of streams (``_index_bytes``)."""
    size = int.from_bytes(_read_span(job, rel, -8, 8), "little")
    return json.loads(_read_span(job, rel, -8 - size, size))


def _span(piece: str) -> tuple[str, int, int]:
    """A piece's work file and its bytes there: ``<file>#<offset>:<size>``."""
    rel, _, span = piece.partition("#")
    at, size = span.split(":")
    return rel, int(at), int(size)


def _kept_file(part: str) -> str:
    return f"local/{part}.arrows"


BATCH_PART = "batch-"  # a batch's part: its kept file, its part files


def _batch_part(pb: PlannedBatch) -> str:
    return f"{BATCH_PART}{pb.shard:05d}"


def forget_batches(job: Job) -> None:
    """Every batch is written: their kept tables are done with (work disk stays bounded). Only theirs: a
    resumed run passes here again after feed sites kept theirs for their write pass."""
    for rel in job.work.glob(f"local/{BATCH_PART}*"):
        job.work.rm(rel)


def _read_kept(job: Job, part: str) -> dict[str, pl.DataFrame]:
    """A shard's local file of ``_keep``, by table: each memory-mapped on its own, without a copy (its
    pages are let go with the table, as the shard writes its tables one by one); a history frame's
    columns left out (``_write_streams``) taken from its base frame again, in their places."""
    rel = _kept_file(part)
    assert job.work.local is not None
    path = job.work.local / rel
    index = sorted(_streams_index(job, rel).items())
    frames = {name: _read_ipc(path, at=at, size=n) for name, (at, n, *_) in index}
    # the base frames first (complete before a history frame takes columns from them)
    for name, (_, _, *of) in sorted(index, key=lambda item: len(item[1]) > 2 and item[1][2] is not None):
        if not of:
            continue
        base, shared, *rest = of
        df = frames[name]
        put: list[tuple[int, Callable[[], pl.Series]]] = [
            (i, partial(frames[base].get_column, column)) for column, i in shared
        ]
        if rest:  # the constant columns (their first row, repeated) and the repeated ones (their first's)
            constant, c_at, c_size, same = rest
            if constant:
                one, n = _read_ipc(path, at=c_at, size=c_size), df.height
                put += [(i, partial(one.get_column(column).new_from_index, 0, n)) for column, i in constant]
            put += [(i, partial(lambda c, s: df.get_column(s).alias(c), column, source)) for column, i, source in same]
        for i, column in sorted(put, key=lambda p: p[0]):  # in their order: each goes where it was, after its first
            df.insert_column(i, column())
    return frames


def _write_ipc(sink: pa.NativeFile, df: pl.DataFrame) -> None:
    """``df`` as an uncompressed Arrow IPC file into ``sink``, through pyarrow's writer (a fifth less
    CPU than ``write_ipc``, measured over a 10-batch fleet's tables; read back by ``_read_ipc``)."""
    table = df.to_arrow(compat_level=pl.CompatLevel.newest())  # string views as they are, no copy
    with pa_ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _ipc(df: pl.DataFrame) -> bytes:
    """``df`` as the bytes of an Arrow IPC file (``_write_ipc``)."""
    sink = pa.BufferOutputStream()
    _write_ipc(sink, df)
    return sink.getvalue().to_pybytes()


def first_file(key: int) -> str:
    """Where the parent puts a shard's first id per (table, day) (``allocate_each``), in the work folder."""
    return f"first/{key}.arrows"


def _first(job: Job, first: str) -> pl.DataFrame:
    return job.work.read_frame(first)


def _read_ipc(
    source: Path | bytes, columns: tuple[str, ...] = (), at: int | None = None, size: int = 0
) -> pl.DataFrame:
    """A work file of ``_write_ipc`` (only ``columns``, if given): a local one memory-mapped by pyarrow
    without a copy (a third of ``pl.read_ipc``'s CPU, measured), or its bytes. With ``at``: the IPC
    stream of ``size`` bytes at that offset of the file (``_keep``), its own pages only memory-mapped
    (from the page boundary before it; unmapped when the frame is let go): half the CPU of mapping
    the whole file for each stream with ``pa.memory_map``, measured; a stream under
    ``SMALL_STREAM_BYTES`` is read by Polars from its bytes instead."""
    if at is not None and size < SMALL_STREAM_BYTES:  # read by Polars (``_write_streams``)
        assert isinstance(source, Path)
        df = pl.read_ipc_stream(_pread(source, at, size))
        return df.select_seq(columns) if columns else df
    if at is not None:
        assert isinstance(source, Path)
        start = at - at % mmap.ALLOCATIONGRANULARITY
        fd = os.open(source, os.O_RDONLY)
        try:
            region = mmap.mmap(fd, at - start + size, offset=start, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)  # the mapping stays valid without it
        table = pa_ipc.open_stream(pa.BufferReader(pa.py_buffer(region).slice(at - start, size))).read_all()
    else:
        stream = pa.BufferReader(source) if isinstance(source, bytes) else pa.memory_map(str(source))
        table = pa_ipc.open_file(stream).read_all()
    return cast(pl.DataFrame, pl.from_arrow(table.select(list(columns)) if columns else table))


def _kept(job: Job, part: str, first: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The tables ``_keep`` put aside, numbered with the snapshot's ids."""
    with timed(HANDOFF, "local in") as step:
        if job.work.local is not None:
            frames = _read_kept(job, part)
        else:
            frames = {
                name: _read_ipc(data)
                for name, data in pickle.loads(job.work.read_bytes(f"local/{part}.pickle")).items()
            }
        step.rows = sum(df.height for df in frames.values())
    return _numbered(job, frames, first)


def _numbered(job: Job, frames: dict[str, pl.DataFrame], first: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A shard's locally numbered tables with the snapshot's ids (``first``: its first ids)."""
    with timed(NUMBER) as step:
        frames = renumber(frames, first, job.profile_name)
        step.rows = sum(df.height for df in frames.values())
    return frames


def build_batch(job: Job, pb: PlannedBatch) -> pl.DataFrame:
    """Build the batch's tables up to the horizon with local ids and keep them as of the as-of moment
    (the feedings up to the horizon); its rows per table and day, up to the horizon. A batch that
    starts after the horizon has none yet."""
    if pb.start_date > job.horizon:
        return Counting(job.profile_name).counts()
    p, ids = job.profile, Local(job.profile_name)
    built = _batch(job, pb, ids)
    with timed(CUT):
        # the feeding events up to the horizon, for the feed sites' FIFO (a changing object as of the
        # horizon: its later states may name rows not built yet); every other table as of the as-of
        # moment, as it is written: the rows after it are neither kept nor numbered (a batch's ids
        # map one to one, in order, so cutting before numbering keeps the same rows)
        ahead = {name: built.pop(name) for name in p.feedings if name in built}
        frames = cut(built, job.cut_at, p.name, p.mutable, p.booked, p.unbooked)
        frames |= cut(ahead, job.horizon, p.name, p.mutable)
    _keep(job, _batch_part(pb), frames)
    return ids.counts(_day(job.horizon))


def write_batch(job: Job, pb: PlannedBatch, first: str) -> Written:
    """The batch's rows up to the as-of date as part files; its feeding events (up to the
    horizon) into the work folder, by feed container. ``first``: its ``first_file``."""
    p = job.profile
    part = _batch_part(pb)
    frames = _kept(job, part, _first(job, first))  # cut at the as-of moment but the feedings (``build_batch``)
    feedings_table, history_table = p.feedings
    if feedings_table in frames:
        # feeding events: rows plus their '+' history row's id; the feed site costs them and adds the history
        with timed(HANDOFF, "feedings out") as step:
            feedings = _with_history_ids(frames.pop(feedings_table), frames.pop(history_table))
            groups = _by_feed_container(job, feedings)
            if job.work.local is not None:  # one file (``_write_streams``), a stream per feed container and window
                _write_streams(job.work.local / f"feed/{part}.arrows", groups)
            else:
                for key, g in groups.items():
                    job.work.write_bytes(f"feed/{key}/{part}.arrow", _ipc(g))
            step.rows = feedings.height
    return _write_all(job, frames, part)


def _with_history_ids(feedings: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """``feedings`` with the id of each one's '+' history row (``history_id``, last). Each event has one,
    built in its order (``with_ids_and_history``): then a column taken as it is (1 ms against the join's
    89 over the default fleet of 50's events, measured); else by the join."""
    if history.height == feedings.height and np.array_equal(
        history.get_column("id").to_numpy(), feedings.get_column("id").to_numpy()
    ):
        return with_column(feedings, history.get_column("history_id"))
    return feedings.join(history.select_seq("id", "history_id"), on="id", maintain_order="left")


def _by_feed_container(job: Job, feedings: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``feedings`` by feed container and window (``<container>/<window>``), each in its rows' order: one
    stable sort by the two and slices of it (``partition_by`` gathers each group's rows apart)."""
    keys = feedings.select_seq(
        fc=job.profile.feed_container_of(pl.col("container_id")), w=window_of(pl.col("created_at"))
    )
    fc, w = keys.get_column("fc").to_numpy(), keys.get_column("w").to_numpy()
    key = fc.astype(np.int64) * 10_000 + w
    order = np.argsort(key, kind="stable")
    key = key[order]
    bounds = np.append(np.flatnonzero(np.diff(key, prepend=-1)), len(key))  # where each group starts, then the end
    ordered = feedings[order]
    return {
        f"{k // 10_000:04d}/{k % 10_000}": ordered.slice(a, b - a)
        for k, a, b in zip(key[bounds[:-1]].tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    }


def feed_sites(job: Job) -> list[FeedSite]:
    """Feed shards from the written master tables (the stock tables from the work folder)."""
    p = job.profile

    def read(name: str) -> pl.DataFrame:
        return (
            job.work.read_frame(f"{name}.arrows")
            if name in p.stock_tables
            else job.root.read_parquet(f"{name}/master.parquet")
        )

    return p.feed_sites(read)


def window_of(when: pl.Expr) -> pl.Expr:
    """A feed site's time window of a row: the calendar year (UTC) of its time. A site is written
    window by window, each as its own part file (``feed-012-2024``): memory holds one window's
    rows, whatever the length of the site's history."""
    return when.dt.year()


def feed_files(job: Job, sites: list[FeedSite]) -> dict[int, dict[int, list[str]]]:
    """Per feed site and window, the batches' hand-off pieces of its feed containers (one listing for
    all): ``feed/<container>/<window>/<part>.arrow`` files, or locally the streams of one file per
    batch (``feed/<part>.arrows#<offset>:<size>``), in the same order (by container, window, batch)."""
    files: dict[str, dict[int, list[str]]] = {}
    pieces: list[tuple[str, str, str]] = []  # (container/window, part, piece)
    if job.work.local is not None:
        for path in sorted(job.work.local.glob("feed/*.arrows")):
            for key, (at, n) in _streams_index(job, f"feed/{path.name}").items():
                pieces.append((key, path.stem, f"feed/{path.name}#{at}:{n}"))
    else:
        for rel in job.work.glob("feed/*/*/*.arrow"):
            container, window, name = rel.split("/")[-3:]
            pieces.append((f"{container}/{window}", name.removesuffix(".arrow"), rel))
    for key, _, piece in sorted(pieces):
        container, window = key.split("/")
        files.setdefault(container, {}).setdefault(int(window), []).append(piece)
    out: dict[int, dict[int, list[str]]] = {}
    for s in sites:
        mine = out.setdefault(s.key, {})
        for fc in s.tables["containers"]["id"]:
            for w, fs in files.get(f"{fc:04d}", {}).items():
                mine.setdefault(w, []).extend(fs)
        out[s.key] = dict(sorted(mine.items()))
    return out


def _site_feedings(job: Job, files: list[str], columns: tuple[str, ...] = ()) -> pl.DataFrame:
    """The feeding events (up to the horizon) of every batch a site fed (only ``columns``, if given)."""
    p = job.profile
    with timed(HANDOFF, "feedings in") as step:
        if files:
            feedings = pl.concat([_read_piece(job, f, columns) for f in files])
        else:
            empty = pl.DataFrame(schema={**p.tables[p.feedings[0]].polars_schema, "history_id": pl.Int32})
            feedings = empty.select_seq(columns) if columns else empty
        step.rows = feedings.height
    return feedings


def _read_piece(job: Job, piece: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """A hand-off piece of ``feed_files``."""
    local = job.work.local
    if local is None:
        return _read_ipc(job.work.read_bytes(piece), columns)
    rel, at, size = _span(piece)
    return _read_ipc(local / rel, columns, at, size)


def _window_part(site: FeedSite, w: int) -> str:
    return f"{site.part}-{w}"


def build_feed(job: Job, site: FeedSite, files: dict[int, list[str]]) -> pl.DataFrame:
    """Run the feed site's FIFO over the feeding events of every batch it fed (up to the horizon),
    keep its tables up to the as-of date with local ids (``_keep_site``); their rows per table and
    day. An idle site (no feeding events) too: its initial lots are written off at their expiry."""
    p = job.profile
    later = p.feed_window is not None
    feedings = _site_feedings(job, [f for fs in files.values() for f in fs], p.feed_fifo_columns if later else ())
    ids = Local(job.profile_name)
    frames = p.feed_site(site, feedings, job.seed, ids, not later)  # timed by FIFO and table
    del feedings
    _keep_site(job, site, frames)
    return ids.counts(_day(job.as_of))


def build_idle_feeds(job: Job, sites: list[FeedSite]) -> pl.DataFrame:
    """``build_feed`` of feed sites without a feeding event up to the horizon, in one task (the
    profile's ``feed_idle``): most sites of a small fleet, whose fixed cost is then paid once. Their
    rows per table and day, by shard key (``shard``): each site keeps its own ids. Nothing is kept:
    ``write_idle_feeds`` builds them again (a small fraction of the cost of a site's work files)."""
    books = _idle_books(job, sites)[1]
    counts = [books[s.key].counts(_day(job.as_of)) for s in sites]
    shard = np.repeat([FEED_KEY + s.key for s in sites], [c.height for c in counts])
    return pl.concat(counts).hstack([pl.Series("shard", shard, dtype=pl.Int64)])


def _idle_books(job: Job, sites: list[FeedSite]) -> tuple[dict[int, dict[str, pl.DataFrame]], dict[int, Local]]:
    """The idle ``sites``' tables by site key (the profile's ``feed_idle``), numbered by one book each."""
    feed_idle = job.profile.feed_idle
    assert feed_idle is not None and job.profile.feed_window is not None  # costed window by window
    books = {s.key: Local(job.profile_name) for s in sites}
    return feed_idle(sites, job.seed, books.__getitem__), books


def _keep_site(job: Job, site: FeedSite, frames: dict[str, pl.DataFrame]) -> None:
    """A feed site's tables up to the as-of date (``_site_parts``), kept until its ids are known
    (``_keep``), the site's own part last: its completion marks the site's windows complete too."""
    for part, tables in _site_parts(job, site, frames).items():
        _keep(job, part, tables)


def _site_parts(job: Job, site: FeedSite, frames: dict[str, pl.DataFrame]) -> dict[str, dict[str, pl.DataFrame]]:
    """A feed site's tables up to the as-of date, by kept part: with a profile's ``feed_window``, only
    its feedings' costs and its lots' changes by time window (``window_of``, parts ``<site>/w<year>``),
    so that the big tables (feeding events, their history, the lots' history) are made window by
    window when it is written and memory never holds them for the site's whole history; then the
    rest (part ``<site>``)."""
    p = job.profile
    parts = {}
    costs, changes = frames.pop(FEED_COSTS, None), frames.pop(FEED_CHANGES, None)
    frames = _until(job, frames, job.as_of)
    if costs is not None and changes is not None:
        _, history = p.stock_tables
        end = end_of(job.as_of)
        cost_of = _by_window(before(costs, "time", end), "time")
        change_of = _by_window(until(changes, "history_date", end), "history_date")
        for w in sorted(set(cost_of) | set(change_of)):  # each window's costs and changes (under the
            # history table's name: renumbered so)
            parts[f"{site.part}/w{w}"] = {
                FEED_COSTS: cost_of.get(w, costs.head(0)).drop("time"),
                history: change_of.get(w, changes.head(0)),
            }
    parts[site.part] = frames
    return parts


def _by_window(df: pl.DataFrame, when: str) -> dict[int, pl.DataFrame]:
    """``df``'s rows by time window (``window_of`` its column ``when``), in their order: by arithmetic on
    a UTC timestamp's array without NULLs (the frame itself when one window holds them all, a slice
    when its rows are together), else by queries."""
    if df.height == 0:
        return {}
    s = df[when]
    if not isinstance(s.dtype, pl.Datetime) or s.dtype.time_zone != "UTC" or s.null_count():
        df = df.with_columns_seq(_window=window_of(pl.col(when)))
        return {int(w): df.filter(pl.col("_window") == w).drop("_window") for w in sorted(df["_window"].unique())}
    year = physical(s).view(f"datetime64[{s.dtype.time_unit}]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = {}
    for w in np.unique(year).tolist():
        rows = np.flatnonzero(year == w)
        if len(rows) == len(year):
            out[w] = df
        elif rows[-1] - rows[0] == len(rows) - 1:  # together
            out[w] = df.slice(int(rows[0]), len(rows))
        else:
            out[w] = kept_rows(df, year == w)
    return out


def write_feed(job: Job, site: FeedSite, first_at: str, files: dict[int, list[str]]) -> Written:
    """The feed site's tables up to the as-of date as part files (``_write_site``), from what
    ``build_feed`` kept. ``first_at``: its ``first_file``."""
    first = _first(job, first_at)
    frames = _kept(job, site.part, first)
    if job.profile.feed_window is None:
        return _write_cut(job, frames, site.part)
    return _write_site(
        job,
        frames,
        {w: partial(_kept, job, f"{site.part}/w{w}", first) for w in _kept_windows(job, site.part)},
        files,
        lambda tables, w: _write_all(job, tables, site.part if w is None else _window_part(site, w)),
    )


def write_idle_feeds(job: Job, sites: list[FeedSite]) -> Written:
    """``write_feed`` of the sites ``build_idle_feeds`` counted, in one task: their tables built again
    (``_idle_books``) and numbered site by site with each site's first ids, then ``_write_site`` once
    for all of them (a row is one lot's, a lot one site's), each site's rows written as the parts it
    writes alone (the same bytes, tested)."""
    p = job.profile
    stock, _ = p.stock_tables
    key = p.tables[stock].object_key or "id"
    built = _idle_books(job, sites)[0]
    base: dict[str, list[pl.DataFrame]] = {}  # the sites' own parts: their lots and lot history
    windows: dict[int, dict[str, list[pl.DataFrame]]] = {}  # by year: the lots' changes (and no cost)
    owners: list[pl.Series] = []  # each site's lots
    for s in sites:  # a site at a time only what is its own: its ids
        parts = _site_parts(job, s, built.pop(s.key))
        first = _first(job, first_file(FEED_KEY + s.key))
        for part, tables in parts.items():
            into = base if part == s.part else windows.setdefault(int(part.rsplit("/w", 1)[1]), {})
            for name, df in _numbered(job, tables, first).items():
                into.setdefault(name, []).append(df)
        owners.append(parts[s.part][stock][key])
    of_site = pl.DataFrame(  # each lot's site (no query per site)
        {key: pl.concat(owners), "_site": np.repeat([s.key for s in sites], [len(o) for o in owners])},
        schema_overrides={"_site": pl.Int64},
    )
    by_key = {s.key: s for s in sites}

    def write(tables: dict[str, pl.DataFrame], w: int | None) -> Written:
        """Every idle site's ``tables`` as each site's part (the sites with rows), rows in their order."""
        split = {
            name: df.join(of_site, on=key, how="left", maintain_order="left").partition_by(
                "_site", as_dict=True, include_key=False
            )
            for name, df in tables.items()
            if df.height
        }
        entries: dict[str, dict | None] = {}
        rows = 0
        for k in sorted({k for parts in split.values() for (k,) in parts}):
            mine = {name: split[name].get((k,), df.head(0)) if df.height else df for name, df in tables.items()}
            written = _write_all(job, mine, by_key[k].part if w is None else _window_part(by_key[k], w))
            entries |= written.entries
            rows += written.rows
        return Written(entries, rows)

    return _write_site(
        job, _concat_each(base), {w: partial(_concat_each, parts) for w, parts in windows.items()}, {}, write
    )


def _concat_each(pieces: dict[str, list[pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    return {name: pl.concat(dfs) for name, dfs in pieces.items()}


def _write_site(
    job: Job,
    frames: dict[str, pl.DataFrame],
    windows: dict[int, Callable[[], dict[str, pl.DataFrame]]],
    files: dict[int, list[str]],
    write: Callable[[dict[str, pl.DataFrame], int | None], Written],
) -> Written:
    """A feed site's tables up to the as-of date, written by ``write`` (a window's tables with its
    year, the site's own with None), from its parts (``_site_parts``) numbered with the snapshot's ids:
    its own ``frames`` and its ``windows`` by year, and ``files``, its feedings' hand-off files by
    window (a profile's ``feed_window`` makes the feeding tables here): the per-event tables one
    window at a time, then the small tables; the lots' final state is carried over from window to
    window."""
    p = job.profile
    assert p.feed_window is not None
    stock, history = p.stock_tables
    key = p.tables[stock].object_key or "id"
    lots = frames[stock]
    latest = [frames[history]]  # each lot's latest history row so far (its initial rows to start)
    entries: dict[str, dict | None] = {}
    rows = 0
    # every window with a feeding up to the as-of date was kept (its costs), and every window with a lot's change
    for w in sorted(windows):
        window = windows[w]()
        feedings = sort_unique(_site_feedings(job, files.get(w, [])), "created_at", "id")
        with timed(BUILD, p.feedings[0]) as step:
            tables = p.feed_window(feedings, window[FEED_COSTS], window[history], lots, p.name)
            step.rows = tables[p.feedings[0]].height
        del feedings, window
        with timed(CUT):
            tables = cut(tables, job.cut_at, p.name, (), p.booked, p.unbooked)
        latest.append(last_history(tables[history], key))
        written = write(tables, w)
        entries |= written.entries
        rows += written.rows
    with timed(CUT):  # the lots as their last history row up to the as-of moment (as ``cut`` makes them)
        frames = cut(frames, job.cut_at, p.name, (), p.booked, p.unbooked)
        frames[stock] = sort_unique(last_history(pl.concat(latest), key).select_seq(p.tables[stock].column_names), key)
    written = write(frames, None)
    return Written(written.entries | entries, written.rows + rows)


def _kept_windows(job: Job, part: str) -> list[int]:
    """The windows a feed site kept (``build_feed``)."""
    if job.work.local is not None:
        return [int(f.name[1:].removesuffix(".arrows")) for f in (job.work.local / "local" / part).glob("w*.arrows")]
    return [int(f.split("/")[-1][1:].removesuffix(".pickle")) for f in job.work.glob(f"local/{part}/w*.pickle")]


def _write(job: Job, name: str, df: pl.DataFrame, part: str) -> dict | None:
    with timed(WRITE, name, df.height):
        return write_part(job.root, name, df, part, job.profile_name)


def _write_cut(job: Job, frames: dict[str, pl.DataFrame], part: str) -> Written:
    """A shard's rows up to the horizon, cut at the as-of date, as part files. Empties ``frames``
    and lets go of each table once written (its work file's pages with it): memory holds the
    table being written, not the shard's."""
    p = job.profile
    with timed(CUT):
        kept = cut(frames, job.cut_at, p.name, p.mutable, p.booked, p.unbooked)
    frames.clear()
    return _write_all(job, kept, part)


def _write_all(job: Job, frames: dict[str, pl.DataFrame], part: str) -> Written:
    """``frames`` as part ``part`` of their tables, each let go once written (``frames`` empties).
    Entries by path (a shard may write several parts of a table). A table's rows under
    ``GATHER_ROWS`` go into the shard's gathering file instead (``gather``)."""
    entries, rows, small = {}, 0, {}
    for name in list(frames):
        df = frames.pop(name)
        if 0 < df.height < GATHER_ROWS:
            small[name] = df
        else:
            entries[f"{name}/{part}.parquet"] = _write(job, name, df, part)
        rows += df.height
        del df
    if small:
        _put_small(job, part, small)
    return Written(entries, rows)


# A shard's rows of a table below this many are not a part file of their own: every shard's such
# rows of a table are gathered into one part (``gather``). A part file costs about 1 ms whatever its
# rows (encoder and compressor set-up, metadata, the file), and most of a shard's tables hold a few
# rows (a 10-batch fleet: 510 of 892 parts under 100 rows); a gathered row costs its hand-off
# (about 0.5 µs), so that past a few thousand rows a part of its own is cheaper. Measured over 10
# full lives in one process: 10,000 rows 1.70 CPU-s writing + 1.44 hand-off, 2,000 rows 1.69 + 1.13,
# 500 rows 1.85 + 1.13.
GATHER_ROWS = 2_000
GATHERED_PART = "gathered"  # the part every shard's gathered rows of a table make
GATHER_GROUP_ROWS = 1 << 17  # a gathered part's row groups: memory holds this many rows, whatever the fleet


def _small_file(part: str) -> str:
    return f"small/{part}.streams"


def _put_small(job: Job, part: str, frames: dict[str, pl.DataFrame]) -> None:
    """A shard's small tables (``_write_all``) as one work file: Polars' uncompressed Arrow IPC
    stream of each (a fifth of the CPU of pyarrow's writer after ``to_arrow``, measured on such
    tables), then their index (name -> offset, size) and its size, as ``_write_streams`` makes them."""
    with timed(HANDOFF, "small out") as step:
        chunks, index, at = [], {}, 0
        for name, df in frames.items():
            piece = io.BytesIO()
            df.write_ipc_stream(piece, compression="uncompressed")
            chunks.append(piece.getvalue())
            index[name] = [at, len(chunks[-1])]
            at += len(chunks[-1])
        job.work.write_bytes(_small_file(part), b"".join(chunks) + _index_bytes(index))
        step.rows = sum(df.height for df in frames.values())


def _read_span(job: Job, rel: str, at: int, size: int) -> bytes:
    """``size`` bytes at offset ``at`` of work file ``rel`` (negative ``at``: from its end)."""
    if job.work.local is not None:
        return _pread(job.work.local / rel, at, size)
    with job.work.fs.open(job.work.path(rel), "rb") as f:
        f.seek(at, os.SEEK_SET if at >= 0 else os.SEEK_END)
        return f.read(size)


def _pread(path: Path, at: int, size: int) -> bytes:
    """``size`` bytes at offset ``at`` of a local file (negative ``at``: from its end)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, at if at >= 0 else os.fstat(fd).st_size + at)
    finally:
        os.close(fd)


def small_files(job: Job) -> dict[str, list[str]]:
    """Per table, the pieces of it in the shards' gathering files (``<file>#<offset>:<size>``), in
    part order: the gather tasks read them without an index each."""
    out: dict[str, list[str]] = {}
    for rel in job.work.glob(_small_file("*")):
        for name, (at, n) in _streams_index(job, rel).items():
            out.setdefault(name, []).append(f"{rel}#{at}:{n}")
    return dict(sorted(out.items()))


def gather(job: Job, name: str, pieces: list[str]) -> Written:
    """Every shard's gathered rows of table ``name`` (``pieces`` of ``small_files``, in part order)
    as one part file, read one shard at a time and written a row group at a time
    (``GATHER_GROUP_ROWS``)."""

    def frames() -> Iterator[pl.DataFrame]:
        for piece in pieces:
            with timed(HANDOFF, "small in") as step:
                df = pl.read_ipc_stream(io.BytesIO(_read_span(job, *_span(piece))))
                step.rows = df.height
            yield df

    with timed(WRITE, name) as step:
        entry = write_pieces(job.root, name, frames(), GATHERED_PART, job.profile_name, GATHER_GROUP_ROWS)
        step.rows = entry["rows"] if entry else 0
    return Written({f"{name}/{GATHERED_PART}.parquet": entry}, 0)
