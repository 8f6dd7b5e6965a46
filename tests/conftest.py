"""Tests run against a real PostgreSQL: AQUAGEN_TEST_DSN when set, else an embedded server."""

from __future__ import annotations

import os

# Tests written against the plan's data name its profile once, here, for this process and the CLI
# runs it starts; tests of the default (the README's commands) and of cb41030 unset or name it.
os.environ["AQUAGEN_PROFILE"] = "aquamind@8f2ab39"

import datetime as dt
import subprocess
import sys
import uuid
import warnings

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

AS_OF = dt.date(2026, 1, 15)


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory):
    """A DSN with the right to create databases."""
    dsn = os.environ.get("AQUAGEN_TEST_DSN")
    if dsn:
        yield dsn
        return
    warnings.filterwarnings("ignore")
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def empty_db(pg_admin):
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"aquagen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_admin, dbname=name)
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def master_snapshot(tmp_path_factory):
    """Infrastructure and master data only (phases 1-2)."""
    from aquagen.run.generate import generate

    # a short history: the weather of the years before it is most of a master-only snapshot's rows
    return generate(
        tmp_path_factory.mktemp("snap") / "master",
        seed=11,
        batches=0,
        as_of=AS_OF,
        first_start=AS_OF - dt.timedelta(days=90),
    )


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aquagen", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def fingerprint(dsn: str) -> dict:
    """Tables, row counts and sequence positions: equal fingerprints mean an untouched database."""
    with psycopg.connect(dsn) as c:
        tables = [
            r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
        ]
        counts = {t: c.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0] for t in tables}
        seqs = dict(
            c.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'").fetchall()
        )
        cols = c.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
    return {"counts": counts, "sequences": seqs, "columns": cols}


def pytest_collection_modifyitems(items):
    """Tests that reach PostgreSQL are marked ``db``: ``pytest -m 'not db'`` runs the rest without a server."""
    for item in items:
        if "pg_admin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
