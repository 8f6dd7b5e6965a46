"""An embedded PostgreSQL (the ``pgserver`` package) for users without a server.

The server keeps running after aquagen exits, so the loaded data can be
queried; ``aquagen load`` prints the psql command that connects to it.
"""

from __future__ import annotations

import os
from pathlib import Path

from aquagen.errors import AquagenError

DATABASE = "aquamind"


def start(root: str | os.PathLike, database: str = DATABASE) -> tuple[str, str]:
    """Start (or reuse) the server whose data lives in ``root``; returns (dsn, psql command)."""
    import pgserver
    import psycopg

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(root, cleanup_mode=None)
    except Exception as e:  # pgserver raises plain exceptions with the server log
        raise AquagenError(f"could not start the embedded PostgreSQL in {root}: {str(e).splitlines()[0]}") from None
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    dsn = server.get_uri(database)
    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    return dsn, f"{psql} '{dsn}'"
