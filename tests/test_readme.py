"""Every shell example of README.md runs as written, in README order, on the quick-start setup.

A fenced ``bash`` block is preceded by ``<!-- readme-test: run | slow | skip (why) -->``: ``run``
blocks (the quick start, the embedded database) run in the default suite, ``slow`` blocks too
with ``pytest -m examples`` (fleet examples of 50 batches, the application's database, purge,
report). Commands run one by one with ``bash -c`` in a fresh project folder (a pyproject.toml
naming aquagen, so the project's own embedded server is used and stopped at the end), with
``aquagen`` on PATH running this checkout. Only these are changed, each for a stated reason:
installation lines are not run (the checkout is the installed code), port 5433 becomes a free
port (parallel runs), ``python manage.py migrate`` becomes the Django tables of tests/test_db.py
plus the profile's schema, and ``NOT_RUN`` lines need an interrupted run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

import schemas

from .test_db import DJANGO_SQL, django_state

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"<!--\s*readme-test:\s*(run|slow|skip)\b\s*(.*?)\s*-->")
SETUP = ("python3 -m venv ", "pip install ", "python3 -m pip ")  # the test runs this checkout, installed or not
NOT_RUN = {  # command -> why it is not run as written here
    "aquagen generate --batches 50 --seed 42 --out output/fleet --resume": "needs an interrupted run (tests/test_fleet.py::test_resume_after_kill_gives_the_same_bytes)",
}
MIGRATE = "python manage.py migrate"


@dataclass
class Block:
    kind: str
    line: int
    commands: list[str]


def blocks(text: str) -> list[Block]:
    """The README's bash blocks with their marks and commands (continuations joined, comments dropped)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() != "```bash":
            continue
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        m = MARK.search(prev)
        assert m, f"README.md line {i + 1}: a bash block needs a <!-- readme-test: run|slow|skip --> mark"
        body, j = [], i + 1
        while lines[j].strip() != "```":
            body.append(lines[j])
            j += 1
        commands, current = [], ""
        for raw in body:
            current += raw.rstrip()
            if current.endswith("\\"):
                current = current[:-1] + " "
                continue
            command = _strip_comment(current).strip()
            if command:
                commands.append(" ".join(command.split()))
            current = ""
        found.append(Block(m.group(1), i + 1, commands))
    return found


def _strip_comment(command: str) -> str:
    """Drop a trailing `# ...` outside quotes."""
    quote = None
    for k, ch in enumerate(command):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or command[k - 1].isspace()):
            return command[:k]
    return command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """A user following the README in a fresh project folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        (folder / "pyproject.toml").write_text('[project]\nname = "aquagen"\nversion = "0"\n')
        bin_ = folder / ".bin"
        bin_.mkdir()
        (bin_ / "aquagen").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aquagen "$@"\n')
        (bin_ / "aquagen").chmod(0o755)
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("AQUAGEN_DSN", "AQUAGEN_PGDATA", "AQUAGEN_PROFILE")
        }
        self.env["PATH"] = f"{bin_}{os.pathsep}{self.env['PATH']}"
        self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), self.env.get("PYTHONPATH", "")])
        self.env["AQUAGEN_CACHE"] = str(folder / ".cache")  # advance's farm ahead: not in the home folder
        self.port = free_port()
        self.migrated: dict[str, dict] = {}
        self.ran: list[str] = []

    def run(self, command: str, env: dict | None = None, code: int = 0) -> subprocess.CompletedProcess:
        """``command`` in the project folder (with ``env`` instead of the session's), expected to exit ``code``."""
        command = command.replace("5433", str(self.port))
        if command == MIGRATE:
            return self.migrate()
        r = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=env or self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert r.returncode == code, (
            f"README example exited {r.returncode}, not {code}: {command}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        )
        self.ran.append(command)
        return r

    def migrate(self) -> None:
        """What the application's migrate leaves in the database `db start --database` created."""
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/aquamind_app"
        with psycopg.connect(dsn) as conn:
            conn.execute(schemas.schema_sql(schemas.NEWEST))  # the README's commands run with the real default
            conn.execute(DJANGO_SQL)
        self.migrated[dsn] = django_state(dsn)

    def run_blocks(self, kinds: tuple[str, ...]) -> None:
        for block in blocks((ROOT / "README.md").read_text()):
            if block.kind not in kinds:
                continue
            for command in block.commands:
                if command.startswith(SETUP) or command in NOT_RUN:
                    continue
                self.run(command)

    def stop(self) -> None:
        subprocess.run(
            ["bash", "-c", "aquagen db stop"], cwd=self.folder, env=self.env, capture_output=True, check=False
        )


@pytest.fixture
def session(tmp_path):
    s = Session(tmp_path)
    yield s
    s.stop()


def test_every_block_is_marked_and_parsed():
    found = blocks((ROOT / "README.md").read_text())
    kinds = {b.kind for b in found}
    assert kinds == {"run", "slow", "skip"}
    quick = found[0]
    assert quick.kind == "run" and quick.commands[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert any("--as-of" in c and "generate" in c for c in quick.commands)  # pinned: the same data any day
    for b in found:
        for c in b.commands:
            assert "$DSN" not in c and "/tmp" not in c, c  # no undefined variables; outputs under output/
            if b.kind != "skip" and c.startswith("aquagen") and "--out" in c:
                assert re.search(r"--out output/", c), c
    assert all(c in {x for b in found for x in b.commands} for c in NOT_RUN)


def test_quick_start_and_embedded_database(session):
    """The default suite's part: the quick start, then the embedded database's commands; a rerun is a no-op."""
    session.run_blocks(("run",))
    assert any(c.startswith("aquagen generate") for c in session.ran)
    assert (session.folder / "output" / "snapshot" / "report" / "index.html").exists()
    assert (session.folder / "output" / "pgdata" / "PG_VERSION").exists()
    r = session.run("aquagen load output/snapshot")
    assert "already loaded in this database; nothing to do" in r.stdout
    r = session.run("aquagen db psql -At -c 'SELECT lifecycle_stage_id FROM batch_batch ORDER BY 1'")
    assert r.stdout.split() == ["1", "2", "3", "4", "5", "6", "6"]  # a batch in every stage


@pytest.mark.examples
def test_every_example(session):
    """Every example that is not skipped, in README order, then the quick start again: the same snapshot,
    refused by the database the examples advanced past its date, loaded into another one (then a no-op)."""
    session.run_blocks(("run", "slow"))
    assert any(c == MIGRATE for b in blocks((ROOT / "README.md").read_text()) for c in b.commands)
    for dsn, before in session.migrated.items():
        assert django_state(dsn) == before  # the application's own tables are untouched by the load
    snapshot = session.folder / "output" / "snapshot"
    manifest = (snapshot / "manifest.json").read_bytes()
    quick = [c for c in blocks((ROOT / "README.md").read_text())[0].commands if not c.startswith(SETUP)]
    session.run(quick[0])  # generate: the same snapshot, another run
    assert (snapshot / "manifest.json").read_bytes() == manifest
    # the examples advanced the database to now and purged its batches: the snapshot, of an earlier date,
    # is refused in one line (its sensors and feed stock would go back in time under the later weather)
    r = session.run(quick[1], code=2)
    assert "farm is at" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # into another database it loads, validates and reports again; a second load is a no-op
    again = {**session.env, "AQUAGEN_PGDATA": str(session.folder / "output" / "pgdata-again")}
    try:
        for c in quick[1:]:
            session.run(c, env=again)
        assert "nothing to do" in session.run(quick[1], env=again).stdout
    finally:
        subprocess.run(["aquagen", "db", "stop"], cwd=session.folder, env=again, capture_output=True)
