"""Schema profiles as plug-ins: one folder per target schema of AquaMind.

A profile is a package whose ``PROFILE`` says how the shared simulation becomes that schema's
tables: its master data, a batch's tables, the feed sites' tables, which tables change over
time, how master rows are matched in an existing database, and its checks. Its table
definitions and the application's choices come from its schema files (``schemas``). Adding a
profile means adding a folder here (or in a folder named by ``$AQUAGEN_PROFILE_PATH``, for
plug-ins kept outside the package) and its schema file: nothing else changes.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

import schemas

from ..errors import AquagenError
from ..model.simulate import BatchSim
from ..tables.ids import IdBook

DEFAULT = schemas.PROFILE


@dataclass(frozen=True)
class BatchPlan:
    """Where and as what a simulated batch lands in the tables: its id, name and sites."""

    batch_id: int
    batch_number: str
    station_id: int
    area_id: int
    seed: int = 0  # the fleet's seed and the batch's shard: its random stream (``aquagen.model.seeds``)
    shard: int = 0
    # the last day the shard keeps (its rows created later are cut): a builder may leave those rows out
    # before numbering them (``tables.cut.up_to``), where no row kept depends on them; None: all days
    horizon: dt.date | None = None


@dataclass(frozen=True)
class FeedSite:
    """A feed shard: one station's silos or one sea area's barges, with their master rows
    (the profile decides which tables those are)."""

    key: int
    tables: dict[str, pl.DataFrame]

    @property
    def part(self) -> str:
        return f"feed-{self.key:03d}"


FEED_COSTS = "_feed_costs"  # a feed site's FIFO costs (id, feed_cost, time), kept until the site is written
# a feed site's lots' changes, numbered (the history table's object id and history_id, history_date and the
# changed columns): made into history rows window by window when the site is written
FEED_CHANGES = "_feed_changes"


@dataclass(frozen=True)
class Profile:
    """What makes one schema's tables out of the shared simulation (see the module docstring)."""

    name: str
    # phases 1-2: (setup date, random stream, profile name) -> every master table, ids fixed
    master: Callable[[dt.date, np.random.Generator, str], dict[str, pl.DataFrame]]
    # one batch's whole life -> its tables, numbered by the id book
    batch: Callable[[BatchPlan, BatchSim, IdBook], dict[str, pl.DataFrame]]
    # the master tables -> the feed sites (each with the master rows it owns)
    feed_sites: Callable[[Callable[[str], pl.DataFrame]], list[FeedSite]]
    # a feed site, the feeding events it supplied, the seed and the id book (and whether to cost the
    # feedings or only count rows) -> its tables
    feed_site: Callable[[FeedSite, pl.DataFrame, int, IdBook, bool], dict[str, pl.DataFrame]]
    feed_container_of: Callable[[pl.Expr], pl.Expr]  # a fish container's feed container
    feedings: tuple[str, str]  # the feeding table and its history: built by batches, costed by feed sites
    # master tables the feed sites own (written by them, not by the master shard); with ``feed_window``
    # the lots table, then its history table
    stock_tables: tuple[str, ...]
    mutable: tuple[str, ...]  # tables whose rows change: cut to their last history row at the as-of date
    natural_keys: dict[str, tuple[str, ...]]  # master rows matched in an existing database by these columns
    checks: list[tuple[str, str, str, int]]  # (group, name, SQL returning one number, expected)
    # optional: (master tables, setup date, as-of date, seed, profile name) -> the master's tables over the
    # horizon (weather, daylight; sensors calibrated, with their history rows), ids fixed in time order,
    # nothing after the as-of date; written with the master. Table by table, as (name, rows): a table too
    # long to hold whole (the weather of a long history) as its rows piece by piece in id order, written
    # as they are made, before the next table is made
    environment: (
        Callable[
            [dict[str, pl.DataFrame], dt.date, dt.date, int, str],
            Iterator[tuple[str, pl.DataFrame | Iterator[pl.DataFrame]]],
        ]
        | None
    ) = None
    # rows the application's migrations insert (table -> SQL condition on them): they exist without
    # history rows in a migrated database, so the '+' history check leaves them out
    seeded: dict[str, str] = field(default_factory=dict)
    # the statements that insert those rows, as the application's migrations leave them (``migrated_sql``)
    migrations_seed: tuple[str, ...] = ()
    # batches may start this many days after the as-of date: the profile shows them as planned
    plan_ahead_days: int = 0
    # optional, so that a feed site's memory is bounded by a time window, not its history: the
    # feedings' columns its ``feed_site`` reads when not costing (it then returns its small tables,
    # the costs as ``FEED_COSTS`` and the lots' numbered changes as ``FEED_CHANGES``), and
    # (a window's feedings sorted by created_at and id, their costs, the window's changes, every
    # lot of the site, profile name) -> the window's per-event tables, made when the site is written
    feed_fifo_columns: tuple[str, ...] = ()
    feed_window: (
        Callable[[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, str], dict[str, pl.DataFrame]] | None
    ) = None
    # optional, with ``feed_window``: what ``feed_site`` gives (not costing) each of many feed sites without a
    # feeding event, at once: (sites, seed, each site's id book by its key) -> each site's tables by its key
    feed_idle: Callable[[list[FeedSite], int, Callable[[int], IdBook]], dict[int, dict[str, pl.DataFrame]]] | None = (
        None
    )
    # tables whose rows of a day count only once that day's batch update (population, biomass) is booked,
    # at this time of day: a cut at an earlier moment of their day leaves them out (``aquagen.tables.cut``)
    booked: dict[str, dt.timedelta] = field(default_factory=dict)
    # rows of a booked table that count from their own creation time: recorded with a move, whose
    # effect on the assignments is booked at the move (a transfer's handling loss), not by the update
    unbooked: dict[str, pl.Expr] = field(default_factory=dict, compare=False)
    tables: dict[str, schemas.Table] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", schemas.tables(self.name))

    @property
    def choices(self) -> dict[tuple[str, str], tuple[str, ...]]:
        return schemas.choices(self.name)

    def migrated_sql(self) -> str:
        """A database as the application's migrations leave it (tests and benchmarks load into one):
        the profile's exact DDL, then the rows the migrations seed."""
        return schemas.schema_sql(self.name) + "".join(f"{stmt};\n" for stmt in self.migrations_seed)


def _folders() -> list[Path]:
    return [Path(__file__).parent, *schemas.profile_dirs()]


def _load(folder: Path) -> Profile | None:
    """The PROFILE of the package in ``folder``, imported as ``aquagen.profiles.<folder name>``."""
    name = f"{__name__}.{folder.name}"
    if name not in sys.modules:
        if folder.parent == Path(__file__).parent:
            importlib.import_module(name)
        else:
            spec = importlib.util.spec_from_file_location(
                name, folder / "__init__.py", submodule_search_locations=[str(folder)]
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    return getattr(sys.modules[name], "PROFILE", None)


def names() -> list[str]:
    """Every profile's name, built in and plug-in."""
    return sorted(p.name for p in _all().values())


def _all() -> dict[str, Profile]:
    found = {}
    for base in _folders():
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            if (folder / "__init__.py").exists():
                profile = _load(folder)
                if profile is not None:
                    found[profile.name] = profile
    return found


@cache
def _cached(name: str) -> Profile | None:
    return _all().get(name)


def get(name: str | None = None) -> Profile:
    """The profile called ``name``, as a user may type it (any case, or the commit alone: ``cb41030``),
    or by default ``DEFAULT`` (``$AQUAGEN_PROFILE``, typed the same ways; ``schemas`` resolves a built-in
    one); a one-line error lists the known ones."""
    wanted = name or DEFAULT
    profile = _cached(wanted) or _typed(wanted)
    if profile is None:
        _cached.cache_clear()  # a plug-in folder may have been added since
        profile = _cached(wanted) or _typed(wanted)
    if profile is None:
        source = "" if name else f" (${schemas.PROFILE_ENV})"
        raise AquagenError(f"unknown profile {wanted!r}{source}; known: {', '.join(names())}")
    return profile


def _typed(name: str | None) -> Profile | None:
    """The one profile whose name, or its part after '@', is ``name`` in any case."""
    found = [p for n, p in _all().items() if schemas.typed_as(name or "", n)]
    return found[0] if len(found) == 1 else None
