"""Loading into a schema that is already there (e.g. created by AquaMind's migrations).

The batches the database already holds are refused, left out (``--skip-existing``)
or replaced (``--replace``: purged first, or left out of the tables' copies); master rows
are matched by natural key and every reference remapped (``loaders.reconcile``). The rows
are then written either

- in place (``load_in_place``): one transaction on one connection, the COPY going into the
  indexed tables (``rebuild`` drops the secondary indexes and FKs around it), the choice
  when the tables already hold (or, replacing, keep) more rows than the snapshot brings;
- or staged (``loaders.swap``): copies of the tables built in parallel, swapped in at the end.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, field
from functools import reduce
from typing import cast

import polars as pl
import psycopg
import pyarrow as pa

import schemas
from aquagen import killpoints, words
from aquagen.errors import AquagenError
from aquagen.profiles import get
from aquagen.snapshot import Snapshot

from . import rebuild
from .binarycopy import Progress, copy_rows, update_rows
from .catalog import analyze, max_ids, set_sequences
from .loadlog import write_log
from .purge import LOT_HISTORY, LOTS, PURCHASES, purge_batches
from .reconcile import (
    IdMap,
    batch_closure,
    history_refs,
    reconcile,
    remap,
    snapshot_batches,
)
from .rows import one
from .session import immediate_constraints, sort_memory_mb

# The feed stock is the state of the snapshot's FIFO over all its batches: lots and
# purchases already in the database (matched by lot number) take the snapshot's values
# and history instead of keeping their own, so stock and feedings stay consistent when
# batches are added to, or purged and reloaded into, a database aquagen filled before.
# Likewise a sensor's calibrations (its last one and a history row each) are the snapshot's,
# up to its as-of date, whatever an earlier load left. Not at a site where the database keeps
# feedings of batches the snapshot does not carry: there its lots stay the database's (``Plan.held``).
FOLLOW_SNAPSHOT = ("inventory_feedpurchase", "inventory_feedcontainerstock", "infrastructure_sensor")


@dataclass
class Plan:
    """What a load into an existing schema does with the batches the database already holds."""

    batches: pl.DataFrame  # (id, batch_number) of the snapshot's batches
    existing: list[tuple[int, str]]  # (database id, batch_number) of those already in the database
    skip: dict[str, pl.Series] = field(default_factory=dict)  # table -> snapshot ids left out
    skipped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    held: dict[str, pl.Series] = field(default_factory=dict)  # lots, purchases -> snapshot ids left out (_hold_stock)
    held_lots: list[int] = field(default_factory=list)  # database ids of the lots kept as they are, draws included

    @property
    def replaced_ids(self) -> list[int]:
        """Database ids of the batches ``--replace`` replaces."""
        return [i for i, _ in self.existing] if self.replaced else []

    @property
    def loaded(self) -> list[str]:
        return [n for n in self.batches["batch_number"].to_list() if n not in self.skipped]

    @property
    def left_out(self) -> dict[str, pl.Series]:
        """Snapshot ids of the rows the load leaves out, per table: the skipped batches' and the held stock's."""
        return self.skip | self.held


def plan(
    conn: psycopg.Connection, snapshot: Snapshot, ts: dict[str, schemas.Table], skip_existing: bool, replace: bool
) -> Plan:
    batches = snapshot_batches(snapshot)
    existing = (
        [
            tuple(r)
            for r in conn.execute(
                "SELECT id, batch_number FROM public.batch_batch WHERE batch_number = ANY(%s) ORDER BY batch_number",
                (batches["batch_number"].to_list(),),
            ).fetchall()
        ]
        if batches.height
        else []
    )
    out = Plan(batches, existing)
    names = [n for _, n in existing]
    if existing and replace:
        out.replaced = names
    elif existing and skip_existing:
        skipped = batches.filter(pl.col("batch_number").is_in(names))
        _same_feedings(conn, snapshot, skipped)
        out.skip = batch_closure(snapshot, ts, skipped["id"])
        out.skipped = names
    elif existing:
        raise AquagenError(
            f"the database already holds batch {words.some(names)} from another load; pass --skip-existing "
            f"to load only the other batches, or --replace to purge and reload them"
        )
    _hold_stock(conn, snapshot, out)
    return out


def _hold_stock(conn: psycopg.Connection, snapshot: Snapshot, p: Plan) -> None:
    """The feed sites (halls, sea areas) where the database keeps feedings of batches the snapshot does
    not carry (a snapshot of fewer batches of the same farm): the snapshot's lots there were drawn for its
    own feedings only, so they cannot take its values (``FOLLOW_SNAPSHOT``). Their lots stay the
    database's, draws included, and the snapshot's lots and purchases there are left out (``Plan.held``):
    the feed adds up when the feedings the snapshot brings there are those the load removes (the same
    batches at the same date); else the load is refused."""
    feedings = get(snapshot.profile).feedings[0]
    names = p.batches["batch_number"].to_list()
    if (
        not snapshot.rows(LOTS)
        or not one(
            conn.execute("SELECT EXISTS (SELECT FROM public.batch_batch WHERE batch_number <> ALL(%s))", (names,))
        )[0]
    ):
        return
    site = "COALESCE({0}.hall_id, -{0}.area_id)"
    others = {
        s: (name, batch)
        for s, name, batch in conn.execute(
            f"SELECT {site.format('c')}, COALESCE(h.name, a.name), min(b.batch_number) FROM public.{feedings} f "
            "JOIN public.batch_batch b ON b.id = f.batch_id JOIN public.infrastructure_container c ON c.id = f.container_id "
            "LEFT JOIN public.infrastructure_hall h ON h.id = c.hall_id "
            "LEFT JOIN public.infrastructure_area a ON a.id = c.area_id "
            "WHERE b.batch_number <> ALL(%s) GROUP BY 1, 2",
            (names,),
        ).fetchall()
    }
    if not others:
        return
    held = list(others)
    theirs: dict[int, str] = dict(  # "<feedings> <kg>" per site, of the batches the load removes
        conn.execute(
            f"SELECT {site.format('c')}, count(*) || ' ' || sum(f.amount_kg) FROM public.{feedings} f "
            "JOIN public.infrastructure_container c ON c.id = f.container_id "
            f"WHERE f.batch_id = ANY(%s) AND {site.format('c')} = ANY(%s) GROUP BY 1",
            (p.replaced_ids, held),
        ).fetchall()
    )
    loaded = p.batches.filter(~pl.col("batch_number").is_in(p.skipped))["id"]
    mine = dict(
        snapshot.scan(feedings)
        .filter(pl.col("batch_id").cast(pl.Int64).is_in(loaded.implode()))
        .join(
            _sites(conn, snapshot, "infrastructure_container"),
            left_on=pl.col("container_id").cast(pl.Int64),
            right_on="id",
        )
        .filter(pl.col("site").is_in(held))
        .group_by("site")
        .agg(pl.concat_str(pl.len(), pl.col("amount_kg").sum().cast(pl.String), separator=" "))
        .collect()
        .iter_rows()
    )
    differ = sorted((others[s][0], others[s][1]) for s in set(mine) | set(theirs) if mine.get(s) != theirs.get(s))
    if differ:
        where, batch = differ[0]
        raise AquagenError(
            f"{where} keeps feedings of batch {batch}, which {snapshot.path} does not carry, and its feed lots were "
            "drawn for the database's feedings there, not the snapshot's (another date or seed, or a batch purged "
            f"since): the feed would no longer add up; load a snapshot that carries {batch} too, or purge it first"
        )
    lots = (
        snapshot.scan(LOTS)
        .select(pl.col("id", "feed_purchase_id", "feed_container_id").cast(pl.Int64))
        .join(_sites(conn, snapshot, "infrastructure_feedcontainer"), left_on="feed_container_id", right_on="id")
        .collect()
    )
    at = pl.col("site").is_in(held)
    purchases = lots.filter(at)["feed_purchase_id"].unique()
    p.held = {
        LOTS: lots.filter(at)["id"],
        PURCHASES: purchases.filter(~purchases.is_in(lots.filter(~at)["feed_purchase_id"].implode())),
    }
    p.held_lots = [
        i
        for (i,) in conn.execute(
            f"SELECT s.id FROM public.{LOTS} s JOIN public.infrastructure_feedcontainer fc ON fc.id = s.feed_container_id "
            f"WHERE {site.format('fc')} = ANY(%s)",
            (held,),
        )
    ]


def _sites(conn: psycopg.Connection, snapshot: Snapshot, table: str) -> pl.LazyFrame:
    """(id, site) of the snapshot's rows of ``table`` (containers or feed containers): the database's hall id,
    or minus its sea area id, of the row of the same name."""
    names = pl.DataFrame(
        conn.execute(f"SELECT name, COALESCE(hall_id, -area_id) FROM public.{table}").fetchall(),
        schema={"name": pl.String, "site": pl.Int64},
        orient="row",
    )
    return snapshot.scan(table).select(pl.col("id").cast(pl.Int64), "name").join(names.lazy(), on="name")


def _same_feedings(conn: psycopg.Connection, snapshot: Snapshot, skipped: pl.DataFrame) -> None:
    """Refuse to skip batches whose feedings in the database are not the snapshot's (a later date, another
    seed): the feed lots take the snapshot's state (``FOLLOW_SNAPSHOT``), drawn for the snapshot's
    feedings, and would no longer add up with the feedings the database keeps."""
    feedings = get(snapshot.profile).feedings[0]
    if not snapshot.rows(feedings):
        return
    mine = dict(
        snapshot.scan(feedings)
        .join(skipped.lazy().select(batch_id=pl.col("id"), batch_number="batch_number"), on="batch_id")
        .group_by("batch_number")
        .agg(pl.concat_str(pl.len(), pl.col("amount_kg").sum().cast(pl.String), separator=" "))
        .collect()
        .iter_rows()
    )
    theirs: dict[str, str] = dict(  # "<feedings> <kg>" per batch, as the snapshot's
        conn.execute(
            f"SELECT b.batch_number, count(*) || ' ' || sum(f.amount_kg) FROM public.{feedings} f "
            "JOIN public.batch_batch b ON b.id = f.batch_id WHERE b.batch_number = ANY(%s) GROUP BY 1",
            (skipped["batch_number"].to_list(),),
        ).fetchall()
    )
    differ = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
    if differ:
        raise AquagenError(
            f"--skip-existing: the feedings of batch {words.some(differ)} in the database are not the snapshot's "
            "(another date or seed), and the feed lots it brings drew for the snapshot's; load it with --replace, "
            "or move the database on with aquagen advance if the snapshot is of the same farm at a later date"
        )


def id_maps(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    skip: dict[str, pl.Series],
    held: dict[str, pl.Series] | None = None,
) -> dict[str, IdMap]:
    """Where every base table's snapshot ids go in this database (reads only). Loading past batches
    it skips (``skip``), a table keeps the snapshot's ids when the rows it brings find them free: a
    batch purged and loaded back from its snapshot is where it was, and ``aquagen advance`` follows.
    The rows ``held`` (``Plan.held``) are not matched: the database's rows of their natural key stay as they are."""
    maps: dict[str, IdMap] = {}
    tops = max_ids(conn, [t for t in ts.values() if not t.history_of])
    for name, t in ts.items():
        if not t.history_of:
            m = reconcile(conn, snapshot, t, ts, maps, tops.get(name, 0))
            if held and name in held and m.matched is not None:
                m = IdMap(m.offset, m.pairs, m.matched.filter(~m.matched.is_in(held[name].implode())))
            maps[name] = IdMap() if skip and m.offset and _free(conn, snapshot, t, ts, skip, maps) else m
    return maps


def history_offsets(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    skip: dict[str, pl.Series],
    maps: dict[str, IdMap],
) -> dict[str, int]:
    """What each history table's loaded ``history_id`` values are moved by: past the rows it holds, or
    not at all when the rows a load past skipped batches brings find theirs free (as ``id_maps``)."""
    tops = max_ids(conn, [t for t in ts.values() if t.history_of])
    return {n: 0 if top and skip and _free(conn, snapshot, ts[n], ts, skip, maps) else top for n, top in tops.items()}


def _left_out(t: schemas.Table, ts: dict[str, schemas.Table], skip: dict[str, pl.Series]) -> pl.Expr | None:
    """The rows of ``t`` a load past skipped batches leaves out (``skip``: ``batch_closure``): theirs
    and every row naming one of theirs."""
    refs = history_refs(t, ts)
    key = t.object_key or "id"
    drop = [(c, r) for c, r in [*refs.items(), *([] if t.history_of else [(key, t.name)])] if r in skip]
    if not drop:
        return None
    return reduce(operator.or_, [pl.col(c).cast(pl.Int64).is_in(skip[r].implode()).fill_null(False) for c, r in drop])


def _free(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    t: schemas.Table,
    ts: dict[str, schemas.Table],
    skip: dict[str, pl.Series],
    maps: dict[str, IdMap],
) -> bool:
    """Whether no row of ``t`` in the database has the id (``history_id``) of a row the load brings,
    as ``copy_existing`` brings them: the history of master rows found by natural key is not brought,
    and the database's history of rows that take the snapshot's (``FOLLOW_SNAPSHOT``) is replaced."""
    col = "history_id" if t.history_of else t.key or "id"
    rows, out = snapshot.scan(t.name), _left_out(t, ts, skip)
    own = maps.get(t.history_of) if t.history_of else None
    key = t.object_key or "id"
    query = f'SELECT EXISTS (SELECT FROM public."{t.name}" WHERE "{col}" = ANY(%s)'
    params: list[list[int]] = []
    if own is not None and own.matched is not None and own.matched.len():
        if t.history_of in FOLLOW_SNAPSHOT:
            query += f' AND NOT "{key}" = ANY(%s)'
            params.append(followed(maps)[t.history_of])
        else:
            rows = rows.filter(~pl.col(key).is_in(own.matched.implode()))
    ids = (rows if out is None else rows.filter(~out)).select(pl.col(col).cast(pl.Int64)).collect()[col]
    return not ids.len() or not one(conn.execute(query + ")", [ids.to_list(), *params]))[0]


def id_segments(maps: dict[str, IdMap], offsets: dict[str, int]) -> dict[str, list]:
    """Where the ids of the tables that do not keep them go, for the load log (``aquagen advance``
    maps later ids the same way): events past the rows already there, history rows likewise
    (``offsets``, from ``history_offsets``). Master tables matched by natural key are found by it
    again, so they are not listed."""
    out = {n: [[1, m.offset]] for n, m in maps.items() if m.pairs is None and m.offset}
    out |= {n: [[1, o]] for n, o in offsets.items() if o}
    return out


def followed(maps: dict[str, IdMap]) -> dict[str, list[int]]:
    """The database ids of the rows that take the snapshot's values and history (``FOLLOW_SNAPSHOT``,
    matched by natural key), per base table."""
    out = {}
    for name in FOLLOW_SNAPSHOT:
        m = maps.get(name)
        if m is not None and m.matched is not None and m.matched.len():
            assert m.pairs is not None  # matched ids come with their pairs (reconcile)
            out[name] = m.pairs.filter(pl.col("old").is_in(m.matched.implode()))["new"].to_list()
    return out


def superseded_lots(conn: psycopg.Connection, maps: dict[str, IdMap], held_lots: list[int]) -> list[int]:
    """The database's lots of purchases that take the snapshot's values (matched by lot number) which the
    snapshot does not hold: another farm's lot of that number (another seed), delivered in the database but
    still on order in the snapshot, or at another feed container. They go with their history, as the
    purchase is the snapshot's now (they stayed: a lot delivered before its purchase). Not the held ones."""
    follow = followed(maps)
    if PURCHASES not in follow:
        return []
    return [
        i
        for (i,) in conn.execute(
            f"SELECT id FROM public.{LOTS} WHERE feed_purchase_id = ANY(%s) AND NOT id = ANY(%s)",
            (follow[PURCHASES], follow.get(LOTS, []) + held_lots),
        )
    ]


def matched_counts(maps: dict[str, IdMap]) -> dict[str, int]:
    return {n: m.matched.len() for n, m in maps.items() if m.matched is not None}


def copy_existing(
    conn: psycopg.Connection,
    schema: str,
    snapshot: Snapshot,
    t: schemas.Table,
    ts: dict[str, schemas.Table],
    maps: dict[str, IdMap],
    skip: dict[str, pl.Series],
    offsets: dict[str, int],
    freeze: bool = False,
    progress: Progress | None = None,
) -> int:
    """COPY one table's rows into ``schema``'s copy of it (which holds the database's rows):
    skipped rows left out, ids remapped, matched feed-stock rows taking the snapshot's values,
    history ids moved past ``offsets`` (``history_offsets``: what the table held before)."""
    if snapshot.rows(t.name) == 0:
        return 0
    target = f"{schema}.{t.name}"
    refs = history_refs(t, ts)
    own = maps.get(t.history_of or t.name)
    needs_remap = any(not maps[r].identity for r in refs.values() if r in maps) or (
        own is not None and not own.identity
    )
    matched = own.matched if own is not None and own.matched is not None and own.matched.len() else None
    key = t.object_key or "id"
    left_out = _left_out(t, ts, skip)
    n = 0
    if matched is not None and (t.history_of or t.name) in FOLLOW_SNAPSHOT:
        assert own is not None
        existing = followed(maps)[t.history_of or t.name]
        if t.history_of:  # the matched rows' history is replaced by the snapshot's
            conn.execute(f'DELETE FROM {target} WHERE "{key}" = ANY(%s)', (existing,))
        else:  # the matched rows are updated to the snapshot's values
            rows = remap(snapshot.scan(t.name).filter(pl.col(key).is_in(matched.implode())).collect(), t, ts, maps, own)
            n = update_rows(conn, target, t, rows)
        if t.history_of:
            matched = None
    history_offset = offsets.get(t.name, 0) if t.history_of else 0
    if not (needs_remap or matched is not None or left_out is not None or history_offset):
        return n + copy_rows(conn, target, t, snapshot.record_batches(t.name), freeze=freeze, progress=progress)

    def transform(batch: pa.RecordBatch) -> pa.Table:
        df = cast(pl.DataFrame, pl.from_arrow(batch))  # a record batch gives a frame
        if matched is not None:
            df = df.filter(~pl.col(key).is_in(matched.implode()))
        if left_out is not None:
            df = df.filter(~left_out)
        df = remap(df, t, ts, maps, own)
        if history_offset:
            df = df.with_columns(pl.col("history_id") + history_offset)
        return df.to_arrow()

    return n + copy_rows(
        conn, target, t, snapshot.record_batches(t.name), freeze=freeze, transform=transform, progress=progress
    )


@dataclass
class InPlace:
    rows: dict[str, int]
    matched: dict[str, int]
    rebuilt: tuple[int, int]  # secondary indexes and foreign keys dropped and recreated


def purge_replaced(conn: psycopg.Connection, p: Plan) -> None:
    """The batches ``--replace`` reloads, purged inside the caller's transaction. The lots get back
    what the purged feedings drew: lots the snapshot does not hold (another seed's) are left
    consistent; those it holds (matched by lot number) then take its values; the held ones
    (``Plan.held_lots``) keep their draws, which the snapshot's feedings there make again."""
    if p.replaced:
        purge_batches(conn, p.replaced_ids, restore_stock=True, overwritten=p.held_lots)


def load_in_place(
    conn: psycopg.Connection,
    snapshot: Snapshot,
    ts: dict[str, schemas.Table],
    digest: str,
    p: Plan,
    rebuild_indexes: bool,
    start: float,
    progress: Progress | None = None,
) -> InPlace:
    """Into the existing tables themselves, inside the caller's transaction (after ``purge_replaced``)."""
    immediate_constraints(conn, ts)
    saved = None
    loaded = [n for n in ts if snapshot.rows(n)]
    if rebuild_indexes:
        conn.execute(f"SET LOCAL maintenance_work_mem = '{sort_memory_mb(conn, 1)}MB'")
        saved = rebuild.drop(conn, loaded)
    maps = id_maps(conn, snapshot, ts, p.skip, p.held)
    offsets = history_offsets(conn, snapshot, ts, p.skip, maps)
    segments = id_segments(maps, offsets)
    gone = superseded_lots(conn, maps, p.held_lots)
    if gone:
        conn.execute(f"DELETE FROM public.{LOT_HISTORY} WHERE id = ANY(%s)", (gone,))
        conn.execute(f"DELETE FROM public.{LOTS} WHERE id = ANY(%s)", (gone,))
    rows: dict[str, int] = {}
    for name, t in ts.items():
        rows[name] = copy_existing(conn, "public", snapshot, t, ts, maps, p.left_out, offsets, progress=progress)
        if progress and saved is None:
            progress(name, 0, rows[name])
    if saved is not None:
        rebuild.restore(conn, saved)
        for name in ts:
            if progress:
                progress(name, 0, rows[name])
    set_sequences(conn, ts)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # surface any FK violation before COMMIT
    analyze(conn, loaded)
    write_log(
        conn, snapshot, digest, rows, p.loaded + p.skipped, "existing", time.perf_counter() - start, p.skipped, segments
    )
    killpoints.reached("final")
    return InPlace(rows, matched_counts(maps), (len(saved.indexes), len(saved.fks)) if saved else (0, 0))
