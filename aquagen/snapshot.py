"""A snapshot: one folder of Parquet part files per table plus ``manifest.json``.

Writes are atomic: everything goes into a hidden sibling folder that replaces
the target only when complete, so a failed or killed run leaves the previous
state (or nothing) behind, never half a snapshot. The manifest records row
counts and sha256 checksums, verified before anything is loaded.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import schemas

from . import killpoints
from .errors import AquagenError
from .store import Store

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AS_OF_ARGUMENTS = ("as_of", "as_of_time")  # the manifest arguments that say where the snapshot is cut


def moment_of(arguments: dict) -> tuple[dt.date, dt.time | None]:
    """A manifest's as-of date and time of day of the cut (None: the end of the day)."""
    at = arguments.get("as_of_time")
    return dt.date.fromisoformat(arguments["as_of"]), None if at is None else dt.time.fromisoformat(at)


def moment_label(day: dt.date, at: dt.time | None) -> str:
    """An as-of moment as the CLI takes it: the date, or the date and the time of day (UTC)."""
    return day.isoformat() if at is None else f"{day.isoformat()}T{at:%H:%M}"


def as_of_arguments(day: dt.date, at: dt.time | None) -> dict:
    """The manifest arguments of a cut on ``day`` at ``at`` (None: its end, and no ``as_of_time``, as
    manifests were before there was a time): ``moment_of`` reads them back."""
    return {"as_of": day.isoformat()} | ({} if at is None else {"as_of_time": at.strftime("%H:%M")})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_arrow(table: schemas.Table, df: pl.DataFrame, views: bool = False) -> pa.Table:
    """The frame as Arrow with exactly the table's schema (types and nullability); with ``views``,
    its strings as string views (``_view_schema``: what the Parquet writer is handed)."""
    if df.columns != table.column_names:
        raise ValueError(f"{table.name}: columns {df.columns} are not the schema's {table.column_names}")
    # string views out of Polars without a copy; a cast (per column: ``Table.cast`` costs its call
    # each) of the columns whose type differs only: without ``views`` the strings (to string, not
    # views -> large string -> string), with them none but Polars' nanosecond times
    got, want = df.to_arrow(compat_level=pl.CompatLevel.newest()), _view_schema(table) if views else table.arrow_schema
    columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(got.columns, want, strict=True)]
    for c, f in zip(columns, want, strict=True):
        if c.null_count and not f.nullable:  # as ``Table.cast`` refuses them
            raise ValueError(f"{table.name}: column {f.name} is NOT NULL but holds {c.null_count} NULLs")
    return pa.Table.from_arrays(columns, schema=want)


@cache
def _view_schema(t: schemas.Table) -> pa.Schema:
    """The table's Arrow schema with string views for its strings: pyarrow's Parquet writer (from
    Arrow 21, ``_views_written``) takes them as they come out of Polars, encoded as the strings they
    hold (the same pages), so that no column of strings is copied (about 0.1 CPU-s of a 10-batch
    fleet's 1.2 of writing, measured)."""
    return pa.schema([f.with_type(pa.string_view()) if f.type == pa.string() else f for f in t.arrow_schema])


@cache
def _views_written() -> bool:
    """Whether this pyarrow's Parquet writer takes string views (Arrow 21 on); before, the strings
    are cast first (the same bytes either way)."""
    try:
        with pq.ParquetWriter(pa.BufferOutputStream(), pa.schema([("s", pa.string_view())])) as writer:
            writer.write_table(pa.table({"s": pa.array(["view"], pa.string_view())}))
    except (pa.ArrowException, NotImplementedError, AttributeError):
        return False
    return True


@cache
def _arrow_schema_metadata(t: schemas.Table) -> dict[str, bytes]:
    """The key-value metadata pyarrow's writer stores of the table's own Arrow schema (``ARROW:schema``,
    base64 of its IPC form): written by hand beside ``_view_schema``'s pages, so that the file is the
    one writing strings would give and readers get strings."""
    return {"ARROW:schema": base64.b64encode(t.arrow_schema.serialize().to_pybytes())}


def write_part(
    root: Store | Path, name: str, df: pl.DataFrame, part: str, profile: str = schemas.PROFILE
) -> dict | None:
    """Write ``df`` as part ``part`` of table ``name`` under ``root`` (a folder on any fsspec
    filesystem); its manifest entry (None when empty)."""
    if df.height == 0:
        return None
    return write_pieces(root, name, [df], part, profile)


ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group


def write_pieces(
    root: Store | Path,
    name: str,
    pieces: Iterable[pl.DataFrame],
    part: str,
    profile: str = schemas.PROFILE,
    group_rows: int = ROW_GROUP_ROWS,
) -> dict | None:
    """Write the rows of ``pieces`` (in order) as part ``part`` of table ``name``: a row group once
    ``group_rows`` rows are held (at most ``ROW_GROUP_ROWS``), so that memory holds about that many
    rows besides the part's encoded bytes; its manifest entry (None when empty). One piece gives
    the bytes ``pq.write_table`` of it would."""
    with PartWriter(root, name, part, profile, group_rows) as writer:
        for df in pieces:
            writer.add(df)
    return writer.entry


class PartWriter:
    """A part file written piece by piece (``add``, in row order; ``write_pieces``), its manifest entry
    (``entry``, None when empty) once closed. With ``exact``, every row group holds ``group_rows``
    (default ``ROW_GROUP_ROWS``) rows but the last, the pieces cut where they fall: by default the
    bytes ``write_part`` of their concatenation gives (a table too long to hold whole, written as
    it is made); else a row group ends with the piece that reaches ``group_rows``."""

    def __init__(
        self,
        root: Store | Path,
        name: str,
        part: str,
        profile: str = schemas.PROFILE,
        group_rows: int | None = None,
        exact: bool = False,
    ) -> None:
        self.root, self.name, self.part, self.exact = root, name, part, exact
        self.group_rows = group_rows or ROW_GROUP_ROWS
        self.t = schemas.table(name, profile)
        self.views = _views_written()
        self.buf = pa.BufferOutputStream()  # Arrow's own: no call into Python per page, no copy at the end
        self.held: list[pl.DataFrame] = []
        self.rows = self.pending = 0
        self.entry: dict | None = None
        # chosen by measurement (benchmarks/RESULTS.md): dictionary pages cost time and, under zstd, bytes;
        # statistics only where a reader filters or joins (ids, references, creation time); integers and
        # times delta-encoded, decimals byte-stream-split (half the bytes, less for zstd to compress);
        # strings handed over as views, the table's own schema stored by hand (``_view_schema``); pages of
        # up to ``data_page_size`` (1 MB) whatever their rows: Arrow's default of at most 20,000 rows a page
        # cost 3-5 % more of the writing's CPU (each page gets a zstd context made anew) and 2 % more bytes,
        # measured on the default fleet of 50
        self.writer = pq.ParquetWriter(
            self.buf,
            _view_schema(self.t) if self.views else self.t.arrow_schema,
            compression="zstd",
            use_dictionary=False,
            write_statistics=_key_columns(self.t),
            column_encoding=_encodings(self.t),
            store_decimal_as_integer=True,
            store_schema=not self.views,
            max_rows_per_page=ROW_GROUP_ROWS,
        )
        if self.views:
            self.writer.add_key_value_metadata(_arrow_schema_metadata(self.t))

    def add(self, df: pl.DataFrame) -> None:
        """The piece's rows after those added before."""
        if df.height:
            self.held.append(df)
            self.pending += df.height
        while self.pending >= self.group_rows:
            if not self.exact:
                self._flush(self.held)
                self.rows, self.held, self.pending = self.rows + self.pending, [], 0
                return
            over = self.pending - self.group_rows  # the last piece's rows past the row group
            last = self.held[-1]
            rest = last.slice(last.height - over, over)
            self._flush([*self.held[:-1], last.slice(0, last.height - over)])
            self.rows, self.held, self.pending = self.rows + self.group_rows, [rest] if over else [], over

    def _flush(self, held: list[pl.DataFrame]) -> None:
        # the held frames as one Arrow table: one conversion for them all when their types agree (a
        # frame's schema is built on each call: read once per frame, and only when there are several)
        t, views = self.t, self.views
        first = held[0].schema if len(held) > 1 else None
        if first is None or all(df.schema == first for df in held[1:]):
            table = to_arrow(t, pl.concat(held, rechunk=False) if len(held) > 1 else held[0], views)
        else:
            table = pa.concat_tables([to_arrow(t, df, views) for df in held])
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> dict | None:
        """Write the rows held and the file; its manifest entry (None when empty: nothing is written)."""
        if self.held:
            self._flush(self.held)
            self.rows, self.held, self.pending = self.rows + self.pending, [], 0
        self.writer.close()
        if self.rows == 0:
            return None
        data = memoryview(self.buf.getvalue())
        store = self.root if isinstance(self.root, Store) else Store(str(self.root))
        rel = f"{self.name}/{self.part}.parquet"
        store.write_bytes(rel, data)
        self.entry = {"path": rel, "rows": self.rows, "sha256": hashlib.sha256(data).hexdigest()}
        return self.entry

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.writer.close()


@cache
def _encodings(t: schemas.Table) -> dict[str, str]:
    """Per column, the Parquet encoding that makes its pages smallest before compression: ids,
    references, counts, dates and timestamps as deltas (mostly small or sorted), decimals that
    fit 64-bit integers (``store_decimal_as_integer``) byte-stream-split; other columns plain
    (Polars reads each of these)."""
    out = {}
    for f in t.arrow_schema:
        if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
            out[f.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_decimal(f.type) and f.type.precision <= 18:
            out[f.name] = "BYTE_STREAM_SPLIT"
    return out


@cache
def _key_columns(t: schemas.Table) -> list[str]:
    return [c for c in t.column_names if c in ("id", "history_id", "created_at", "history_date") or c.endswith("_id")]


def build_manifest(meta: dict, files: dict[str, list[dict]], profile: str = schemas.PROFILE) -> dict:
    """The manifest: format, schema profile, ``meta`` and per table its rows and files (sorted)."""
    tables = {}
    for name in schemas.tables(profile):
        entries = sorted(files.get(name, []), key=lambda f: f["path"])
        tables[name] = {"rows": sum(f["rows"] for f in entries), "files": entries}
    return {"format_version": FORMAT_VERSION, "schema": profile, **meta, "tables": tables}


def aside(out: Path) -> Path:
    """Where the previous snapshot waits while the new one moves in (one name: a rerun finds it)."""
    return out.parent / f".{out.name}.old"


def listed(manifest: dict) -> set[str]:
    return {f["path"] for t in manifest["tables"].values() for f in t["files"]} | {MANIFEST}


def unlisted(root: Path, manifest: dict) -> list[str]:
    """Files under ``root`` the manifest does not list (a report written into the snapshot aside)."""
    keep, out = listed(manifest), []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d != "report"]
        out += [r for fn in filenames if (r := fn if rel == "." else f"{rel}/{fn}") not in keep]
    return sorted(out)


def prune(root: Path, manifest: dict) -> None:
    """Make ``root`` hold exactly the manifest's files: leftovers (work files, ``*.tmp-*`` of a
    killed write) go, a listed file that is missing is an error."""
    for rel in unlisted(root, manifest):
        (root / rel).unlink()
    for dirpath, _, _ in os.walk(root, topdown=False):
        if dirpath != str(root) and not os.listdir(dirpath):
            os.rmdir(dirpath)
    missing = [rel for rel in sorted(listed(manifest)) if not (root / rel).is_file()]
    if missing:
        raise AquagenError(
            f"{root} lost {missing[0]} (and {len(missing) - 1} more) of its run; start over with --force"
        )


def publish(work: Store, out: Store, manifest: dict) -> None:
    """Write the manifest last, then put the finished folder in place of ``out``.

    Locally by renames, each step recoverable by ``recover`` from a kill at any point: the
    manifest in ``work`` marks it complete; the work folder is pruned to the manifest's files;
    the old snapshot moves to ``aside(out)``, the new one in, the old one goes. Elsewhere
    (fsspec) by a move."""
    work.write_text(MANIFEST, json.dumps(manifest, indent=1, sort_keys=False, default=str) + "\n")
    killpoints.reached("publish_manifest")
    if out.local is None:
        out.rm()
        out.fs.mv(work.path(), out.path(), recursive=True)
        return
    assert work.local is not None  # the work folder is a sibling of the local ``out``
    finish(work.local, out.local)


def _remove(old: Path) -> None:
    """The old snapshot moved aside: a folder, or a symlink that a run before ``--out LINK`` wrote through
    moved aside instead of the folder it names (the link goes, the folder it names stays)."""
    if old.is_symlink():
        old.unlink()
    else:
        shutil.rmtree(old)


def finish(work: Path, out: Path) -> None:
    """The renames of ``publish`` once ``work`` holds its manifest (also what ``recover`` resumes): what
    the folder holds beside the old snapshot's own files goes with the new one (``carry``)."""
    manifest = json.loads((work / MANIFEST).read_text())
    prune(work, manifest)
    old = aside(out)
    carry(out if out.exists() else old, work, manifest)
    killpoints.reached("publish_prune")
    if out.exists():
        if old.exists():
            _remove(old)
        out.rename(old)
        killpoints.reached("publish_aside")
    work.rename(out)
    killpoints.reached("publish_in")
    if old.exists():
        _remove(old)
    killpoints.reached("publish_done")


def _own(folder: Path, manifest: dict) -> set[str]:
    """The names in a snapshot folder that are the snapshot's own: its manifest and table folders (the old
    snapshot's, read from its manifest, and the new one's; every known profile's when it cannot be read)."""
    try:
        tables = set(json.loads((folder / MANIFEST).read_text())["tables"])
    except (OSError, ValueError, KeyError, TypeError):
        tables = {name for profile in schemas.known() for name in schemas.tables(profile)}
    return {MANIFEST, *manifest["tables"], *tables}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links, or a file the kernel will not link for this user
        shutil.copy2(src, dst)


def carry(old: Path, work: Path, manifest: dict) -> None:
    """Keep what ``old`` (the snapshot folder a publish replaces) holds besides the snapshot's own files:
    a ``report/`` folder of ``aquagen report``, a user's files. Each such entry is hard-linked into ``work``
    (the new snapshot) under a temporary name, then renamed: a kill leaves it whole or not there (``prune``
    removes a temporary one), and ``old`` keeps it until it goes."""
    if not old.is_dir():
        return
    own = _own(old, manifest)
    for entry in os.scandir(old):
        dst = work / entry.name
        if entry.name in own or os.path.lexists(dst):
            continue
        tmp = work / f".{entry.name}.tmp-{os.getpid()}"
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(entry.path, tmp, symlinks=True, copy_function=_link_or_copy)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), tmp)
        else:
            _link_or_copy(entry.path, str(tmp))
        os.rename(tmp, dst)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``.<out>.lock`` beside ``out`` for a run into it: a second run is refused in one line.

    flock: the kernel drops it when the holder dies (kill -9 included; the file then stays and is
    reused). The holder removes the file before unlocking; a run that opened it just before locks
    an unlinked inode, which the inode check catches (it tries again)."""
    path = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AquagenError(f"another aquagen run is writing {out} (it holds {path}); wait for it to end") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # still locked: a run that opened it meanwhile sees the inode gone
        os.close(fd)


def recover(work: Path, out: Path) -> bool:
    """Complete a publish that was killed after the manifest was written (roll forward); True
    when it did. A killed rmtree of the old snapshot is finished; an old snapshot moved aside
    without a complete new one is moved back."""
    old = aside(out)
    ready = (work / MANIFEST).is_file()
    if old.exists():
        if out.exists():
            _remove(old)
        elif ready:
            finish(work, out)
            return True
        else:
            old.rename(out)
    return False


@dataclass
class SnapshotWriter:
    """Collects part files in a temporary folder; ``commit`` puts them in place.

    With ``base`` (an existing snapshot), its files are carried over by hard
    link so that new parts are added without copying the old ones.
    """

    out: Path
    meta: dict
    force: bool = False
    base: Snapshot | None = None
    profile: str = ""  # default: the base snapshot's, else the default profile
    _files: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.profile = self.profile or (self.base.profile if self.base is not None else schemas.PROFILE)
        if self.base is None and self.out.exists() and any(self.out.iterdir()) and not self.force:
            raise AquagenError(f"output folder {self.out} exists and is not empty; pass --force to replace it")
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self._files = {name: [] for name in schemas.tables(self.profile)}
        if self.base is not None:
            for name, entry in self.base.manifest["tables"].items():
                for f in entry["files"]:
                    dst = self.tmp / f["path"]
                    dst.parent.mkdir(exist_ok=True)
                    os.link(self.base.path / f["path"], dst)
                    self._files[name].append(dict(f))

    def write(self, name: str, df: pl.DataFrame, part: str) -> None:
        """Write one part file of table ``name`` (skipped when empty)."""
        self.add(name, write_part(self.tmp, name, df, part, self.profile))

    def add(self, name: str, entry: dict | None) -> None:
        """Record a part file written into ``tmp`` (by ``write_part``, maybe in another process)."""
        if entry is None:
            return
        if any(f["path"] == entry["path"] for f in self._files[name]):
            raise ValueError(f"part {entry['path']} written twice")
        self._files[name].append(entry)

    def commit(self) -> Snapshot:
        publish(Store(str(self.tmp)), Store(str(self.out)), build_manifest(self.meta, self._files, self.profile))
        return Snapshot.open(self.out)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.abort()


# --- reading: a shared snapshot is untrusted input ---------------------------------------

MAX_MANIFEST_BYTES = 256 << 20  # a manifest of 100,000 batches is ~60 MB; larger is not one of ours
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.parquet")
_BATCH_KEYS = {
    "shard": int,
    "batch_id": int,
    "batch_number": str,
    "geography": str,
    "station": str,
    "sea_area": str,
    "start_date": str,
    "eggs": int,
}
BIGINT_MAX = 2**63 - 1  # the load log stores the seed as bigint
MIN_DATE, MAX_DATE = dt.date(1970, 1, 1), dt.date(2099, 12, 31)  # dates a snapshot may hold (and the CLI accepts)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _date(where: str, v: object) -> dt.date:
    if not isinstance(v, str):
        raise AquagenError(f"{where} is {_kind(v)}, not a date string")
    try:
        d = dt.date.fromisoformat(v)
    except ValueError:
        raise AquagenError(f"{where} {v!r} is not a date (YYYY-MM-DD)") from None
    if not MIN_DATE <= d <= MAX_DATE:
        raise AquagenError(f"{where} {v} is outside {MIN_DATE}..{MAX_DATE}")
    return d


def _kind(v: object) -> str:
    return "null" if v is None else f"a {type(v).__name__} ({str(v)[:40]!r})"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def check_manifest(manifest: object, where: str) -> None:
    """Every field of a manifest: types, required keys, profile and format, the profile's tables
    and nothing else, file entries (safe relative paths inside their table's folder, row counts
    that add up, sha256). Raises AquagenError naming the field."""

    def need(obj: dict, key: str, kind: type | tuple, ctx: str):
        if key not in obj:
            raise AquagenError(f"{where}: {ctx}{key} is missing")
        v = obj[key]
        if (kind is int and not _is_int(v)) or (kind is not int and not isinstance(v, kind)):
            raise AquagenError(f"{where}: {ctx}{key} is {_kind(v)}, not {getattr(kind, '__name__', kind)}")
        return v

    if not isinstance(manifest, dict):
        raise AquagenError(f"{where}: the manifest is {_kind(manifest)}, not a JSON object")
    version = manifest.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        raise AquagenError(f"{where}: format_version {version!r} is not supported (expected {FORMAT_VERSION})")
    profile = manifest.get("schema")
    try:
        if not isinstance(profile, str):
            raise ValueError(f"known: {', '.join(schemas.known())}")
        known = schemas.tables(profile)
    except ValueError as e:
        raise AquagenError(f"{where}: schema {profile!r} is not supported ({e})") from None
    seed = need(manifest, "seed", int, "")
    if not 0 <= seed <= BIGINT_MAX:
        raise AquagenError(f"{where}: seed {seed} is outside 0..{BIGINT_MAX}")
    if "generator" in manifest and not isinstance(manifest["generator"], str):
        raise AquagenError(f"{where}: generator is {_kind(manifest['generator'])}, not a string")
    args = need(manifest, "arguments", dict, "")
    as_of = _date(f"{where}: arguments.as_of", args.get("as_of"))
    first = _date(f"{where}: arguments.first_start", args.get("first_start"))
    if "as_of_time" in args:  # the cut's time of day on the as-of date (absent: its end)
        at = args["as_of_time"]
        if not isinstance(at, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at):
            raise AquagenError(f"{where}: arguments.as_of_time {at!r} is not a time of day (HH:MM, UTC)")
    if first > as_of:
        raise AquagenError(f"{where}: arguments.first_start {first} is after arguments.as_of {as_of}")
    for key in ("batches", "planned_batches"):
        for i, b in enumerate(need(manifest, key, list, "")):
            ctx = f"{key}[{i}]."
            if not isinstance(b, dict):
                raise AquagenError(f"{where}: {key}[{i}] is {_kind(b)}, not an object")
            if set(b) != set(_BATCH_KEYS):
                raise AquagenError(f"{where}: {key}[{i}] has keys {sorted(b)}, expected {sorted(_BATCH_KEYS)}")
            for k, kind in _BATCH_KEYS.items():
                need(b, k, kind, ctx)
            _date(f"{where}: {ctx}start_date", b["start_date"])
    shards = {b["shard"] for b in manifest["planned_batches"]}
    for i, a in enumerate(need(args, "added", list, "arguments.") if "added" in args else []):
        ctx = f"arguments.added[{i}]."  # the batches ``aquagen batch`` added to a full farm
        if not isinstance(a, dict) or set(a) != {"shard", "from"}:
            raise AquagenError(f"{where}: arguments.added[{i}] is not an object of keys from and shard")
        _date(f"{where}: {ctx}from", a["from"])
        if need(a, "shard", int, ctx) not in shards:
            raise AquagenError(f"{where}: {ctx}shard {a['shard']} is not a shard of planned_batches")
    tables = need(manifest, "tables", dict, "")
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise AquagenError(f"{where}: table {unknown[0]!r} is not in schema profile {profile}")
    missing = [name for name in known if name not in tables]
    if missing:
        raise AquagenError(f"{where}: table {missing[0]} of schema profile {profile} is missing from tables")
    seen: set[str] = set()
    for name, entry in tables.items():
        ctx = f"tables.{name}."
        if not isinstance(entry, dict):
            raise AquagenError(f"{where}: tables.{name} is {_kind(entry)}, not an object")
        rows = need(entry, "rows", int, ctx)
        total = 0
        for i, f in enumerate(need(entry, "files", list, ctx)):
            fctx = f"{ctx}files[{i}]."
            if not isinstance(f, dict):
                raise AquagenError(f"{where}: {ctx}files[{i}] is {_kind(f)}, not an object")
            path = need(f, "path", str, fctx)
            n = need(f, "rows", int, fctx)
            sha = need(f, "sha256", str, fctx)
            parts = path.split("/")
            if len(parts) != 2 or parts[0] != name or not _PART.fullmatch(parts[1]):
                raise AquagenError(
                    f"{where}: {fctx}path {path!r} is not a part file of {name} "
                    f"(expected {name}/<part>.parquet inside the snapshot)"
                )
            if path in seen:
                raise AquagenError(f"{where}: {fctx}path {path} is listed twice")
            seen.add(path)
            if n < 1:
                raise AquagenError(f"{where}: {fctx}rows {n} must be at least 1 (empty parts are not written)")
            if not _SHA256.fullmatch(sha):
                raise AquagenError(f"{where}: {fctx}sha256 {sha[:70]!r} is not 64 lowercase hex digits")
            total += n
        if rows != total:
            raise AquagenError(f"{where}: {ctx}rows {rows} is not the sum of its files' rows ({total})")


def _inside(root: Path, rel: str) -> Path:
    """``root/rel`` when it is a regular file whose real path lies inside ``root``."""
    p = root / rel
    real, top = Path(os.path.realpath(p)), Path(os.path.realpath(root))
    if not real.is_relative_to(top) or real == top:
        raise AquagenError(f"snapshot {root}: {rel} leads outside the snapshot (symlink to {real})")
    if not real.is_file():
        raise AquagenError(f"snapshot {root} is incomplete: {rel} is missing or not a file")
    return p


def _not_ours(table: str, rel: str, profile: str, what: str) -> AquagenError:
    return AquagenError(
        f"table {table}, file {rel}: {what}; the snapshot is not an aquagen snapshot of profile {profile}"
    )


def check_part(path: Path, rel: str, table: schemas.Table, rows: int, profile: str, values: bool = True) -> None:
    """One part file against the profile: readable Parquet, the manifest's row count (metadata and
    data), exactly the table's columns with their Arrow types, no NULL in a NOT NULL column, and
    values inside their SQL type (numeric precision, varchar length, CHECK (col >= 0), dates).
    Without ``values`` only the footer is read (``Snapshot.record_batches`` checks the values)."""
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as e:
        raise _not_ours(
            table.name, rel, profile, f"not a readable Parquet file ({str(e).splitlines()[0][:120]})"
        ) from None
    if pf.metadata.num_rows != rows:
        raise _not_ours(table.name, rel, profile, f"holds {pf.metadata.num_rows} rows, the manifest says {rows}")
    names = schema.names
    for col in table.columns:
        if col.name not in names:
            raise _not_ours(table.name, rel, profile, f"column {col.name} is missing")
    for n in names:
        if n not in table.column_names or names.count(n) > 1:
            raise _not_ours(
                table.name,
                rel,
                profile,
                f"column {n} is not a column of the table"
                if n not in table.column_names
                else f"column {n} appears twice",
            )
    if names != table.column_names:
        raise _not_ours(table.name, rel, profile, f"columns are in the order {names}, not the table's")
    for col in table.columns:
        got = schema.field(col.name).type
        if got != col.arrow_type:
            raise _not_ours(
                table.name,
                rel,
                profile,
                f"column {col.name} is {got}, the profile's {col.sql_type} is {col.arrow_type}",
            )
    if not values:
        return
    ranged, ge0 = _ranged(table, schema)
    try:
        data = pf.read(columns=[c.name for c in ranged] or [table.columns[0].name], use_threads=True)
    except Exception as e:
        raise _not_ours(table.name, rel, profile, f"cannot be read ({str(e).splitlines()[0][:120]})") from None
    if data.num_rows != rows:
        raise _not_ours(table.name, rel, profile, f"holds {data.num_rows} rows of data, the manifest says {rows}")
    check_values(data, ranged, ge0, table.name, rel, profile)


def _ranged(table: schemas.Table, schema: pa.Schema) -> tuple[list[schemas.Column], set[str]]:
    """The columns whose Arrow type alone does not keep values inside the SQL type, and those of a
    CHECK (col >= 0)."""
    ge0 = {m[1] for c in table.checks if (m := re.fullmatch(r'\("?(\w+)"? >= 0\)', c))}
    ranged = [
        c
        for c in table.columns
        if c.numeric
        or c.max_length is not None
        or c.name in ge0
        or c.sql_type in ("date", "timestamp with time zone")
        or (not c.nullable and schema.field(c.name).nullable)
    ]
    return ranged, ge0


def check_values(
    data: pa.Table | pa.RecordBatch, ranged: list[schemas.Column], ge0: set[str], table: str, rel: str, profile: str
) -> None:
    """The values of a part (or of a record batch of it) inside their SQL types; a one-line error naming the file."""
    for col in ranged:
        try:
            problem = _value_problem(col, data.column(col.name), col.name in ge0)
        except Exception as e:
            problem = f"holds values that cannot be checked ({str(e).splitlines()[0][:120]})"
        if problem:
            raise _not_ours(table, rel, profile, f"column {col.name} {problem}")


_EPOCH = dt.date(1970, 1, 1)
_DAYS = (dt.date(1900, 1, 1), dt.date(2200, 12, 31))  # dates and timestamps a part may hold


def _value_problem(col: schemas.Column, arr: pa.ChunkedArray | pa.Array, non_negative: bool) -> str | None:
    """Why ``arr`` cannot go into ``col`` (None when it can)."""
    if not col.nullable and arr.null_count:
        return f"holds {arr.null_count} NULLs but is NOT NULL"
    if arr.null_count == len(arr):
        return None
    if col.numeric:
        p, s = col.numeric
        lo, hi = pc.min_max(arr).values()
        limit = Decimal(10) ** (p - s)
        if max(abs(lo.as_py()), abs(hi.as_py())) >= limit:
            return f"holds {max(lo.as_py(), hi.as_py(), key=abs)}, beyond {col.sql_type}"
    elif col.max_length is not None:
        longest = pc.max(pc.utf8_length(arr)).as_py()
        if longest > col.max_length:
            return f"holds a value of {longest} characters, longer than {col.sql_type} allows"
    elif col.sql_type in ("date", "timestamp with time zone"):
        # as integers (days, microseconds since 1970): Python's dates stop at year 9999
        unit = 1 if col.sql_type == "date" else 86_400_000_000
        lo, hi = (v.as_py() for v in pc.min_max(arr.cast(pa.int32() if unit == 1 else pa.int64())).values())
        first, last = ((d - _EPOCH).days * unit for d in _DAYS)
        if lo < first or hi >= last + unit:
            return f"holds dates outside {_DAYS[0]}..{_DAYS[1]}"
    if non_negative and pc.min(arr).as_py() < 0:
        return f"holds {pc.min(arr).as_py()}, below the CHECK ({col.name} >= 0)"
    return None


@dataclass
class RemoteSnapshot:
    """A snapshot written to a remote store (Dask, ``s3://…``): named by its URL (``path``); only its
    manifest is read from here (load and validate need a local copy)."""

    path: str
    manifest: dict
    status: str = "written"


@dataclass
class Snapshot:
    """A snapshot folder. ``open`` checks the manifest (cheap); ``verify`` checks every file
    against it and against the profile (reads them all): both before any database is touched."""

    path: Path
    manifest: dict
    status: str = "written"  # "complete" when generate --resume found the snapshot finished already

    @classmethod
    def open(cls, path: str | os.PathLike) -> Snapshot:
        path = Path(path)
        mf = path / MANIFEST
        if not path.is_dir():
            raise AquagenError(f"{path} is not a snapshot: " + ("not a folder" if path.exists() else "no such folder"))
        if not mf.is_file():
            raise AquagenError(f"{path} is not a snapshot: {mf} is missing")
        if os.path.getsize(mf) > MAX_MANIFEST_BYTES:
            raise AquagenError(f"{mf} is larger than {MAX_MANIFEST_BYTES >> 20} MB; not an aquagen manifest")
        try:
            manifest = json.loads(mf.read_bytes().decode("utf-8"), parse_constant=_reject_constant)
        except json.JSONDecodeError as e:
            raise AquagenError(f"{mf} is not valid JSON ({e.msg} at line {e.lineno})") from None
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise AquagenError(f"{mf} is not valid JSON ({str(e)[:100]})") from None
        check_manifest(manifest, str(mf))
        return cls(path, manifest)

    @property
    def profile(self) -> str:
        return self.manifest["schema"]

    def rows(self, name: str) -> int:
        return self.manifest["tables"][name]["rows"]

    def verify(self, values: bool = True) -> None:
        """Check every file: inside the folder, its checksum, then (``check_part``) its row count
        and schema against the manifest and the profile, and (``values``) its values. Raises a
        one-line AquagenError. A load passes ``values=False``: ``record_batches`` checks the values
        of the batches it reads (each file decoded once, not twice)."""
        for entry in self.manifest["tables"].values():
            for f in entry["files"]:
                p = _inside(self.path, f["path"])
                if _sha256(p) != f["sha256"]:
                    raise AquagenError(
                        f"snapshot {self.path} is corrupted: checksum of {f['path']} does not match the manifest"
                    )
        for name, entry in self.manifest["tables"].items():
            table = schemas.table(name, self.profile)
            for f in entry["files"]:
                check_part(self.path / f["path"], f["path"], table, f["rows"], self.profile, values)

    def unlisted(self) -> list[str]:
        """Files in the folder that the manifest does not list (beside manifest.json and a report
        written into it): leftovers a published snapshot must not have."""
        return unlisted(self.path, self.manifest)

    def files(self, name: str) -> list[Path]:
        return [self.path / f["path"] for f in self.manifest["tables"][name]["files"]]

    def scan(self, name: str) -> pl.LazyFrame:
        """The table as a lazy frame (an empty frame with the schema when it has no rows)."""
        files = self.files(name)
        if not files:
            t = schemas.table(name, self.profile)
            return pl.LazyFrame(schema={c.name: c.polars_type for c in t.columns})
        return pl.scan_parquet(files)

    def read(self, name: str) -> pl.DataFrame:
        return self.scan(name).collect()

    def record_batches(self, name: str, batch_rows: int = 1 << 17) -> Iterator[pa.RecordBatch]:
        """The table's rows, each batch's values checked as ``verify`` checks them (a one-line
        AquagenError naming the file), and each file's rows counted against the manifest."""
        table = schemas.table(name, self.profile)
        for f in self.manifest["tables"][name]["files"]:
            rel = f["path"]
            try:
                pf = pq.ParquetFile(self.path / rel)
                ranged, ge0 = _ranged(table, pf.schema_arrow)
                n = 0
                # one thread: a load reads several tables at once on its connections' threads, and
                # Arrow's pool besides them cost CPU (about 12% of the reading, measured)
                for batch in pf.iter_batches(batch_size=batch_rows, use_threads=False):
                    check_values(batch, ranged, ge0, name, rel, self.profile)
                    n += batch.num_rows
                    yield batch
            except AquagenError:
                raise
            except (OSError, pa.ArrowException) as e:
                raise _not_ours(name, rel, self.profile, f"cannot be read ({str(e).splitlines()[0][:120]})") from None
            if n != f["rows"]:
                raise _not_ours(name, rel, self.profile, f"holds {n} rows of data, the manifest says {f['rows']}")
