"""A snapshot: one folder of Parquet part files per table plus ``manifest.json``.

Writes are atomic: everything goes into a hidden sibling folder that replaces
the target only when complete, so a failed or killed run leaves the previous
state (or nothing) behind, never half a snapshot. The manifest records row
counts and sha256 checksums, verified before anything is loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import schemas

from .errors import AquagenError
from .store import Store

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_arrow(table: schemas.Table, df: pl.DataFrame) -> pa.Table:
    """The frame as Arrow with exactly the table's schema (types and nullability)."""
    if df.columns != table.column_names:
        raise ValueError(f"{table.name}: columns {df.columns} are not the schema's {table.column_names}")
    return df.to_arrow().cast(table.arrow_schema)


def write_part(root: "Store | Path", name: str, df: pl.DataFrame, part: str, profile: str = schemas.PROFILE) -> dict | None:
    """Write ``df`` as part ``part`` of table ``name`` under ``root`` (a folder on any fsspec
    filesystem); its manifest entry (None when empty)."""
    if df.height == 0:
        return None
    store = root if isinstance(root, Store) else Store(str(root))
    rel = f"{name}/{part}.parquet"
    buf = io.BytesIO()
    pq.write_table(to_arrow(schemas.table(name, profile), df), buf, compression="zstd", row_group_size=1 << 20)
    data = buf.getvalue()
    store.write_bytes(rel, data)
    return {"path": rel, "rows": df.height, "sha256": hashlib.sha256(data).hexdigest()}


def build_manifest(meta: dict, files: dict[str, list[dict]], profile: str = schemas.PROFILE) -> dict:
    """The manifest: format, schema profile, ``meta`` and per table its rows and files (sorted)."""
    tables = {}
    for name in schemas.tables(profile):
        entries = sorted(files.get(name, []), key=lambda f: f["path"])
        tables[name] = {"rows": sum(f["rows"] for f in entries), "files": entries}
    return {"format_version": FORMAT_VERSION, "schema": profile, **meta, "tables": tables}


def publish(work: Store, out: Store, manifest: dict) -> None:
    """Write the manifest last, then put the finished folder in place of ``out``: locally by
    renames (the old snapshot goes only once the new one is there), elsewhere by a move."""
    work.write_text(MANIFEST, json.dumps(manifest, indent=1, sort_keys=False, default=str) + "\n")
    if out.local is not None:
        old = None
        if out.local.exists():
            old = out.local.parent / f".{out.local.name}.old-{os.getpid()}"
            out.local.rename(old)
        work.local.rename(out.local)
        if old is not None:
            shutil.rmtree(old)
    else:
        out.rm()
        out.fs.mv(work.path(), out.path(), recursive=True)


@dataclass
class SnapshotWriter:
    """Collects part files in a temporary folder; ``commit`` puts them in place.

    With ``base`` (an existing snapshot), its files are carried over by hard
    link so that new parts are added without copying the old ones.
    """

    out: Path
    meta: dict
    force: bool = False
    base: "Snapshot | None" = None
    profile: str = schemas.PROFILE
    _files: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
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

    def commit(self) -> "Snapshot":
        publish(Store(str(self.tmp)), Store(str(self.out)), build_manifest(self.meta, self._files, self.profile))
        return Snapshot.open(self.out)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "SnapshotWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.abort()


@dataclass
class Snapshot:
    path: Path
    manifest: dict

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Snapshot":
        path = Path(path)
        mf = path / MANIFEST
        if not mf.is_file():
            raise AquagenError(f"{path} is not a snapshot: {mf} is missing")
        try:
            manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as e:
            raise AquagenError(f"{mf} is not valid JSON ({e.msg} at line {e.lineno})") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise AquagenError(
                f"{mf}: format_version {manifest.get('format_version')!r} is not supported (expected {FORMAT_VERSION})"
            )
        if schemas.find(manifest.get("schema")) is None:
            raise AquagenError(f"{mf}: schema {manifest.get('schema')!r} is not supported (known: {', '.join(schemas.known())})")
        return cls(path, manifest)

    @property
    def profile(self) -> str:
        return self.manifest["schema"]

    def rows(self, name: str) -> int:
        return self.manifest["tables"][name]["rows"]

    def verify(self) -> None:
        """Check every file's presence, checksum and row count against the manifest."""
        for name, entry in self.manifest["tables"].items():
            for f in entry["files"]:
                p = self.path / f["path"]
                if not p.is_file():
                    raise AquagenError(f"snapshot {self.path} is incomplete: {f['path']} is missing")
                if _sha256(p) != f["sha256"]:
                    raise AquagenError(f"snapshot {self.path} is corrupted: checksum of {f['path']} does not match the manifest")

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
        for path in self.files(name):
            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
