"""The embedded server's lifecycle (``aquagen db``), the one rule that chooses the database
(--dsn, AQUAGEN_DSN, embedded), and loading into a database created by the application's own
migrations: Django's tables beside the profile's schema stay untouched."""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import subprocess
from pathlib import Path

import psutil
import psycopg
import pytest

import schemas
from loaders import embedded, postgres

from .conftest import fingerprint, run_cli, run_process, shared_snapshot

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR")  # pgserver's import, not ours


def aquagen(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI of this worktree from ``cwd``, with a clean choice of database (no inherited AQUAGEN_*):
    in this process (``run_cli``), except ``db psql``, which replaces its process with psql."""
    e = {k: v for k, v in os.environ.items() if k not in ("AQUAGEN_DSN", "AQUAGEN_PGDATA")}
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")])
    e.update(env or {})
    if args[:2] == ("db", "psql"):
        return run_process(*args, cwd=cwd, env=e)
    return run_cli(*args, cwd=cwd, env=e)


def alive(pid: int) -> bool:
    """A process that still runs (a stopped server may stay a zombie until its parent, maybe init, reaps it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999): one the kernel hands out could be taken by
    another process's outgoing connection (the other worker's Dask cluster, say) while the server is stopped,
    and its restart on the port remembered was then refused as in use."""
    for port in random.Random(os.getpid()).sample(range(20000, 32768), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000..32767")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder (its pyproject.toml names aquagen) with a subfolder; its server is stopped at the end.
    Its name has a space, as many users' folders do (the server's socket is in it)."""
    root = tmp_path_factory.mktemp("project") / "my project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "aquagen"\nversion = "0"\n')
    (root / "notes" / "deeper").mkdir(parents=True)
    yield root
    aquagen("db", "stop", cwd=root)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Master data and two batches, one just at sea and one in eggs (about 150k rows): every table family, fast."""
    return shared_snapshot(
        tmp_path_factory,
        "db-small",
        seed=5,
        batches=2,
        stagger_days=400,
        first_start=dt.date(2024, 9, 27),
        as_of=dt.date(2025, 12, 31),
        workers=1,
    )


def test_one_server_per_project_from_any_subfolder(project, small):
    deeper = project / "notes" / "deeper"
    r = aquagen("db", "status", cwd=deeper)
    assert r.returncode == 0, r.stderr
    assert "not created yet" in r.stdout and f"{project / 'output' / 'pgdata'} (0 MB)" in r.stdout
    assert "pyproject.toml names aquagen" in r.stdout

    r = aquagen("db", "start", cwd=deeper)
    assert r.returncode == 0 and r.stdout.startswith("started:"), r.stderr
    assert not (deeper / "output").exists()  # no second server under the subfolder

    r = aquagen("load", small.path, cwd=project / "notes")  # another subfolder: the same server
    assert r.returncode == 0 and "connect with: aquagen db psql" in r.stdout, r.stderr
    assert not (project / "notes" / "output").exists()

    r = aquagen("db", "status", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "embedded PostgreSQL: running (pid" in r.stdout and "TCP: none" in r.stdout

    url = aquagen("db", "url", cwd=deeper).stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM batch_batch").fetchone()[0] == 2

    r = aquagen(
        "db", "psql", "-At", "-c", "SELECT string_agg(batch_number, ',' ORDER BY id) FROM batch_batch", cwd=deeper
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ",".join(small.read("batch_batch").sort("id")["batch_number"])

    pid = embedded.status(project / "output" / "pgdata").pid
    r = aquagen("db", "stop", cwd=deeper)
    assert r.returncode == 0 and r.stdout.startswith("stopped:"), r.stderr
    assert not embedded.status(project / "output" / "pgdata").running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert not alive(pid)
    r = aquagen("db", "status", cwd=deeper)
    assert "embedded PostgreSQL: stopped" in r.stdout and "pyproject.toml names aquagen" in r.stdout
    mb = int(r.stdout.split(f"{project / 'output' / 'pgdata'} (")[1].split(" MB)")[0].replace(",", ""))
    assert mb == round(embedded.folder_bytes(project / "output" / "pgdata") / 1e6) and mb > 10
    assert aquagen("db", "stop", cwd=deeper).stdout.startswith("not running:")


def test_tcp_port_for_other_programs(project):
    port = free_port()
    r = aquagen("db", "start", "--port", port, cwd=project)
    assert r.returncode == 0, r.stderr
    tcp = f"postgresql://postgres@127.0.0.1:{port}/aquamind"
    assert f"TCP URL: {tcp}" in r.stdout
    assert f"'HOST': '127.0.0.1', 'PORT': '{port}'" in r.stdout and "'NAME': 'aquamind'" in r.stdout
    with psycopg.connect(tcp) as conn:  # what Django would do
        assert conn.execute("SELECT inet_server_port()").fetchone()[0] == port
    assert aquagen("db", "url", "--tcp", cwd=project).stdout.strip() == tcp
    assert f"TCP: {tcp}" in aquagen("db", "status", cwd=project).stdout
    assert aquagen("db", "start", "--port", port, cwd=project).stdout.startswith("already running:")
    url = aquagen("db", "url", cwd=project).stdout.strip()
    other = free_port()
    r = aquagen("db", "start", "--port", other, cwd=project)  # another port: restarted with it
    assert r.returncode == 0 and r.stdout.startswith(f"restarted with port {other}:"), r.stderr
    with psycopg.connect(tcp.replace(str(port), str(other))) as conn:
        assert conn.execute("SELECT inet_server_port()").fetchone()[0] == other
    # the socket's name carries the port: the socket URL printed before stops working too, which start says,
    # and db url prints the one that works
    assert f"note: it ran on port {port}: URLs printed before" in r.stdout.splitlines()[1], r.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    now = aquagen("db", "url", cwd=project).stdout.strip()
    assert now != url and f"URL: {now}" in r.stdout
    with psycopg.connect(now) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    # a database of any name PostgreSQL keeps: created as named, its URLs percent-encoded
    odd = 'a "quoted" name? #1/é'
    for flag in ("--tcp", None):
        r = aquagen("db", "url", *([flag] if flag else []), "--database", odd, cwd=project)
        assert r.returncode == 0, r.stderr
        with psycopg.connect(r.stdout.strip()) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == odd
    for bad in ("", "x" * 64):  # PostgreSQL would cut the second short: the URL would name another database
        r = aquagen("db", "url", "--database", bad, cwd=project)
        assert r.returncode == 2 and "1 to 63 bytes" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert aquagen("db", "stop", cwd=project).returncode == 0
    # a port taken by someone else: refused in one line, nothing started
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = aquagen("db", "start", "--port", s.getsockname()[1], cwd=project)
    assert r.returncode == 2 and "is in use" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not embedded.status(project / "output" / "pgdata").running


def test_the_port_is_remembered_with_the_data_folder(project):
    """A server started with --port comes back on it when started again after a stop (or a reboot, or a
    crash), by db start or on demand: the TCP URL and the Django settings saved keep working, until another
    port is chosen (0: the socket only, remembered too). It came back on the socket only."""
    port = free_port()
    pgdata = project / "output" / "pgdata"
    try:
        assert aquagen("db", "start", "--port", port, cwd=project).returncode == 0
        tcp, url = f"postgresql://postgres@127.0.0.1:{port}/aquamind", aquagen("db", "url", cwd=project).stdout.strip()
        for again in (("purge", "--dry-run"), ("db", "start")):  # on demand, and db start without --port
            assert aquagen("db", "stop", cwd=project).returncode == 0
            assert f"TCP: port {port} when started" in aquagen("db", "status", cwd=project).stdout
            r = aquagen(*again, cwd=project)
            assert r.returncode == 0 or "no AquaMind schema" in r.stderr, r.stderr  # started first, loaded or not
            assert embedded.status(pgdata).port == port
            with psycopg.connect(tcp) as conn:
                assert conn.execute("SELECT inet_server_port()").fetchone()[0] == port
            assert aquagen("db", "url", cwd=project).stdout.strip() == url
            assert aquagen("db", "url", "--tcp", cwd=project).stdout.strip() == tcp
        r = aquagen("db", "start", "--port", 0, cwd=project)  # none: restarted on the socket only, and so it stays
        assert r.returncode == 0 and r.stdout.startswith("restarted without a TCP port:"), r.stdout + r.stderr
        aquagen("db", "stop", cwd=project)
        assert aquagen("db", "url", "--tcp", cwd=project).returncode == 2 and embedded.status(pgdata).port is None
        aquagen("db", "stop", cwd=project)
        with socket.socket() as s:  # a port refused (in use) is not remembered
            s.bind(("127.0.0.1", 0))
            s.listen()
            assert aquagen("db", "start", "--port", s.getsockname()[1], cwd=project).returncode == 2
        assert embedded.chosen_port(pgdata) is None and not embedded.status(pgdata).running
        (pgdata / embedded.SETTINGS).write_text('{"port": 70000}')  # a damaged file: one line, nothing started
        r = aquagen("db", "url", cwd=project)
        assert r.returncode == 2 and "70000" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert not embedded.status(pgdata).running
    finally:  # the project's server as the other tests expect it, whatever failed
        (pgdata / embedded.SETTINGS).unlink(missing_ok=True)


def test_folder_rules(tmp_path):
    """The clone's pyproject.toml wins over a stray output/pgdata below it; without one, an output/pgdata
    database above is used (e.g. made by an older aquagen)."""
    (tmp_path / "clone" / "sub" / "output" / "pgdata").mkdir(parents=True)
    (tmp_path / "clone" / "sub" / "output" / "pgdata" / "PG_VERSION").write_text("16\n")
    (tmp_path / "clone" / "pyproject.toml").write_text('[project]\nname = "aquagen"\n')
    (tmp_path / "other" / "a").mkdir(parents=True)
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert embedded.data_folder(start=tmp_path / "clone" / "sub").path == tmp_path / "clone" / "output" / "pgdata"
    (tmp_path / "clone" / "pyproject.toml").unlink()
    found = embedded.data_folder(start=tmp_path / "clone" / "sub")
    assert found.path == tmp_path / "clone" / "sub" / "output" / "pgdata" and "holds output/pgdata" in found.reason
    assert "per-user" in embedded.data_folder(start=tmp_path / "other" / "a").reason


def test_a_data_folder_that_is_a_file_or_holds_other_files_is_refused(tmp_path):
    """$AQUAGEN_PGDATA naming a file, or a folder of other files (a snapshot): refused in one line, the
    folder left as it was (it was given to the server's user, and initdb's many lines printed)."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "manifest.json").write_text("{}")
    owner = (tmp_path / "snap").stat().st_uid
    for name, says in (("afile", "is a file"), ("snap", "holds files but no database (no PG_VERSION)")):
        r = aquagen("db", "start", cwd=tmp_path, env={"AQUAGEN_PGDATA": str(tmp_path / name)})
        assert r.returncode == 2 and says in r.stderr and "from $AQUAGEN_PGDATA" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
    assert (tmp_path / "snap").stat().st_uid == owner and os.listdir(tmp_path / "snap") == ["manifest.json"]
    # a blank value is no value: the per-user folder (as a blank $AQUAGEN_DSN)
    r = aquagen("db", "status", cwd=tmp_path, env={"AQUAGEN_PGDATA": "  ", "XDG_DATA_HOME": str(tmp_path / "share")})
    assert r.returncode == 0 and "per-user" in r.stdout, r.stdout


def test_per_user_folder_outside_a_project(tmp_path):
    r = aquagen("db", "status", cwd=tmp_path, env={"XDG_DATA_HOME": str(tmp_path / "share")})
    assert r.returncode == 0, r.stderr
    assert f"{tmp_path / 'share' / 'aquagen' / 'pgdata'} (0 MB)" in r.stdout and "per-user folder" in r.stdout
    r = aquagen("db", "status", cwd=tmp_path, env={"AQUAGEN_PGDATA": str(tmp_path / "pg"), "AQUAGEN_DSN": "x"})
    assert f"{tmp_path / 'pg'} (0 MB)" in r.stdout and "from $AQUAGEN_PGDATA" in r.stdout
    assert "note: AQUAGEN_DSN is set" in r.stdout
    assert list(tmp_path.iterdir()) == []  # status creates nothing


def test_one_rule_chooses_the_database(project, small, empty_db, tmp_path):
    """--dsn, else AQUAGEN_DSN, else the embedded server: the same for load, validate, report and purge."""
    bad = "postgresql://nobody:secret@127.0.0.1:9/none"
    env = {"AQUAGEN_DSN": empty_db}
    r = aquagen("load", small.path, cwd=tmp_path, env=env)
    assert r.returncode == 0 and "created the schema" in r.stdout and "db psql" not in r.stdout, r.stderr
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM batch_batch").fetchone()[0] == 2
    r = aquagen("validate", cwd=tmp_path, env=env)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr
    r = aquagen("report", "--out", tmp_path / "rep", cwd=tmp_path, env=env)
    assert r.returncode == 0 and (tmp_path / "rep" / "index.html").exists(), r.stderr
    before = fingerprint(empty_db)
    r = aquagen("purge", "--all", "--dry-run", cwd=tmp_path, env=env)
    assert r.returncode == 0 and "would delete" in r.stdout and "2 batches" in r.stdout, r.stderr
    assert fingerprint(empty_db) == before
    # --dsn wins over the environment
    r = aquagen("validate", "--dsn", bad, cwd=tmp_path, env=env)
    assert r.returncode == 2 and r.stderr.startswith("error: cannot connect") and "secret" not in r.stderr
    # the environment wins over the embedded server
    r = aquagen("validate", cwd=project, env={"AQUAGEN_DSN": bad})
    assert r.returncode == 2 and "cannot connect" in r.stderr
    assert not embedded.status(project / "output" / "pgdata").running  # nothing started
    # neither: the project's embedded server, started when needed; a SNAPSHOT argument keeps its own mode
    r = aquagen("load", small.path, cwd=project / "notes")
    assert r.returncode == 0 and "connect with: aquagen db psql" in r.stdout, r.stderr
    assert embedded.status(project / "output" / "pgdata").running
    r = aquagen("validate", cwd=project / "notes")
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr
    r = aquagen("validate", small.path, cwd=tmp_path, env={"AQUAGEN_DSN": bad})
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stderr
    r = aquagen("validate", small.path, "--dsn", empty_db, cwd=tmp_path)
    assert r.returncode == 2 and "not both" in r.stderr


def test_choose(project, monkeypatch):
    """The rule itself, as load, purge, validate and report call it."""
    from aquagen.errors import AquagenError
    from loaders.dsn import choose

    monkeypatch.setenv("AQUAGEN_DSN", "postgresql://env/db")
    assert (choose("postgresql://opt/db").dsn, choose("postgresql://opt/db").source) == ("postgresql://opt/db", "--dsn")
    assert (choose(None).dsn, choose(None).source) == ("postgresql://env/db", "AQUAGEN_DSN")
    with pytest.raises(AquagenError, match="--dsn is empty"):
        choose(" ")
    monkeypatch.setenv("AQUAGEN_DSN", "")  # set but empty counts as unset
    monkeypatch.chdir(project / "notes")
    db = choose(None)
    assert db.embedded and db.folder == project / "output" / "pgdata"
    assert db.dsn == embedded.status(project / "output" / "pgdata").dsn()
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "aquamind"


def test_empty_database_is_named(tmp_path):
    """validate without data: one line naming the database, no traceback."""
    env = {"AQUAGEN_PGDATA": str(tmp_path / "pg")}
    try:
        r = aquagen("validate", cwd=tmp_path, env=env)
        assert r.returncode == 2 and "has no AquaMind schema" in r.stderr and str(tmp_path / "pg") in r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
    finally:
        aquagen("db", "stop", cwd=tmp_path, env=env)


# --- the application's own database: Django's tables beside the profile's --------------------------------------

# The tables `python manage.py migrate` creates for django.contrib (auth, contenttypes, sessions, admin) and
# the migration recorder, in the form Django gives them on PostgreSQL, with the kinds of rows a fresh
# database holds (content types, permissions, applied migrations) plus a group and a session.
DJANGO_SQL = """
CREATE TABLE django_migrations (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamptz NOT NULL);
CREATE TABLE django_content_type (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    app_label varchar(100) NOT NULL, model varchar(100) NOT NULL,
    CONSTRAINT django_content_type_app_label_model_76bd3d3b_uniq UNIQUE (app_label, model));
CREATE TABLE auth_permission (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name varchar(255) NOT NULL, content_type_id integer NOT NULL, codename varchar(100) NOT NULL,
    CONSTRAINT auth_permission_content_type_id_codename_01ab375a_uniq UNIQUE (content_type_id, codename),
    CONSTRAINT auth_permission_content_type_id_2f476e4b_fk_django_co FOREIGN KEY (content_type_id)
        REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX auth_permission_content_type_id_2f476e4b ON auth_permission (content_type_id);
CREATE TABLE auth_group (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name varchar(150) NOT NULL UNIQUE);
CREATE TABLE auth_group_permissions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    group_id integer NOT NULL REFERENCES auth_group (id) DEFERRABLE INITIALLY DEFERRED,
    permission_id integer NOT NULL REFERENCES auth_permission (id) DEFERRABLE INITIALLY DEFERRED,
    UNIQUE (group_id, permission_id));
CREATE TABLE auth_user_groups (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    group_id integer NOT NULL REFERENCES auth_group (id) DEFERRABLE INITIALLY DEFERRED, UNIQUE (user_id, group_id));
CREATE TABLE auth_user_user_permissions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
    permission_id integer NOT NULL REFERENCES auth_permission (id) DEFERRABLE INITIALLY DEFERRED,
    UNIQUE (user_id, permission_id));
CREATE TABLE django_admin_log (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    action_time timestamptz NOT NULL, object_id text, object_repr varchar(200) NOT NULL,
    action_flag smallint NOT NULL CHECK (action_flag >= 0), change_message text NOT NULL,
    content_type_id integer REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
    user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL,
    expire_date timestamptz NOT NULL);
CREATE INDEX django_session_expire_date_a5c62663 ON django_session (expire_date);
INSERT INTO django_content_type (app_label, model)
    SELECT app, model FROM unnest(ARRAY['auth','auth','contenttypes','sessions','batch','batch','inventory']) WITH
    ORDINALITY a(app, i) JOIN unnest(ARRAY['user','group','contenttype','session','batch','batchtransfer',
    'feedingevent']) WITH ORDINALITY m(model, j) ON i = j;
INSERT INTO auth_permission (name, content_type_id, codename)
    SELECT 'Can ' || verb || ' ' || model, ct.id, verb || '_' || model
    FROM django_content_type ct CROSS JOIN unnest(ARRAY['add', 'change', 'delete', 'view']) verb;
INSERT INTO django_migrations (app, name, applied)
    SELECT app, name, '2026-11-01 10:00+00' FROM (VALUES ('contenttypes', '0001_initial'), ('auth', '0001_initial'),
    ('auth', '0012_alter_user_first_name_max_length'), ('sessions', '0001_initial'), ('batch', '0001_initial'),
    ('inventory', '0001_initial')) v(app, name);
INSERT INTO auth_group (name) VALUES ('Operators');
INSERT INTO auth_group_permissions (group_id, permission_id) SELECT 1, id FROM auth_permission WHERE codename LIKE 'view_%';
INSERT INTO django_session VALUES ('k3y', 'e30:1sess', '2026-12-01 00:00+00');
INSERT INTO health_mortalityreason (name, description) VALUES ('UNKNOWN', 'Unknown cause');
"""
DJANGO_TABLES = [
    "django_migrations",
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "auth_user_groups",
    "auth_user_user_permissions",
    "django_admin_log",
    "django_session",
]


def django_state(dsn: str) -> dict:
    """Rows (as text, in key order), sequences, indexes and constraints of Django's tables."""
    from loaders import rebuild

    with psycopg.connect(dsn) as conn:
        rows = {
            t: conn.execute(f"SELECT coalesce(string_agg(x::text, '|' ORDER BY x::text), '') FROM {t} x").fetchone()[0]
            for t in DJANGO_TABLES
        }
        seqs = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE sequencename ~ '^(django|auth_group|auth_permission)' ORDER BY 1"
        ).fetchall()
        return {"rows": rows, "sequences": seqs, "catalog": rebuild.signature(conn, DJANGO_TABLES)}


@pytest.fixture
def migrated_db(empty_db):
    """What the application's `migrate` leaves: Django's tables with their rows beside the profile's empty schema."""
    with psycopg.connect(empty_db) as conn:
        conn.execute(schemas.schema_sql())
        conn.execute(DJANGO_SQL)
    return empty_db


def test_fill_the_applications_database(migrated_db, small, tmp_path):
    """README "Fill your AquaMind database": migrate (the fixture), then aquagen load --dsn ... --rebuild-indexes
    (the path without --rebuild-indexes is tested in test_load)."""
    before = django_state(migrated_db)
    assert before["rows"]["auth_permission"] and before["rows"]["django_migrations"]
    r = aquagen("load", small.path, "--dsn", migrated_db, "--rebuild-indexes", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "existing schema verified" in r.stdout and "1 existing rows reused" in r.stdout  # UNKNOWN, by name
    assert django_state(migrated_db) == before
    with psycopg.connect(migrated_db) as conn:
        counts = postgres.row_counts(conn, list(small.manifest["tables"]))
        reasons = conn.execute("SELECT name FROM health_mortalityreason WHERE id = 1").fetchone()[0]
    for name, t in small.manifest["tables"].items():
        assert counts[name] == t["rows"], name  # the UNKNOWN reason is matched, not duplicated
    assert reasons == "UNKNOWN"
    r = aquagen("validate", "--dsn", migrated_db, "--as-of", "2025-12-31", cwd=tmp_path)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout
    r = aquagen("load", small.path, "--dsn", migrated_db, cwd=tmp_path)
    assert r.returncode == 0 and "nothing to do" in r.stdout
    assert django_state(migrated_db) == before


def test_a_failed_start_names_its_cause():
    """The server's last start in its log: the first complaint (not the FATAL after it, nor the shutdown line
    the message showed before), without its time stamp; an earlier start's complaints are not this one's."""
    log = "\n".join(
        [
            "2026-12-03 18:45:00.000 UTC [1] FATAL:  an earlier start's trouble",
            "2026-12-03 18:53:23.999 UTC [28406] LOG:  starting PostgreSQL 16.2 on x86_64-pc-linux-gnu",
            '2026-12-03 18:53:23.999 UTC [28406] LOG:  could not bind IPv4 address "127.0.0.1": Permission denied',
            "2026-12-03 18:53:23.999 UTC [28406] FATAL:  could not create any TCP/IP sockets",
            "2026-12-03 18:53:24.001 UTC [28406] LOG:  database system is shut down",
        ]
    )
    assert embedded._cause(log) == 'could not bind IPv4 address "127.0.0.1": Permission denied'
    assert embedded._cause("pg_ctl: another server might be running") == "pg_ctl: another server might be running"
    assert embedded._cause("") is None
