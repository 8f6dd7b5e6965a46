"""Rows of the tables added by issue 14 (health records, harvest, environment, scenarios) with ids
and '+' history rows, for tables dated by ``created_at`` or, lacking one, by their event's own time."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl

from aquagen.model.arrays import kept_rows
from aquagen.model.events import datetimes
from aquagen.model.sites import SITES
from aquagen.tables.conform import Bound, conform, empty, numbered_history, with_column
from aquagen.tables.ids import IdBook, when_column

UTC = dt.UTC


@cache  # an expression's literals cost more than its use: built once
def at(date_col: str, offset: dt.timedelta) -> pl.Expr:
    """The date column's day at ``offset`` past midnight, UTC."""
    return (pl.col(date_col).cast(pl.Datetime("us")) + pl.lit(offset)).dt.replace_time_zone("UTC")


_AS_WRITTEN = pl.QueryOptFlags.none()


def collected(query: pl.LazyFrame) -> pl.DataFrame:
    """``query`` run as written, in memory: a chain of steps as one query, without the optimizer's passes
    and the engine's resolution (on a builder's small frames each costs about what a step does, and the
    eager chain pays a query per step)."""
    return query.collect(engine="in-memory", optimizations=_AS_WRITTEN)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_US = dt.timedelta(microseconds=1)


def utc(moments: list[dt.datetime]) -> pl.Series:
    """Aware moments as a UTC timestamp column, from their microseconds (Polars converts each aware
    datetime through its time zone: ten times the CPU of the cast)."""
    return datetimes(np.array([(m - _EPOCH) // _US for m in moments], np.int64))


def last_states(states: pl.DataFrame, key: str = "id") -> pl.DataFrame:
    """Each object's last row of ``states`` (in ``key`` order, each object's rows in time order), found
    where the key changes: one filter, where a group-by's hashing and the sort after it cost three."""
    k = states[key].to_numpy()
    return kept_rows(states, np.append(k[1:] != k[:-1], True)) if states.height else states


def linked(df: pl.DataFrame, link: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its assignments' ``link`` columns after its own, as an inner join on assignment_no
    keeping ``df``'s order gives them: a gather, since assignment_no indexes ``link`` (a batch's
    assignments, see ``BatchSim``): a third of a join's CPU on a small frame, a half on the readings."""
    return df.hstack(link[:, 1:][df["assignment_no"]])


def add(out: dict, name: str, df: pl.DataFrame, user: int | None, ids: IdBook) -> pl.DataFrame:
    """Numbers ``df``'s rows (in their order) and puts them into ``out``, with their '+' history rows
    dated like the row (created_at, else the event's time); returns the numbered base rows. No rows
    (a young batch's lice counts, harvests, lab samples): the tables' empty frames, no query."""
    T = Bound(ids.profile)
    t = T.table(name)
    if not df.height:
        for table in (name, t.history_table) if t.history_table else (name,):
            out[table] = empty(table, ids.profile)
            ids.assign(table, out[table])
        return out[name]
    when = when_column(name, ids.profile)
    key = pl.Series(t.primary_key[0], ids.assign(name, df))
    base = conform(name, with_column(df, key), ids.profile, subset=True)  # one query
    out[name] = base
    if t.history_table:
        out[t.history_table] = numbered_history(name, T.history(name, base, when, "+", user), ids, of_conformed=True)
    return base


def area_of(area_id: int) -> tuple[str, int]:
    """A sea area's name and its geography's id (geographies numbered as in the master data)."""
    from aquagen.model import domain as D

    for a, geo, name in SITES.areas():
        if a == area_id:
            return name, D.GEOGRAPHIES.index(geo) + 1
    raise KeyError(f"no sea area {area_id}")
