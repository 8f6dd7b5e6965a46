"""Purge batches (plan phase 4): delete every row that belongs to some batches,
history included, in one transaction of set-based SQL; keep infrastructure,
master data and users.

What belongs to a batch is found in the database's own catalog: every row whose
foreign key reaches a purged row (batch → assignments → growth samples, feeding
events → ..., transfers → stage-transition snapshots, ...), so tables this code
does not know are purged too instead of blocking the delete. History tables
(django-simple-history: ``<app>_historical<model>``, no FKs) lose the rows of
the purged objects, matched by the base id, and the rows of long-deleted objects
whose copied FK columns point at a purged row.

The stock lots' decrements the purged feedings caused (their '~' history rows,
found by feed site and time) go as well, and the lots get that feed back, so
feed delivered = fed + remaining still holds. ``reset_inventory`` restores the
initial feed stock instead: the purchases noted 'Initial stock' (else the
lowest-id lot of each feed container) and their lots stay, reset to their '+'
history row; every later purchase and lot, their history and the initial lots'
'~' rows go.

The same definitions (``Doomed``: id sets and, per table, the columns that name purged
rows) serve ``load --replace`` when it copies the tables without those rows instead
(``loaders.swap``).

Everything runs in one transaction under the aquagen advisory lock; afterwards
the infrastructure and master-data counts are compared with before (a change
rolls everything back). A dry run does the same work and rolls it back, so its
counts are exact.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

import schemas
from aquagen import words
from aquagen.errors import AquagenError
from aquagen.model.inventory import WRITE_OFF_HOUR
from aquagen.profiles.aquamind_8f2ab39.feedstock import WRITTEN_OFF
from aquagen.tables.cut import end_of

from .catalog import database_profile
from .loadlog import farm_moment
from .rows import not_among, one
from .session import connect, exclusive

PURCHASES = "inventory_feedpurchase"
LOTS = "inventory_feedcontainerstock"
INITIAL_NOTE = "Initial stock"


@dataclass
class PurgeResult:
    batches: list[tuple[int, str]]  # (id, batch_number) purged
    deleted: dict[str, int]  # rows per table that went (or would go, with dry_run)
    reset: dict[str, int]  # --reset-inventory: rows put back to their initial values
    preserved: dict[str, int]  # infrastructure and master data: counts, unchanged
    dry_run: bool
    restored: dict[str, int] = field(default_factory=dict)  # stock lots given back the purged feedings' feed
    seconds: float = 0.0
    written_off: int = 0  # lots given back feed, or refilled initial lots, written off at their expiry (past it)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


# --- the catalog --------------------------------------------------------------


@dataclass
class _Graph:
    tables: set[str]
    columns: dict[str, set[str]]
    children: dict[str, list[tuple[str, str]]]  # parent -> [(child, fk column)], FKs to the parent's key only
    history: dict[str, str]  # base -> history table
    fk_cols: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # child -> [(column, parent)]
    keys: dict[str, str] = field(default_factory=dict)  # table -> the column of its rows' ids (its identity)

    def key(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.keys.get(table, "id"))


def _graph(conn: psycopg.Connection) -> _Graph:
    cols: dict[str, set[str]] = {}
    for rel, col in conn.execute(
        "SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    ).fetchall():
        cols.setdefault(rel, set()).add(col)
    keys: dict[str, str] = dict(
        conn.execute(
            "SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attidentity <> ''"
        ).fetchall()
    )
    keys |= {t: "id" for t, c in cols.items() if t not in keys and "id" in c}
    children: dict[str, list[tuple[str, str]]] = {}
    fk_cols: dict[str, list[tuple[str, str]]] = {}
    for child, col, parent, pcol in conn.execute(
        """
        SELECT c.relname, a.attname, p.relname, pa.attname
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace AND pn.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
        WHERE k.contype = 'f' AND cardinality(k.conkey) = 1
        ORDER BY 1, 2
        """
    ).fetchall():
        if pcol == keys.get(parent) and child in keys:
            children.setdefault(parent, []).append((child, col))
            fk_cols.setdefault(child, []).append((col, parent))
    history = {}
    for name, c in cols.items():
        m = re.fullmatch(r"([a-z0-9]+)_historical(\w+)", name)
        if m and {"history_id", "history_type"} <= c:
            base = IRREGULAR_TWINS.get(name, f"{m[1]}_{m[2]}")
            if base in cols and keys.get(base, "") in c:
                history[base] = name
    return _Graph(set(cols), cols, children, history, fk_cols, keys)


# history tables whose name breaks the pattern (cb41030: the creation workflow's twin)
IRREGULAR_TWINS = {"batch_historicalbatchcreationworkflow": "batch_creationworkflow"}


def _reach(g: _Graph, root: str) -> list[str]:
    """Tables whose rows can belong to a ``root`` row, parents before children."""
    seen = {root}
    todo = [root]
    while todo:
        for child, _ in g.children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    order: list[str] = []
    done: set[str] = set()

    def visit(t: str, path: frozenset) -> None:
        if t in done:
            return
        for _col, parent in g.fk_cols.get(t, []) if t != root else []:  # the root comes first (a cycle back to it:
            if parent in seen and parent != t and parent not in path:  # the batch's pinned projection run)
                visit(parent, path | {t})
        done.add(t)
        order.append(t)

    for t in sorted(seen):
        visit(t, frozenset())
    return order


# --- purge ----------------------------------------------------------------------


@dataclass
class Sets:
    """Where the purge's id sets go: temporary tables dropped at COMMIT (``schema`` None), or tables
    of ``schema``, which other connections see once committed (copies filled without the purged rows)."""

    schema: str | None = None

    def name(self, name: str) -> sql.Composable:
        return self.table(f"_purge_{name}"[:63])

    def table(self, name: str) -> sql.Composable:
        return sql.Identifier(name) if self.schema is None else sql.Identifier(self.schema, name)

    def create(self, name: sql.Composable, query: sql.Composable) -> sql.Composed:
        if self.schema is None:
            return sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}").format(name, query)
        return sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(name, query)


def _leaves(g: _Graph, order: list[str]) -> set[str]:
    """Purged tables no other purged row or history row refers to: deleted by their FKs directly,
    without collecting their ids first (readings: most of the rows)."""
    parents = {p for t in order for _, p in g.fk_cols.get(t, []) if p in order}
    return {
        t
        for t in order
        if t not in parents and t not in g.history and t != "batch_batch" and t not in ("inventory_feedingevent",)
    }  # feedings: their stock draws are looked up


def _collect(conn, g: _Graph, order: list[str], batch_ids: list[int], sets: Sets) -> dict[str, int]:
    """Tables _purge_<t>(id) with the ids of every purged row (``sets``); returns their sizes."""
    sizes = {}
    leaves = _leaves(g, order)
    for t in order:
        if t in leaves:
            continue
        T, S = sql.Identifier(t), sets.name(t)
        if t == "batch_batch":
            q = sql.SQL("SELECT id FROM public.batch_batch WHERE id = ANY({})").format(sql.Literal(batch_ids))
        else:
            parts = [
                sql.SQL("SELECT {} AS id FROM public.{} WHERE {} IN (SELECT id FROM {})").format(
                    g.key(t), T, sql.Identifier(col), sets.name(parent)
                )
                for col, parent in g.fk_cols.get(t, [])
                if parent in sizes and parent != t
            ]
            q = sql.SQL(" UNION ").join(parts)
        conn.execute(sets.create(S, q))
        selfs = [col for col, parent in g.fk_cols.get(t, []) if parent == t]
        for col in selfs:  # rows hanging off purged rows of the same table
            while conn.execute(
                sql.SQL(
                    "INSERT INTO {S} SELECT {k} FROM public.{T} WHERE {c} IN (SELECT id FROM {S}) "
                    "AND {k} NOT IN (SELECT id FROM {S})"
                ).format(S=S, T=T, c=sql.Identifier(col), k=g.key(t))
            ).rowcount:
                pass
        conn.execute(sql.SQL("ANALYZE {}").format(S))
        sizes[t] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(S)).fetchone()[0]
    return sizes


_STOCK_TABLES = {
    LOTS,
    "inventory_historicalfeedcontainerstock",
    "infrastructure_feedcontainer",
    "infrastructure_container",
    "inventory_feedingevent",
    "inventory_feedpurchase",
}
LOT_HISTORY = "inventory_historicalfeedcontainerstock"
STOCK_SETS = ("_purge_feed_times", "_purge_draws", "_purge_lot_rows", "_purge_write_offs")


def _owned(g: _Graph, order: list[str]) -> list[str]:
    """Every table that can hold rows a purge deletes or changes, children first (the order of
    the deletes): ``order`` reversed, each base after its history table, then the stock lots and
    their history (given back what purged feedings drew)."""
    out = [x for t in reversed(order) for x in ([g.history[t]] if t in g.history else []) + [t]]
    if _STOCK_TABLES <= g.tables and "inventory_feedingevent" in order:
        out += [LOT_HISTORY, LOTS]
    return out


def owned_tables(conn: psycopg.Connection) -> list[str]:
    """The tables whose rows a purge of batches can delete or change (read from the catalog)."""
    g = _graph(conn)
    return _owned(g, _reach(g, "batch_batch")) if "batch_batch" in g.tables else []


@dataclass
class Doomed:
    """The rows some batches own: an id set for every table purged rows are found through
    (``_collect``), and for every table which of its columns name them (``goes``), so that the same
    facts serve a purge (DELETE, ``delete``) and a copy of a table without those rows (``kept``).
    With the stock lots' draws (``_stock_draws``), ``give_back`` undoes them."""

    g: _Graph
    order: list[str]  # tables batch rows reach, parents first
    sizes: dict[str, int]  # tables with an id set: its size
    sets: Sets
    stock: bool = False  # the stock sets made (``STOCK_SETS``)
    draws: int = 0  # the lots' '~' history rows the purged feedings caused
    lots: int = 0  # the lots they drew from
    write_offs: int = 0  # of those, the lots given back feed they would hold past their expiry

    @property
    def tables(self) -> list[str]:
        return _owned(self.g, self.order)

    def goes(self, t: str) -> list[tuple[sql.Identifier, sql.Composable]]:
        """(column, id set) pairs: a row of ``t`` is purged when one of its columns holds an id of its set."""
        g = self.g
        bases = {g.history[b]: b for b in self.order if b in g.history}
        if t in bases:  # a history table: the purged objects' rows, and those pointing at purged rows
            b = bases[t]
            pairs = [(g.keys.get(b, "id"), b)] + [
                (c, p) for c, p in g.fk_cols.get(b, []) if p in self.sizes and c in g.columns[t]
            ]
        elif t in self.sizes:
            pairs = [(g.keys.get(t, "id"), t)]
        elif t in self.order:  # a leaf: by each FK into purged rows
            pairs = [(c, p) for c, p in g.fk_cols.get(t, []) if p in self.sizes]
        else:
            pairs = []
        return [(sql.Identifier(c), self.sets.name(p)) for c, p in pairs]

    def delete(self, conn: psycopg.Connection, t: str) -> int:
        """Delete ``t``'s purged rows: one DELETE per pair (a row deleted by one is gone for the next)."""
        return sum(
            conn.execute(
                sql.SQL("DELETE FROM public.{} WHERE {} IN (SELECT id FROM {})").format(sql.Identifier(t), c, s)
            ).rowcount
            for c, s in self.goes(t)
        )

    def kept(self, t: str) -> sql.Composable | None:
        """A condition on the rows of ``t`` (as ``t``) that a purge keeps; None: every row."""
        pairs = self.goes(t)
        if not pairs:
            return None
        return sql.SQL(" AND ").join(
            sql.SQL("NOT EXISTS (SELECT FROM {} s WHERE s.id = t.{})").format(s, c) for c, s in pairs
        )

    def give_back(self, conn: psycopg.Connection, t: str, schema: str = "public") -> int:
        """In ``schema``'s ``t`` (the lots or their history), what the purged feedings drew given back
        (``_stock_draws``), and the lots it would leave holding feed past their expiry written off;
        returns the lots given feed back, or the history rows gone (the draws less the write-offs)."""
        if not self.draws or t not in (LOTS, LOT_HISTORY):
            return 0
        rows, draws = self.sets.table("_purge_lot_rows"), self.sets.table("_purge_draws")
        target = sql.Identifier(schema, t)
        if t == LOT_HISTORY:
            conn.execute(
                sql.SQL(
                    "UPDATE {} h SET quantity_kg = r.new_kg FROM {} r WHERE r.history_id = h.history_id "
                    "AND NOT r.drawn AND r.new_kg <> h.quantity_kg"
                ).format(target, rows)
            )
            gone = conn.execute(
                sql.SQL("DELETE FROM {} h USING {} d WHERE d.history_id = h.history_id").format(target, draws)
            ).rowcount
            if self.write_offs:  # each lot's last kept row, at its write-off
                columns = sorted(self.g.columns[t])
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} h JOIN {} w ON w.kept = h.history_id"
                    ).format(
                        target,
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        _write_off_row(columns, sql.SQL("w.history_id")),
                        target,
                        self.sets.table("_purge_write_offs"),
                    )
                )
            return gone - self.write_offs  # the rows that went, net
        given = conn.execute(
            sql.SQL(
                "UPDATE {} s SET quantity_kg = s.quantity_kg + t.back, "
                "updated_at = CASE WHEN t.last_drawn THEN t.kept_updated_at ELSE s.updated_at END "
                "FROM (SELECT id, "
                "             CASE WHEN bool_or(written_off) THEN 0 ELSE SUM(back) FILTER (WHERE drawn) END AS back, "
                "             bool_or(drawn AND from_end = 1) AS last_drawn, "
                "             (array_agg(updated_at ORDER BY from_end) FILTER (WHERE NOT drawn))[1] AS kept_updated_at "
                "      FROM {} GROUP BY id) t WHERE t.id = s.id AND (t.back <> 0 OR t.last_drawn)"
            ).format(target, rows)
        ).rowcount
        if self.write_offs:
            conn.execute(
                sql.SQL("UPDATE {} s SET quantity_kg = 0, updated_at = w.at FROM {} w WHERE w.id = s.id").format(
                    target, self.sets.table("_purge_write_offs")
                )
            )
        return given


def doomed(
    conn: psycopg.Connection,
    batch_ids: Iterable[int],
    sets: Sets,
    restore_stock: bool = True,
    overwritten: Sequence[int] = (),
) -> Doomed:
    """The rows of these batches, found inside the caller's transaction (reads only; the id sets
    go where ``sets`` says). With ``restore_stock`` the stock lots' draws by their feedings too,
    but on the lots ``overwritten`` (ids of lots a load gives new values and history whatever
    they hold, or keeps as they are, draws included: ``existing.Plan.held_lots``)."""
    conn.execute("SET LOCAL work_mem = '256MB'")
    g = _graph(conn)
    order = _reach(g, "batch_batch")
    d = Doomed(g, order, _collect(conn, g, order, sorted(set(int(i) for i in batch_ids)), sets), sets)
    if restore_stock and "inventory_feedingevent" in d.sizes:
        _stock_draws(conn, d, overwritten)
    return d


def purge_batches(
    conn: psycopg.Connection, batch_ids: Iterable[int], restore_stock: bool = True, overwritten: Sequence[int] = ()
) -> tuple[dict[str, int], dict[str, int], int]:
    """Delete every row of these batches inside the caller's transaction; returns (rows
    deleted per table, rows restored per table, lots written off). A dry run is this, rolled back.

    With ``restore_stock`` the stock-lot decrements their feedings caused go too and the
    lots get that feed back (see ``_stock_draws``), written off at their expiry if it has passed;
    not on the lots ``overwritten`` (as ``doomed``).
    """
    batch_ids = sorted(set(int(i) for i in batch_ids))
    if not batch_ids:
        return {}, {}, 0
    d = doomed(conn, batch_ids, Sets(), restore_stock, overwritten)
    out: dict[str, int] = {}
    restored: dict[str, int] = {}
    if d.draws:
        out[LOT_HISTORY] = d.give_back(conn, LOT_HISTORY)
        d.give_back(conn, LOTS)
        restored[LOTS] = d.lots
    for t in d.tables:  # children first
        out[t] = out.get(t, 0) + d.delete(conn, t)
    drop = [d.sets.name(t) for t in d.sizes] + [d.sets.table(t) for t in STOCK_SETS if d.stock]
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(drop)))
    return {k: v for k, v in out.items() if v}, {k: v for k, v in restored.items() if v}, d.write_offs


def _stock_draws(conn, d: Doomed, overwritten: Sequence[int] = ()) -> None:
    """Find the stock decrements of the purged feeding events (``Doomed.give_back`` undoes them).

    A decrement is a lot's '~' history row written at the feeding's ``created_at`` by
    the feed container of the fed container's hall (silo) or sea area (barge); a hall
    or area holds one batch at a time, so (site, time) names the feeding's batch.
    Those rows go, and each lot gets back what they drew: its later history rows
    and the lot itself hold that much more (the lot's updated_at follows its last
    remaining history row). A lot's write-off at its expiry is never a draw (it may fall on a
    feeding's minute), and it holds nothing after it: from its write-off on, a lot's rows keep
    their quantity, so the write-off takes what is given back.
    """
    if not _STOCK_TABLES <= d.g.tables:
        return
    s = d.sets
    d.stock = True
    conn.execute(
        s.create(
            s.table("_purge_feed_times"),
            sql.SQL(
                "SELECT DISTINCT f.created_at AS t, COALESCE(c.hall_id, -c.area_id) AS site "
                "FROM public.inventory_feedingevent f JOIN {} p ON p.id = f.id "
                "JOIN public.infrastructure_container c ON c.id = f.container_id"
            ).format(s.name("inventory_feedingevent")),
        )
    )
    conn.execute(
        s.create(
            s.table("_purge_draws"),
            sql.SQL(
                "SELECT h.history_id, h.id FROM public.inventory_historicalfeedcontainerstock h "
                "JOIN public.infrastructure_feedcontainer fc ON fc.id = h.feed_container_id "
                "JOIN {} p ON p.t = h.history_date AND p.site = COALESCE(fc.hall_id, -fc.area_id) "
                "WHERE h.history_type = '~' AND h.history_change_reason IS DISTINCT FROM {off} AND {}"
            ).format(
                s.table("_purge_feed_times"), not_among(sql.SQL("h.id"), overwritten), off=sql.Literal(WRITTEN_OFF)
            ),
        )
    )
    conn.execute(sql.SQL("ANALYZE {}").format(s.table("_purge_draws")))
    # every history row of the touched lots: what a removed draw gives back, and the new quantity
    conn.execute(
        s.create(
            s.table("_purge_lot_rows"),
            sql.SQL(
                "SELECT history_id, id, drawn, back, updated_at, written_off, "
                "       quantity_kg + CASE WHEN written_off THEN 0 ELSE SUM(COALESCE(back, 0)) OVER (PARTITION BY id "
                "                   ORDER BY history_date, history_id ROWS UNBOUNDED PRECEDING) END AS new_kg, "
                "       row_number() OVER (PARTITION BY id ORDER BY history_date DESC, history_id DESC) AS from_end "
                "FROM (SELECT h.history_id, h.id, h.history_date, h.quantity_kg, h.updated_at, "
                "             d.history_id IS NOT NULL AS drawn, "
                "             CASE WHEN d.history_id IS NOT NULL THEN LAG(h.quantity_kg) OVER (PARTITION BY h.id "
                "                  ORDER BY h.history_date, h.history_id) - h.quantity_kg END AS back, "
                "             bool_or(COALESCE(h.history_change_reason = {off}, false)) OVER (PARTITION BY h.id "
                "                  ORDER BY h.history_date, h.history_id ROWS UNBOUNDED PRECEDING) AS written_off "
                "      FROM public.inventory_historicalfeedcontainerstock h "
                "      LEFT JOIN {d} d ON d.history_id = h.history_id "
                "      WHERE h.id IN (SELECT id FROM {d})) z"
            ).format(d=s.table("_purge_draws"), off=sql.Literal(WRITTEN_OFF)),
        )
    )
    # a lot given back feed it would still hold at its expiry is written off then (model.inventory: at
    # noon UTC on its expiry date), if that is before the farm's moment: a '~' row to 0 kg. It takes
    # the history_id of the lot's last removed draw (one exists: the lot held nothing before), not a
    # new one from the sequence, which a load swapping staged tables in numbers its own rows past.
    end = _farm_end(conn)
    conn.execute(
        s.create(
            s.table("_purge_write_offs"),
            sql.SQL(
                "SELECT r.id, r.history_id AS kept, "
                "       (SELECT max(history_id) FROM {d} d WHERE d.id = r.id) AS history_id, "
                "       (p.expiry_date + {noon}) AT TIME ZONE 'UTC' AS at "
                "FROM (SELECT DISTINCT ON (id) id, history_id, new_kg, written_off FROM {rows} "
                "      WHERE NOT drawn ORDER BY id, from_end) r "
                "JOIN public.{lots} s ON s.id = r.id JOIN public.inventory_feedpurchase p ON p.id = s.feed_purchase_id "
                "WHERE NOT r.written_off AND r.new_kg > 0 AND (p.expiry_date + {noon}) AT TIME ZONE 'UTC' < {end}"
            ).format(
                d=s.table("_purge_draws"),
                rows=s.table("_purge_lot_rows"),
                lots=sql.Identifier(LOTS),
                noon=sql.Literal(dt.time(WRITE_OFF_HOUR)),
                end=end,
            ),
        )
    )
    d.draws, d.lots = conn.execute(
        sql.SQL("SELECT count(*), count(DISTINCT id) FROM {}").format(s.table("_purge_draws"))
    ).fetchone()
    d.write_offs = one(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(s.table("_purge_write_offs"))))[0]


def _write_off_row(columns: list[str], history_id: sql.Composable | None = None) -> sql.Composed:
    """The values of a lot's write-off history row: its row ``h`` copied, at ``w.at`` (``w``: the write-offs),
    to 0 kg, a '~' row saying why (``history_id``: its id, else the column is left to its sequence)."""
    changed = {
        "history_date": sql.SQL("w.at"),
        "updated_at": sql.SQL("w.at"),
        "quantity_kg": sql.SQL("0"),
        "history_type": sql.Literal("~"),
        "history_change_reason": sql.Literal(WRITTEN_OFF),
    }
    if history_id is not None:
        changed["history_id"] = history_id
    return sql.SQL(", ").join(changed.get(c, sql.SQL("h.{}").format(sql.Identifier(c))) for c in columns)


def _farm_end(conn: psycopg.Connection) -> sql.Composable:
    """The end of the database's farm moment (its latest load or advance), else just past its latest
    lot history row: a lot expiring before it is written off."""
    moment = farm_moment(conn)
    if moment:
        return sql.Literal(end_of(*moment))
    last = one(conn.execute(sql.SQL("SELECT max(history_date) FROM public.{}").format(sql.Identifier(LOT_HISTORY))))[0]
    return sql.Literal(None if last is None else last + dt.timedelta(microseconds=1))


def _reset_to_created(conn, g: _Graph, base: str, keep: sql.Composable) -> tuple[int, int]:
    """Put the kept rows of ``base`` back to their '+' history row and drop their later history
    rows; returns (rows reset, history rows deleted)."""
    h = g.history.get(base)
    if h is None:
        return 0, 0
    B, H = sql.Identifier(base), sql.Identifier(h)
    cols = sorted((g.columns[base] & g.columns[h]) - {"id"})
    first = sql.SQL(
        "SELECT DISTINCT ON (id) * FROM public.{H} WHERE history_type = '+' AND id IN ({keep}) ORDER BY id, history_id"
    ).format(H=H, keep=keep)
    differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(c)) for c in cols),
        sql.SQL(", ").join(sql.SQL("f.{}").format(sql.Identifier(c)) for c in cols),
    )
    n = conn.execute(
        sql.SQL("UPDATE public.{B} b SET {sets} FROM ({first}) f WHERE f.id = b.id AND {d}").format(
            B=B,
            first=first,
            d=differs,
            sets=sql.SQL(", ").join(sql.SQL("{c} = f.{c}").format(c=sql.Identifier(c)) for c in cols),
        )
    ).rowcount
    later = conn.execute(
        sql.SQL("DELETE FROM public.{H} WHERE id IN ({keep}) AND history_type <> '+'").format(H=H, keep=keep)
    ).rowcount
    return n, later


def restore_initial_inventory(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, int], int]:
    """Back to the initial feed stock, inside the caller's transaction; returns (rows deleted
    per table, rows reset per table, initial lots written off at their expiry)."""
    g = _graph(conn)
    if not {PURCHASES, LOTS} <= g.tables:
        return {}, {}, 0
    end = _farm_end(conn) if LOT_HISTORY in g.tables else None  # before the history rows go
    has_initial = one(
        conn.execute(f"SELECT EXISTS (SELECT 1 FROM public.{PURCHASES} WHERE notes = %s)", (INITIAL_NOTE,))
    )[0]
    if has_initial:
        conn.execute(
            f"CREATE TEMP TABLE _keep_purchases ON COMMIT DROP AS SELECT id FROM public.{PURCHASES} WHERE notes = %s",
            (INITIAL_NOTE,),
        )
        conn.execute(
            f"CREATE TEMP TABLE _keep_lots ON COMMIT DROP AS SELECT id FROM public.{LOTS} "
            "WHERE feed_purchase_id IN (SELECT id FROM _keep_purchases)"
        )
    else:  # no notes to go by: the first lot of each feed container
        conn.execute(
            f"CREATE TEMP TABLE _keep_lots ON COMMIT DROP AS SELECT DISTINCT ON (feed_container_id) id "
            f"FROM public.{LOTS} ORDER BY feed_container_id, id"
        )
        conn.execute(
            f"CREATE TEMP TABLE _keep_purchases ON COMMIT DROP AS SELECT DISTINCT feed_purchase_id AS id "
            f"FROM public.{LOTS} WHERE id IN (SELECT id FROM _keep_lots)"
        )
    deleted: dict[str, int] = {}
    reset: dict[str, int] = {}
    for base, keep in ((LOTS, "_keep_lots"), (PURCHASES, "_keep_purchases")):  # lots reference purchases
        K = sql.SQL("SELECT id FROM {}").format(sql.Identifier(keep))
        reset[base], later = _reset_to_created(conn, g, base, K)
        h = g.history.get(base)
        if h:
            deleted[h] = (
                later
                + conn.execute(
                    sql.SQL("DELETE FROM public.{} WHERE id NOT IN ({})").format(sql.Identifier(h), K)
                ).rowcount
            )
        deleted[base] = conn.execute(
            sql.SQL("DELETE FROM public.{} WHERE id NOT IN ({})").format(sql.Identifier(base), K)
        ).rowcount
    written_off = 0 if end is None else _write_off_initial(conn, g, end)
    conn.execute("DROP TABLE _keep_lots, _keep_purchases")
    return {k: v for k, v in deleted.items() if v}, {k: v for k, v in reset.items() if v}, written_off


def _write_off_initial(conn: psycopg.Connection, g: _Graph, end: sql.Composable) -> int:
    """The initial lots, refilled, that expire before the farm's moment (``end``) written off at their
    expiry as the generator does it (``model.inventory``: a '~' row to 0 kg at noon UTC on the expiry
    date): no batch is left to draw on them. Their history rows take the sequence's next ids."""
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE _reset_write_offs ON COMMIT DROP AS "
            "SELECT s.id, (p.expiry_date + {noon}) AT TIME ZONE 'UTC' AS at "
            "FROM public.{lots} s JOIN public.{purchases} p ON p.id = s.feed_purchase_id "
            "WHERE s.id IN (SELECT id FROM _keep_lots) AND s.quantity_kg > 0 "
            "AND (p.expiry_date + {noon}) AT TIME ZONE 'UTC' < {end}"
        ).format(
            lots=sql.Identifier(LOTS),
            purchases=sql.Identifier(PURCHASES),
            noon=sql.Literal(dt.time(WRITE_OFF_HOUR)),
            end=end,
        )
    )
    columns = sorted(g.columns[LOT_HISTORY] - {"history_id"})
    conn.execute(
        sql.SQL(
            "INSERT INTO public.{h} ({columns}) SELECT {values} FROM public.{h} h "
            "JOIN _reset_write_offs w ON w.id = h.id WHERE h.history_type = '+' ORDER BY w.at, h.id"
        ).format(
            h=sql.Identifier(LOT_HISTORY),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=_write_off_row(columns),
        )
    )
    n = conn.execute(
        sql.SQL(
            "UPDATE public.{} s SET quantity_kg = 0, updated_at = w.at FROM _reset_write_offs w WHERE w.id = s.id"
        ).format(sql.Identifier(LOTS))
    ).rowcount
    conn.execute("DROP TABLE _reset_write_offs")
    return n


def preserved_tables(conn: psycopg.Connection, reset: bool) -> list[str]:
    """Infrastructure, master data and users: the base tables no batch row can reach, of the profile
    whose tables the database holds (else of the default profile)."""
    g = _graph(conn)
    owned = set(_reach(g, "batch_batch")) if "batch_batch" in g.tables else set()
    if reset:
        owned |= {PURCHASES, LOTS}
    ts = schemas.tables(database_profile(conn) or schemas.PROFILE)
    return [n for n, t in ts.items() if not t.history_of and n not in owned and n in g.tables]


def _counts(conn, names: list[str]) -> dict[str, int]:
    return {
        n: conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(n))).fetchone()[0]
        for n in names
    }


def purge(
    dsn: str,
    batch_ids: Iterable[int] = (),
    batch_names: Iterable[str] = (),
    all: bool = False,
    dry_run: bool = False,
    reset_inventory: bool = False,
) -> PurgeResult:
    """Delete the given batches (or ``all``) with everything that belongs to them, in one transaction.

    A dry run without batches named shows the plan for every batch (as ``all``)."""
    batch_ids, batch_names = list(batch_ids), list(batch_names)
    if all and (batch_ids or batch_names):
        raise AquagenError("--all purges every batch; leave out --batch-id / --batch-name, or drop --all")
    if dry_run and not (batch_ids or batch_names or reset_inventory):
        all = True
    if not (all or batch_ids or batch_names or reset_inventory):
        raise AquagenError("nothing to purge: give --batch-id N, --batch-name NAME or --all (and/or --reset-inventory)")
    start = time.perf_counter()
    with connect(dsn) as conn:
        conn.autocommit = True
        exclusive(conn, "purge")
        if one(conn.execute("SELECT to_regclass('public.batch_batch')"))[0] is None:
            raise AquagenError(
                "the database has no AquaMind schema (table batch_batch is missing): nothing to purge; "
                "load a snapshot first (aquagen load output/snapshot)"
            )
        try:
            with conn.transaction():  # a dry run is the real thing, rolled back
                chosen = _choose(conn, batch_ids, batch_names, all)
                keep = preserved_tables(conn, reset_inventory)
                before = _counts(conn, keep)
                deleted, restored, written_off = purge_batches(conn, [i for i, _ in chosen])
                reset: dict[str, int] = {}
                if reset_inventory:
                    _refuse_reset_under_feedings(conn)
                    gone, reset, initial_written_off = restore_initial_inventory(conn)
                    written_off += initial_written_off
                    for name, n in gone.items():
                        deleted[name] = deleted.get(name, 0) + n
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # any dangling reference fails here, not at COMMIT
                after = _counts(conn, keep)
                if after != before:
                    changed = ", ".join(f"{n} {before[n]} -> {after[n]}" for n in keep if before[n] != after[n])
                    raise AquagenError(f"purge would change infrastructure or master data ({changed}); rolled back")
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except psycopg.Error as e:
            raise AquagenError(f"purge failed and was rolled back: {' '.join(str(e).split())}") from None
    return PurgeResult(chosen, deleted, reset, after, dry_run, restored, time.perf_counter() - start, written_off)


def _refuse_reset_under_feedings(conn: psycopg.Connection) -> None:
    """--reset-inventory takes the feed stock back to its initial lots: the feedings of batches the
    purge leaves drew on later lots too, and their feed would no longer add up (delivered = fed +
    remaining)."""
    if one(conn.execute("SELECT to_regclass('public.inventory_feedingevent')"))[0] is None:
        return
    left = [
        n
        for (n,) in conn.execute(
            "SELECT b.batch_number FROM public.batch_batch b WHERE EXISTS "
            "(SELECT FROM public.inventory_feedingevent f WHERE f.batch_id = b.id) ORDER BY b.batch_number"
        )
    ]
    if left:
        raise AquagenError(
            f"--reset-inventory puts the feed stock back to its initial lots, but the feedings of "
            f"{words.count(len(left), 'batch')} left ({words.some(left)}) drew on it: purge them too (--all), "
            "or leave out --reset-inventory"
        )


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def _choose(conn, batch_ids: list[int], batch_names: list[str], all: bool) -> list[tuple[int, str]]:
    rows = conn.execute("SELECT id, batch_number FROM public.batch_batch ORDER BY id").fetchall()
    if all:
        return [(i, n) for i, n in rows]
    by_id = {i: n for i, n in rows}
    by_name = {n: i for i, n in rows}
    unknown = [str(i) for i in batch_ids if i not in by_id] + [repr(n) for n in batch_names if n not in by_name]
    if unknown:
        held = words.some([n for _, n in rows], 10)
        raise AquagenError(
            f"no batch {', '.join(unknown)} in the database; it holds "
            + (f"{words.count(len(rows), 'batch')}: {held}" if rows else "no batches")
        )
    ids = sorted(set(batch_ids) | {by_name[n] for n in batch_names})
    return [(i, by_id[i]) for i in ids]
