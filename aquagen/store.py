"""A folder on any filesystem fsspec knows: a local path, ``file://``, ``memory://``,
``s3://`` ... Generation writes through it, so that workers of a cluster can write
their part files straight to shared storage. Local folders get atomic writes
(temporary file + rename)."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import fsspec
import polars as pl
from fsspec.implementations.local import LocalFileSystem

from . import killpoints

T = TypeVar("T", bound=AbstractContextManager)

_ENOSPC_AT = "AQUAGEN_ENOSPC_AT"  # test hook: the N-th local write of this process fails as on a full disk
_writes = [0]


def _no_space_hook(f, data: bytes | memoryview) -> None:
    at = os.environ.get(_ENOSPC_AT)
    if not at:
        return
    _writes[0] += 1
    if _writes[0] >= int(at):
        f.write(data[: len(data) // 2])  # a full disk cuts a write short
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f.name)


@contextmanager
def replacing(path: str, open_tmp: Callable[[str], T]) -> Iterator[T]:
    """A local file written under a temporary name (``open_tmp`` opens it) and put in place at
    ``path`` when complete, so readers never see a part of it; its folder is made on first need
    (a folder's creation per write cost as much as the write)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        f = open_tmp(tmp)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        f = open_tmp(tmp)
    with f:
        yield f
    os.replace(tmp, path)


@lru_cache(maxsize=64)
def _fs(url: str):
    return fsspec.core.url_to_fs(url)


ParquetCompression = Literal["lz4", "uncompressed", "snappy", "gzip", "brotli", "zstd"]  # polars' choices


@dataclass(frozen=True)
class Store:
    url: str

    @property
    def fs(self):
        return _fs(self.url)[0]

    @property
    def root(self) -> str:
        return _fs(self.url)[1].rstrip("/")

    @property
    def local(self) -> Path | None:
        """The folder as a local path, or None on a remote filesystem."""
        return Path(self.root) if isinstance(self.fs, LocalFileSystem) else None

    def path(self, rel: str = "") -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def child(self, rel: str) -> Store:
        return Store(f"{self.url.rstrip('/')}/{rel}")

    def sibling(self, suffix: str) -> Store:
        return Store(self.url.rstrip("/") + suffix)

    def exists(self, rel: str = "") -> bool:
        return self.fs.exists(self.path(rel))

    def write_bytes(self, rel: str, data: bytes | memoryview) -> None:
        path = self.path(rel)
        if self.local is not None:
            with replacing(path, lambda tmp: open(tmp, "wb")) as f:
                _no_space_hook(f, data)
                f.write(data)
                f.flush()
                killpoints.reached("store_tmp")  # a temporary file written, not yet in place
        else:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with self.fs.open(path, "wb") as f:
                f.write(data)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open(self.path(rel), "rb") as f:
            return f.read()

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode())

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode()

    def write_parquet(self, rel: str, df: pl.DataFrame, compression: ParquetCompression = "uncompressed") -> None:
        buf = io.BytesIO()
        df.write_parquet(buf, compression=compression)
        self.write_bytes(rel, buf.getvalue())

    def read_parquet(self, rel: str) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(self.read_bytes(rel)))

    def write_frame(self, rel: str, df: pl.DataFrame) -> None:
        """A work frame (a shard's counts or first ids, the master's stock tables) as an uncompressed
        Arrow IPC stream: a tenth of the CPU of writing and reading it back as Parquet (measured on a
        10-batch fleet's 98 such frames: 8 against 71 ms); ``read_frame`` reads it."""
        buf = io.BytesIO()
        df.write_ipc_stream(buf, compression="uncompressed")
        self.write_bytes(rel, buf.getvalue())

    def read_frame(self, rel: str) -> pl.DataFrame:
        return pl.read_ipc_stream(io.BytesIO(self.read_bytes(rel)))

    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern`` (relative to the store), sorted."""
        n = len(self.root) + 1
        return sorted(p[n:] if p.startswith(self.root) else p[n - 1 :] for p in self.fs.glob(self.path(pattern)))

    def rm(self, rel: str = "") -> None:
        if self.exists(rel):
            self.fs.rm(self.path(rel), recursive=True)
