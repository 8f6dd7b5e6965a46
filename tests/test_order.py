"""``sort_unique`` gives Polars' order, whichever way it takes; ``kept_rows`` and ``where`` give its filter."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from aquagen.model.arrays import kept_rows, where
from aquagen.tables.order import in_order, sort_unique


def _frame(rng: np.random.Generator, n: int, span: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": pl.Series([dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, span, n)]),
            "id": rng.integers(-(2**40), 2**40, n),
            "no": rng.integers(0, span, n).astype(np.int32),
            "value": rng.random(n),
        }
    )


def test_as_polars_sorts_unique_keys() -> None:
    rng = np.random.default_rng(1)
    df = _frame(rng, 500, 40)
    for keys in (("day", "no", "id"), ("id", "day"), ("no", "day", "id")):
        assert sort_unique(df, *keys).equals(df.sort(*keys))
    ordered = df.sort("day", "id")
    assert sort_unique(ordered, "day", "id") is ordered  # already in order: as it is
    assert in_order(ordered, "day", "id") and not in_order(df, "day", "id")
    assert not in_order(ordered, "day")  # days repeat: not strictly increasing
    assert not in_order(ordered.with_columns(id=pl.lit(None, pl.Int64)), "day", "id")  # unsure: NULLs


def test_ties_nulls_and_other_types_as_polars() -> None:
    rng = np.random.default_rng(2)
    df = _frame(rng, 300, 5)  # (day, no) repeats
    assert sort_unique(df, "day", "no").equals(df.sort("day", "no"))
    with_null = df.with_columns(no=pl.when(pl.col("id") > 0).then("no"))
    assert sort_unique(with_null, "no", "id").equals(with_null.sort("no", "id"))
    assert sort_unique(df, "value", "id").equals(df.sort("value", "id"))
    text = df.with_columns(tag=pl.col("no").cast(pl.String))
    assert sort_unique(text, "tag", "id").equals(text.sort("tag", "id"))


def test_wide_keys_fall_back_to_lexsort() -> None:
    rng = np.random.default_rng(3)
    df = pl.DataFrame({"a": rng.integers(-(2**62), 2**62, 400), "b": rng.integers(-(2**62), 2**62, 400)})
    df = pl.concat([df, df.with_columns(b=pl.col("b") + 1)])  # a repeats, (a, b) does not
    assert sort_unique(df, "a", "b").equals(df.sort("a", "b"))


def test_kept_rows_and_where_as_polars_filter() -> None:
    """The rows taken column by column (``kept_rows``, ``where``) are ``DataFrame.filter``'s: every
    kind of mask (none, all, a prefix, scattered, NULLs in an expression's mask), types and schema kept."""
    rng = np.random.default_rng(3)
    df = _frame(rng, 200, 30).with_columns(
        at=pl.col("day").cast(pl.Datetime("us", "UTC")), name=pl.col("no").cast(pl.String), maybe=pl.col("value")
    )
    df = df.with_columns(maybe=pl.when(pl.col("no") % 3 > 0).then("maybe"))
    masks = [np.zeros(200, bool), np.ones(200, bool), np.arange(200) < 57, rng.random(200) < 0.4]
    for keep in masks:
        got, want = kept_rows(df, keep), df.filter(pl.Series(keep))
        assert got.equals(want) and got.schema == want.schema
    for predicate in (
        pl.col("maybe") > 0.5,
        pl.col("no") < 10,
        pl.col("name").is_in(["1", "2"]),
        pl.lit(False),
        pl.lit(True),
    ):
        got, want = where(df, predicate), df.filter(predicate)
        assert got.equals(want) and got.schema == want.schema
    assert where(df, pl.col("no").max() > 10).equals(df) and where(df, pl.col("no").max() < 0).height == 0
    assert where(df.head(0), pl.col("no") < 10).schema == df.schema
