"""The as-of cut: every shard builds its whole horizon, then keeps what exists at the as-of moment,
so a later as-of moment only adds rows (prefix-stable output).

The moment is the end of the as-of day, or a time of day on it (``as_of_time``: a snapshot generated
today stops at the moment of generation). A row exists at the moment when its creation time
(``when_column``: created_at, a history row's history_date, a summary's computation time) is before
it, so the snapshot is what the application's database holds at that moment: an event recorded at
16:00 is not there at 09:00, a daily summary computed at the day's end is not there before it, and
a changing object is in the state its last history row before the moment gives. A profile's
``booked`` tables (the day's mortality registration) count from the day's batch update on, which
books their effect on the changing objects (the assignments' counts): never one without the other."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar, cast

import numpy as np
import polars as pl

import schemas

from ..model.arrays import kept_rows, where
from .ids import when_column
from .order import physical

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def end_of(as_of: dt.date, at: dt.time | None = None) -> dt.datetime:
    """The as-of moment (UTC, exclusive: rows created before it exist): ``at`` on ``as_of``, or the end
    of the day (the next midnight) without a time of day."""
    if at is None:
        return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    return dt.datetime.combine(as_of, at, dt.UTC)


def cut(
    frames: dict[str, pl.DataFrame],
    end: dt.date | dt.datetime,
    profile: str,
    mutable: tuple[str, ...],
    booked: dict[str, dt.timedelta] | None = None,
    unbooked: dict[str, pl.Expr] | None = None,
) -> dict[str, pl.DataFrame]:
    """The rows of ``frames`` as of ``end`` (a moment, or a day: its end): nothing created later (a
    ``booked`` table's rows: nothing counted later, see ``counted``); each changing object (a table
    in ``mutable``: batch, assignment, stock lot) as its last history row before then."""
    if not isinstance(end, dt.datetime):
        end = end_of(end)
    booked, unbooked = booked or {}, unbooked or {}
    out = {
        name: until(df, when_column(name, profile), end, booked.get(name), unbooked.get(name))
        for name, df in frames.items()
    }
    for name in mutable:
        t = schemas.table(name, profile)
        if name in out and t.history_table in out:
            key = t.object_key or "id"
            out[name] = _last_states(out[t.history_table], key, t.column_names)
    return out


def _last_states(history: pl.DataFrame, key: str, columns: list[str]) -> pl.DataFrame:
    """``last_history(history, key).select(columns).sort(key)``: by NumPy where the key and the history
    ids are integers without NULLs (the ids unique: each object's row of the largest), one gather (the
    sort, group-by, select and sort were four queries)."""
    k, h = history.get_column(key), history.get_column("history_id")
    if not (k.dtype.is_integer() and h.dtype.is_integer()) or k.null_count() or h.null_count() or not history.height:
        return last_history(history, key).select_seq(columns).sort(key)
    keys = k.to_numpy()
    order = np.lexsort((h.to_numpy(), keys))  # by key, then history id
    ordered = keys[order]
    return history.select_seq(columns)[order[np.append(ordered[1:] != ordered[:-1], True)]]


def last_history(history: Frame, key: str) -> Frame:
    """Each object's last history row (by history_id): a changing object's state at the cut (of a
    frame, or of a lazy scan)."""
    return history.sort("history_id").group_by(key, maintain_order=True).last()


def counted(when: str, booked: dt.timedelta | None = None, unbooked: pl.Expr | None = None) -> pl.Expr:
    """When a row exists: its creation time ``when``, or for a table booked at a time of day, that
    time on its day if later (a cut at a day's end is never affected: the booking is within the day),
    except the rows ``unbooked`` selects, which count from their own time (``Profile.unbooked``)."""
    stamp = pl.col(when)
    if booked is None:
        return stamp
    later = pl.max_horizontal(stamp, stamp.dt.truncate("1d") + pl.lit(booked))
    return later if unbooked is None else pl.when(unbooked).then(stamp).otherwise(later)


def up_to(df: pl.DataFrame, when: str, last: dt.date | None) -> pl.DataFrame:
    """``df``'s rows created up to the end of day ``last`` (all of them when None): a builder's rows
    after its shard's horizon (``BatchPlan.horizon``), which the shard cuts, left out before they are
    numbered. Rows are numbered in day order, so the ids of the rows kept are the same."""
    return df if last is None else until(df, when, end_of(last))


def until(
    df: pl.DataFrame,
    when: str,
    end: dt.datetime,
    booked: dt.timedelta | None = None,
    unbooked: pl.Expr | None = None,
) -> pl.DataFrame:
    """``df``'s rows that exist before ``end`` (``counted``); ``df`` itself when they all do (no copy)."""
    if df.height == 0 or when not in df.columns:
        return df
    if booked is None:
        keep = _before(df[when], end)
        if keep is not None:
            return kept_rows(df, keep)
    exists = counted(when, booked, unbooked)
    latest = df[when].max() if booked is None else df.select_seq(exists.max()).item()  # a Series' max: no query
    if cast(dt.datetime, latest) < end:
        return df
    return where(df, exists < end)


def before(df: pl.DataFrame, when: str, end: dt.datetime) -> pl.DataFrame:
    """``df.filter(pl.col(when) < end)``: by arithmetic on the column's array where it can (``_before``)."""
    if df.height == 0:
        return df
    keep = _before(df[when], end)
    return where(df, pl.col(when) < end) if keep is None else kept_rows(df, keep)


_UNITS = {"us": 1_000_000, "ms": 1_000, "ns": 1_000_000_000}  # a second in each time unit


def _before(s: pl.Series, end: dt.datetime) -> np.ndarray | None:
    """Which rows' ``s`` (a UTC timestamp without NULLs) is before ``end`` (aware), by arithmetic on its
    array, no query; None for other columns (NULLs, other types), which ``until`` filters by a query."""
    if not isinstance(s.dtype, pl.Datetime) or s.dtype.time_zone != "UTC" or end.tzinfo is None or s.null_count():
        return None
    delta = end - _EPOCH
    unit = _UNITS[s.dtype.time_unit]
    limit = (delta.days * 86_400 + delta.seconds) * unit + delta.microseconds * unit // 1_000_000
    return physical(s) < limit


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
