"""The as-of cut: every shard builds its whole horizon, then keeps what exists at the end of the
as-of day, so a later as-of date only adds rows (prefix-stable output)."""

from __future__ import annotations

import datetime as dt
from typing import cast

import polars as pl

import schemas

from .ids import when_column


def cut(
    frames: dict[str, pl.DataFrame], as_of: dt.date, profile: str, mutable: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """The rows of ``frames`` as of the end of ``as_of``: nothing created later; each changing
    object (a table in ``mutable``: batch, assignment, stock lot) as its last history row before then."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    out = {name: until(df, when_column(name, profile), end) for name, df in frames.items()}
    for name in mutable:
        t = schemas.table(name, profile)
        if name in out and t.history_table in out:
            key = t.object_key or "id"
            out[name] = (
                out[t.history_table]
                .sort("history_id")
                .group_by(key, maintain_order=True)
                .last()
                .select(t.column_names)
                .sort(key)
            )
    return out


def until(df: pl.DataFrame, when: str, end: dt.datetime) -> pl.DataFrame:
    """``df``'s rows with ``when`` before ``end``; ``df`` itself when they all are (no copy)."""
    if df.height == 0 or cast(dt.datetime, df[when].max()) < end:
        return df
    return df.filter(pl.col(when) < end)
