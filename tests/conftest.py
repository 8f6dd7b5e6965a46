"""Tests run against a real PostgreSQL: AQUAGEN_TEST_DSN when set, else an embedded server.

The shared fleets live here: each is generated once per test run (the first xdist worker that asks
generates it under a file lock, the others open it), and each worker that needs one loads it once
into a database that tests read or clone (``fleet_db``, ``fleet_copy``)."""

from __future__ import annotations

import os

# Tests written against the plan's data name its profile once, here, for this process and the CLI
# runs it starts; tests of the default (the README's commands) and of cb41030 unset or name it.
os.environ["AQUAGEN_PROFILE"] = "aquamind@8f2ab39"

# An xdist worker per core: each runs Polars (and the processes it starts) on one thread, as aquagen's own
# workers do (aquagen.run.runner): the workers are the parallelism, and a thread pool per worker on a busy
# core only adds CPU-seconds. Set before Polars is first imported; a POLARS_MAX_THREADS of the user is kept.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("POLARS_MAX_THREADS", "1")

import datetime as dt
import fcntl
import io
import shutil
import signal
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# pytest rewrites the asserts of every test module (and of hypothesis, a plugin's package) on import and
# keeps the result as bytecode, unless the environment says not to write any (PYTHONDONTWRITEBYTECODE):
# then every xdist worker of every run rewrites them all again, about 3.5 CPU-s each (measured: a
# collection 6.5 -> 3 CPU-s). The tests' bytecode goes to their own git-ignored __pycache__.
sys.dont_write_bytecode = False

AS_OF = dt.date(2026, 1, 15)
# master data only (phases 1-2); a short history keeps its weather small (kill tests load it many times)
MASTER = dict(seed=11, batches=0, as_of=AS_OF, first_start=AS_OF - dt.timedelta(days=30))
# three batches 70 days apart, all in freshwater on the as-of day (a parr of 200 days, a fry, eggs): feedings,
# samples, transfers and feed stock (reorders included) of three batch numbers, small enough to load, purge
# and replace often (about 230k rows)
FLEET = dict(seed=3, batches=3, as_of=AS_OF, first_start=AS_OF - dt.timedelta(days=200), stagger_days=70)
# three batches 300 days apart: harvested, at sea and in freshwater on the as-of day (reports, scenarios)
LIFECYCLE = dict(seed=3, batches=3, as_of=AS_OF, first_start=dt.date(2023, 6, 1), stagger_days=300)


# The test suite's own server is a throwaway: no fsync at commits and checkpoints (a CREATE DATABASE ...
# TEMPLATE is one), which tests never rely on (they kill aquagen's processes, never the server's); no
# autovacuum (each load ANALYZEs what it loads; the vacuum of a database dropped minutes later is wasted
# work, 0.7-1.5 server CPU-s per fleet load); statistics from 3,000 sampled rows a table, not 30,000
# (every load still ANALYZEs every table it fills, which the tests check; nothing reads the histograms:
# the ANALYZE of a 1.3M-row fleet's 115 tables is 0.3 server CPU-s instead of 1.7, a fifth of its load).
THROWAWAY_SERVER = (
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "autovacuum = off",
    "default_statistics_target = 10",
)


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory):
    """A DSN with the right to create databases: AQUAGEN_TEST_DSN; else a throwaway server of the
    PostgreSQL binaries in AQUAGEN_TEST_PGBIN (``.ci/run`` runs the database tests again on Debian's
    PostgreSQL 15); else pgserver's embedded PostgreSQL 16."""
    dsn = os.environ.get("AQUAGEN_TEST_DSN")
    if dsn:
        yield dsn
        return
    warnings.filterwarnings("ignore")
    with ExitStack() as stack:
        if os.environ.get("AQUAGEN_TEST_PGBIN"):
            dsn = stack.enter_context(_server_of(Path(os.environ["AQUAGEN_TEST_PGBIN"]), tmp_path_factory.mktemp("pg")))
        else:
            import pgserver

            server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
            stack.callback(server.cleanup)
            dsn = server.get_uri()
        with psycopg.connect(dsn, autocommit=True) as c:
            for setting in THROWAWAY_SERVER:
                c.execute(f"ALTER SYSTEM SET {setting}")
            c.execute("SELECT pg_reload_conf()")
        yield dsn


@contextmanager
def _server_of(bin_dir: Path, folder: Path) -> Iterator[str]:
    """A server of the PostgreSQL binaries in ``bin_dir``, its data and socket in ``folder``: yields its
    DSN, then stops it. As root it runs as pgserver's system user (PostgreSQL refuses root)."""
    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    as_user: list[str] = []
    if os.geteuid() == 0:
        user = ensure_user_exists("pgserver")
        ensure_prefix_permissions(folder)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", user.pw_name, "--"]
    data = folder / "data"
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses='' -c unix_socket_directories='{folder}'"
    subprocess.run([*pg_ctl, "-l", str(folder / "log"), "-o", options, "-w", "start"], check=True, capture_output=True)
    try:
        yield make_conninfo(host=str(folder), user="postgres", dbname="postgres")
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)


def new_database(pg_admin: str, prefix: str = "aquagen_test", template: str | None = None) -> str:
    """A new database (a file copy of the database ``template`` when given); its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin, autocommit=True) as c:
        if template:
            strategy = " STRATEGY FILE_COPY" if c.info.server_version >= 150000 else ""
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        else:
            c.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(pg_admin, dbname=name)


def drop_database(pg_admin: str, dsn: str) -> None:
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(pg_admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db(pg_admin):
    """A fresh, empty database for one test, dropped afterwards."""
    dsn = new_database(pg_admin)
    yield dsn
    drop_database(pg_admin, dsn)


@contextmanager
def cloned(pg_admin: str, template_dsn: str) -> Iterator[str]:
    """A throwaway copy of a database (a file copy, much faster than loading again)."""
    dsn = new_database(pg_admin, template=conninfo_to_dict(template_dsn)["dbname"])
    try:
        yield dsn
    finally:
        drop_database(pg_admin, dsn)


@contextmanager
def shared(tmp_path_factory, name: str) -> Iterator[Path]:
    """A folder shared by every xdist worker of this test run, held under a file lock (one worker at a time)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    root.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield root / name


def shared_snapshot(tmp_path_factory, name: str, **args):
    """The snapshot ``generate(**args)``, generated once per test run: the first xdist worker that asks
    generates it, the others open it. Tests must not change it (they copy it first). In this process
    unless ``workers`` says otherwise: the xdist workers keep the cores busy, and worker processes would
    only add their start-up (1.5-2.5 CPU-s for a 3-batch fleet, measured; the bytes are the same)."""
    from aquagen.run.generate import generate
    from aquagen.snapshot import Snapshot

    with shared(tmp_path_factory, name) as out:
        if (out / "manifest.json").exists():
            return Snapshot.open(out)
        return generate(out, **{"workers": 1, **args})


@pytest.fixture(scope="session")
def master_snapshot(tmp_path_factory):
    """Infrastructure and master data only (phases 1-2)."""
    # a short history: the weather of the years before it is most of a master-only snapshot's rows
    return shared_snapshot(tmp_path_factory, "master", **MASTER)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """Infrastructure, master data and three batches in freshwater (about 230k rows)."""
    return shared_snapshot(tmp_path_factory, "fleet", **FLEET)


@pytest.fixture(scope="session")
def fleet_db(pg_admin, fleet):
    """(dsn, load result): the fleet loaded once per worker by the staged path. Tests only read it,
    or work on a copy (``fleet_copy``)."""
    from loaders import postgres

    dsn = new_database(pg_admin, "aquagen_fleet")
    yield dsn, postgres.load(fleet, dsn)
    drop_database(pg_admin, dsn)


@pytest.fixture
def fleet_copy(pg_admin, fleet_db):
    """A copy of the loaded fleet for one test to change."""
    with cloned(pg_admin, fleet_db[0]) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def lifecycle_fleet(tmp_path_factory):
    """Three batches on the as-of day: one harvested, one at sea (live fish, lice), one in freshwater; the
    first is still at sea when the last one starts (about 1.1M rows)."""
    return shared_snapshot(tmp_path_factory, "lifecycle", **LIFECYCLE)


@pytest.fixture(scope="session")
def lifecycle_db(pg_admin, lifecycle_fleet):
    """The lifecycle fleet loaded once per worker; tests only read it, or work on a copy (``cloned``)."""
    from loaders import postgres

    dsn = new_database(pg_admin, "aquagen_lifecycle")
    postgres.load(lifecycle_fleet, dsn)
    yield dsn
    drop_database(pg_admin, dsn)


def run_process(*args: str, cwd=None, env: dict | None = None, timeout: float | None = None):
    """``python -m aquagen ARGS`` in a process of its own: for what happens at the process boundary
    (signals, the interpreter's start and exit); a run that a kill point ends, or whose output at the
    file descriptors is checked, is ``run_forked``'s."""
    return subprocess.run(
        [sys.executable, "-m", "aquagen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def run_forked(*args: str, kill_at: str | None = None, cwd=None, env: dict | None = None, timeout: float = 300):
    """``python -m aquagen ARGS`` in a process of its own, forked from a process that has imported aquagen
    (``tests/forked.py``), not an interpreter started for it: the same exit code, and what it writes to
    its file descriptors 1 and 2 (Python's or a library's) as stdout and stderr. For a run that the
    kill point ``kill_at`` (``AQUAGEN_KILL_AT``) ends (exit code -9), or whose output must be one line
    at the descriptors."""
    import tempfile

    from . import forked

    env = dict(os.environ if env is None else env)
    if kill_at:
        env["AQUAGEN_KILL_AT"] = kill_at
    if env.get("AQUAGEN_PROFILE") != forked.PROFILE:  # what the fork server's imports read: start one afresh
        return run_process(*args, cwd=cwd, env=env, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="aquagen-forked-") as tmp:
        return forked.run([str(a) for a in args], Path(cwd or os.getcwd()), env, timeout, Path(tmp))


def run_cli(*args: str, cwd=None, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m aquagen ARGS`` run by the CLI's own ``main`` in this process, in ``cwd`` with the
    environment ``env`` (default: this one): the same exit code, stdout and stderr, without an interpreter
    start-up and its imports per call. What this process changes (directory, environment, SIGTERM handler,
    warning filters, the CLI's resume hint) is put back."""
    from aquagen import cli

    argv = ["aquagen", *map(str, args)]
    assert argv[1:3] != ["db", "psql"], "db psql replaces its process with psql: use run_process"
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    saved_argv, saved_cwd, saved_env = sys.argv, os.getcwd(), dict(os.environ)
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with warnings.catch_warnings(), redirect_stdout(out), redirect_stderr(err):
            sys.argv = argv
            if cwd is not None:
                os.chdir(cwd)
            if env is not None:
                os.environ.clear()
                os.environ.update(env)
            try:
                cli.main()
            except SystemExit as e:
                code = e.code
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(saved_env)
        signal.signal(signal.SIGTERM, saved_sigterm)
        cli._RESUME_HINT.clear()
    if isinstance(code, str):  # sys.exit("message"): the message on stderr, exit 1
        err.write(code + "\n")
    if not isinstance(code, int):
        code = 0 if code is None else 1
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


# A table's rows as (count, digest): the sum of a 64-bit hash of each row's text is a digest of the rows as
# a multiset, which needs no sort (an md5 of the rows' text in order sorted them and built one string of
# the whole table: 1.8x the server's time, measured on a 2M-row fleet)
ROW_DIGEST = "count(*), sum(hashtextextended({row}, 0)::numeric)"


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


# Fixtures built once per xdist worker that asks for them (a database loaded, a fleet generated into the
# worker's own folder, a server started), each with its group: the tests that use one run on one worker
# (xdist_group), which builds it once. Heaviest group first (CPU-seconds of its tests, measured).
WORKER_GROUPS = {
    "template_d1": "advance",  # test_advance: a database at D1, the farm ahead and "today"'s snapshot
    "farm_cache": "advance",
    "today": "advance",
    "fleet_db": "fleet_db",  # test_load, test_purge
    "lifecycle_db": "lifecycle_db",  # test_report, test_scenario
    "two_batches": "two_batches",  # test_batch
    "snap": "health",  # test_health
    "reference": "publish",  # test_boundary
    "older": "publish",
    "project": "project",  # test_db: the project's embedded server
}
GROUP_ORDER = ("advance", "fleet_db", "lifecycle_db", "two_batches", "health", "publish", "project")

# Modules with the longest tests, longest first: after the groups, they start first, so that the xdist
# workers finish together (the rest keep their order and fill in).
LONG_FIRST = (
    "test_profiles.py",
    "test_readme.py",
    "test_load.py",
    "test_advance.py",
    "test_db.py",
    "test_batch.py",
    "test_report.py",
    "test_purge.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook names the groups (--dist loadgroup)
def pytest_collection_modifyitems(items):
    """Tests that reach PostgreSQL are marked ``db``: ``pytest -m 'not db'`` runs the rest without a server.
    Tests using a fixture of WORKER_GROUPS are marked with its group. The groups run first, heaviest first,
    then the modules of LONG_FIRST."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "pg_admin" in names:
            item.add_marker(pytest.mark.db)
        for group in sorted({WORKER_GROUPS[n] for n in names if n in WORKER_GROUPS}):
            item.add_marker(pytest.mark.xdist_group(group))
    groups = {name: i for i, name in enumerate(GROUP_ORDER)}
    modules = {name: len(groups) + i for i, name in enumerate(LONG_FIRST)}

    def rank(item) -> int:
        group = next((m.args[0] for m in item.iter_markers("xdist_group")), None)
        return groups[group] if group in groups else modules.get(item.path.name, len(groups) + len(modules))

    items.sort(key=rank)


def pytest_configure(config):
    """``-n N`` distributes by group (``--dist loadgroup``) unless ``--dist`` is given: the README's test
    command stays ``pytest -n auto``, and ``-p no:xdist`` still runs (no xdist option in addopts)."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # a worker parses the command line again: the controller's choice comes with it
        if worker.get("aquagen_loadgroup"):
            config.option.loadgroup = True  # xdist names each test's group in its collection
        return
    _compile_checkout()
    _memory_basetemp(config)
    given = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    if getattr(config.option, "dist", None) == "load" and not any(str(a).startswith("--dist") for a in given):
        config.option.dist = "loadgroup"


MEMORY_FS = Path("/dev/shm")  # Linux's memory filesystem
MEMORY_FS_ROOM = 6 << 30  # free room it needs: a whole run held 2.8 GB there at its peak (measured), with a margin


def _memory_basetemp(config) -> None:
    """The run's temporary files (snapshots, work folders, the throwaway server's data) on the memory
    filesystem when the machine has one with room and no ``--basetemp`` is given. A file's creation,
    a database's copy and drop, an index on an empty table cost a disk's journal several times their
    own CPU, and the suite does them by the thousand (measured on ext4: the schema's DDL, 101 tables
    and 345 indexes, 0.9 -> 0.35 server CPU-s; a small fleet's generation 0.25 CPU-s of system time
    less). A folder per run, removed at its end (and those of runs killed before theirs); pass
    ``--basetemp`` to keep a run's files."""
    if config.option.basetemp:
        return
    try:
        fs = os.statvfs(MEMORY_FS)
    except OSError:
        return
    if fs.f_bavail * fs.f_frsize < MEMORY_FS_ROOM:
        return
    root = MEMORY_FS / f"aquagen-pytest-{os.getuid()}"
    root.mkdir(exist_ok=True)
    for old in root.glob("run-*"):  # a run killed before its end: its process is gone
        if not Path(f"/proc/{old.name.removeprefix('run-')}").exists():
            shutil.rmtree(old, ignore_errors=True)
    config.option.basetemp = str(root / f"run-{os.getpid()}")
    config.stash[_MEMORY_RUN] = Path(config.option.basetemp)


_MEMORY_RUN = pytest.StashKey[Path]()


def pytest_unconfigure(config):
    """A run's folder on the memory filesystem goes with it (its memory is the machine's)."""
    run = config.stash.get(_MEMORY_RUN, None)
    if run is not None:
        shutil.rmtree(run, ignore_errors=True)


def _compile_checkout() -> None:
    """The checkout's bytecode written once, before the workers start: every process the suite starts
    (``python -m aquagen``, the xdist workers) then reads it instead of compiling the sources again
    (about 0.2 CPU-s a process) when the environment says not to write bytecode
    (PYTHONDONTWRITEBYTECODE, a fresh clone). Only stale or missing files are written."""
    import compileall

    root = Path(__file__).resolve().parents[1]
    for package in ("aquagen", "loaders", "schemas"):
        compileall.compile_dir(root / package, quiet=2, workers=1)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown under -p no:xdist
def pytest_configure_node(node):
    node.workerinput["aquagen_loadgroup"] = node.config.getoption("dist") == "loadgroup"


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown under -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: a group's tests go together to one worker, the rest one at a time, in collection
    order (the groups first, heaviest first), to whichever worker is free; with the long tests first, the
    workers finish together. ``--dist load``: tests handed out two at a time in collection order (the
    default hands out a quarter of the tests up front)."""
    from xdist.scheduler import LoadGroupScheduling, LoadScheduling

    if config.getoption("dist") == "loadgroup":
        config.option.loadscopereorder = False  # collection order, not the biggest groups first
        return LoadGroupScheduling(config, log)
    if config.getoption("dist") == "load":
        if config.getoption("maxschedchunk") is None:
            config.option.maxschedchunk = 2
        return LoadScheduling(config, log)
    return None  # xdist's own choice
