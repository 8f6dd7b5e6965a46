"""Feed inventory of one feed container (a hall silo or a sea barge): reorders and exact FIFO costing.

DESIGN.md "Feed inventory": consumption is FIFO per (feed container, feed), oldest lot first; a
reorder (purchase + stock lot, delivered before it is needed, capacity respected, price drifting
slowly by feed) keeps stock from ever going negative, and lots persist between successive batches.
Everything here is pure: it sees the container's full-horizon consumption (all batches) and
returns frames; the caller cuts rows after its as-of date, so nothing depends on that date. A lot
delivered at time T depends only on the consumption before T + COVER_DAYS, so appending a later
batch's feedings leaves earlier lots unchanged.

Exactness: amounts are integers in 0.0001 kg (the feeding event's scale), prices in cents, costs in
0.0001 kg x cent, so FIFO is exact integer arithmetic and rounds to cents only once per event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..errors import AquagenError
from .domain import FEEDS, SUPPLIERS
from .seeds import LEAD_TIME_STREAM, PRICE_STREAM, rng_for

KG = 10_000  # units of 0.0001 kg per kg
COST_PER_CENT = 10_000  # cost units (0.0001 kg x cent/kg) per cent
US_PER_DAY = 86_400_000_000
# Reorder policy (per feed in the container). Reorder point: stock after a meal below
# max(min(10 % of capacity, the next 7 days' need), the next 24 h's need) -- never more than the
# coming week needs, so nothing is ordered once the future is covered or during a long gap.
SAFETY_FRACTION = 0.10
SAFETY_DAYS = 7
# Order up to the next 30 days' need + 5 % (less the stock at delivery), in whole 500 kg, at least
# 1,000 kg: leftovers at a feed switch stay small. At most the free capacity at delivery, less the
# room the container's other feeds need for their next 7 days (two feeds overlap during a switch);
# if even the meal waiting for the lot does not fit, the delivery waits until that meal.
COVER_DAYS = 30
MARGIN_DIV = 20  # +1/20 = 5 %
LOT_STEP = 500 * KG
MIN_LOT = 1_000 * KG
DELIVERY_HOUR = 6  # UTC, on the trigger meal's day (earlier if a meal before 06:00 needs the lot)
LEAD_DAYS = (3, 7)  # purchase_date = delivery date - 3..7 days
# Price: base price x (1 + 4 % sin(2 pi days / 730 + phase(seed, feed))) x (1 +- 1 % per order)
PRICE_DRIFT, PRICE_PERIOD_DAYS, PRICE_NOISE = 0.04, 730, 0.01  # base prices sit so that this stays in 1.80-2.80
PRICE_MIN_CENTS, PRICE_MAX_CENTS = 180, 280


# A lot still holding feed at the end of its shelf life is written off (a '~' row to 0 kg) at noon
# UTC on its expiry date, so FIFO never draws an expired lot: extruded salmon feed keeps about a
# year (the initial stock of a site first used more than a year after set-up is the usual case).
SHELF_LIFE_DAYS = 365
WRITE_OFF_HOUR = 12
MAX_WRITE_OFF_ROUNDS = 100  # a container writes off a few lots in its life


def expiry_instant(purchase_day: np.ndarray) -> np.ndarray:
    """When a lot bought on ``purchase_day`` (days since 1970) is written off, in µs since 1970."""
    return (np.asarray(purchase_day, np.int64) + SHELF_LIFE_DAYS) * US_PER_DAY + WRITE_OFF_HOUR * 3_600_000_000


@dataclass(frozen=True)
class Inventory:
    """One feed container's full-horizon inventory (see plan_inventory for the columns)."""

    lots: pl.DataFrame
    costs: pl.DataFrame
    draws: pl.DataFrame


def _lot_units(quantity_kg: pl.Series) -> np.ndarray:
    """Lot quantities (kg, numeric(10,2)) in 0.0001 kg units, exact."""
    return np.rint(quantity_kg.to_numpy() * 100).astype(np.int64) * (KG // 100)


def _us(s: pl.Series) -> np.ndarray:
    return s.dt.epoch("us").to_numpy().astype(np.int64)


def _ts(us: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(us, np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _when(us) -> str:
    return f"{dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us)):%Y-%m-%d %H:%M} UTC"


def _ceil(x, step):
    return -(-x // step) * step


def price_per_kg(feed: int, day: dt.date | np.datetime64 | np.ndarray, seed: int):
    """The feed's price drift in EUR/kg on ``day`` (a date, or an array of datetime64[D]): its base
    price +-4 % over a two-year cycle, phase drawn from (seed, feed) so feeds drift independently.
    Orders add +-1 % noise and clip to [1.80, 2.80]."""
    phase = 2 * np.pi * rng_for(seed, PRICE_STREAM, feed).random()
    days = np.asarray(day, dtype="datetime64[D]").astype(np.int64)
    p = FEEDS[feed].base_price * (1 + PRICE_DRIFT * np.sin(2 * np.pi * days / PRICE_PERIOD_DAYS + phase))
    return float(p) if np.ndim(p) == 0 else p


def fifo(consumption: pl.DataFrame, lots: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cost every feeding event FIFO from ``lots``: (costs, draws) as in Inventory.

    Per feed, lots in (entry_time, lot) order lay the feed end to end: lot j holds the units
    [S_j, B_j) of the cumulative stock. The cost of the first x units, K(x), is piecewise linear
    over those boundaries, so an event consuming (C_{i-1}, C_i] costs K(C_i) - K(C_{i-1}) and draws
    from exactly the lots overlapping that interval: searchsorted finds them, np.repeat expands one
    row per (event, lot). Raises AquagenError if a feed is consumed beyond its lots or a lot is
    drawn before its entry_time (the preconditions the caller's reorders must meet).
    """
    n = consumption.height
    amount_f = consumption["amount_kg"].to_numpy()
    amount = np.rint(amount_f * KG).astype(np.int64)
    if n and (amount.min() <= 0 or np.abs(amount_f * KG - amount).max() > 1e-3):
        raise AquagenError("feeding amounts must be > 0 kg with at most 4 decimals")
    t, feed = _us(consumption["time"]), consumption["feed"].to_numpy()
    lot_id, lot_feed = lots["lot"].to_numpy(), lots["feed"].to_numpy()
    q = _lot_units(lots["quantity_kg"])
    p = np.rint(lots["cost_per_kg"].to_numpy() * 100).astype(np.int64)
    entry = _us(lots["entry_time"])
    cost = np.zeros(n, np.int64)
    parts = [(np.zeros(0, np.int64),) * 4]  # (row, lot, drawn, remaining)
    for f in np.unique(feed):  # at most 6 feeds
        rows = np.flatnonzero(feed == f)
        sel = np.flatnonzero(lot_feed == f)
        sel = sel[np.lexsort((lot_id[sel], entry[sel]))]  # FIFO order
        a = amount[rows]
        C = np.cumsum(a)
        Cp = C - a
        qs, ps = q[sel], p[sel]
        B = np.cumsum(qs)
        S = B - qs
        if not len(sel) or C[-1] > B[-1]:
            short = (C[-1] - (B[-1] if len(sel) else 0)) / KG
            raise AquagenError(f"{FEEDS[f].name}: consumption exceeds its stock lots by {short:,.4f} kg")
        KB = np.cumsum(qs * ps)

        def K(x):  # cost of the first x units: K(B_j) - (B_j - x) p_j on lot j = first with B_j >= x
            j = np.minimum(np.searchsorted(B, x, "left"), len(B) - 1)
            return KB[j] - (B[j] - x) * ps[j]

        cost[rows] = K(C) - K(Cp)
        lo = np.searchsorted(B, Cp, "right")  # first lot ending after C_{i-1}
        cnt = np.searchsorted(S, C, "left") - lo  # through the last lot starting before C_i
        r = np.repeat(np.arange(len(rows)), cnt)
        j = lo[r] + np.arange(len(r)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        end = np.minimum(C[r], B[j])
        drawn = end - np.maximum(Cp[r], S[j])
        keep = drawn > 0  # zero-quantity lots
        r, j, end, drawn = r[keep], j[keep], end[keep], drawn[keep]
        late = np.flatnonzero(entry[sel][j] > t[rows][r])
        if len(late):
            k = late[0]
            raise AquagenError(
                f"lot {lot_id[sel][j[k]]} ({FEEDS[f].name}) is drawn at {_when(t[rows][r[k]])}, "
                f"before its entry at {_when(entry[sel][j[k]])}"
            )
        parts.append((rows[r], lot_id[sel][j].astype(np.int64), drawn, B[j] - end))
    row, lot, drawn, remaining = (np.concatenate(c) for c in zip(*parts))
    o = np.lexsort((lot, row))  # rows are in (time, event_id) order already
    row, lot, drawn, remaining = row[o], lot[o], drawn[o], remaining[o]
    event_id = consumption["event_id"]
    costs = pl.DataFrame(
        {
            "event_id": event_id,
            "feed_cost": (cost + COST_PER_CENT // 2) // COST_PER_CENT / 100,  # ROUND_HALF_UP (cost >= 0)
        }
    )
    draws = pl.DataFrame(
        {
            "event_id": event_id.gather(row),
            "time": consumption["time"].gather(row),
            "lot": pl.Series(lot, dtype=pl.Int32),
            "drawn_kg": drawn / KG,
            "remaining_kg": (remaining + 50) // 100 / 100,  # numeric(10,2), ROUND_HALF_UP
        }
    )
    return costs, draws


def plan_inventory(
    consumption: pl.DataFrame, initial: pl.DataFrame, capacity_kg: float, feed_container_id: int, seed: int
) -> Inventory:
    """Reorders and FIFO costing for one feed container over its full horizon.

    consumption: event_id, time (UTC), feed (0..5), amount_kg, sorted by (time, event_id).
    initial: feed, quantity_kg, cost_per_kg, entry_time -- the container's initial lots; with a
      ``purchase_day`` column (days since 1970) lots have a shelf life: what an initial lot still
      holds at its expiry (``expiry_instant``) is written off, and so is any lot a meal would draw
      after its expiry: FIFO never draws an expired lot.
    Returns Inventory(lots, costs, draws):
      lots: lot (0-based: initial lots first, then reorders by entry_time), feed, quantity_kg,
        cost_per_kg, entry_time, purchase_date and supplier (null for initial lots), initial;
      costs: event_id, feed_cost -- one row per consumption row, same order;
      draws: event_id, time, lot, drawn_kg, remaining_kg (the lot's stock after the event), one row
        per (event, lot) drawn from, ordered by (time, event_id, lot); a write-off has event_id
        -1 - lot and leaves the lot at 0 kg.
    Reorders (see the policy constants) are planned greedily in delivery order; each lot covers at
    least the meal that first draws from it, so FIFO never drives a lot below 0 (fifo re-checks it).
    Raises AquagenError when the capacity cannot hold the stock a meal needs.
    """
    if np.any(np.diff(_us(consumption["time"])) < 0):
        raise AquagenError(f"feed container {feed_container_id}: consumption is not sorted by time")
    if "purchase_day" not in initial.columns:
        inv = _plan(consumption, initial, capacity_kg, feed_container_id, seed)
        return Inventory(inv.lots, inv.costs.filter(pl.col("event_id") >= 0), inv.draws)
    # shelf life: write off what a lot still holds at its expiry, the earliest first, then plan again
    # from there (lots delivered before it stay as they were; a write-off never triggers a reorder).
    # Write-offs more than COVER_DAYS after the last meal change no order (none looks that far
    # ahead): they are added as they are, without planning again (the leftovers of every container
    # at the end of the horizon, an idle container's initial lots).
    initial_days = initial["purchase_day"].to_numpy()
    t = _us(consumption["time"])
    if not len(t):  # an idle container
        draws = idle_write_offs(initial.select("quantity_kg", "purchase_day", lot=pl.int_range(pl.len())))
        no_costs = pl.DataFrame(schema={"event_id": pl.Int64, "feed_cost": pl.Float64})
        return Inventory(_initial_lots(initial), no_costs, draws.sort("time", "event_id", maintain_order=True))
    consumption = _with_write_offs(consumption, initial)
    initial = initial.drop("purchase_day")
    quiet = int(t.max()) + COVER_DAYS * US_PER_DAY
    for _ in range(MAX_WRITE_OFF_ROUNDS):
        inv = _plan(consumption, initial, capacity_kg, feed_container_id, seed)
        held, expires = _held_at_expiry(inv, initial_days)
        left = np.flatnonzero(held > 0)
        if len(left) and expires[left].min() <= quiet:
            k = left[np.argmin(expires[left])]
            consumption = _write_off(consumption, inv.lots, int(k), int(expires[k]))
            continue
        tail = write_offs(left, expires[left], held[left]).cast(inv.draws.schema)
        draws = pl.concat([inv.draws, tail]).sort("time", "event_id", "lot", maintain_order=True)
        return Inventory(inv.lots, inv.costs.filter(pl.col("event_id") >= 0), draws)
    raise AquagenError(
        f"feed container {feed_container_id}: lots keep expiring after {MAX_WRITE_OFF_ROUNDS} write-offs"
    )


def write_offs(lot: np.ndarray, expires: np.ndarray, held: np.ndarray) -> pl.DataFrame:
    """Inventory.draws rows, in the order given, that write off what each ``lot`` holds (``held``,
    0.0001 kg) at its ``expires`` instant (µs): event_id -1 - lot, the lot left at 0 kg."""
    lot = np.asarray(lot, np.int64)
    return pl.DataFrame(
        {
            "event_id": pl.Series(-1 - lot, dtype=pl.Int64),
            "time": _ts(expires),
            "lot": pl.Series(lot, dtype=pl.Int32),
            "drawn_kg": np.asarray(held) / KG,
            "remaining_kg": np.zeros(len(lot)),
        }
    )


def idle_write_offs(lots: pl.DataFrame) -> pl.DataFrame:
    """The draws of containers without a meal (so without a reorder: most in a small fleet): each of
    their initial lots written off whole at its expiry. ``lots``: lot (its number in its container),
    quantity_kg, purchase_day (days since 1970) and any other columns, kept beside its draw."""
    held = _lot_units(lots["quantity_kg"].cast(pl.Float64))
    off = write_offs(lots["lot"].to_numpy(), expiry_instant(lots["purchase_day"].to_numpy()), held)
    keys = lots.drop("lot", "quantity_kg", "purchase_day")
    return pl.concat([off, keys], how="horizontal").filter(pl.col("drawn_kg") > 0)


def _held_at_expiry(inv: Inventory, initial_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per lot: what it still holds at its expiry (drawn after it, or never emptied), in 0.0001 kg,
    and that expiry instant (µs)."""
    days = inv.lots["purchase_date"].cast(pl.Int64).to_numpy(allow_copy=True).astype(np.float64)
    days = np.where(np.isnan(days), np.r_[initial_days, np.zeros(len(days) - len(initial_days))], days)
    expires = expiry_instant(days.astype(np.int64))
    lot = inv.draws["lot"].to_numpy().astype(np.int64)
    drawn = np.rint(inv.draws["drawn_kg"].to_numpy() * KG).astype(np.int64)
    before = _us(inv.draws["time"]) <= expires[lot]  # a write-off at the expiry instant itself is in
    held = _lot_units(inv.lots["quantity_kg"])
    return held - np.bincount(lot[before], drawn[before], minlength=inv.lots.height).astype(np.int64), expires


def _write_off(consumption: pl.DataFrame, lots: pl.DataFrame, lot: int, at: int) -> pl.DataFrame:
    """``consumption`` plus the write-off at ``at`` of what lot ``lot`` (and any older lot of its
    feed) still holds then."""
    f = int(lots["feed"][lot])
    mine = lots.with_row_index("i").filter(pl.col("feed") == f).sort("entry_time", "lot")
    units = _lot_units(mine["quantity_kg"])
    upto = int(units[: int(np.flatnonzero(mine["lot"].to_numpy() == lot)[0]) + 1].sum())
    t, feed = _us(consumption["time"]), consumption["feed"].to_numpy()
    used = int(np.rint(consumption["amount_kg"].to_numpy()[(feed == f) & (t < at)] * KG).astype(np.int64).sum())
    left = upto - used
    assert left > 0, "an expired draw implies stock left at the expiry"
    extra = pl.DataFrame(
        {
            "event_id": pl.Series([-1 - lot], dtype=consumption["event_id"].dtype),
            "time": _ts(np.array([at])).cast(consumption["time"].dtype),
            "feed": pl.Series([f], dtype=consumption["feed"].dtype),
            "amount_kg": [left / KG],
        }
    )
    return pl.concat([consumption, extra.select(consumption.columns)]).sort("time", "event_id")


def _plan(
    consumption: pl.DataFrame, initial: pl.DataFrame, capacity_kg: float, feed_container_id: int, seed: int
) -> Inventory:
    """plan_inventory for a given consumption (write-offs included): costs of every event."""
    t, feed = _us(consumption["time"]), consumption["feed"].to_numpy()
    amount = np.rint(consumption["amount_kg"].to_numpy() * KG).astype(np.int64)
    cap = int(round(capacity_kg * KG))
    consumed_before = np.concatenate(([0], np.cumsum(amount)))  # all feeds, before event k
    n0 = initial.height
    lot_feed = [int(f) for f in initial["feed"]]
    lot_q = [int(x) for x in _lot_units(initial["quantity_kg"])]
    lot_entry = [int(x) for x in _us(initial["entry_time"])]
    curves, delivered = {}, {}
    for f in np.unique(feed):
        rows = np.flatnonzero(feed == f)
        tf, C = t[rows], np.cumsum(amount[rows])
        Cz = np.concatenate(([0], C))  # consumed through events 0..k-1

        def ahead(days):  # need of the events after i up to t_i + days
            return Cz[np.searchsorted(tf, tf + days * US_PER_DAY, "right")] - C

        R = np.maximum(np.minimum(int(SAFETY_FRACTION * cap), ahead(SAFETY_DAYS)), ahead(1))
        # trigger: first i with C_i + R_i > Q; its running max makes that a searchsorted
        curves[int(f)] = (tf, C, Cz, np.maximum.accumulate(C + R))
        delivered[int(f)] = sum(x for g, x in zip(lot_feed, lot_q) if g == f)

    def candidate(f):  # (preferred delivery, deadline = first meal the next lot must serve, f)
        tf, C, _, M = curves[f]
        j = np.searchsorted(C, delivered[f], "right")
        if j == len(C):
            return None  # future consumption covered: orders stop
        i = np.searchsorted(M, delivered[f], "right")  # i <= j since R >= 0
        pref = tf[i] // US_PER_DAY * US_PER_DAY + DELIVERY_HOUR * 3_600_000_000
        return (int(tf[j]) if f in deferred else min(int(pref), int(tf[j])), int(tf[j]), f)

    def outlook(g, e, days):  # (feed g's need over the next `days` from e, its stock at e)
        tg, _, Czg, _ = curves[g]
        here = Czg[np.searchsorted(tg, e, "left")]
        stock = sum(x for h, x, y in zip(lot_feed, lot_q, lot_entry) if h == g and y <= e) - here
        return int(Czg[np.searchsorted(tg, e + days * US_PER_DAY, "left")] - here), int(stock)

    # A Python loop over reorders (a few dozen per container), not events: each order depends on the
    # stock the previous ones left. Picking the earliest candidate keeps deliveries in time order,
    # so the stock at each delivery is known from the lots already planned.
    deferred: set[int] = set()
    prev = max(lot_entry, default=np.iinfo(np.int64).min // 2)
    new = []  # (entry, deadline, feed, units)
    while cands := [c for f in curves if (c := candidate(f))]:
        e, deadline, f = min(cands)
        e = max(e, prev + 1)  # strictly after the previous lot (may pass deadline only on exact ties)
        C = curves[f][1]
        stock_all = sum(x for x, y in zip(lot_q, lot_entry) if y <= e) - consumed_before[np.searchsorted(t, e, "left")]
        free = int(cap - stock_all) // LOT_STEP * LOT_STEP  # Python ints: products below exceed int64
        need, stock = outlook(f, e, COVER_DAYS)
        target = max(MIN_LOT, _ceil(need + need // MARGIN_DIV - stock, LOT_STEP))
        # keep room for the other feeds' next week (a feed switch), but always serve the meal
        # waiting for this lot
        reserve = sum(_ceil(max(0, n - s), LOT_STEP) for n, s in (outlook(g, e, SAFETY_DAYS) for g in curves if g != f))
        required = _ceil(int(C[np.searchsorted(C, delivered[f], "right")] - delivered[f]), LOT_STEP)
        size = min(max(min(target, free - reserve), required, MIN_LOT), free)
        if size < required:
            if f not in deferred and e < deadline:
                deferred.add(f)  # no room yet: retry just in time, when the stock is lowest
                continue
            raise AquagenError(
                f"feed container {feed_container_id}: capacity {capacity_kg:,.0f} kg cannot hold "
                f"the {FEEDS[f].name} needed at {_when(deadline)}"
            )
        deferred.discard(f)
        delivered[f] += size
        lot_feed.append(f)
        lot_q.append(int(size))
        lot_entry.append(int(e))
        new.append((e, deadline, f, size))
        prev = e

    k = len(new)
    ent, dl, nf, nq = (np.array([x[c] for x in new], np.int64) for c in range(4))
    if k:  # keep entries <= deadline and strictly increasing (moves only exact-instant ties, by µs)
        ent = np.minimum.accumulate((np.minimum(ent, dl) - np.arange(k))[::-1])[::-1] + np.arange(k)
    u = rng_for(seed, LEAD_TIME_STREAM, feed_container_id).random((k, 2))
    day = ent // US_PER_DAY - (LEAD_DAYS[0] + np.floor(u[:, 0] * (LEAD_DAYS[1] - LEAD_DAYS[0] + 1)).astype(np.int64))
    drift = np.array([price_per_kg(int(f), np.datetime64(int(d), "D"), seed) for f, d in zip(nf, day)])
    cents = np.floor(drift * (1 + PRICE_NOISE * (2 * u[:, 1] - 1)) * 100 + 0.5)  # ROUND_HALF_UP
    cents = np.clip(cents, PRICE_MIN_CENTS, PRICE_MAX_CENTS)
    lots = pl.concat(
        [
            _initial_lots(initial),
            pl.DataFrame(
                {
                    "lot": pl.Series(n0 + np.arange(k), dtype=pl.Int32),
                    "feed": pl.Series(nf, dtype=pl.Int16),
                    "quantity_kg": nq // (KG // 100) / 100,
                    "cost_per_kg": cents / 100,
                    "entry_time": _ts(ent),
                    "purchase_date": pl.Series(day.astype(np.int32)).cast(pl.Date),
                    "supplier": pl.Series(
                        [SUPPLIERS[(feed_container_id + i) % len(SUPPLIERS)] for i in range(k)], dtype=pl.String
                    ),
                    "initial": pl.Series([False] * k, dtype=pl.Boolean),
                }
            ),
        ]
    )
    costs, draws = fifo(consumption, lots)  # raises if any lot went negative or was drawn before entry
    # capacity at every delivery (stock only grows at deliveries), recomputed from the final entries
    e_all = _us(lots["entry_time"])
    o = np.argsort(e_all, kind="stable")
    by = np.cumsum(np.array(lot_q, np.int64)[o])[np.searchsorted(e_all[o], e_all, "right") - 1]
    over = np.flatnonzero(by - consumed_before[np.searchsorted(t, e_all, "left")] > cap)
    if len(over):
        raise AquagenError(
            f"feed container {feed_container_id}: stock exceeds the capacity "
            f"{capacity_kg:,.0f} kg at {_when(e_all[over[0]])}"
        )
    assert not k or (np.all(np.diff(ent) > 0) and ent[0] > max(lot_entry[:n0], default=ent[0] - 1))
    return Inventory(lots, costs, draws)


def _initial_lots(initial: pl.DataFrame) -> pl.DataFrame:
    """The container's initial lots as Inventory.lots rows (lot 0, 1, ...)."""
    n0 = initial.height
    return pl.DataFrame(
        {
            "lot": pl.Series(np.arange(n0), dtype=pl.Int32),
            "feed": initial["feed"].cast(pl.Int16),
            "quantity_kg": initial["quantity_kg"].round(2),
            "cost_per_kg": initial["cost_per_kg"].round(2),
            "entry_time": initial["entry_time"].cast(pl.Datetime("us", "UTC")),
            "purchase_date": pl.Series([None] * n0, dtype=pl.Date),
            "supplier": pl.Series([None] * n0, dtype=pl.String),
            "initial": pl.Series([True] * n0, dtype=pl.Boolean),
        }
    )


def _with_write_offs(consumption: pl.DataFrame, initial: pl.DataFrame) -> pl.DataFrame:
    """``consumption`` plus a write-off event for each initial lot (a feed's first) that still holds
    feed at its expiry: all that the meals before it left. The first write-offs of plan_inventory's
    rule, found at once (no lot expires before a container's initial ones): one plan, not one per lot."""
    t, feed = _us(consumption["time"]), consumption["feed"].to_numpy()
    amount = np.rint(consumption["amount_kg"].to_numpy() * KG).astype(np.int64)
    expires = expiry_instant(initial["purchase_day"].to_numpy())
    q = _lot_units(initial["quantity_kg"])
    lot_feed = initial["feed"].to_numpy()
    rows = []
    for lot in range(initial.height):
        f = lot_feed[lot]
        if lot != int(np.flatnonzero(lot_feed == f)[0]):
            continue  # a later lot of the same feed: not written off here
        left = q[lot] - amount[(feed == f) & (t < expires[lot])].sum()
        if left > 0:
            rows.append((-1 - lot, int(expires[lot]), int(f), int(left)))
    if not rows:
        return consumption
    ev, when, f, kg = (np.array([r[c] for r in rows], np.int64) for c in range(4))
    extra = pl.DataFrame(
        {
            "event_id": pl.Series(ev, dtype=consumption["event_id"].dtype),
            "time": _ts(when).cast(consumption["time"].dtype),
            "feed": pl.Series(f, dtype=consumption["feed"].dtype),
            "amount_kg": kg / KG,
        }
    )
    return pl.concat([consumption, extra.select(consumption.columns)]).sort("time", "event_id")
