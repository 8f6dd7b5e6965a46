"""Row ids in time order: dense per table, the same for any number of workers,
and prefix-stable in time.

A row's id is its rank in the order (day it was created, shard, order within
the shard). Shards (master data, each batch, each feed container) build their
rows twice: a first pass only counts rows per (table, day) (``Counting``), the
counts of all shards give every shard the first id of each of its days
(``allocate``), and the second pass numbers its rows from there
(``Allocated``). Because the order starts with the day, the rows of a snapshot
cut at any as-of date are exactly ids 1..n of the full-horizon numbering, so a
later as-of date only appends ids: every earlier row keeps its id.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

import polars as pl

import schemas


class IdBook(Protocol):
    profile: str  # the schema profile whose tables are numbered

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        """Ids for ``df``'s rows of ``table``, in row order (rows dated by ``when_column``)."""


@cache
def table_enum(profile: str) -> pl.Enum:
    """Table names in the counts: 4 bytes a row, not a string."""
    return pl.Enum(sorted(schemas.tables(profile)))


def when_column(table: str, profile: str) -> str:
    """The column that dates a row's creation: history_date for history rows, else created_at (or,
    for a table computed by the application without one, its computation time)."""
    t = schemas.table(table, profile)
    if t.history_of:
        return "history_date"
    return "last_computed_at" if "created_at" not in t.column_names and "last_computed_at" in t.column_names \
        else "created_at"


def id_column(table: str, profile: str) -> str:
    return "history_id" if schemas.table(table, profile).history_of else "id"


def _days(df: pl.DataFrame, when: str) -> pl.DataFrame:
    return df.select(day=pl.col(when).dt.date().cast(pl.Int32))


class Counting:
    """First pass: records how many rows each table gets per day; ids are placeholders."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._counts: list[pl.DataFrame] = []
        self._seen: set[str] = set()

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        if table in self._seen:
            raise ValueError(f"ids of {table} assigned twice in one shard")
        self._seen.add(table)
        self._counts.append(_days(df, when_column(table, self.profile)).group_by("day").len("n")
                            .with_columns(table=pl.lit(table)))
        # placeholders: negative, so they never meet a real id in a join
        return -pl.int_range(1, df.height + 1, dtype=pl.Int64, eager=True)

    def counts(self) -> pl.DataFrame:
        """table, day, n — the shard's rows per table and day."""
        enum = table_enum(self.profile)
        if not self._counts:
            return pl.DataFrame(schema={"table": enum, "day": pl.Int32, "n": pl.Int64})
        return pl.concat(self._counts).select(pl.col("table").cast(enum), "day", pl.col("n").cast(pl.Int64)) \
            .sort("table", "day")


class Allocated:
    """Second pass: numbers a shard's rows from the first id of each of its days (and checks
    that it numbers exactly the rows the first pass counted)."""

    def __init__(self, first: pl.DataFrame, profile: str) -> None:
        self.profile = profile
        self._first = {key[0]: g.drop("table") for key, g in first.partition_by("table", as_dict=True).items()}

    def assign(self, table: str, df: pl.DataFrame) -> pl.Series:
        days = _days(df, when_column(table, self.profile)).with_columns(rank=pl.int_range(pl.len(), dtype=pl.Int64).over("day"))
        first = self._first.get(table, pl.DataFrame(schema={"day": pl.Int32, "first": pl.Int64, "n": pl.Int64}))
        seen = days.group_by("day").len("rows").join(first, on="day", how="full", coalesce=True)
        if seen.filter(pl.col("rows").fill_null(0) != pl.col("n").fill_null(0)).height:
            raise AssertionError(f"{table}: the rows differ from the counting pass")
        return days.join(first, on="day", how="left", maintain_order="left").select(
            pl.col("first") + pl.col("rank"))["first"]


def allocate(counts: dict[int, pl.DataFrame]) -> dict[int, pl.DataFrame]:
    """First id per (shard, table, day) from every shard's counts; shards ordered by key within a day.

    Table by table, so that memory holds one table's days at a time besides the result."""
    enum = next(iter(counts.values())).schema["table"] if counts else pl.String
    schema = {"table": enum, "day": pl.Int32, "first": pl.Int64, "n": pl.Int64}
    parts: dict[int, list[pl.DataFrame]] = {k: [] for k in counts}
    tables = sorted({t for c in counts.values() for t in c["table"].unique().to_list()})
    for table in tables:
        rows = pl.concat([c.filter(pl.col("table") == table).with_columns(shard=pl.lit(k, dtype=pl.Int64))
                          for k, c in counts.items()])
        rows = rows.sort("day", "shard").with_columns(first=pl.col("n").cum_sum() - pl.col("n") + 1)
        for (k,), g in rows.partition_by("shard", as_dict=True).items():
            parts[k].append(g.select(list(schema)))
    return {k: pl.concat(p) if p else pl.DataFrame(schema=schema) for k, p in parts.items()}
