"""Rows in the exact target columns: conform a frame to a table of a schema
profile, and synthesize django-simple-history rows for it."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import polars as pl

import schemas

from .ids import IdBook
from .order import in_order


class SchemaViolation(ValueError):
    """A generated value does not fit the target schema (a bug, never an edge case)."""


def conform(name: str, data: pl.DataFrame | dict, profile: str, lengths_checked: bool = False) -> pl.DataFrame:
    """Return ``data`` as a frame with exactly ``name``'s columns, order and types.

    Missing nullable columns become NULL; a missing NOT NULL column, a NULL in a
    NOT NULL column, a too-long string or a numeric overflow raises SchemaViolation.
    Floats headed for numeric(p,s) are rounded half-away-from-zero to s places.
    ``lengths_checked``: its strings' lengths were checked already (history rows of conformed base
    rows, ``numbered_history``), not measured again.
    """
    t = schemas.table(name, profile)
    df = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data)
    schema = tuple(df.schema.items())
    if schema == _types(t):  # already the table's columns and types: the casts would change nothing
        out = df
    else:
        try:
            out = df.select(_conforming(t, schema))
        except pl.exceptions.PolarsError as e:
            raise SchemaViolation(f"{name}: {str(e).splitlines()[0]}") from None
    _check(t, out, lengths_checked)
    return out


@lru_cache(maxsize=4096)
def _types(t: schemas.Table) -> tuple[tuple[str, pl.DataType], ...]:
    return tuple((c.name, c.polars_type) for c in t.columns)


@lru_cache(maxsize=4096)
def _conforming(t: schemas.Table, schema: tuple[tuple[str, pl.DataType], ...]) -> list[pl.Expr]:
    """The expressions that make a frame of ``schema`` into ``t``'s columns (built once per table and
    input schema: a builder conforms frames of the same shape for every batch)."""
    have = dict(schema)
    extra = set(have) - set(t.column_names)
    if extra:
        raise SchemaViolation(f"{t.name}: unknown columns {sorted(extra)}")
    exprs = []
    for c in t.columns:
        if c.name not in have:
            if not c.nullable:
                raise SchemaViolation(f"{t.name}.{c.name} is NOT NULL but was not generated")
            exprs.append(pl.lit(None, dtype=c.polars_type).alias(c.name))
            continue
        exprs.append(column_value(c, pl.col(c.name), have[c.name].is_float()).alias(c.name))
    return exprs


def column_value(c: schemas.Column, col: pl.Expr, from_float: bool = True) -> pl.Expr:
    """``col`` as column ``c`` holds it: a float rounded half away from zero to a numeric's scale, cast."""
    if c.numeric and from_float:
        col = col.round(c.numeric[1], mode="half_away_from_zero")
    return col.cast(c.polars_type, strict=True)


def _check(t: schemas.Table, df: pl.DataFrame, lengths_checked: bool = False) -> None:
    if df.height == 0:
        return
    bad = [c.name for c in t.columns if not c.nullable and df[c.name].null_count()]  # a kept count: no scan
    if bad:
        raise SchemaViolation(f"{t.name}: NULL in NOT NULL column(s) {bad}")
    if lengths_checked:
        return
    limited = [c for c in t.columns if c.max_length is not None]
    if not limited:
        return
    # characters only when the bytes could exceed (a character is at least one byte); one query for all
    most = df.select(pl.col(c.name).str.len_bytes().max() for c in limited).row(0)
    for c, n in zip(limited, most, strict=True):
        if (n or 0) <= cast(int, c.max_length):
            continue
        longest = cast(int | None, df[c.name].str.len_chars().max())
        if longest is not None and longest > cast(int, c.max_length):
            raise SchemaViolation(f"{t.name}.{c.name}: value of {longest} chars exceeds {c.sql_type}")


def history(
    name: str,
    base: pl.DataFrame,
    history_date: pl.Expr | pl.Series | str = "created_at",
    history_type: str = "+",
    user_id: int | pl.Expr | None = None,
    profile: str = "",
) -> pl.DataFrame:
    """History rows of base table ``name`` for the object states in ``base``.

    ``base`` holds full base-table rows (the object as of the change); the
    history_id column is left for the caller to number once all rows of the
    table are known (ids are dense and deterministic per snapshot).
    """
    t = schemas.table(name, profile)
    assert t.history_table is not None, f"{name} keeps no history"
    h = schemas.table(t.history_table, profile)
    date = pl.col(history_date) if isinstance(history_date, str) else history_date
    user = user_id if isinstance(user_id, pl.Expr) else pl.lit(user_id, dtype=pl.Int32)
    added = {
        "history_id": pl.lit(0, dtype=pl.Int32),
        "history_date": date,
        "history_change_reason": pl.lit(None, dtype=pl.String),
        "history_type": pl.lit(history_type),
        "history_user_id": user.cast(pl.Int32),
    }
    return base.select(added[c].alias(c) if c in added else pl.col(c) for c in h.column_names)  # one query


def order_history(df: pl.DataFrame, key: str = "id") -> pl.DataFrame:
    """History rows in (history_date, object id, type) order: the order the app would have written them.
    ``key``: the column of the object's id (the base table's ``object_key``)."""
    if in_order(df, "history_date", key):  # a stable sort would return it unchanged
        return df
    kind = pl.col("history_type").replace_strict({"+": 0, "~": 1, "-": 2}, return_dtype=pl.Int8)
    return df.sort([pl.col("history_date"), pl.col(key), kind], maintain_order=True)


def number_history(df: pl.DataFrame, first_id: int = 1, key: str = "id") -> pl.DataFrame:
    """Dense history ids from ``first_id`` in ``order_history`` order."""
    return order_history(df, key).with_columns(history_id=pl.int_range(first_id, first_id + df.height, dtype=pl.Int32))


def numbered_history(name: str, rows: pl.DataFrame, ids: IdBook, of_conformed: bool = False) -> pl.DataFrame:
    """History rows of base table ``name`` in ``order_history`` order, numbered by ``ids``.
    ``of_conformed``: ``rows`` are ``history`` rows of conformed base rows with a one-character
    history type, whose strings are then all checked already (a query per table less)."""
    t = schemas.table(name, ids.profile)
    h = t.history_table
    assert h is not None and t.object_key is not None, f"{name} keeps no history"
    rows = order_history(rows, t.object_key)
    hid = ids.assign(h, rows)
    want = dict(_types(schemas.table(h, ids.profile)))["history_id"]
    if hid.dtype != want and hid.dtype.is_integer() and want.is_integer():  # as conform would cast it (strict)
        hid = hid.cast(want, strict=True)
    return conform(h, rows.with_columns(history_id=hid), ids.profile, lengths_checked=of_conformed)


def with_history(out: dict, name: str, df: pl.DataFrame, user: int | None, ids: IdBook) -> None:
    """Puts ``df``'s rows (ids set) of table ``name`` into ``out`` with their '+' history rows."""
    t = schemas.table(name, ids.profile)
    base = conform(name, df.select([c for c in t.column_names if c in df.columns]), ids.profile)
    out[name] = base
    out[t.history_table] = numbered_history(
        name, history(name, base, "created_at", "+", user, ids.profile), ids, of_conformed=True
    )


def with_ids_and_history(out: dict, name: str, df: pl.DataFrame, user: int | None, ids: IdBook) -> None:
    """Numbers ``df``'s rows (in their order) and puts them into ``out`` with their '+' history rows."""
    key = schemas.table(name, ids.profile).object_key or "id"
    with_history(out, name, df.with_columns(ids.assign(name, df).alias(key)), user, ids)


class Bound:
    """``conform``, ``history`` and the table definitions bound to one profile, so that a
    profile's table builders (which also serve profiles derived from theirs) name it once."""

    def __init__(self, profile: str) -> None:
        self.profile = profile

    def table(self, name: str) -> schemas.Table:
        return schemas.table(name, self.profile)

    @property
    def tables(self) -> dict[str, schemas.Table]:
        return schemas.tables(self.profile)

    def conform(self, name: str, data: pl.DataFrame | dict) -> pl.DataFrame:
        return conform(name, data, self.profile)

    def history(
        self,
        name: str,
        base: pl.DataFrame,
        history_date: pl.Expr | pl.Series | str = "created_at",
        history_type: str = "+",
        user_id: int | pl.Expr | None = None,
    ) -> pl.DataFrame:
        return history(name, base, history_date, history_type, user_id, self.profile)
