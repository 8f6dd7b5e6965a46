"""The validation checks, written once as SQL and run either on a snapshot
(Polars' SQL engine over the Parquet files) or on a loaded database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

import schemas

from . import domain as D
from .snapshot import Snapshot


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
    def scalar(self, sql: str) -> int: ...


class SnapshotSource:
    def __init__(self, snapshot: Snapshot):
        self.ctx = pl.SQLContext({name: snapshot.scan(name) for name in snapshot.manifest["tables"]})

    def scalar(self, sql: str) -> int:
        value = self.ctx.execute(sql).collect().item()
        return int(value or 0)


class DatabaseSource:
    def __init__(self, conn):
        self.conn = conn

    def scalar(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0] or 0)


def _count(table: str, where: str = "") -> str:
    return f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")


PHASE_COUNTS = [
    ("infrastructure", "geographies", _count("infrastructure_geography"), 2),
    ("infrastructure", "freshwater stations", _count("infrastructure_freshwaterstation"), 22),
    ("infrastructure", "halls", _count("infrastructure_hall"), 110),
    ("infrastructure", "hall containers", _count("infrastructure_container", "hall_id IS NOT NULL"), 1100),
    ("infrastructure", "sea areas", _count("infrastructure_area"), 42),
    ("infrastructure", "sea rings", _count("infrastructure_container", "area_id IS NOT NULL"), 840),
    ("infrastructure", "feed containers", _count("infrastructure_feedcontainer"), 236),
    ("infrastructure", "sensors", _count("infrastructure_sensor"), 11060),
    ("master data", "species", _count("batch_species"), 1),
    ("master data", "lifecycle stages", _count("batch_lifecyclestage"), 6),
    ("master data", "environmental parameters", _count("environmental_environmentalparameter"), 7),
    ("master data", "feeds", _count("inventory_feed"), 6),
    ("master data", "initial feed purchases", _count("inventory_feedpurchase", "notes = 'Initial stock'"), 236),
    ("master data", "initial stock lots",
     "SELECT COUNT(*) FROM inventory_feedcontainerstock s JOIN inventory_feedpurchase p "
     "ON p.id = s.feed_purchase_id WHERE p.notes = 'Initial stock'", 236),
    ("master data", "health parameters", _count("health_healthparameter"), 9),
    ("master data", "mortality reasons", _count("health_mortalityreason"), 7),
    ("master data", "sample types", _count("health_sampletype"), 5),
    ("master data", "vaccination types", _count("health_vaccinationtype"), 3),
    ("master data", "users", _count("auth_user", "username LIKE '%_01' OR username = 'system_admin'"), 4),
    ("master data", "user profiles",
     "SELECT COUNT(*) FROM users_userprofile p JOIN auth_user u ON u.id = p.user_id "
     "WHERE u.username LIKE '%_01' OR u.username = 'system_admin'", 4),
]


def _history_checks() -> list[Check]:
    """Invariant: every object with a history twin has its '+' creation row."""
    out = []
    for t in schemas.tables().values():
        if t.history_table:
            out.append(Check(
                "history", f"{t.name} rows without '+' history",
                f"SELECT COUNT(*) FROM {t.name} b LEFT JOIN (SELECT DISTINCT id FROM {t.history_table} "
                f"WHERE history_type = '+') h ON h.id = b.id WHERE h.id IS NULL",
                0,
            ))
    return out


def _enum_checks() -> list[Check]:
    """Invariant 8: enum columns hold only the application's choices."""
    out = []
    for (table, column), allowed in D.ENUMS.items():
        values = ", ".join(f"'{v}'" for v in allowed)
        out.append(Check("schema", f"{table}.{column} outside its choices",
                         _count(table, f"{column} IS NOT NULL AND {column} NOT IN ({values})"), 0))
    return out


def checks() -> list[Check]:
    return [Check(*c) for c in PHASE_COUNTS] + _history_checks() + _enum_checks()


def run(source: Source) -> list[Result]:
    return [Result(c, source.scalar(c.sql)) for c in checks()]
