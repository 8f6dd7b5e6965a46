"""``reconcile.by_natural_key``: the database's rows fetched as arrays of integers match by every key type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import psycopg

from loaders.reconcile import by_natural_key

UTC = dt.UTC


def test_by_natural_key_matches_each_key_type(empty_db):
    stamps = [
        dt.datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),  # before 1970: negative microseconds
        dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        None,
    ]
    days = [dt.date(2026, 6, 30), dt.date(1900, 1, 1), dt.date(2200, 12, 31), None]
    names = ["a", "Ünïcödé", "", None]
    amounts = [Decimal("1.50"), Decimal("-0.01"), Decimal("12345.67"), None]
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.t (id bigint, at timestamptz, day date, name text, amount numeric(10, 2))")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO public.t VALUES (%s, %s, %s, %s, %s)",
                [(100 + i, s, d, n, a) for i, (s, d, n, a) in enumerate(zip(stamps, days, names, amounts))],
            )
        rows = pl.DataFrame(
            {
                "id": [1, 2, 3, 4, 5],
                "at": [*stamps, stamps[0] + dt.timedelta(microseconds=1)],
                "day": [*days, days[0]],
                "name": [*names, "a"],
                "amount": [*amounts, amounts[0]],
            },
            schema={
                "id": pl.Int64,
                "at": pl.Datetime("us", "UTC"),
                "day": pl.Date,
                "name": pl.String,
                "amount": pl.Decimal(10, 2),
            },
        )
        for key in [("at",), ("day",), ("name",), ("amount",), ("at", "day", "name")]:
            got = by_natural_key(conn, "t", rows.select("id", *key), key).sort("id")["existing"].to_list()
            # rows 1..3 are the database's 100..102; a NULL key matches nothing; row 5 matches
            # by the key columns it shares with row 1 (not the microsecond-later time)
            want = [100, 101, 102, None, None if "at" in key else 100]
            assert got == want, key
        conn.execute("DELETE FROM public.t")
        assert by_natural_key(conn, "t", rows.select("id", "at"), ("at",))["existing"].null_count() == 5
