"""The load log (``aquagen_load_log``): one row per snapshot loaded (or advanced to), keyed by
the sha256 of its manifest, with the batches it brought, how it was generated (``meta``: the
manifest without its table list, so that ``aquagen advance`` can generate it at a later date)
and where its ids went (``id_segments``: per table, [first snapshot id, offset] pairs; a table
not named kept its ids). A snapshot whose batches are all still in the database, none of them
brought since by a load of another snapshot, is not loaded again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import psycopg

from aquagen.snapshot import Snapshot, moment_of
from aquagen.tables.cut import end_of

from .catalog import has_table
from .rows import one

LOAD_LOG = "aquagen_load_log"


def manifest_digest(snapshot: Snapshot) -> str:
    return hashlib.sha256((snapshot.path / "manifest.json").read_bytes()).hexdigest()


def log_columns(conn: psycopg.Connection) -> set[str]:
    """The load log's columns (a log written by an earlier aquagen has fewer)."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (f"public.{LOAD_LOG}",),
        ).fetchall()
    }


def ensure_log(conn: psycopg.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS public.{LOAD_LOG} (manifest_sha256 text PRIMARY KEY, "
        "snapshot text NOT NULL, seed bigint, loaded_at timestamptz NOT NULL DEFAULT now(), "
        "row_counts jsonb NOT NULL, batches jsonb, mode text, seconds double precision, skipped jsonb, "
        "meta jsonb, id_segments jsonb)"
    )
    have = log_columns(conn)
    for col, typ in (
        ("batches", "jsonb"),
        ("mode", "text"),
        ("seconds", "double precision"),
        ("skipped", "jsonb"),
        ("meta", "jsonb"),
        ("id_segments", "jsonb"),
    ):
        if col not in have:  # a log written by an earlier aquagen
            conn.execute(f"ALTER TABLE public.{LOAD_LOG} ADD COLUMN {col} {typ}")


def write_log(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    digest: str,
    rows: dict[str, int],
    batches: list[str],
    mode: str,
    seconds: float,
    skipped: Sequence[str] = (),
    segments: dict[str, list] | None = None,
) -> None:
    """Record a load: ``batches`` every batch of the snapshot now in the database, ``skipped``
    those of them that were already there (left out by --skip-existing: another snapshot's rows),
    ``segments`` where the ids of tables that did not keep them went."""
    ensure_log(conn)
    meta = {k: v for k, v in snapshot.manifest.items() if k != "tables"}
    conn.execute(
        f"INSERT INTO public.{LOAD_LOG} (manifest_sha256, snapshot, seed, row_counts, batches, mode, seconds, skipped, "
        "meta, id_segments) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (manifest_sha256) DO UPDATE "
        "SET snapshot = EXCLUDED.snapshot, seed = EXCLUDED.seed, loaded_at = now(), row_counts = EXCLUDED.row_counts, "
        "batches = EXCLUDED.batches, mode = EXCLUDED.mode, seconds = EXCLUDED.seconds, skipped = EXCLUDED.skipped, "
        "meta = EXCLUDED.meta, id_segments = EXCLUDED.id_segments",
        (
            digest,
            str(snapshot.path),
            snapshot.manifest.get("seed"),
            json.dumps(rows),
            json.dumps(batches),
            mode,
            round(seconds, 3),
            json.dumps(list(skipped)),
            json.dumps(meta),
            json.dumps(segments or {}),
        ),
    )


def already_loaded(conn: psycopg.Connection, digest: str, replace: bool = False) -> bool:
    """True when loading this snapshot again would change nothing: it was loaded before and its
    batches are all still there (not purged) and still its own (no later load of another snapshot
    brought any of them: --replace, or a load after a purge). With ``replace``, only if that load
    left none of them out (--skip-existing kept another snapshot's rows, which --replace is asked
    to replace)."""
    if not has_table(conn, LOAD_LOG):
        return False
    have = log_columns(conn)
    row = conn.execute(
        f"SELECT {'batches' if 'batches' in have else 'NULL'}, "
        f"{'skipped' if 'skipped' in have else 'NULL'}, loaded_at FROM public.{LOAD_LOG} "
        "WHERE manifest_sha256 = %s",
        (digest,),
    ).fetchone()
    if row is None:
        return False
    names, skipped, loaded_at = row[0] or [], row[1] or [], row[2]
    if replace and skipped:
        return False
    if not names:
        return True
    if not has_table(conn, "batch_batch"):
        return False
    found = one(
        conn.execute(
            "SELECT count(DISTINCT batch_number) FROM public.batch_batch WHERE batch_number = ANY(%s)", (names,)
        )
    )[0]
    if found != len(set(names)):
        return False
    # a batch a later load of another snapshot brought (not one it skipped) holds that one's rows
    skips = "l.skipped" if "skipped" in have else "NULL::jsonb"
    taken = one(
        conn.execute(
            f"SELECT EXISTS (SELECT FROM public.{LOAD_LOG} l, jsonb_array_elements_text(l.batches) b(name) "
            "WHERE l.loaded_at > %s AND l.manifest_sha256 <> %s AND b.name = ANY(%s) "
            f"AND NOT COALESCE({skips} ? b.name, false))",
            (loaded_at, digest, names),
        )
    )[0]
    return not taken


def farm_moment(conn: psycopg.Connection) -> tuple[dt.date, dt.time | None] | None:
    """The latest as-of moment the log records, a load's or an advance's (date, time of day or None for
    the day's end): the database's weather, daylight, sensors and feed stock reach it. None without a
    log that records how its snapshots were generated."""
    if not has_table(conn, LOAD_LOG) or "meta" not in log_columns(conn):
        return None
    moments = [
        moment_of(args)
        for (args,) in conn.execute(
            f"SELECT meta->'arguments' FROM public.{LOAD_LOG} WHERE meta->'arguments'->>'as_of' IS NOT NULL"
        ).fetchall()
    ]
    return max(moments, key=lambda m: end_of(*m), default=None)
