"""Typed access to a query's rows."""

from __future__ import annotations

from typing import Any

import psycopg


def one(cur: psycopg.Cursor) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, ``to_regclass``, a sequence's
    state): ``fetchone()`` with the None it cannot return ruled out."""
    row = cur.fetchone()
    assert row is not None, "the query returned no row"
    return row
