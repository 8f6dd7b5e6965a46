"""``sort_unique`` gives Polars' order, whichever way it takes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

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
