"""Shards, as dbgen's chunks: the master data, each batch, each feed site. Each is a pure
function of (seed, shard, plan) and runs in any worker process (so these are top-level
functions). Ids come in two passes (``aquagen.tables.ids``): every shard first counts its rows
per table and day, then numbers and writes them. Batches write their feeding events into the
work folder by feed container; each feed site then runs FIFO over every batch it fed and writes
purchases, lots, decrements and the costed feeding events.

Everything is built over the whole planned horizon and cut at the as-of date
(``aquagen.tables.cut``), so a later as-of date only adds rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from ..model.fleet import PlannedBatch
from ..model.seeds import MASTER_STREAM, rng_for
from ..model.simulate import BatchSim, BatchSpec, simulate_batch
from ..model.sites import area_id, station_id
from ..model.timeline import LIFE_DAYS
from ..profiles import BatchPlan, FeedSite, Profile, get
from ..snapshot import write_part
from ..store import Store
from ..tables.cut import cut
from ..tables.ids import Allocated, Counting, IdBook, when_column

MASTER_KEY = -1  # the master data's place among shards in id order (first)
FEED_KEY = 1 << 40  # feed sites come after batches in id order (they share no table)
SETUP_LEAD_DAYS = 30  # infrastructure and initial stock exist this long before the first batch


@dataclass(frozen=True)
class Job:
    """What every shard needs: where to write, the profile, the seed and the dates."""

    root: Store  # the work folder (becomes the snapshot), on any fsspec filesystem
    profile_name: str
    seed: int
    as_of: dt.date
    first_start: dt.date

    @property
    def work(self) -> Store:
        return self.root.child("_work")

    @property
    def profile(self) -> Profile:
        return get(self.profile_name)


@dataclass(frozen=True)
class Written:
    """A shard's result: its part files (table -> manifest entry), its rows and, for the master
    shard, its per-day counts (its ids are fixed, so it is counted as it is written)."""

    entries: dict[str, dict | None]
    rows: int
    counts: pl.DataFrame | None = None


def master_shard(job: Job) -> Written:
    """Phases 1-2: written at once (fixed ids); the stock tables go to the feed sites."""
    p = job.profile
    setup_date = job.first_start - dt.timedelta(days=SETUP_LEAD_DAYS)
    frames = p.master(setup_date, rng_for(job.seed, MASTER_STREAM), p.name)
    if p.environment is not None:
        frames.update(p.environment(frames, setup_date, job.as_of, job.seed, p.name))
    for name in p.stock_tables:
        job.work.write_parquet(f"{name}.parquet", frames[name])
    counter = Counting(p.name)
    for name, df in frames.items():
        if when_column(name, p.name) in df.columns:  # tables without created_at are master-only
            counter.assign(name, df)
    entries = {name: write_part(job.root, name, df, "master", p.name)
               for name, df in frames.items() if name not in p.stock_tables}
    return Written(entries, sum(df.height for df in frames.values()), counter.counts())


def master_stock(job: Job) -> Written:
    """Without batches, the initial stock lots as they are."""
    p = job.profile
    frames = {name: job.work.read_parquet(f"{name}.parquet") for name in p.stock_tables}
    return Written({name: write_part(job.root, name, df, "master", p.name) for name, df in frames.items()},
                   sum(df.height for df in frames.values()))


def _batch(job: Job, pb: PlannedBatch, ids: IdBook) -> dict[str, pl.DataFrame]:
    """The batch's whole life (independent of the as-of date) as the profile's tables."""
    end = pb.start_date + dt.timedelta(days=LIFE_DAYS)
    sim: BatchSim = simulate_batch(BatchSpec(pb.start_date, pb.eggs, pb.geography, job.seed, pb.shard, end))
    plan = BatchPlan(pb.batch_id, pb.batch_number, station_id(pb.station), area_id(pb.sea_area))
    return job.profile.batch(plan, sim, ids)


def count_batch(job: Job, pb: PlannedBatch) -> pl.DataFrame:
    counter = Counting(job.profile_name)
    _batch(job, pb, counter)
    return counter.counts()


def write_batch(job: Job, pb: PlannedBatch, first: pl.DataFrame) -> Written:
    """The batch's rows up to the as-of date as part files; its feeding events (whole life)
    into the work folder, by feed container."""
    p = job.profile
    frames = _batch(job, pb, Allocated(first, p.name))
    part = f"batch-{pb.shard:05d}"
    # feeding events: rows plus their '+' history row's id; the feed site costs them and adds the history
    feedings_table, history_table = p.feedings
    feedings = frames.pop(feedings_table).join(frames.pop(history_table).select("id", "history_id"), on="id",
                                               maintain_order="left")
    feedings = feedings.with_columns(_fc=p.feed_container_of(pl.col("container_id")))
    for (fc,), g in feedings.partition_by("_fc", as_dict=True).items():
        job.work.write_parquet(f"feed/{fc:04d}/{part}.parquet", g.drop("_fc"))
    return _write_cut(job, frames, part)


def feed_sites(job: Job) -> list[FeedSite]:
    """Feed shards from the written master tables (the stock tables from the work folder)."""
    p = job.profile

    def read(name: str) -> pl.DataFrame:
        return job.work.read_parquet(f"{name}.parquet") if name in p.stock_tables else \
            job.root.read_parquet(f"{name}/master.parquet")

    return p.feed_sites(read)


def _feed_build(job: Job, site: FeedSite, ids: IdBook, costed_feedings: bool = True) -> dict[str, pl.DataFrame]:
    p = job.profile
    files = [f for fc in site.tables["containers"]["id"] for f in job.work.glob(f"feed/{fc:04d}/*.parquet")]
    feedings = pl.concat([job.work.read_parquet(f) for f in files]) if files else \
        pl.DataFrame(schema={**p.tables[p.feedings[0]].polars_schema, "history_id": pl.Int32})
    return p.feed_site(site, feedings, job.seed, ids, costed_feedings)


def count_feed(job: Job, site: FeedSite) -> pl.DataFrame:
    """The feed site's rows per table and day (its feeding events are numbered by their batches)."""
    counter = Counting(job.profile_name)
    _feed_build(job, site, counter, costed_feedings=False)
    return counter.counts()


def write_feed(job: Job, site: FeedSite, first: pl.DataFrame) -> Written:
    return _write_cut(job, _feed_build(job, site, Allocated(first, job.profile_name)), site.part)


def _write_cut(job: Job, frames: dict[str, pl.DataFrame], part: str) -> Written:
    """A shard's whole-horizon rows, cut at the as-of date, as part files."""
    p = job.profile
    frames = cut(frames, job.as_of, p.name, p.mutable)
    entries = {name: write_part(job.root, name, df, part, p.name) for name, df in frames.items()}
    return Written(entries, sum(df.height for df in frames.values()))
