"""Schema profiles: one definition of every table of a target schema, from which the SQL DDL,
the Arrow/Parquet schema and the Polars dtypes all derive.

A profile's definition is the machine-readable extract of the real application's database
(``<slug>.json``, copied from the reference), so column order, types, nullability and
constraints are exactly the application's; ``<slug>.choices.json`` holds the application's
choices per column. A plug-in profile outside this folder keeps them as ``schema.json`` and
``choices.json`` in its own folder (see ``aquagen.profiles``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path

import polars as pl
import pyarrow as pa

PROFILE_ENV = "AQUAGEN_PROFILE"  # names another default profile (e.g. to stay on the plan's schema)
NEWEST = "aquamind@cb41030"  # AquaMind as its users run it today
PROFILE_PATH_ENV = "AQUAGEN_PROFILE_PATH"  # folders holding plug-in profiles (os.pathsep-separated)
_HERE = Path(__file__).parent


def slug(profile: str) -> str:
    """A profile's file and folder name: ``aquamind@8f2ab39`` -> ``aquamind_8f2ab39``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", profile)


def profile_dirs() -> list[Path]:
    """Folders that hold plug-in profiles, from the environment (read at every call)."""
    return [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p]


def _file(profile: str, kind: str) -> Path | None:
    """The profile's ``schema`` or ``choices`` file: here, or in a plug-in profile's folder."""
    here = _HERE / (f"{slug(profile)}.json" if kind == "schema" else f"{slug(profile)}.{kind}.json")
    if here.exists():
        return here
    for d in profile_dirs():
        if (d / slug(profile) / f"{kind}.json").exists():
            return d / slug(profile) / f"{kind}.json"
    return None


def find(profile: object) -> Path | None:
    """The profile's schema file, or None when ``profile`` names no known schema."""
    return _file(profile, "schema") if isinstance(profile, str) and profile else None


def known() -> list[str]:
    """The built-in profiles' names (from their schema files)."""
    return sorted(p.stem.replace("_", "@", 1) for p in _HERE.glob("*.json") if "." not in p.stem)


def typed_as(typed: str, name: str) -> bool:
    """Whether ``typed`` names the profile ``name`` as a user may type it (``--profile``, ``$AQUAGEN_PROFILE``):
    in any case, or the commit alone (``8f2ab39``)."""
    t = typed.strip().casefold()
    return bool(t) and t in (name.casefold(), name.casefold().partition("@")[2])


def _named(value: str) -> str:
    """The built-in profile ``value`` names (``typed_as``); else ``value`` as given (a plug-in profile, or an
    unknown one, which ``aquagen.profiles.get`` refuses naming the variable)."""
    found = [n for n in known() if typed_as(value, n)]
    return found[0] if len(found) == 1 else value


PROFILE = _named(os.environ.get(PROFILE_ENV) or NEWEST)  # the default, unless $AQUAGEN_PROFILE names another


HISTORY_EXTRA = ("history_id", "history_date", "history_change_reason", "history_type", "history_user_id")


@dataclass(frozen=True)
class Column:
    """A column; its derived types are cached (asked for per table built and written)."""

    name: str
    sql_type: str  # as PostgreSQL's format_type() prints it
    nullable: bool
    identity: bool

    @cached_property
    def numeric(self) -> tuple[int, int] | None:
        m = re.fullmatch(r"numeric\((\d+),(\d+)\)", self.sql_type)
        return (int(m[1]), int(m[2])) if m else None

    @cached_property
    def max_length(self) -> int | None:
        m = re.fullmatch(r"character varying\((\d+)\)", self.sql_type)
        return int(m[1]) if m else None

    @cached_property
    def arrow_type(self) -> pa.DataType:
        if self.numeric:
            return pa.decimal128(*self.numeric)
        if self.max_length is not None:
            return pa.string()
        return _ARROW[self.sql_type]

    @cached_property
    def polars_type(self) -> pl.DataType:
        if self.numeric:
            return pl.Decimal(*self.numeric)
        if self.max_length is not None:
            return pl.String()
        return _POLARS[self.sql_type]


_ARROW = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "boolean": pa.bool_(),
    "double precision": pa.float64(),
    "text": pa.string(),
    "jsonb": pa.string(),
    "date": pa.date32(),
    "time without time zone": pa.time64("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}
_POLARS = {
    "bigint": pl.Int64(),
    "integer": pl.Int32(),
    "smallint": pl.Int16(),
    "boolean": pl.Boolean(),
    "double precision": pl.Float64(),
    "text": pl.String(),
    "jsonb": pl.String(),
    "date": pl.Date(),
    "time without time zone": pl.Time(),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class ForeignKey:
    column: str
    ref_table: str
    ref_column: str
    constraint: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    unique: tuple[tuple[str, ...], ...]
    unique_partial: tuple[str, ...]  # CREATE UNIQUE INDEX statements
    checks: tuple[str, ...]
    indexes: tuple[str, ...]  # CREATE INDEX statements
    history_of: str | None
    history_table: str | None
    # the column naming the object a row is (or, in a history table, was): the base table's own id
    # (``id`` almost everywhere; ``scenario_id``, ``model_id``, ... in the scenario app)
    object_key: str | None = None
    # CHECK expression -> the name the application's migrations give it (the reference extracts
    # carry no names); a check not named here gets PostgreSQL's own default name
    check_names: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str | None:
        """The column holding the row's own id (its identity column: ``history_id`` in a history table)."""
        return self.identity_column

    @cached_property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars_type for c in self.columns}

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    @cached_property
    def identity_column(self) -> str | None:
        return next((c.name for c in self.columns if c.identity), None)

    # --- DDL, split so a loader can build keys and indexes after COPY ---
    def create_sql(self) -> str:
        cols = []
        for c in self.columns:
            line = f'    "{c.name}" {c.sql_type}'
            if c.identity:
                line += " GENERATED BY DEFAULT AS IDENTITY"
            if not c.nullable:
                line += " NOT NULL"
            cols.append(line)
        return f"CREATE TABLE public.{self.name} (\n" + ",\n".join(cols) + "\n)"

    def key_sql(self) -> list[str]:
        """Primary key, UNIQUE and CHECK constraints (named as PostgreSQL would)."""
        out = [
            f"ALTER TABLE public.{self.name} ADD CONSTRAINT {self.name}_pkey PRIMARY KEY ({_cols(self.primary_key)})"
        ]
        for cols in self.unique:
            suffix = "key" if len(cols) == 1 else "uniq"
            out.append(
                f"ALTER TABLE public.{self.name} ADD CONSTRAINT {_ident(self.name, cols, suffix)} UNIQUE ({_cols(cols)})"
            )
        names = dict(self.check_names)
        for check in self.checks:
            name = names.get(check) or _ident(self.name, _check_column(check), "check")
            out.append(f"ALTER TABLE public.{self.name} ADD CONSTRAINT {name} CHECK {check}")
        return out

    def index_sql(self) -> list[str]:
        return list(self.indexes) + list(self.unique_partial)

    def fk_sql(self) -> list[str]:
        return [
            f"ALTER TABLE public.{self.name} ADD CONSTRAINT {fk.constraint} FOREIGN KEY ({fk.column}) "
            f"REFERENCES public.{fk.ref_table} ({fk.ref_column}) DEFERRABLE INITIALLY DEFERRED"
            for fk in self.foreign_keys
        ]


def _cols(cols) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def _check_column(check: str) -> tuple[str, ...]:
    """The column PostgreSQL names an unnamed CHECK after: the one column it references, else none."""
    # pg_get_constraintdef writes keywords in capitals and identifiers in lower case
    columns = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", re.sub(r"'[^']*'", "", check)))
    return tuple(columns) if len(columns) == 1 else ()


def _ident(table: str, cols, suffix: str) -> str:
    """PostgreSQL's default name for a constraint (``makeObjectName``: table_cols_suffix in at most
    63 bytes, the longer of the table and the columns part shortened first, one byte at a time)."""
    name2 = "_".join(cols)
    n1, n2 = len(table), len(name2)
    room = 63 - len(suffix) - 1 - (1 if name2 else 0)  # less the suffix and the underscores
    while n1 + n2 > room:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    return "_".join(p for p in (table[:n1], name2[:n2], suffix) if p)


@cache
def tables(profile: str = PROFILE) -> dict[str, Table]:
    """All tables of a schema profile, keyed by name, in load order (parents first)."""
    path = _file(profile, "schema")
    if path is None:
        raise ValueError(
            f"unknown schema profile {profile!r}: no schemas/{slug(profile)}.json, nor "
            f"{slug(profile)}/schema.json in ${PROFILE_PATH_ENV}"
        )
    raw = json.loads(path.read_text())
    out = {}
    for name, t in raw.items():
        out[name] = Table(
            name=name,
            columns=tuple(
                Column(c["name"], c["type"], c["nullable"], c.get("identity") is not None) for c in t["columns"]
            ),
            primary_key=tuple(t["primary_key"]),
            foreign_keys=tuple(
                ForeignKey(f["column"], f["ref_table"], f["ref_column"], f["constraint"]) for f in t["foreign_keys"]
            ),
            unique=tuple(tuple(u) for u in t["unique"]),
            unique_partial=tuple(u["definition"] for u in t.get("unique_partial", [])),
            checks=tuple(t["checks"]),
            check_names=tuple(t.get("check_names", {}).items()),
            indexes=tuple(t["indexes"]),
            history_of=t.get("history_of"),
            history_table=t.get("history_table"),
        )
    for name, t in out.items():
        base = out[t.history_of] if t.history_of else t
        out[name] = replace(t, object_key=base.identity_column)
    return {name: out[name] for name in _load_order(out)}


def _reaches(ts: dict[str, Table], start: str, goal: str) -> bool:
    """Whether FKs lead from ``start`` to ``goal``."""
    seen, todo = {start}, [start]
    while todo:
        for fk in ts[todo.pop()].foreign_keys:
            if fk.ref_table == goal:
                return True
            if fk.ref_table not in seen:
                seen.add(fk.ref_table)
                todo.append(fk.ref_table)
    return False


def _load_order(ts: dict[str, Table]) -> list[str]:
    """Topological order over FKs (self references ignored), ties broken by name. A cycle (cb41030: a
    batch pins a projection run of its own scenario) is broken at its nullable references, which a
    loader checks at COMMIT (the constraints are deferrable)."""
    order: list[str] = []
    done: set[str] = set()

    def late(t: Table, fk: ForeignKey) -> bool:
        return t.column(fk.column).nullable and _reaches(ts, fk.ref_table, t.name)

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in done:
            return
        for fk in sorted(ts[name].foreign_keys, key=lambda f: f.ref_table):
            if fk.ref_table != name and fk.ref_table not in path and not late(ts[name], fk):
                visit(fk.ref_table, path + (name,))
        done.add(name)
        order.append(name)

    # base tables first, history tables (which reference only auth_user) last
    for name in sorted(ts, key=lambda n: (ts[n].history_of is not None, n)):
        visit(name)
    return order


def late_references(ts: dict[str, Table]) -> list[str]:
    """The FK constraints pointing at a table later in the load order (where ``_load_order`` broke a
    cycle): a loader writing into existing tables defers exactly these to COMMIT."""
    order = {name: i for i, name in enumerate(ts)}
    return [fk.constraint for i, t in enumerate(ts.values()) for fk in t.foreign_keys if order[fk.ref_table] > i]


@cache
def choices(profile: str = PROFILE) -> dict[tuple[str, str], tuple[str, ...]]:
    """The application's choices per (table, column): the values its validation accepts."""
    path = _file(profile, "choices")
    raw = json.loads(path.read_text()) if path else {}
    return {(t, c): tuple(v for v, _ in values) for t, cols in raw.items() for c, values in cols.items()}


def table(name: str, profile: str = PROFILE) -> Table:
    try:
        return tables(profile)[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in schema profile {profile}") from None


def schema_sql(profile: str = PROFILE) -> str:
    """The whole DDL as one script (bare tables, then keys, indexes and FKs)."""
    ts = tables(profile).values()
    parts = [t.create_sql() for t in ts]
    for t in ts:
        parts += t.key_sql()
    for t in ts:
        parts += t.index_sql()
    for t in ts:
        parts += t.fk_sql()
    return ";\n\n".join(parts) + ";\n"
