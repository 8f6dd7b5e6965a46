"""An embedded PostgreSQL (the ``pgserver`` package's binaries) for users without a server.

One server per project: its data folder is ``output/pgdata`` of the project folder found upward
from the current folder (the first holding a ``pyproject.toml`` that names aquagen, or an
``output/pgdata`` database), else a per-user folder, so commands run from any subfolder share
it. It keeps running after aquagen exits, so the loaded data can be queried; ``aquagen db``
starts, stops and shows it. It listens on a Unix socket in its data folder and, when asked, on a
TCP port of 127.0.0.1 (so another program, e.g. AquaMind's ``manage.py``, can connect). That port
is remembered in the data folder (``aquagen.json``), so the server comes back on it whenever it is
started again (by ``db start`` or on demand), until another is chosen (``--port 0``: none).

As root, pgserver runs PostgreSQL as the system user ``pgserver`` (PostgreSQL refuses root);
``pg_ctl`` is run the same way here, so the server is the one pgserver would start.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import socket
import subprocess
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from aquagen.errors import AquagenError

DATABASE = "aquamind"
SUPERUSER = "postgres"
SOCKET_PORT = 5432  # names the socket file when the server has no TCP port
PGDATA_ENV = "AQUAGEN_PGDATA"
SETTINGS = "aquagen.json"  # in the data folder: the TCP port chosen for the server ({"port": 5433 or null})


@dataclass(frozen=True)
class DataFolder:
    """Where the embedded server keeps its data, and why there."""

    path: Path
    reason: str


def _names_aquagen(pyproject: Path) -> bool:
    try:
        return tomllib.loads(pyproject.read_text()).get("project", {}).get("name") == "aquagen"
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def data_folder(pgdata: str | os.PathLike | None = None, start: Path | None = None) -> DataFolder:
    """The data folder: ``pgdata`` if given, else $AQUAGEN_PGDATA, else the project's, else the user's."""
    if pgdata:
        return DataFolder(Path(pgdata).expanduser().resolve(), "given with --pgdata")
    if os.environ.get(PGDATA_ENV, "").strip():  # as $AQUAGEN_DSN: a blank value is no value
        return DataFolder(Path(os.environ[PGDATA_ENV].strip()).expanduser().resolve(), f"from ${PGDATA_ENV}")
    here = (start or Path.cwd()).resolve()
    folders = (here, *here.parents)
    for folder in folders:  # the clone first, so a stray output/pgdata in a subfolder is not used
        if (folder / "pyproject.toml").is_file() and _names_aquagen(folder / "pyproject.toml"):
            return DataFolder(
                folder / "output" / "pgdata", f"project folder {folder} (its pyproject.toml names aquagen)"
            )
    for folder in folders:
        if (folder / "output" / "pgdata" / "PG_VERSION").exists():
            return DataFolder(folder / "output" / "pgdata", f"project folder {folder} (it holds output/pgdata)")
    import platformdirs

    path = platformdirs.user_data_path("aquagen") / "pgdata"
    return DataFolder(path, f"per-user folder: no aquagen project folder above {here}")


@dataclass(frozen=True)
class Status:
    """What ``aquagen db status`` shows."""

    folder: DataFolder
    initialized: bool
    running: bool
    pid: int | None = None
    port: int | None = None  # TCP port on 127.0.0.1, None when the server listens on its socket only
    socket_dir: Path | None = None
    started: dt.datetime | None = None

    def dsn(self, database: str = DATABASE) -> str:
        """The socket URL (what aquagen itself uses)."""
        port = self.port or SOCKET_PORT
        host = urllib.parse.quote(str(self.socket_dir), safe="/")  # a folder with a space: %20
        return f"postgresql://{SUPERUSER}@/{_quoted(database)}?host={host}&port={port}"

    def tcp_dsn(self, database: str = DATABASE) -> str | None:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{_quoted(database)}" if self.port else None


def _quoted(database: str) -> str:
    """A database name as a URL path: percent-encoded (a space, '?', '/' or '#' in it)."""
    return urllib.parse.quote(database, safe="")


def _postmaster(pgdata: Path):
    import psutil
    from pgserver.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, AssertionError, ValueError):  # a half-written postmaster.pid while starting
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    assert info.process is not None  # is_running() checked it (pgserver leaves the attribute unannotated)
    try:  # a stale postmaster.pid whose pid now belongs to another program
        return info if info.process.name() == "postgres" else None
    except psutil.Error:
        return None


def status(pgdata: str | os.PathLike | DataFolder | None = None) -> Status:
    folder = pgdata if isinstance(pgdata, DataFolder) else data_folder(pgdata)
    info = _postmaster(folder.path)
    initialized = (folder.path / "PG_VERSION").exists()
    if info is None:
        return Status(folder, initialized, False)
    tcp = info.hostname not in (None, "", "*") or None
    return Status(folder, initialized, True, info.pid, info.port if tcp else None, info.socket_dir, info.start_time)


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: pgserver then runs it as the user ``pgserver``."""
    return "pgserver" if os.name == "posix" and os.geteuid() == 0 else None


def _pg_ctl(args: list[str], pgdata: Path, timeout: float = 60) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # pgserver makes its commands with setattr

    try:
        pg_ctl(args, pgdata=pgdata, user=_system_user(), timeout=timeout)
    except subprocess.CalledProcessError:
        log = pgdata / "log"
        cause = _cause(log.read_text(errors="replace")) if log.exists() else None
        raise AquagenError(
            f"the embedded PostgreSQL in {pgdata} failed to {args[-1]}"
            + (f": {cause}" if cause else "")
            + f" (log: {log})"
        ) from None


def _cause(log: str) -> str | None:
    """Why the server's last start failed, from its log: the first complaint since it started (``could not
    bind ...: Permission denied`` rather than the FATAL that follows, or the shutdown line after it),
    without its time stamp; else the log's last line."""
    lines = log.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if "starting PostgreSQL" in line]
    for line in lines[starts[-1] if starts else 0 :]:
        for mark in ("FATAL:", "PANIC:", "ERROR:", "could not"):
            if mark in line:
                return line.split("]", 1)[-1].split(":", 1)[-1].strip() if "]" in line else line.strip()
    return lines[-1] if lines else None


def _lock():
    """pgserver's own inter-process lock, so two commands never start one server twice."""
    from pgserver.postgres_server import PostgresServer

    return PostgresServer._lock


def _init(pgdata: Path) -> None:
    """Create the data folder as pgserver does (owned by ``pgserver`` when root)."""
    from pgserver._commands import (  # type: ignore[attr-defined]  # pgserver makes its commands with setattr
        POSTGRES_BIN_PATH,
        initdb,
    )

    pgdata.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user:
        import pwd
        import stat

        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        try:
            initdb(["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", SUPERUSER], pgdata=pgdata, user=user)
        except subprocess.CalledProcessError as e:
            raise AquagenError(
                f"could not create the embedded PostgreSQL in {pgdata}: {' '.join(((e.stderr or '') or str(e)).split())}"
            ) from None


def _usable(folder: DataFolder) -> None:
    """Refuse a data folder that is a file, or holds files but no database, before anything is made or
    changed there (the server's user would own it)."""
    path, why = folder.path, folder.reason
    if path.exists() and not path.is_dir():
        raise AquagenError(f"the embedded PostgreSQL's data folder {path} ({why}) is a file; name a folder")
    if path.is_dir() and not (path / "PG_VERSION").exists() and any(path.iterdir()):
        raise AquagenError(
            f"the embedded PostgreSQL's data folder {path} ({why}) holds files but no database (no PG_VERSION); "
            "name a new or empty folder, or one holding its database"
        )


def _port_free(port: int) -> bool:
    """Whether PostgreSQL could listen on ``port``: bound as it binds (SO_REUSEADDR), so the connections of a
    server just stopped, left in TIME_WAIT on that port, do not count as in use (a plain bind failed on them
    and the remembered port was refused on a restart); a listener there does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def chosen_port(pgdata: Path) -> int | None:
    """The TCP port last chosen for the server of this data folder (``db start --port``), None for none."""
    file = pgdata / SETTINGS
    try:
        settings = json.loads(file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8
        raise AquagenError(f"{file}: unreadable ({e}); remove it, or choose again: aquagen db start --port N") from None
    port = settings.get("port", "missing") if isinstance(settings, dict) else "missing"
    if port is not None and (type(port) is not int or not 1 <= port <= 65535):
        raise AquagenError(
            f'{file}: {json.dumps(settings)[:80]} is not {{"port": a TCP port 1 to 65535, or null for none}}; '
            "remove it, or choose again: aquagen db start --port N"
        )
    return port


def _remember(pgdata: Path, port: int | None) -> None:
    """Keep ``port`` as the one the server starts on from now on (written whole: a kill leaves the old one)."""
    file = pgdata / SETTINGS
    partial = file.with_name(f".{SETTINGS}.partial")
    partial.write_text(json.dumps({"port": port}) + "\n")
    os.replace(partial, file)


def ensure_running(
    pgdata: str | os.PathLike | None = None, *, port: int | None = None, database: str = DATABASE
) -> Status:
    """Start the server unless it runs; create ``database``. It listens on ``port`` of 127.0.0.1 too
    when given (0: on its socket only), which is remembered in the data folder; without ``port``, on
    the one remembered (``chosen_port``), so a server stopped, or gone with a reboot, comes back with
    the URLs it had.

    A server running without the port given is restarted with it (its sessions end; a load in
    progress rolls back, as after any kill, and can be run again).
    """
    folder = data_folder(pgdata)
    path = folder.path
    _usable(folder)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    with _lock():
        st = status(folder)
        tcp = (port or None) if port is not None else st.port if st.running else chosen_port(path)
        if st.running and port is not None and st.port != tcp:
            if tcp is not None and not _port_free(tcp):
                raise AquagenError(f"port {tcp} on 127.0.0.1 is in use; choose another --port")
            _pg_ctl(["-w", "-m", "fast", "stop"], path)
            st = status(folder)
        if not st.running:
            _init(path)
            if tcp is not None and not _port_free(tcp):
                raise AquagenError(
                    f"port {tcp} on 127.0.0.1 is in use; choose another --port"
                    if port is not None
                    else f"port {tcp} on 127.0.0.1, chosen for the embedded PostgreSQL in {path}, is in use: "
                    "free it, or choose another: aquagen db start --port N (0: none)"
                )
            from pgserver.postgres_server import PostgresServer
            from pgserver.utils import find_suitable_socket_dir

            sockets = find_suitable_socket_dir(path, PostgresServer.runtime_path)
            if _system_user() and sockets != path:
                sockets.chmod(0o777)
            host = "127.0.0.1" if tcp is not None else ""
            _pg_ctl(
                [
                    "-w",
                    "-o",
                    f'-h "{host}"',
                    "-o",
                    f"-p {tcp or SOCKET_PORT}",
                    "-o",  # pg_ctl hands these to a shell: a folder with a space is quoted
                    f"-k {shlex.quote(str(sockets))}",
                    "-l",
                    str(path / "log"),
                    "start",
                ],
                path,
            )
            st = status(folder)
            if not st.running:
                raise AquagenError(f"the embedded PostgreSQL in {path} did not start (log: {path / 'log'})")
        if port is not None:
            _remember(path, tcp)
    _create_database(st, database)
    return st


def _create_database(st: Status, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(st.dsn("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def stop(pgdata: str | os.PathLike | None = None) -> Status:
    """Stop the server (fast shutdown: open sessions are ended); returns its status before."""
    st = status(pgdata)
    if st.running:
        with _lock():
            _pg_ctl(["-w", "-m", "fast", "stop"], st.folder.path)
    return st


def start(root: str | os.PathLike | None = None, database: str = DATABASE) -> tuple[str, str]:
    """Start (or reuse) the server; returns (dsn, how to connect)."""
    st = ensure_running(root, database=database)
    return st.dsn(database), "aquagen db psql"


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (the data folder grows to GBs with big fleets)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def psql_command() -> str:
    """The psql that comes with pgserver (same version as the server), else one on PATH."""
    from pgserver._commands import POSTGRES_BIN_PATH

    bundled = POSTGRES_BIN_PATH / "psql"
    if bundled.exists():
        return str(bundled)
    import shutil

    found = shutil.which("psql")
    if not found:
        raise AquagenError("no psql found: install the PostgreSQL client (e.g. apt-get install postgresql-client)")
    return found
