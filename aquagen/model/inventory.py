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
from dataclasses import dataclass, fields
from functools import cache
from typing import TypeVar

import numpy as np
import polars as pl

from ..errors import AquagenError
from .arrays import increasing
from .domain import FEEDS, SUPPLIERS
from .events import datetimes
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


def epoch_us(s: pl.Series) -> np.ndarray:
    """µs since 1970 of a temporal column: for µs timestamps without NULLs a cast, not a query."""
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_unit == "us" and not s.null_count():
        return s.cast(pl.Int64).to_numpy().astype(np.int64, copy=False)
    return s.dt.epoch("us").to_numpy().astype(np.int64)


def _when(us) -> str:
    return f"{dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us)):%Y-%m-%d %H:%M} UTC"


def _ceil(x, step):
    return -(-x // step) * step


def _lot_units(quantity_kg: np.ndarray) -> np.ndarray:
    """Lot quantities (kg, numeric(10,2)) in 0.0001 kg units, exact."""
    return np.rint(np.asarray(quantity_kg, np.float64) * 100).astype(np.int64) * (KG // 100)


def _amount_units(amount_kg: np.ndarray) -> np.ndarray:
    """Feeding amounts (kg, at most 4 decimals, > 0) in 0.0001 kg units, exact."""
    amount = np.rint(amount_kg * KG).astype(np.int64)
    if len(amount) and (amount.min() <= 0 or np.abs(amount_kg * KG - amount).max() > 1e-3):
        raise AquagenError("feeding amounts must be > 0 kg with at most 4 decimals")
    return amount


def feed_cost(cost: np.ndarray) -> np.ndarray:
    """Costs in 0.0001 kg x cent as EUR, rounded ROUND_HALF_UP to the cent once (cost >= 0)."""
    return (cost + COST_PER_CENT // 2) // COST_PER_CENT / 100


@cache
def _price_phase(seed: int, feed: int) -> float:
    return 2 * np.pi * rng_for(seed, PRICE_STREAM, feed).random()


def price_per_kg(feed: int, day: dt.date | np.datetime64 | np.ndarray, seed: int):
    """The feed's price drift in EUR/kg on ``day`` (a date, or an array of datetime64[D]): its base
    price +-4 % over a two-year cycle, phase drawn from (seed, feed) so feeds drift independently.
    Orders add +-1 % noise and clip to [1.80, 2.80]."""
    days = np.asarray(day, dtype="datetime64[D]").astype(np.int64)
    p = FEEDS[feed].base_price * (
        1 + PRICE_DRIFT * np.sin(2 * np.pi * days / PRICE_PERIOD_DAYS + _price_phase(seed, feed))
    )
    return float(p) if np.ndim(p) == 0 else p


Rows = TypeVar("Rows", "Meals", "Draws")  # a dataclass of arrays, one element per row


def _feeds(feed: np.ndarray) -> np.ndarray:
    """The feeds (0..5) in ``feed``, ascending (``np.unique`` by counting: a tenth of its cost)."""
    return np.flatnonzero(np.bincount(feed))


def _insert_at(keys: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]) -> np.ndarray:
    """Where (``np.insert``'s indices) a few new rows go among rows sorted by ``keys`` (lexicographic,
    most significant first), each after the rows equal to it; the new rows sorted by them too. A
    loop over the new rows (a container's few write-offs), each narrowed key by key by bisection."""
    at = []
    for row in zip(*new, strict=True):
        lo, hi = 0, len(keys[0])
        for key, v in zip(keys, row, strict=True):
            part = key[lo:hi]
            lo, hi = lo + int(np.searchsorted(part, v, "left")), lo + int(np.searchsorted(part, v, "right"))
        at.append(hi)
    return np.array(at, np.int64)


def _merged(rows: Rows, new: Rows, keys: tuple[str, ...]) -> Rows:
    """``rows`` (sorted by the fields ``keys``, lexicographic) and a few ``new`` ones of the same kind,
    all sorted by ``keys``, a new row after the old ones equal to it (a stable sort of both)."""
    order = np.lexsort(tuple(getattr(new, k) for k in reversed(keys)))
    at = _insert_at(tuple(getattr(rows, k) for k in keys), tuple(getattr(new, k)[order] for k in keys))
    return type(rows)(*(np.insert(a, at, b[order]) for a, b in zip(_columns(rows), _columns(new), strict=True)))


def _concat(kind, parts: list):
    """The rows of ``parts`` (dataclasses of arrays, each a ``kind``) one after the other, as a ``kind``."""
    return kind(*(np.concatenate(a) for a in zip(*(_columns(p) for p in parts), strict=True)))


def _columns(arrays) -> tuple[np.ndarray, ...]:
    """A dataclass's arrays, in field order (``dataclasses.astuple`` would copy them)."""
    return tuple(getattr(arrays, f.name) for f in fields(arrays))


# The plan works on arrays (a container's events and lots) and makes frames only at the end: a Polars
# query costs about 0.1 ms whatever its rows, tens of them per container were most of the FIFO's cost.


@dataclass(frozen=True)
class Meals:
    """Events drawing feed from one container, sorted by time: ids, times (µs since 1970), feeds
    (0..5) and amounts (0.0001 kg, > 0). A write-off is one too (event id -1 - lot)."""

    event_id: np.ndarray
    time: np.ndarray
    feed: np.ndarray
    amount: np.ndarray

    @staticmethod
    def of(consumption: pl.DataFrame) -> Meals:
        """A frame's events: event_id, time (UTC), feed, amount_kg (at most 4 decimals)."""
        return Meals(
            consumption["event_id"].to_numpy().astype(np.int64),
            epoch_us(consumption["time"]),
            consumption["feed"].to_numpy().astype(np.int64),
            _amount_units(consumption["amount_kg"].cast(pl.Float64).to_numpy()),
        )

    def take(self, rows: np.ndarray | slice) -> Meals:
        return Meals(self.event_id[rows], self.time[rows], self.feed[rows], self.amount[rows])

    def adding(self, event_id: list[int], time: list[int], feed: list[int], amount: list[int]) -> Meals:
        """These events (sorted by time and event id) and the given ones, sorted by (time, event id)."""
        new = Meals(*(np.array(a, np.int64) for a in (event_id, time, feed, amount)))
        return _merged(self, new, ("time", "event_id"))


@dataclass(frozen=True)
class Lots:
    """A container's lots: numbers, feeds, quantities (0.0001 kg), prices (cents/kg), entries (µs)."""

    lot: np.ndarray
    feed: np.ndarray
    units: np.ndarray
    cents: np.ndarray
    entry: np.ndarray

    @staticmethod
    def of(lots: pl.DataFrame) -> Lots:
        """A frame's lots: feed, quantity_kg, cost_per_kg, entry_time and lot (else numbered 0, 1, ...)."""
        return Lots(
            lots["lot"].to_numpy().astype(np.int64) if "lot" in lots.columns else np.arange(lots.height),
            lots["feed"].to_numpy().astype(np.int64),
            _lot_units(lots["quantity_kg"].cast(pl.Float64).to_numpy()),
            np.rint(lots["cost_per_kg"].cast(pl.Float64).to_numpy() * 100).astype(np.int64),
            epoch_us(lots["entry_time"]),
        )

    def part(self, rows: slice) -> Lots:
        """Some of these lots as a container's own lots: numbered 0, 1, ..."""
        feed = self.feed[rows]
        return Lots(np.arange(len(feed)), feed, self.units[rows], self.cents[rows], self.entry[rows])


@dataclass(frozen=True)
class Draws:
    """Draws from lots, one per (event, lot): the event (id, time in µs), the lot, what it drew and
    what the lot holds after it (0.0001 kg)."""

    event_id: np.ndarray
    time: np.ndarray
    lot: np.ndarray
    drawn: np.ndarray
    left: np.ndarray

    def take(self, rows: np.ndarray) -> Draws:
        return Draws(*(a[rows] for a in _columns(self)))

    @staticmethod
    def concat(parts: list[Draws]) -> Draws:
        return _concat(Draws, parts)

    def frame(self) -> pl.DataFrame:
        """Inventory.draws rows."""
        return pl.DataFrame(
            {
                "event_id": pl.Series(self.event_id, dtype=pl.Int64),
                "time": datetimes(self.time),
                "lot": pl.Series(self.lot, dtype=pl.Int32),
                "drawn_kg": self.drawn / KG,
                "remaining_kg": (self.left + 50) // 100 / 100,  # numeric(10,2), ROUND_HALF_UP
            }
        )


def write_offs(lot: np.ndarray, expires: np.ndarray, held: np.ndarray) -> Draws:
    """Draws, in the order given, that write off what each ``lot`` holds (``held``, 0.0001 kg) at its
    ``expires`` instant (µs): event_id -1 - lot, the lot left at 0 kg."""
    lot = np.asarray(lot, np.int64)
    return Draws(-1 - lot, np.asarray(expires, np.int64), lot, np.asarray(held, np.int64), np.zeros(len(lot), np.int64))


def idle_write_offs(lot: np.ndarray, units: np.ndarray, purchase_day: np.ndarray) -> Draws:
    """The draws of lots without a meal (those of containers without one: most in a small fleet): each
    ``lot`` (holding ``units``, bought on ``purchase_day``, days since 1970) written off whole at its
    expiry, in the order given."""
    draws = write_offs(lot, expiry_instant(purchase_day), units)
    return draws.take(np.flatnonzero(draws.drawn > 0))


@dataclass(frozen=True)
class Plan:
    """``plan``'s arrays: every lot (initial ones first, then reorders by entry: lot 0, 1, ...), the
    reorders' purchase days, the meals costed (in their order, write-offs excluded) with their FIFO
    cost (0.0001 kg x cent), and every draw ordered by (time, event id, lot)."""

    lots: Lots
    purchase_day: np.ndarray
    meals: Meals
    cost: np.ndarray
    draws: Draws

    def reorders(self, feed_container_id: int) -> Reorders:
        """The reorders (lots after the initial ones); suppliers take turns from the container's own."""
        n0, lots = len(self.lots.lot) - len(self.purchase_day), self.lots
        supplier = (feed_container_id + np.arange(len(self.purchase_day))) % len(SUPPLIERS)
        return Reorders(
            lots.lot[n0:],
            lots.feed[n0:],
            lots.units[n0:],
            lots.cents[n0:],
            lots.entry[n0:],
            self.purchase_day,
            supplier,
        )


@dataclass(frozen=True)
class Reorders:
    """Reordered lots: numbers, feeds, quantities (0.0001 kg), prices (cents/kg), entries (µs),
    purchase days (days since 1970) and suppliers (places in SUPPLIERS)."""

    lot: np.ndarray
    feed: np.ndarray
    units: np.ndarray
    cents: np.ndarray
    entry: np.ndarray
    purchase_day: np.ndarray
    supplier: np.ndarray

    @staticmethod
    def concat(parts: list[Reorders]) -> Reorders:
        return _concat(Reorders, parts)

    def frame(self) -> pl.DataFrame:
        """Inventory.lots rows."""
        return pl.DataFrame(
            {
                "lot": pl.Series(self.lot, dtype=pl.Int32),
                "feed": pl.Series(self.feed, dtype=pl.Int16),
                "quantity_kg": self.units // (KG // 100) / 100,
                "cost_per_kg": self.cents / 100,
                "entry_time": datetimes(self.entry),
                "purchase_date": pl.Series(self.purchase_day.astype(np.int32)).cast(pl.Date),
                "supplier": pl.Series([SUPPLIERS[i] for i in self.supplier], dtype=pl.String),
                "initial": pl.Series(np.zeros(len(self.lot), bool), dtype=pl.Boolean),
            }
        )


def fifo(consumption: pl.DataFrame, lots: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cost every feeding event FIFO from ``lots``: (costs, draws) as in Inventory (``_fifo``)."""
    meals = Meals.of(consumption)
    cost, draws = _fifo(meals, Lots.of(lots))
    return _costs(meals.event_id, cost), draws.frame()


def _costs(event_id: np.ndarray, cost: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"event_id": pl.Series(event_id, dtype=pl.Int64), "feed_cost": feed_cost(cost)})


def _fifo(meals: Meals, lots: Lots) -> tuple[np.ndarray, Draws]:
    """The FIFO cost of every event (0.0001 kg x cent) and its draws, ordered by (event, lot).

    Per feed, lots in (entry, lot) order lay the feed end to end: lot j holds the units [S_j, B_j)
    of the cumulative stock. The cost of the first x units, K(x), is piecewise linear over those
    boundaries, so an event consuming (C_{i-1}, C_i] costs K(C_i) - K(C_{i-1}) and draws from
    exactly the lots overlapping that interval: searchsorted finds them, np.repeat expands one row
    per (event, lot). Raises AquagenError if a feed is consumed beyond its lots or a lot is drawn
    before its entry (the preconditions the caller's reorders must meet).
    """
    t, feed, amount = meals.time, meals.feed, meals.amount
    lot_id, lot_feed, q, p, entry = lots.lot, lots.feed, lots.units, lots.cents, lots.entry
    cost = np.zeros(len(t), np.int64)
    parts = [(np.zeros(0, np.int64),) * 4]  # (row, lot, drawn, remaining)
    for f in _feeds(feed):  # at most 6 feeds
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

        # the cost of the first C_i units (K(0) = 0): an event costs K(C_i) - K(C_{i-1})
        j = np.minimum(np.searchsorted(B, C, "left"), len(B) - 1)  # lot j = first with B_j >= C_i
        cost[rows] = np.diff(KB[j] - (B[j] - C) * ps[j], prepend=0)
        lo = np.searchsorted(B, Cp, "right")  # first lot ending after C_{i-1}
        cnt = np.searchsorted(S, C, "left") - lo  # through the last lot starting before C_i
        r = np.repeat(np.arange(len(rows)), cnt)
        j = lo[r] + np.arange(len(r)) - (np.cumsum(cnt) - cnt)[r]
        end = np.minimum(C[r], B[j])
        drawn = end - np.maximum(Cp[r], S[j])
        keep = drawn > 0  # zero-quantity lots
        if not keep.all():
            r, j, end, drawn = r[keep], j[keep], end[keep], drawn[keep]
        tf, ef = t[rows], entry[sel]
        late = np.flatnonzero(ef[j] > tf[r])
        if len(late):
            k = late[0]
            raise AquagenError(
                f"lot {lot_id[sel][j[k]]} ({FEEDS[f].name}) is drawn at {_when(tf[r[k]])}, "
                f"before its entry at {_when(ef[j[k]])}"
            )
        parts.append((rows[r], lot_id[sel][j], drawn, B[j] - end))
    row, lot, drawn, remaining = (np.concatenate(c) for c in zip(*parts))
    # by (row, lot) as one key, the lot by its rank among the lots: each feed's rows are in order, and
    # a stable sort merges such runs at a fraction of a lexsort's cost
    o = np.argsort(row * len(lot_id) + np.searchsorted(np.sort(lot_id), lot), kind="stable")
    row = row[o]
    return cost, Draws(meals.event_id[row], t[row], lot[o], drawn[o], remaining[o])


def plan_inventory(
    consumption: pl.DataFrame, initial: pl.DataFrame, capacity_kg: float, feed_container_id: int, seed: int
) -> Inventory:
    """Reorders and FIFO costing for one feed container over its full horizon (``plan``, as frames).

    consumption: event_id, time (UTC), feed (0..5), amount_kg, sorted by (time, event_id) (else
      AquagenError).
    initial: feed, quantity_kg, cost_per_kg, entry_time -- the container's initial lots; with a
      ``purchase_day`` column (days since 1970) lots have a shelf life (see ``plan``).
    Returns Inventory(lots, costs, draws):
      lots: lot (0-based: initial lots first, then reorders by entry_time), feed, quantity_kg,
        cost_per_kg, entry_time, purchase_date and supplier (null for initial lots), initial;
      costs: event_id, feed_cost -- one row per consumption row, same order;
      draws: event_id, time, lot, drawn_kg, remaining_kg (the lot's stock after the event), one row
        per (event, lot) drawn from, ordered by (time, event_id, lot); a write-off has event_id
        -1 - lot and leaves the lot at 0 kg.
    """
    day = initial["purchase_day"].to_numpy().astype(np.int64) if "purchase_day" in initial.columns else None
    p = plan(Meals.of(consumption), Lots.of(initial), day, capacity_kg, feed_container_id, seed)
    lots = pl.concat([_initial_lots(initial), p.reorders(feed_container_id).frame()])
    return Inventory(lots, _costs(p.meals.event_id, p.cost), p.draws.frame())


def plan(
    meals: Meals,
    initial: Lots,
    purchase_day: np.ndarray | None,
    capacity_kg: float,
    feed_container_id: int,
    seed: int,
) -> Plan:
    """Reorders and FIFO costing for one feed container's ``meals`` over its full horizon.

    ``meals``: sorted by (time, event id). ``initial``: its initial lots (numbered 0, 1, ...); with
    their ``purchase_day`` (days since 1970) lots have a shelf life: what an initial lot still holds
    at its expiry (``expiry_instant``) is written off, and so is any lot a meal would draw after its
    expiry: FIFO never draws an expired lot.
    Reorders (see the policy constants) are planned greedily in delivery order; each lot covers at
    least the meal that first draws from it, so FIFO never drives a lot below 0 (``_fifo`` re-checks
    it). Raises AquagenError when the capacity cannot hold the stock a meal needs.
    """
    if len(meals.time) > 1 and not increasing([meals.time, meals.event_id]):  # (so are the draws: no sort below)
        raise AquagenError(f"feed container {feed_container_id}: consumption is not sorted by time and event id")
    if purchase_day is None:
        lots, day, cost, draws = _plan(meals, initial, capacity_kg, feed_container_id, seed)
        costed = np.flatnonzero(meals.event_id >= 0)
        return Plan(lots, day, meals.take(costed), cost[costed], draws)
    # shelf life: write off what a lot still holds at its expiry, the earliest first, then plan again
    # from there (lots delivered before it stay as they were; a write-off never triggers a reorder).
    # Write-offs more than COVER_DAYS after the last meal change no order (none looks that far
    # ahead): they are added as they are, without planning again (the leftovers of every container
    # at the end of the horizon, an idle container's initial lots).
    if not len(meals.time):  # an idle container
        draws = idle_write_offs(initial.lot, initial.units, purchase_day)
        none = np.zeros(0, np.int64)
        return Plan(initial, none, meals, none, draws.take(np.lexsort((draws.event_id, draws.time))))
    quiet = int(meals.time.max()) + COVER_DAYS * US_PER_DAY
    meals = _with_write_offs(meals, initial, purchase_day)
    # a loop over write-offs (a few in a container's life): each changes the plan after it
    for _ in range(MAX_WRITE_OFF_ROUNDS):
        lots, day, cost, draws = _plan(meals, initial, capacity_kg, feed_container_id, seed)
        held, expires = _held_at_expiry(lots, np.concatenate((purchase_day, day)), draws)
        left = np.flatnonzero(held > 0)
        if len(left) and expires[left].min() <= quiet:
            k = left[np.argmin(expires[left])]
            meals = _write_off(meals, lots, int(k), int(expires[k]))
            continue
        draws = _merged(draws, write_offs(left, expires[left], held[left]), ("time", "event_id", "lot"))
        costed = np.flatnonzero(meals.event_id >= 0)
        return Plan(lots, day, meals.take(costed), cost[costed], draws)
    raise AquagenError(
        f"feed container {feed_container_id}: lots keep expiring after {MAX_WRITE_OFF_ROUNDS} write-offs"
    )


def _held_at_expiry(lots: Lots, purchase_day: np.ndarray, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """Per lot (bought on ``purchase_day``): what it still holds at its expiry (drawn after it, or
    never emptied), in 0.0001 kg, and that expiry instant (µs)."""
    expires = expiry_instant(purchase_day)
    before = draws.time <= expires[draws.lot]  # a write-off at the expiry instant itself is in
    drawn = np.bincount(draws.lot[before], draws.drawn[before], minlength=len(lots.lot)).astype(np.int64)
    return lots.units - drawn, expires


def _write_off(meals: Meals, lots: Lots, lot: int, at: int) -> Meals:
    """``meals`` plus the write-off at ``at`` of what lot ``lot`` (and any older lot of its feed)
    still holds then."""
    f = int(lots.feed[lot])
    mine = np.flatnonzero(lots.feed == f)
    mine = mine[np.lexsort((lots.lot[mine], lots.entry[mine]))]
    upto = int(lots.units[mine][: int(np.flatnonzero(lots.lot[mine] == lot)[0]) + 1].sum())
    left = upto - int(meals.amount[(meals.feed == f) & (meals.time < at)].sum())
    assert left > 0, "an expired draw implies stock left at the expiry"
    return meals.adding([-1 - lot], [at], [f], [left])


def _with_write_offs(meals: Meals, initial: Lots, purchase_day: np.ndarray) -> Meals:
    """``meals`` plus a write-off event for each initial lot (a feed's first) that still holds feed
    at its expiry: all that the meals before it left. The first write-offs of ``plan``'s rule, found
    at once (no lot expires before a container's initial ones): one plan, not one per lot."""
    expires = expiry_instant(purchase_day)
    rows = []
    for lot in np.sort(np.unique(initial.feed, return_index=True)[1]):  # each feed's first lot (a few)
        f = initial.feed[lot]
        left = initial.units[lot] - meals.amount[(meals.feed == f) & (meals.time < expires[lot])].sum()
        if left > 0:
            rows.append((-1 - int(lot), int(expires[lot]), int(f), int(left)))
    if not rows:
        return meals
    ev, when, feed, units = (list(c) for c in zip(*rows))
    return meals.adding(ev, when, feed, units)


def _plan(
    meals: Meals, initial: Lots, capacity_kg: float, feed_container_id: int, seed: int
) -> tuple[Lots, np.ndarray, np.ndarray, Draws]:
    """The reorders for ``meals`` (write-offs included) after the ``initial`` lots, and their FIFO:
    every lot, the reorders' purchase days, the cost of every event and the draws."""
    t, feed, amount = meals.time, meals.feed, meals.amount
    cap = int(round(capacity_kg * KG))
    consumed_before = np.concatenate(([0], np.cumsum(amount)))  # all feeds, before event k
    n0 = len(initial.lot)
    curves, delivered = {}, {}
    for f in _feeds(feed):
        rows = np.flatnonzero(feed == f)
        tf, C = t[rows], np.cumsum(amount[rows])
        Cz = np.concatenate(([0], C))  # consumed through events 0..k-1

        def ahead(days):  # need of the events after i up to t_i + days
            return Cz[np.searchsorted(tf, tf + days * US_PER_DAY, "right")] - C

        R = np.maximum(np.minimum(int(SAFETY_FRACTION * cap), ahead(SAFETY_DAYS)), ahead(1))
        # trigger: first i with C_i + R_i > Q; its running max makes that a searchsorted
        curves[int(f)] = (tf, C, Cz, np.maximum.accumulate(C + R))
        delivered[int(f)] = int(initial.units[initial.feed == f].sum())

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
        here = int(Czg[np.searchsorted(tg, e, "left")])
        return int(Czg[np.searchsorted(tg, e + days * US_PER_DAY, "left")]) - here, delivered[g] - here

    # A Python loop over reorders (a few dozen per container), not events: each order depends on the
    # stock the previous ones left. Picking the earliest candidate keeps deliveries in time order,
    # after every lot so far (e > prev): the stock at each delivery is all that was delivered
    # (``stocked``, by feed ``delivered``) less all that was consumed before it.
    deferred: set[int] = set()
    prev = int(initial.entry.max()) if n0 else np.iinfo(np.int64).min // 2
    stocked = int(initial.units.sum())
    new = []  # (entry, deadline, feed, units)
    cands = {f: candidate(f) for f in curves}  # each feed's next order: only the feed ordering changes its own
    while nexts := [c for c in cands.values() if c]:
        e, deadline, f = min(nexts)
        e = max(e, prev + 1)  # strictly after the previous lot (may pass deadline only on exact ties)
        C = curves[f][1]
        stock_all = stocked - int(consumed_before[np.searchsorted(t, e, "left")])
        free = (cap - stock_all) // LOT_STEP * LOT_STEP  # Python ints: products below exceed int64
        need, stock = outlook(f, e, COVER_DAYS)
        target = max(MIN_LOT, _ceil(need + need // MARGIN_DIV - stock, LOT_STEP))
        # keep room for the other feeds' next week (a feed switch), but always serve the meal
        # waiting for this lot
        reserve = sum(_ceil(max(0, n - s), LOT_STEP) for n, s in (outlook(g, e, SAFETY_DAYS) for g in curves if g != f))
        required = _ceil(int(C[np.searchsorted(C, delivered[f], "right")]) - delivered[f], LOT_STEP)
        size = min(max(min(target, free - reserve), required, MIN_LOT), free)
        if size < required:
            if f not in deferred and e < deadline:
                deferred.add(f)  # no room yet: retry just in time, when the stock is lowest
                cands[f] = candidate(f)
                continue
            raise AquagenError(
                f"feed container {feed_container_id}: capacity {capacity_kg:,.0f} kg cannot hold "
                f"the {FEEDS[f].name} needed at {_when(deadline)}"
            )
        deferred.discard(f)
        delivered[f] += size
        stocked += size
        new.append((e, deadline, f, size))
        prev = e
        cands[f] = candidate(f)

    k = len(new)
    ent, dl, nf, nq = (np.array([x[c] for x in new], np.int64) for c in range(4))
    if k:  # keep entries <= deadline and strictly increasing (moves only exact-instant ties, by µs)
        ent = np.minimum.accumulate((np.minimum(ent, dl) - np.arange(k))[::-1])[::-1] + np.arange(k)
    u = rng_for(seed, LEAD_TIME_STREAM, feed_container_id).random((k, 2))
    day = ent // US_PER_DAY - (LEAD_DAYS[0] + np.floor(u[:, 0] * (LEAD_DAYS[1] - LEAD_DAYS[0] + 1)).astype(np.int64))
    drift = np.zeros(k)
    for f in _feeds(nf):  # each feed's lots at once (a few feeds)
        drift[nf == f] = price_per_kg(int(f), day[nf == f].astype("datetime64[D]"), seed)
    cents = np.floor(drift * (1 + PRICE_NOISE * (2 * u[:, 1] - 1)) * 100 + 0.5)  # ROUND_HALF_UP
    cents = np.clip(cents, PRICE_MIN_CENTS, PRICE_MAX_CENTS).astype(np.int64)
    lots = Lots(
        np.arange(n0 + k),
        np.concatenate((initial.feed, nf)),
        np.concatenate((initial.units, nq)),
        np.concatenate((initial.cents, cents)),
        np.concatenate((initial.entry, ent)),
    )
    cost, draws = _fifo(meals, lots)  # raises if any lot went negative or was drawn before entry
    # capacity at every delivery (stock only grows at deliveries), recomputed from the final entries
    o = np.argsort(lots.entry, kind="stable")
    by = np.cumsum(lots.units[o])[np.searchsorted(lots.entry[o], lots.entry, "right") - 1]
    over = np.flatnonzero(by - consumed_before[np.searchsorted(t, lots.entry, "left")] > cap)
    if len(over):
        raise AquagenError(
            f"feed container {feed_container_id}: stock exceeds the capacity "
            f"{capacity_kg:,.0f} kg at {_when(lots.entry[over[0]])}"
        )
    assert not k or (np.all(np.diff(ent) > 0) and ent[0] > max(initial.entry, default=ent[0] - 1))
    return lots, day, cost, draws


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
