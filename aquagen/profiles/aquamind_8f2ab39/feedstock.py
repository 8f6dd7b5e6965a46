"""Table building for one feed container (a hall silo or a sea barge): its reorders
(purchase + stock lot), every FIFO decrement of a lot as a history row, and the
feeding events it supplied with their exact FIFO cost.

The feeding events come from every batch that used the container's hall or sea
area (written there by the batch shards, already numbered); the inventory math
is ``aquagen.inventory``. Like ``batches.build``, this builds the whole horizon;
``batches.cut`` drops what lies after the as-of date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model.domain import MANAGER_ID, OPERATOR_ID
from aquagen.model.events import datetimes
from aquagen.model.inventory import (
    SHELF_LIFE_DAYS,
    Draws,
    Lots,
    Meals,
    Plan,
    Reorders,
    epoch_us,
    feed_cost,
    idle_write_offs,
    plan,
)
from aquagen.model.sites import SITES
from aquagen.profiles import FEED_CHANGES, FEED_COSTS, FeedSite
from aquagen.tables.conform import Bound, column_value, order_history, with_history
from aquagen.tables.ids import Counting, IdBook
from aquagen.tables.order import sort_unique
from aquagen.timing import BUILD, FIFO, Laps

# the feeding (and so each decrement) is the operator's; the manager orders feed
PURCHASE_TIME = dt.timedelta(hours=10)
FEEDINGS = "inventory_feedingevent"
STOCK = "inventory_feedcontainerstock"
STOCK_HISTORY = "inventory_historicalfeedcontainerstock"


WRITTEN_OFF = "Expired: written off"  # history_change_reason of a lot's write-off row


def feed_container_of(container: pl.Expr) -> pl.Expr:
    """The feed container supplying a fish container: its hall's silo, or for a ring one of its
    area's 3 barges — rings 1-7 barge 1, rings 8-14 barge 2, rings 15-20 barge 3 (slot·3 // 20)."""
    ring = container - SITES.n_hall_containers - 1
    silo = SITES.silo_id((container - 1) // D.CONTAINERS_PER_HALL + 1)
    barge = SITES.barge_id(
        ring // D.RINGS_PER_AREA + 1, (ring % D.RINGS_PER_AREA) * D.BARGES_PER_AREA // D.RINGS_PER_AREA
    )
    return pl.when(container <= SITES.n_hall_containers).then(silo).otherwise(barge).cast(pl.Int64)


def sites(read: Callable[[str], pl.DataFrame]) -> list[FeedSite]:
    """Feed shards from the master tables: each station's 5 silos, each area's 3 barges, each with
    its initial lots, their history rows and purchases (in the tables' order)."""
    containers = read("infrastructure_feedcontainer").select_seq(
        "id",
        "capacity_kg",
        site=pl.coalesce((pl.col("hall_id") - 1) // len(D.HALLS), SITES.n_stations + pl.col("area_id") - 1),
    )
    lots = read("inventory_feedcontainerstock")
    site_of = containers.select_seq(key="id", _site="site")
    lot_site = lots.join(site_of, left_on="feed_container_id", right_on="key", maintain_order="left").select_seq(
        "_site", lot="id", purchase="feed_purchase_id"
    )
    rows = {
        "lots": (lots, "feed_container_id", site_of),
        "lot_history": (read("inventory_historicalfeedcontainerstock"), "id", lot_site.select_seq("_site", key="lot")),
        "purchases": (read("inventory_feedpurchase"), "id", lot_site.select_seq("_site", key="purchase")),
    }
    by_site = {  # each table's rows of a site's keys, by site (all at once: a filter per site and table cost 2 ms)
        name: df.join(keys.unique(maintain_order=True), left_on=on, right_on="key", maintain_order="left")
        .drop("key", strict=False)
        .partition_by("_site", as_dict=True, include_key=False)
        for name, (df, on, keys) in rows.items()
    }
    return [
        FeedSite(
            key,
            {"containers": c.drop("site")}
            | {name: parts.get((key,), rows[name][0].head(0)) for name, parts in by_site.items()},
        )
        for (key,), c in sorted(containers.partition_by("site", as_dict=True).items())
    ]


def build_site(
    site: FeedSite, feedings: pl.DataFrame, seed: int, ids: IdBook, costed_feedings: bool
) -> dict[str, pl.DataFrame]:
    t = site.tables
    return build(t["containers"], t["lots"], t["lot_history"], t["purchases"], feedings, seed, ids, costed_feedings)


def build_idle(
    sites: list[FeedSite], seed: int, book_of: Callable[[int], IdBook]
) -> dict[int, dict[str, pl.DataFrame]]:
    """``build_site`` (not costing) of feed sites without a feeding event, in one pass: by site key, the tables
    each gives alone, numbered by its own book (``book_of(key)``). A small fleet leaves most sites idle, and
    a site's fixed cost (tens of table operations) is most of its cost there; all at once, it is paid once."""
    if not sites:
        return {}
    merged = {name: pl.concat([s.tables[name] for s in sites]) for name in sites[0].tables}
    profile = book_of(sites[0].key).profile
    frames = build(
        merged["containers"],
        merged["lots"],
        merged["lot_history"],
        merged["purchases"],
        pl.DataFrame(schema={"container_id": pl.Int64}),  # no feeding event
        seed,
        Counting(profile),  # placeholders: each site's rows are numbered by its own book below
        costed_feedings=False,
    )
    site_of = pl.DataFrame(  # each container's site: the merged containers' ids, site by site (no query per site)
        {
            "feed_container_id": merged["containers"]["id"],
            "_site": np.repeat([s.key for s in sites], [s.tables["containers"].height for s in sites]),
        },
        schema_overrides={"_site": pl.Int64},
    )
    lot_site = merged["lots"].join(site_of, on="feed_container_id", maintain_order="left").select_seq("id", "_site")

    def split(name: str, df: pl.DataFrame) -> dict[tuple, pl.DataFrame]:
        """A table's rows by site, in their order (the whole's order restricted to a site is the site's own)."""
        if name == FEED_CHANGES:  # a lot's change: the lot's site
            df = df.join(lot_site, on="id", how="left", maintain_order="left")
        elif "feed_container_id" in df.columns:
            df = df.join(site_of, on="feed_container_id", how="left", maintain_order="left")
        else:  # the costs of the feeding events: none
            assert df.is_empty(), name
            return {}
        return df.partition_by("_site", as_dict=True, include_key=False)

    by_site = {name: split(name, df) for name, df in frames.items()}
    out: dict[int, dict[str, pl.DataFrame]] = {}
    for s in sites:  # a site's rows are numbered in its own shard (its key): one book each
        mine = {name: parts.get((s.key,), frames[name].head(0)) for name, parts in by_site.items()}
        changes = mine[FEED_CHANGES]
        mine[FEED_CHANGES] = changes.with_columns_seq(history_id=book_of(s.key).assign(STOCK_HISTORY, changes))
        out[s.key] = mine
    return out


def build(
    containers: pl.DataFrame,
    lots: pl.DataFrame,
    lot_history: pl.DataFrame,
    purchases: pl.DataFrame,
    feedings: pl.DataFrame,
    seed: int,
    ids: IdBook,
    costed_feedings: bool = True,
) -> dict[str, pl.DataFrame]:
    """All inventory rows of some feed containers (a site's) over the whole horizon.

    ``containers``: id, capacity_kg. ``lots``/``lot_history``/``purchases``: their
    initial stock lots (base rows, '+' history rows) and those lots' purchases, from
    the master data. ``feedings``: the numbered feeding events they supply (feed_cost
    empty), with the history_id of their '+' history row; with ``costed_feedings`` false
    (when only counting rows) they are not returned.
    """
    T = Bound(ids.profile)
    lap = Laps(BUILD)  # timing hooks: the FIFO, then one step per table built
    # every container's initial lots and meals as arrays, by container (then id, or time and id): one
    # query each for the site, then slices (a query costs about 0.1 ms whatever its rows)
    initial = lots.join(
        purchases.select_seq(
            feed_purchase_id="id",
            feed=pl.col("feed_id") - 1,
            cost_per_kg=pl.col("cost_per_kg").cast(pl.Float64),
            purchase_day=pl.col("purchase_date").cast(pl.Int64),
        ),
        on="feed_purchase_id",
        maintain_order="left",
    )
    initial = sort_unique(initial, "feed_container_id", "id")
    start = Lots.of(initial.select_seq("feed", "quantity_kg", "cost_per_kg", entry_time="entry_date"))
    lot_fc, lot_id = initial["feed_container_id"].to_numpy(), initial["id"].to_numpy()
    lot_day = initial["purchase_day"].to_numpy()
    meals, meal_fc = _meals(feedings)
    new: list[Reorders] = []  # the reorders, with their container's id and their number in it
    new_fc: list[np.ndarray] = []
    new_no: list[np.ndarray] = []
    draws: list[Draws] = []
    draw_lot: list[np.ndarray] = []  # each draw's lot: its id (initial lots), or -1 - its place in ``new``
    plans: list[Plan] = []  # those of the containers with meals: their costs
    idle: list[np.ndarray] = []  # the initial lots of containers without a meal
    n_new = 0
    # one FIFO per container: each carries its own stock from lot to lot (the loop is over a site's 3-5)
    for fc, capacity in zip(containers["id"].to_list(), containers["capacity_kg"].to_list(), strict=True):
        mine = slice(*np.searchsorted(lot_fc, [fc, fc + 1]))
        eaten = slice(*np.searchsorted(meal_fc, [fc, fc + 1]))
        if eaten.start == eaten.stop:
            idle.append(np.arange(mine.start, mine.stop))  # below
            continue
        p = plan(meals.take(eaten), start.part(mine), lot_day[mine], float(capacity), fc, seed)
        k = len(p.purchase_day)
        new.append(p.reorders(fc))
        new_fc.append(np.full(k, fc))
        new_no.append(np.arange(1, k + 1))
        draws.append(p.draws)
        draw_lot.append(np.concatenate((lot_id[mine], -1 - n_new - np.arange(k)))[p.draws.lot])
        n_new += k
        # one cost per meal, in their order: dated by it (a site is written window by window)
        assert np.array_equal(p.meals.event_id, meals.event_id[eaten]), "costs follow the meals' order"
        plans.append(p)
    # an idle container (most of them in a small fleet) writes its initial lots off at their expiry,
    # what plan does without a meal, whether or not it is used later: the rows before any as-of date
    # are those of every later one (prefix-stable). All of the site's at once.
    rows = np.concatenate(idle) if idle else np.zeros(0, np.int64)
    first = np.searchsorted(lot_fc, lot_fc[rows])  # each container's first lot: lots numbered from it
    off = idle_write_offs(rows - first, start.units[rows], lot_day[rows])
    draws.append(off)
    draw_lot.append(lot_id[rows][start.units[rows] > 0])
    out: dict[str, pl.DataFrame] = {}
    lap(None, feedings.height, FIFO)

    # --- reorders: a purchase and a stock lot each (none at a site without meals) ---
    created = T.conform(STOCK, lots.head(0))
    new_id = np.zeros(0, np.int64)
    if n_new:
        reorders = (
            Reorders.concat(new)
            .frame()
            .hstack([pl.Series("fc", np.concatenate(new_fc)), pl.Series("order", np.concatenate(new_no))])
        )
        fcs, nos = reorders["fc"].to_numpy(), reorders["lot"].to_numpy()
        order = np.lexsort((nos, fcs, reorders["purchase_date"].cast(pl.Int32).to_numpy()))
        bought_at = (pl.col("purchase_date").cast(pl.Datetime("us")) + pl.lit(PURCHASE_TIME)).dt.replace_time_zone(
            "UTC"
        )
        bought = reorders[order].with_columns_seq(
            created_at=bought_at,
            batch_number=pl.format(
                "LOT-{}-{}-{}",
                pl.col("purchase_date").dt.strftime("%Y%m"),
                pl.col("fc").cast(pl.String).str.zfill(3),
                pl.col("order").cast(pl.String).str.zfill(3),
            ),
            expiry_date=pl.col("purchase_date") + pl.duration(days=SHELF_LIFE_DAYS),
            notes=pl.lit("Reorder"),
            feed_id=pl.col("feed").cast(pl.Int64) + 1,
            updated_at=bought_at,
        )
        purchase_id = ids.assign("inventory_feedpurchase", bought)
        with_history(out, "inventory_feedpurchase", bought.hstack([purchase_id.alias("id")]), MANAGER_ID, ids)
        purchase_of = np.empty(n_new, np.int64)
        purchase_of[order] = purchase_id.to_numpy()
        order = np.lexsort((nos, fcs, epoch_us(reorders["entry_time"])))
        delivered = reorders[order].select_seq(
            "quantity_kg",
            entry_date="entry_time",
            created_at="entry_time",
            updated_at="entry_time",
            feed_container_id="fc",
            feed_purchase_id=pl.lit(pl.Series(purchase_of[order])),
        )
        stock_id = ids.assign(STOCK, delivered)
        created = T.conform(STOCK, delivered.hstack([stock_id.alias("id")]))
        new_id = np.empty(n_new, np.int64)
        new_id[order] = stock_id.to_numpy()

    # every lot's changes: '+' at its delivery, '~' after each FIFO draw (the lot as it is then);
    # numbered here, made into history rows (``stock_history``) when written, window by window
    every_lot = pl.concat([T.conform(STOCK, lots), created])
    drawn = Draws.concat(draws)
    lot_of = np.concatenate(draw_lot)
    reordered = lot_of < 0
    lot_of[reordered] = new_id[-1 - lot_of[reordered]]
    changes = pl.concat(
        [
            created.select_seq(
                "id",
                history_date="created_at",
                history_type=pl.lit("+"),
                quantity_kg="quantity_kg",
                updated_at="created_at",
                history_change_reason=pl.lit(None, dtype=pl.String),
            ),
            drawn.frame()
            .hstack([pl.Series("id", lot_of)])
            .select_seq(
                "id",
                history_date="time",
                history_type=pl.lit("~"),
                quantity_kg=column_value(T.table(STOCK).column("quantity_kg"), pl.col("remaining_kg")),
                updated_at="time",
                # an expired lot's write-off (inventory.SHELF_LIFE_DAYS) says so
                history_change_reason=pl.when(pl.col("event_id") < 0).then(pl.lit(WRITTEN_OFF)).otherwise(None),
            ),
        ]
    )
    changes = order_history(changes)
    changes = changes.hstack([ids.assign(STOCK_HISTORY, changes).alias("history_id")])
    out[STOCK] = every_lot  # final quantities come from the history (batches.cut)
    lap(STOCK, lot_history.height + changes.height)

    # --- the feeding events they supplied, with their FIFO cost ---
    cost = pl.DataFrame(
        {
            "id": pl.Series(np.concatenate([p.meals.event_id for p in plans] or [np.zeros(0, np.int64)])),
            "feed_cost": feed_cost(np.concatenate([p.cost for p in plans] or [np.zeros(0, np.int64)])),
            "time": datetimes(np.concatenate([p.meals.time for p in plans] or [np.zeros(0, np.int64)])),
        }
    )
    if not costed_feedings:  # the costs and the lots' changes (``window`` makes the big tables from them)
        out[STOCK_HISTORY] = lot_history
        out[FEED_COSTS] = cost
        out[FEED_CHANGES] = changes
        return out
    whole = window(sort_unique(feedings, "created_at", "id"), cost, changes, every_lot, ids.profile)
    whole[STOCK_HISTORY] = pl.concat([lot_history, whole[STOCK_HISTORY]])
    lap(FEEDINGS, whole[FEEDINGS].height)
    return out | whole


def _meals(feedings: pl.DataFrame) -> tuple[Meals, np.ndarray]:
    """The feeding events as the meals of their feed containers, by (container, time, id), and each
    one's container."""
    if not feedings.height:  # (the frame may hold no column but container_id)
        return Meals(*(np.zeros(0, np.int64),) * 4), np.zeros(0, np.int64)
    meals = feedings.select_seq(
        fc=feed_container_of(pl.col("container_id")),
        event_id="id",
        time="created_at",
        feed=pl.col("feed_id") - 1,
        amount_kg="amount_kg",
    )
    fc = meals["fc"].to_numpy()
    of = Meals.of(meals)
    order = np.lexsort((of.event_id, of.time, fc))
    return of.take(order), fc[order]


FIFO_COLUMNS = ("id", "created_at", "container_id", "feed_id", "amount_kg")  # what build reads of the feedings


def window(
    feedings: pl.DataFrame, costs: pl.DataFrame, changes: pl.DataFrame, lots: pl.DataFrame, profile: str
) -> dict[str, pl.DataFrame]:
    """A feed site's per-event tables over one time window (or the whole horizon): the feeding
    events (sorted by created_at and id) with their FIFO ``costs`` and '+' history rows, and the
    lots' history rows from their numbered ``changes`` (``build``) and ``lots`` (every lot of the
    site). Memory holds one window's rows, not the site's history."""
    return costed(feedings, costs, profile) | {STOCK_HISTORY: stock_history(changes, lots, profile)}


def _rows_of(key: pl.Series, wanted: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """For each ``wanted`` value, a row of ``key`` holding it (or any row) and whether there is one: a
    left join's match on unique keys, by bisection (a join query costs several times as much)."""
    k, w = key.to_numpy(), wanted.to_numpy()
    if not len(k):
        return np.zeros(len(w), np.int64), np.zeros(len(w), bool)
    o = np.argsort(k, kind="stable")
    at = o[np.minimum(np.searchsorted(k, w, sorter=o), len(k) - 1)]
    return at, k[at] == w


def stock_history(changes: pl.DataFrame, lots: pl.DataFrame, profile: str) -> pl.DataFrame:
    """The lots' history rows for their numbered ``changes``: each the lot's row (from ``lots``)
    with the change's quantity and time."""
    T = Bound(profile)
    h = T.table(STOCK_HISTORY)
    at, found = _rows_of(lots["id"], changes["id"])
    assert found.all(), "every change is of a lot of the site"
    rows = changes.hstack(lots.drop("id", "quantity_kg", "updated_at")[at].get_columns())
    return T.conform(
        STOCK_HISTORY,
        rows.select_seq(
            pl.lit(OPERATOR_ID, dtype=pl.Int32).alias(c) if c == "history_user_id" else c for c in h.column_names
        ),
    )


def costed(feedings: pl.DataFrame, cost: pl.DataFrame, profile: str) -> dict[str, pl.DataFrame]:
    """The feeding events (as the batches wrote them, sorted by created_at and id) with their FIFO
    cost, and their '+' history rows."""
    T = Bound(profile)
    table = T.table(FEEDINGS)
    # the rows are conformed already (by their batch): only the cost is new (NULL where none is known)
    at, found = _rows_of(cost["id"], feedings["id"])
    fed = cost["feed_cost"].to_numpy()[at] if cost.height else np.zeros(len(at))
    feed_cost = pl.lit(pl.Series(np.where(found, fed, np.nan), nan_to_null=True))
    out = {
        FEEDINGS: feedings.select_seq(
            feed_cost.round(2).cast(table.column(c).polars_type).alias(c) if c == "feed_cost" else c
            for c in table.column_names
        )
    }
    assert table.history_table is not None  # feeding events keep history
    out[table.history_table] = T.history(FEEDINGS, out[FEEDINGS], "created_at", "+", OPERATOR_ID).with_columns_seq(
        history_id=feedings["history_id"]
    )
    return out
