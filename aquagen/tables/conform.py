"""Rows in the exact target columns: conform a frame to a table of a schema
profile, and synthesize django-simple-history rows for it."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import numpy as np
import polars as pl

import schemas

from ..model.arrays import increasing
from .ids import IdBook
from .order import key_arrays, unique_order


class SchemaViolation(ValueError):
    """A generated value does not fit the target schema (a bug, never an edge case)."""


def conform(
    name: str, data: pl.DataFrame | dict, profile: str, lengths_checked: bool = False, subset: bool = False
) -> pl.DataFrame:
    """Return ``data`` as a frame with exactly ``name``'s columns, order and types.

    Missing nullable columns become NULL; a missing NOT NULL column, a NULL in a
    NOT NULL column, a too-long string or a numeric overflow raises SchemaViolation.
    Floats headed for numeric(p,s) are rounded half-away-from-zero to s places.
    ``lengths_checked``: its strings' lengths were checked already (history rows of conformed base
    rows, ``numbered_history``), not measured again. ``subset``: ``data``'s columns that are not the
    table's are left out (a builder's frame with its working columns: one query, not a select first).
    """
    t = schemas.table(name, profile)
    df = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data)
    schema = tuple(df.schema.items())
    if schema == _types(t):  # already the table's columns and types: the casts would change nothing
        out = df
    else:
        if subset:
            names = _names(t)
            schema = tuple((c, d) for c, d in schema if c in names)
        try:
            out = df.select_seq(_conforming(t, schema))
        except pl.exceptions.PolarsError as e:
            raise SchemaViolation(f"{name}: {str(e).splitlines()[0]}") from None
    _check(t, out, lengths_checked)
    return out


def empty(name: str, profile: str) -> pl.DataFrame:
    """Table ``name``'s frame without rows: its columns and types, as ``conform`` gives them (a copy of one
    made once per table: 0.6 against 106 µs a call)."""
    return _empty(schemas.table(name, profile)).clone()


@lru_cache(maxsize=4096)
def _empty(t: schemas.Table) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(_types(t)))


@lru_cache(maxsize=4096)
def _types(t: schemas.Table) -> tuple[tuple[str, pl.DataType], ...]:
    return tuple((c.name, c.polars_type) for c in t.columns)


@lru_cache(maxsize=4096)
def _names(t: schemas.Table) -> frozenset[str]:
    return frozenset(t.column_names)


@lru_cache(maxsize=4096)
def _not_null(t: schemas.Table) -> tuple[int, ...]:
    """The places of ``t``'s NOT NULL columns."""
    return tuple(i for i, c in enumerate(t.columns) if not c.nullable)


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


@lru_cache(maxsize=4096)
def _limited(t: schemas.Table) -> tuple[list[schemas.Column], list[pl.Expr]]:
    """``t``'s columns of a limited length, and the expressions of their longest values in bytes."""
    limited = [c for c in t.columns if c.max_length is not None]
    return limited, [pl.col(c.name).str.len_bytes().max() for c in limited]


def _check(t: schemas.Table, df: pl.DataFrame, lengths_checked: bool = False) -> None:
    if df.height == 0:
        return
    # kept counts, no scan, no query (a quarter of the CPU of a Series per column); the frame's
    # columns are the table's, in its order
    nulls = df.null_count().row(0)
    bad = [t.columns[i].name for i in _not_null(t) if nulls[i]]
    if bad:
        raise SchemaViolation(f"{t.name}: NULL in NOT NULL column(s) {bad}")
    if lengths_checked:
        return
    limited, lengths = _limited(t)
    if not limited:
        return
    # characters only when the bytes could exceed (a character is at least one byte); one query for all
    most = df.select_seq(lengths).row(0)
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
    user_id: int | pl.Expr | pl.Series | None = None,
    profile: str = "",
) -> pl.DataFrame:
    """History rows of base table ``name`` for the object states in ``base``.

    ``base`` holds full base-table rows (the object as of the change); the
    history_id column is left for the caller to number once all rows of the
    table are known (ids are dense and deterministic per snapshot).
    """
    h = schemas.table(schemas.table(name, profile).history_table or name, profile)
    if (
        not isinstance(history_date, pl.Expr)
        and not isinstance(user_id, pl.Expr)
        and set(h.column_names) <= (set(base.columns) | _ADDED)
    ):
        # the base columns as they are and the added ones made directly: no query (a third of the CPU)
        n = base.height
        date = base.get_column(history_date) if isinstance(history_date, str) else history_date
        added = {
            "history_id": pl.Series("history_id", np.zeros(n, np.int32)),
            "history_date": date.alias("history_date"),
            "history_change_reason": _constant("history_change_reason", None, pl.String).new_from_index(0, n),
            "history_type": _constant("history_type", history_type, pl.String).new_from_index(0, n),
            "history_user_id": user_id.cast(pl.Int32).alias("history_user_id")
            if isinstance(user_id, pl.Series)
            else _constant("history_user_id", user_id, pl.Int32).new_from_index(0, n),
        }
        return pl.DataFrame([added[c] if c in added else base.get_column(c) for c in h.column_names])
    exprs, at_date, at_user = _history_exprs(
        name,
        profile,
        history_type,
        history_date if isinstance(history_date, str) else None,
        None if isinstance(user_id, pl.Expr | pl.Series) else user_id,
    )
    if not isinstance(history_date, str) or isinstance(
        user_id, pl.Expr | pl.Series
    ):  # the caller's own, in their places
        exprs = list(exprs)
        if not isinstance(history_date, str):
            exprs[at_date] = (history_date if isinstance(history_date, pl.Expr) else pl.lit(history_date)).alias(
                "history_date"
            )
        if isinstance(user_id, pl.Expr | pl.Series):
            exprs[at_user] = (
                (user_id if isinstance(user_id, pl.Expr) else pl.lit(user_id)).cast(pl.Int32).alias("history_user_id")
            )
    return base.select_seq(exprs)  # one query


_ADDED = frozenset({"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"})


@lru_cache(maxsize=256)
def _constant(name: str, value: object, dtype: type[pl.DataType]) -> pl.Series:
    """A one-value column to repeat (``Series.new_from_index``)."""
    return pl.Series(name, [value], dtype=dtype)


@lru_cache(maxsize=4096)
def _history_exprs(
    name: str, profile: str, history_type: str, history_date: str | None, user_id: int | None
) -> tuple[list[pl.Expr], int, int]:
    """``history``'s expressions, and the places of its date and user (built once per table and kind of
    call: their literals cost a tenth of a small query each); a date or user not given here (None) is
    the caller's to put in its place."""
    t = schemas.table(name, profile)
    assert t.history_table is not None, f"{name} keeps no history"
    h = schemas.table(t.history_table, profile)
    added = {
        "history_id": pl.lit(0, dtype=pl.Int32),
        "history_date": pl.col(history_date or "created_at"),
        "history_change_reason": pl.lit(None, dtype=pl.String),
        "history_type": pl.lit(history_type),
        "history_user_id": pl.lit(user_id, dtype=pl.Int32).cast(pl.Int32),
    }
    exprs = [added[c].alias(c) if c in added else pl.col(c) for c in h.column_names]
    return exprs, h.column_names.index("history_date"), h.column_names.index("history_user_id")


def order_history(df: pl.DataFrame, key: str = "id") -> pl.DataFrame:
    """History rows in (history_date, object id, type) order: the order the app would have written them.
    ``key``: the column of the object's id (the base table's ``object_key``)."""
    arrays = key_arrays(df, ("history_date", key)) if df.height > 1 else None
    if arrays is not None:
        if increasing(arrays):  # a stable sort would return it unchanged
            return df
        order = unique_order(arrays)  # no two rows of an object at one moment: the kind is no key
        if order is not None:
            return df[order]
    elif df.height < 2:
        return df
    kind = pl.col("history_type").replace_strict({"+": 0, "~": 1, "-": 2}, return_dtype=pl.Int8)
    return df.sort([pl.col("history_date"), pl.col(key), kind], maintain_order=True)


def number_history(df: pl.DataFrame, first_id: int = 1, key: str = "id") -> pl.DataFrame:
    """Dense history ids from ``first_id`` in ``order_history`` order."""
    return order_history(df, key).with_columns_seq(
        history_id=pl.int_range(first_id, first_id + df.height, dtype=pl.Int32)
    )


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
    return conform(h, with_column(rows, hid.alias("history_id")), ids.profile, lengths_checked=of_conformed)


def with_column(df: pl.DataFrame, column: pl.Series) -> pl.DataFrame:
    """``df.with_columns(column)`` (a column of ``df``'s height) without a query: the column in its
    place, or last (``df`` itself unchanged)."""
    df = df.clone()  # the columns shared, not copied
    if column.name in df.columns:
        df.replace_column(df.get_column_index(column.name), column)
        return df
    return df.hstack([column], in_place=True)


def with_history(out: dict, name: str, df: pl.DataFrame, user: int | None, ids: IdBook) -> None:
    """Puts ``df``'s rows (ids set) of table ``name`` into ``out`` with their '+' history rows."""
    t = schemas.table(name, ids.profile)
    base = conform(name, df, ids.profile, subset=True)
    out[name] = base
    out[t.history_table] = numbered_history(
        name, history(name, base, "created_at", "+", user, ids.profile), ids, of_conformed=True
    )


def with_ids_and_history(out: dict, name: str, df: pl.DataFrame, user: int | None, ids: IdBook) -> None:
    """Numbers ``df``'s rows (in their order) and puts them into ``out`` with their '+' history rows."""
    key = schemas.table(name, ids.profile).object_key or "id"
    with_history(out, name, with_column(df, ids.assign(name, df).alias(key)), user, ids)


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
        user_id: int | pl.Expr | pl.Series | None = None,
    ) -> pl.DataFrame:
        return history(name, base, history_date, history_type, user_id, self.profile)
