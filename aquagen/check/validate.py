"""The validation checks, written once as SQL and run either on a snapshot (Polars' SQL engine
over the Parquet files) or on a loaded database: the profile's own counts and invariants, and
for every profile a '+' history row per object and enum columns inside the application's choices."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from ..profiles import DEFAULT, Profile, get
from ..snapshot import Snapshot


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    sql: str  # returns a single number
    expected: int  # counts: the plan's number; invariants: 0 violations


@dataclass(frozen=True)
class Result:
    check: Check
    actual: int

    @property
    def ok(self) -> bool:
        return self.actual == self.check.expected


class Source(Protocol):
    as_of: dt.date
    profile: str

    def scalar(self, sql: str) -> int: ...


class SnapshotSource:
    def __init__(self, snapshot: Snapshot):
        self.ctx = pl.SQLContext({name: snapshot.scan(name) for name in snapshot.manifest["tables"]})
        self.as_of = dt.date.fromisoformat(snapshot.manifest["arguments"]["as_of"])
        self.profile = snapshot.profile

    def scalar(self, sql: str) -> int:
        value = self.ctx.execute(sql).collect().item()
        return int(value or 0)


class DatabaseSource:
    def __init__(self, conn, as_of: dt.date | None = None, profile: str | None = None):
        self.conn = conn
        self.as_of = as_of or dt.date.today()
        self.profile = profile or DEFAULT
        conn.execute("SET TIME ZONE 'UTC'")  # dates of timestamps are UTC dates, as generated

    def scalar(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0] or 0)


def _history_checks(profile: Profile) -> list[Check]:
    """Invariant: every object with a history twin has its '+' creation row."""
    out = []
    for t in profile.tables.values():
        if t.history_table:
            k = t.object_key or "id"
            out.append(
                Check(
                    "history",
                    f"{t.name} rows without '+' history",
                    f"SELECT COUNT(*) FROM {t.name} b LEFT JOIN (SELECT DISTINCT {k} FROM {t.history_table} "
                    f"WHERE history_type = '+') h ON h.{k} = b.{k} WHERE h.{k} IS NULL"
                    + (f" AND NOT ({profile.seeded[t.name]})" if t.name in profile.seeded else ""),
                    0,
                )
            )
    return out


def _enum_checks(profile: Profile) -> list[Check]:
    """Invariant 8: enum columns hold only the application's choices."""
    out = []
    for (table, column), allowed in profile.choices.items():
        values = ", ".join(f"'{v}'" for v in allowed)
        out.append(
            Check(
                "schema",
                f"{table}.{column} outside its choices",
                f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN ({values})",
                0,
            )
        )
    return out


def checks(profile: Profile, as_of: dt.date | None = None) -> list[Check]:
    day = f"DATE '{(as_of or dt.date.today()).isoformat()}'"
    return (
        _history_checks(profile)
        + _enum_checks(profile)
        + [Check(g, n, sql.replace("{as_of}", day), e) for g, n, sql, e in profile.checks]
    )


def run(source: Source) -> list[Result]:
    return [Result(c, source.scalar(c.sql)) for c in checks(get(source.profile), source.as_of)]


def run_snapshot(snapshot: Snapshot) -> list[Result]:
    """A snapshot's checks, first the folder's own: no file the manifest does not list."""
    extra = snapshot.unlisted()
    name = "files the manifest does not list" + (f" (e.g. {extra[0]})" if extra else "")
    return [Result(Check("snapshot", name, "", 0), len(extra)), *run(SnapshotSource(snapshot))]
