"""Which database a command works on: one rule for load, purge, validate and report.

``--dsn`` if given, else the environment variable ``AQUAGEN_DSN``, else the embedded server
of this project (``loaders.embedded``), started when needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aquagen.errors import AquagenError

ENV = "AQUAGEN_DSN"


@dataclass(frozen=True)
class Database:
    dsn: str
    source: str  # "--dsn", "AQUAGEN_DSN" or "embedded"
    folder: Path | None = None  # the embedded server's data folder

    @property
    def embedded(self) -> bool:
        return self.source == "embedded"


def choose(dsn: str | None, pgdata: str | os.PathLike | Path | None = None) -> Database:
    """The database to use: ``dsn`` (the --dsn option), else $AQUAGEN_DSN, else the embedded server."""
    if dsn is not None:
        if not dsn.strip():
            raise AquagenError("--dsn is empty; give a PostgreSQL URL such as postgresql://user:pass@host:5432/db")
        return Database(dsn, "--dsn")
    env = os.environ.get(ENV, "").strip()
    if env:
        return Database(env, ENV)
    from . import embedded

    st = embedded.ensure_running(pgdata)
    return Database(st.dsn(), "embedded", st.folder.path)


def describe(db: Database) -> str:
    """One line for the user: which database, and where the choice came from."""
    from .postgres import redact

    if db.embedded:
        return f"the embedded PostgreSQL in {db.folder}"
    return f"{redact(db.dsn)} (from {db.source})"
