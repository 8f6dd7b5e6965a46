"""The validation checks rewritten for less work count what their first forms counted, on tiny tables
with the edges the fleet tests do not reach: NULL keys and dates, duplicates, ties in history_date,
overlapping periods (Polars' SQL engine; the database runs the same text in the fleet tests)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import polars as pl

from aquagen.check import validate
from aquagen.profiles import get, names

D = [dt.datetime(2025, 1, d, 9, tzinfo=dt.UTC) for d in range(1, 6)]
DAY = [dt.date(2025, 1, d) for d in range(1, 8)]

# a profile of one changing table and its history twin
THING = SimpleNamespace(name="thing", history_table="h_thing", object_key=None, column_names=("id", "v"))
H_THING = SimpleNamespace(
    name="h_thing", history_table=None, column_names=("id", "v", "history_id", "history_date", "history_type")
)
PROFILE = SimpleNamespace(mutable=("thing",), tables={"thing": THING, "h_thing": H_THING}, seeded={})


def _count(sql: str, **tables: pl.DataFrame) -> int:
    return int(pl.SQLContext({k: v.lazy() for k, v in tables.items()}).execute(sql).collect().item() or 0)


def test_plus_history_counts_as_the_distinct_join():
    thing = pl.DataFrame({"id": [1, 2, None, 4, 4, 6], "v": ["a"] * 6})
    h = pl.DataFrame(
        {"id": [1, 1, None, 5, 4, 6], "history_type": ["+", "+", "+", "+", "~", None]},
        schema={"id": pl.Int64, "history_type": pl.String},
    )
    (check,) = validate._history_checks(PROFILE)
    first = (
        "SELECT COUNT(*) FROM thing b LEFT JOIN (SELECT DISTINCT id FROM h_thing WHERE history_type = '+') h "
        "ON h.id = b.id WHERE h.id IS NULL"
    )
    assert _count(check.sql, thing=thing, h_thing=h) == _count(first, thing=thing, h_thing=h) == 5


def test_last_history_row_counts_as_the_group_by_object_and_date():
    # 1: a tie at the latest date, the higher history_id equal to the row; 2 (twice): the higher one differs;
    # 3: no history_date; 4: a NULL history_id at the latest date beside a differing one; 5: no history;
    # 6: only NULL history_ids at the latest date; 7: its last history_id also an older row's of 8; NULL id
    thing = pl.DataFrame(
        {"id": [1, 2, 2, 3, 4, 5, 6, 7, 8, None], "v": ["a", "a", "a", "a", "a", "a", "a", "a", "x", "a"]}
    )
    rows = [  # (id, v, history_id, history_date)
        (1, "z", 1, D[0]),
        (1, "a", 3, D[1]),
        (1, "b", 2, D[1]),
        (2, "a", 4, D[1]),
        (2, "b", 5, D[1]),
        (3, "b", 6, None),
        (4, "a", None, D[2]),
        (4, "b", 7, D[2]),
        (6, "a", 8, D[0]),
        (6, "b", None, D[3]),
        (7, "a", 9, D[4]),
        (8, "b", 9, D[0]),
        (8, "x", 10, D[1]),
        (None, "b", 11, D[4]),
    ]
    h = pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "v": [r[1] for r in rows],
            "history_id": [r[2] for r in rows],
            "history_date": [r[3] for r in rows],
            "history_type": ["~"] * len(rows),
        },
        schema={
            "id": pl.Int64,
            "v": pl.String,
            "history_id": pl.Int64,
            "history_date": pl.Datetime("us", "UTC"),
            "history_type": pl.String,
        },
    )
    (check,) = validate._last_history_checks(PROFILE)
    first = (
        "SELECT COUNT(*) FROM thing s JOIN (SELECT id, MAX(history_date) AS d FROM h_thing GROUP BY id) m "
        "ON m.id = s.id JOIN (SELECT id, history_date, MAX(history_id) AS i FROM h_thing "
        "GROUP BY id, history_date) l ON l.id = m.id AND l.history_date = m.d "
        "JOIN h_thing h ON h.history_id = l.i WHERE (h.v IS DISTINCT FROM s.v)"
    )
    # 2 twice, 4, and 7 against 8's older row
    assert _count(check.sql, thing=thing, h_thing=h) == _count(first, thing=thing, h_thing=h) == 4


def test_feeding_summaries_count_as_the_join_of_each_feeding():
    checks = {c.name: c.sql for c in validate.checks(get("aquamind@8f2ab39"), DAY[-1])}
    kg = pl.Decimal(10, 4)
    feedings = pl.DataFrame(
        {  # several a day, a day of NULL amounts, one without an assignment, one outside every period
            "batch_id": [1, 1, 1, 1, 1, 1, 2, None],
            "batch_assignment_id": [10, 10, 10, 11, 11, None, 20, 10],
            "feeding_date": [DAY[0], DAY[0], DAY[1], DAY[1], DAY[2], DAY[1], DAY[6], DAY[5]],
            "amount_kg": ["1.5", "2.25", None, "4", "0.0001", "3", "7", "9"],
        },
        schema_overrides={"amount_kg": kg},
    ).with_columns(pl.col("amount_kg").cast(kg))
    periods = {  # overlapping, one without feedings
        "id": [1, 2, 3, 4],
        "period_start": [DAY[0], DAY[1], DAY[3], DAY[0]],
        "period_end": [DAY[2], DAY[2], DAY[4], DAY[1]],
    }
    money = pl.Decimal(10, 2)
    container = pl.DataFrame(
        {
            **periods,
            "container_assignment_id": [10, 11, 10, 11],
            "total_feed_kg": [3.75, 4.0, 0, 99],
            "data_points": [3, 2, 0, 1],
        }
    ).with_columns(pl.col("total_feed_kg").cast(money))
    batch = pl.DataFrame(
        {**periods, "batch_id": [1, 1, 1, 2], "total_feed_kg": [10.75, 7.0, 0, 0], "container_count": [2, 2, 0, 0]}
    ).with_columns(pl.col("total_feed_kg").cast(money))
    tables = {
        "inventory_feedingevent": feedings,
        "inventory_containerfeedingsummary": container,
        "inventory_batchfeedingsummary": batch,
    }
    container_first = (
        "SELECT COUNT(*) FROM inventory_containerfeedingsummary s LEFT JOIN (SELECT s2.id, SUM(f.amount_kg) AS kg, "
        "COUNT(*) AS n FROM inventory_containerfeedingsummary s2 JOIN inventory_feedingevent f "
        "ON f.batch_assignment_id = s2.container_assignment_id AND f.feeding_date >= s2.period_start "
        "AND f.feeding_date <= s2.period_end GROUP BY s2.id) e ON e.id = s.id "
        "WHERE e.id IS NULL OR ABS(s.total_feed_kg - e.kg) > 0.005 OR s.data_points <> e.n"
    )
    batch_first = (
        "SELECT COUNT(*) FROM inventory_batchfeedingsummary s LEFT JOIN (SELECT s2.id, SUM(f.amount_kg) AS kg, "
        "COUNT(DISTINCT f.batch_assignment_id) AS n FROM inventory_batchfeedingsummary s2 JOIN inventory_feedingevent f "
        "ON f.batch_id = s2.batch_id AND f.feeding_date >= s2.period_start AND f.feeding_date <= s2.period_end "
        "GROUP BY s2.id) e ON e.id = s.id WHERE e.id IS NULL OR ABS(s.total_feed_kg - e.kg) > 0.005 "
        "OR s.container_count <> e.n"
    )
    container_now = checks["container summaries whose totals differ from their feeding events"]
    batch_now = checks["batch summaries whose totals differ from their feeding events"]
    assert _count(container_now, **tables) == _count(container_first, **tables) == 2
    assert _count(batch_now, **tables) == _count(batch_first, **tables) == 2


_CLAUSES = {"WHERE", "GROUP", "ORDER", "JOIN", "LEFT", "INNER", "CROSS", "ON", "LIMIT", "UNION", "HAVING", ")", ","}


def _unnamed_subqueries(sql: str) -> list[str]:
    """The subqueries in FROM or JOIN of ``sql`` without an alias (PostgreSQL before 16 refuses them)."""
    unnamed = []
    for m in re.finditer(r"\b(?:FROM|JOIN)\s*\(", sql):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        after = re.match(r"\s*(AS\s+)?(\w+|\)|,|$)", sql[i:])
        if after is None or not after[2] or after[2].upper() in _CLAUSES:
            unnamed.append(sql[m.start() : i + 20])
    return unnamed


def test_every_subquery_in_from_has_an_alias():
    assert _unnamed_subqueries("SELECT COUNT(*) FROM (SELECT 1) WHERE true") == ["FROM (SELECT 1) WHERE true"]
    assert _unnamed_subqueries("SELECT COUNT(*) FROM (SELECT 1) AS x JOIN (SELECT (2)) y ON true") == []
    for name in names():
        for check in validate.checks(get(name), dt.date(2025, 1, 1)):
            assert not _unnamed_subqueries(check.sql), (name, check.name)
