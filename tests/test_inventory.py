"""Tests of the feed inventory (aquagen/inventory.py): FIFO against a plain Decimal reference, and the
reorder plan's invariants (DESIGN.md "Feed inventory" and invariant 5)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aquagen.errors import AquagenError
from aquagen.model.domain import FEEDS, SUPPLIERS
from aquagen.model.inventory import (
    PRICE_NOISE,
    _insert_at,
    epoch_us,
    expiry_instant,
    fifo,
    plan_inventory,
    price_per_kg,
)
from aquagen.model.seeds import MASTER_STREAM, rng_for
from aquagen.profiles import FEED_CHANGES, get
from aquagen.tables.ids import Local

UTC = dt.UTC
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
HOUR = 3_600_000_000
DAY = 24 * HOUR
T0_US = int(T0.timestamp() * 1_000_000)
LOTS_SCHEMA = {
    "lot": pl.Int32,
    "feed": pl.Int16,
    "quantity_kg": pl.Float64,
    "cost_per_kg": pl.Float64,
    "entry_time": pl.Datetime("us", "UTC"),
    "purchase_date": pl.Date,
    "supplier": pl.String,
    "initial": pl.Boolean,
}
COSTS_SCHEMA = {"event_id": pl.Int64, "feed_cost": pl.Float64}
DRAWS_SCHEMA = {
    "event_id": pl.Int64,
    "time": pl.Datetime("us", "UTC"),
    "lot": pl.Int32,
    "drawn_kg": pl.Float64,
    "remaining_kg": pl.Float64,
}


def ts(us) -> pl.Series:
    return pl.Series(np.asarray(us, np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def consumption(time_us, feed, amount_units) -> pl.DataFrame:
    """Events sorted by time; amounts given in 0.0001 kg."""
    time_us = np.asarray(time_us, np.int64)
    o = np.argsort(time_us, kind="stable")
    return pl.DataFrame(
        {
            "event_id": pl.Series(np.arange(len(o)) * 7 + 1000, dtype=pl.Int64),
            "time": ts(time_us[o]),
            "feed": pl.Series(np.asarray(feed)[o], dtype=pl.Int16),
            "amount_kg": np.asarray(amount_units, np.int64)[o] / 10_000,
        }
    )


def initial(feed, quantity_kg, cost_per_kg, entry_us) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "feed": pl.Series(feed, dtype=pl.Int16),
            "quantity_kg": pl.Series(quantity_kg, dtype=pl.Float64),
            "cost_per_kg": pl.Series(cost_per_kg, dtype=pl.Float64),
            "entry_time": ts(entry_us),
        }
    )


def as_lots(init: pl.DataFrame) -> pl.DataFrame:
    n = init.height
    return init.with_columns(lot=pl.Series(np.arange(n), dtype=pl.Int32)).with_columns(
        purchase_date=pl.lit(None, pl.Date), supplier=pl.lit(None, pl.String), initial=pl.lit(True)
    )


# --- FIFO against a reference --------------------------------------------------------------------


def reference_fifo(cons: pl.DataFrame, lots: pl.DataFrame):
    """Obviously correct FIFO: per event, oldest lot (entry_time, lot) with stock first, in Decimal.
    Returns (costs, draws) as lists, or raises ValueError when stock runs out or a lot is drawn
    before its entry."""
    stock = {r["lot"]: Decimal(repr(r["quantity_kg"])) for r in lots.iter_rows(named=True)}
    info = {r["lot"]: r for r in lots.iter_rows(named=True)}
    order = sorted(stock, key=lambda k: (info[k]["entry_time"], k))
    costs, draws = [], []
    for ev in cons.iter_rows(named=True):
        need, cost, rows = Decimal(repr(ev["amount_kg"])), Decimal(0), []
        for k in order:
            if need == 0:
                break
            if info[k]["feed"] != ev["feed"] or stock[k] == 0:
                continue
            if info[k]["entry_time"] > ev["time"]:
                raise ValueError("drawn before entry")
            take = min(need, stock[k])
            stock[k] -= take
            need -= take
            cost += take * Decimal(repr(info[k]["cost_per_kg"]))
            rows.append((ev["event_id"], k, take, stock[k]))
        if need > 0:
            raise ValueError("out of stock")
        costs.append(cost.quantize(Decimal("0.01"), ROUND_HALF_UP))
        draws += sorted(rows, key=lambda r: r[1])
    return costs, draws


@st.composite
def fifo_case(draw, valid: bool):
    nf = draw(st.integers(1, 3))
    quantity_cents = st.one_of(st.integers(0, 300), st.integers(0, 300_000))
    lots = draw(
        st.lists(
            st.tuples(
                st.integers(0, nf - 1), quantity_cents, st.integers(180, 280), st.integers(0, 10 if valid else 60)
            ),
            min_size=1,
            max_size=10,
        )
    )
    evs = draw(
        st.lists(
            st.tuples(
                st.integers(0, nf - 1),
                st.one_of(st.integers(1, 100), st.integers(1, 3_000_000)),
                st.integers(10 if valid else 0, 80),
            ),
            max_size=40,
        )
    )
    init = initial(
        [x[0] for x in lots],
        [x[1] / 100 for x in lots],
        [x[2] / 100 for x in lots],
        [T0_US + x[3] * HOUR for x in lots],
    )
    if valid:  # keep only the events the lots cover
        left = {f: sum(x[1] * 100 for x in lots if x[0] == f) for f in range(nf)}
        kept = []
        for f, a, h in sorted(evs, key=lambda e: e[2]):
            if a <= left[f]:
                left[f] -= a
                kept.append((f, a, h))
        evs = kept
    cons = consumption([T0_US + h * HOUR for _, _, h in evs], [f for f, _, _ in evs], [a for _, a, _ in evs])
    return cons, as_lots(init)


def assert_fifo_equal(cons, lots):
    ref_costs, ref_draws = reference_fifo(cons, lots)
    costs, draws = fifo(cons, lots)
    assert dict(costs.schema) == COSTS_SCHEMA and dict(draws.schema) == DRAWS_SCHEMA
    assert costs["event_id"].to_list() == cons["event_id"].to_list()
    assert costs["feed_cost"].to_list() == [float(c) for c in ref_costs]
    assert draws.select("event_id", "lot").rows() == [(e, k) for e, k, _, _ in ref_draws]
    assert draws["drawn_kg"].to_list() == [float(d) for _, _, d, _ in ref_draws]
    assert draws["remaining_kg"].to_list() == [float(r.quantize(Decimal("0.01"), ROUND_HALF_UP)) for *_, r in ref_draws]


@settings(max_examples=300, deadline=None)
@given(fifo_case(valid=True))
def test_fifo_matches_decimal_reference(case):
    assert_fifo_equal(*case)


@settings(max_examples=300, deadline=None)
@given(fifo_case(valid=False))
def test_fifo_refuses_exactly_what_the_reference_refuses(case):
    cons, lots = case
    try:
        reference_fifo(cons, lots)
    except ValueError:
        with pytest.raises(AquagenError):
            fifo(cons, lots)
    else:
        assert_fifo_equal(cons, lots)


def test_fifo_spills_a_meal_over_two_lots():
    lots = as_lots(initial([2, 2, 2], [100.0, 50.0, 80.0], [2.00, 2.50, 1.99], [T0_US, T0_US + 1, T0_US + 1]))
    cons = consumption([T0_US + HOUR, T0_US + 2 * HOUR], [2, 2], [900_000, 1_000_001])  # 90 kg, 100.0001 kg
    costs, draws = fifo(cons, lots)
    assert costs["feed_cost"].to_list() == [180.00, 224.60]  # 10 x 2.00 + 50 x 2.50 + 40.0001 x 1.99 = 224.600199
    assert draws.select("lot", "drawn_kg", "remaining_kg").rows() == [
        (0, 90.0, 10.0),
        (0, 10.0, 0.0),
        (1, 50.0, 0.0),
        (2, 40.0001, 40.0),
    ]  # 39.9999 rounds to 40.00


def test_fifo_cost_rounds_half_up_to_the_cent():
    lots = as_lots(initial([0], [100.0], [2.00], [T0_US]))
    cons = consumption([T0_US + HOUR, T0_US + 2 * HOUR, T0_US + 3 * HOUR], [0, 0, 0], [25, 10_025, 24])
    assert fifo(cons, lots)[0]["feed_cost"].to_list() == [0.01, 2.01, 0.00]  # 0.005, 2.005, 0.0048


# --- the reorder plan ----------------------------------------------------------------------------


def check_inventory(cons, init, cap_kg, fcid, inv):
    """Every invariant of DESIGN.md's feed inventory, recomputed independently, exactly."""
    lots, costs, draws = inv.lots, inv.costs, inv.draws
    assert dict(lots.schema) == LOTS_SCHEMA and dict(costs.schema) == COSTS_SCHEMA
    assert dict(draws.schema) == DRAWS_SCHEMA
    n0 = init.height
    assert lots["lot"].to_list() == list(range(lots.height))
    assert lots.head(n0).select(init.columns).equals(init)
    assert lots["initial"].to_list() == [True] * n0 + [False] * (lots.height - n0)
    new = lots.slice(n0)
    k = new.height
    # reorders: time order, 500 kg multiples, prices in the band, suppliers rotating, lead 3-7 days
    e_new = new["entry_time"].dt.epoch("us").to_numpy()
    assert np.all(np.diff(e_new) > 0) and (k == 0 or e_new[0] > init["entry_time"].dt.epoch("us").max())
    q_cents = np.rint(new["quantity_kg"].to_numpy() * 100).astype(np.int64)
    assert np.all(q_cents % 50_000 == 0) and np.all(q_cents > 0)
    price = new["cost_per_kg"].to_numpy()
    assert np.all((price >= 1.80) & (price <= 2.80)) and np.allclose(price * 100, np.rint(price * 100), atol=1e-9)
    assert new["supplier"].to_list() == [SUPPLIERS[(fcid + i) % len(SUPPLIERS)] for i in range(k)]
    lead = (new["entry_time"].dt.date() - new["purchase_date"]).dt.total_days().to_numpy()
    assert np.all((lead >= 3) & (lead <= 7))
    # every event costed once, its amount drawn exactly
    assert costs["event_id"].to_list() == cons["event_id"].to_list()
    key = draws.select("time", "event_id", "lot")
    assert key.equals(key.sort("time", "event_id", "lot"))
    amount = np.rint(cons["amount_kg"].to_numpy() * 10_000).astype(np.int64)
    drawn = np.rint(draws["drawn_kg"].to_numpy() * 10_000).astype(np.int64)
    assert np.all(drawn > 0)
    row = np.searchsorted(cons["event_id"].to_numpy(), draws["event_id"].to_numpy())  # ids ascend in the tests
    assert np.array_equal(np.bincount(row, drawn, len(amount)).astype(np.int64), amount)
    # no lot ever negative; remaining exact; drawn only after entry
    q = np.rint(lots["quantity_kg"].to_numpy() * 100).astype(np.int64) * 100
    lot = draws["lot"].to_numpy()
    o = np.lexsort((np.arange(len(lot)), lot))
    cum = np.zeros(len(lot), np.int64)
    cum[o] = np.concatenate([np.cumsum(drawn[o][lot[o] == j]) for j in range(lots.height)] or [np.zeros(0, np.int64)])
    rem = q[lot] - cum
    assert np.all(rem >= 0)
    assert np.array_equal(np.rint(draws["remaining_kg"].to_numpy() * 100).astype(np.int64), (rem + 50) // 100)
    entry = lots["entry_time"].dt.epoch("us").to_numpy()
    assert np.all(entry[lot] <= draws["time"].dt.epoch("us").to_numpy())
    # conservation per feed: lots = consumed + remaining
    left = q - np.bincount(lot, drawn, lots.height).astype(np.int64)
    lf, cf = lots["feed"].to_numpy(), cons["feed"].to_numpy()
    for f in range(len(FEEDS)):
        assert q[lf == f].sum() == amount[cf == f].sum() + left[lf == f].sum()
    # total stock within capacity at every delivery (stock only grows at deliveries)
    t = cons["time"].dt.epoch("us").to_numpy()
    stock = (q[None, :] * (entry[None, :] <= entry[:, None])).sum(1) - np.array([amount[t < e].sum() for e in entry])
    assert np.all(stock <= round(cap_kg * 10_000))
    # each event's cost per kg within the prices of the lots it drew from
    p = lots["cost_per_kg"].to_numpy()[lot]
    lo = np.full(len(amount), np.inf)
    hi = np.full(len(amount), -np.inf)
    np.minimum.at(lo, row, p)
    np.maximum.at(hi, row, p)
    a = amount / 10_000
    c = costs["feed_cost"].to_numpy()
    assert np.all(c >= a * lo - 0.005 - 1e-9) and np.all(c <= a * hi + 0.005 + 1e-9)


def scenario(seed: int):
    """Random consumption of 1-2 feeds in segments: ramps, 1-4 meals a day or hourly bursts, long gaps,
    gradual feed switches (both feeds interleaved), tiny (0.0001 kg) and huge (up to 8 % of capacity) meals."""
    rng = np.random.default_rng(seed)
    cap = float(rng.choice([10_000, 40_000, 200_000, 1_000_000]))
    feeds = rng.choice(len(FEEDS), size=rng.integers(1, 3), replace=False)
    day, t, f_, a_ = 1, [], [], []
    for seg in range(rng.integers(1, 6)):
        length, per_day = int(rng.integers(1, 120)), int(rng.choice([1, 2, 3, 4, 24]))
        hours = np.sort(rng.choice(24, per_day, replace=False))
        r0, r1 = rng.uniform(0.001, 0.12, 2) * cap
        amt = (np.linspace(r0, r1, length)[:, None] / per_day * rng.uniform(0.9, 1.1, (length, per_day))).ravel()
        u = rng.random(amt.size)
        amt = np.where(u < 0.03, rng.uniform(0.0001, 0.01, amt.size), amt)  # tiny
        amt = np.where(u > 0.98, rng.uniform(0.03, 0.08, amt.size) * cap, amt)  # huge
        t.append(
            T0_US
            + (day + np.repeat(np.arange(length), per_day)) * DAY
            + np.tile(hours, length) * HOUR
            + rng.integers(0, 60, amt.size) * 60_000_000
        )
        f = np.full(amt.size, feeds[seg % len(feeds)])
        if len(feeds) > 1 and rng.random() < 0.4:  # a gradual switch: meals of both feeds interleave
            f = np.where(rng.random(amt.size) < np.linspace(0, 1, amt.size), feeds[(seg + 1) % len(feeds)], f)
        f_.append(f)
        a_.append(np.maximum(np.rint(amt * 10_000), 1))
        day += length + (int(rng.integers(30, 300)) if rng.random() < 0.5 else 0)
    cons = consumption(np.concatenate(t), np.concatenate(f_), np.concatenate(a_))
    qty = round(float(rng.uniform(0, 0.5) * cap), 2)
    init = initial([int(feeds[0])], [qty], [round(float(rng.uniform(1.8, 2.8)), 2)], [T0_US])
    return cons, init, cap, int(rng.integers(1, 500))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_plan_keeps_every_invariant(seed):
    cons, init, cap, fcid = scenario(seed)
    inv = plan_inventory(cons, init, cap, fcid, seed)
    check_inventory(cons, init, cap, fcid, inv)
    costs, draws = fifo(cons, inv.lots)
    assert costs.equals(inv.costs) and draws.equals(inv.draws)


def ramp(days=90, start_t=0.2, end_t=14.0, meals=(8, 16), feed=3, first_day=1):
    n = days * len(meals)
    d = np.repeat(np.arange(days), len(meals))
    t = T0_US + (first_day + d) * DAY + np.tile(meals, days) * HOUR
    daily = np.linspace(start_t, end_t, days)[d] * 1000 / len(meals)
    return t, np.full(n, feed), np.rint(daily * 10_000)


def test_realistic_ramp_needs_few_orders():
    """90 days from 0.2 to 14 t/day into a 200 t silo: a handful of deliveries, never one per meal."""
    cons = consumption(*ramp())
    init = initial([3], [5000.0], [2.10], [T0_US])
    inv = plan_inventory(cons, init, 200_000.0, 7, 42)
    check_inventory(cons, init, 200_000.0, 7, inv)
    assert 2 <= inv.lots.height - 1 <= 8
    left = inv.lots["quantity_kg"].sum() - cons["amount_kg"].sum()
    assert 0 <= left <= 0.05 * 14_000 * 30 + 1_000  # leftover: the margin on the last order, rounding


def barge_batches(n_batches=2, gap_days=60):
    """A barge's feedings: per batch 200 days of Finisher 4.5 then 200 days of Finisher 6.0."""
    parts = [ramp(200, 3, 15, feed=4, first_day=1 + b * (400 + gap_days)) for b in range(n_batches)]
    parts += [ramp(200, 15, 30, feed=5, first_day=201 + b * (400 + gap_days)) for b in range(n_batches)]
    return consumption(*(np.concatenate(x) for x in zip(*parts)))


def test_barge_leftover_is_small_and_persists_into_the_next_batch():
    cons = barge_batches()
    init = initial([4], [25_000.0], [1.95], [T0_US])
    inv = plan_inventory(cons, init, 1_000_000.0, 3, 1)
    check_inventory(cons, init, 1_000_000.0, 3, inv)
    lots, draws = inv.lots, inv.draws
    assert lots.height - 1 <= 2 * 400 / 21  # an order every 3-4 weeks (30 days' cover less a week's safety)
    switch = T0 + dt.timedelta(days=201)
    gap_start, gap_end = T0 + dt.timedelta(days=401), T0 + dt.timedelta(days=461)
    # Finisher 4.5 left when the batch switches to 6.0: small, and drawn by the next batch first
    f4 = lots.filter(pl.col("feed") == 4, pl.col("entry_time") < switch)
    used = draws.filter(pl.col("lot").is_in(f4["lot"].implode()), pl.col("time") < switch)["drawn_kg"].sum()
    assert 0 < f4["quantity_kg"].sum() - used <= 0.05 * 15_000 * 30 + 1_000
    first_b2 = draws.filter(pl.col("time") >= gap_end).row(0, named=True)
    assert first_b2["lot"] in f4["lot"].to_list()
    assert lots.filter(pl.col("entry_time").is_between(gap_start, gap_end - dt.timedelta(hours=18))).height == 0


def test_later_batches_leave_earlier_lots_unchanged():
    """Lots depend only on the next 30 days' consumption: appending a batch changes nothing before it."""
    init = initial([4], [25_000.0], [1.95], [T0_US])
    one, two = barge_batches(1), barge_batches(2)
    a = plan_inventory(one, init, 1_000_000.0, 5, 9)
    b = plan_inventory(two, init, 1_000_000.0, 5, 9)
    assert b.lots.head(a.lots.height).equals(a.lots) and b.lots.height > a.lots.height
    assert b.costs.head(one.height).equals(a.costs) and b.draws.head(a.draws.height).equals(a.draws)


def test_plan_is_deterministic_and_seeded():
    cons, init, cap, fcid = scenario(123)
    a, b = plan_inventory(cons, init, cap, fcid, 5), plan_inventory(cons, init, cap, fcid, 5)
    assert a.lots.equals(b.lots) and a.costs.equals(b.costs) and a.draws.equals(b.draws)
    c = plan_inventory(cons, init, cap, fcid + 1, 5)
    assert c.lots["quantity_kg"].equals(a.lots["quantity_kg"])  # sizes follow consumption only
    assert not c.lots["supplier"].equals(a.lots["supplier"]) and not c.lots["cost_per_kg"].equals(a.lots["cost_per_kg"])


def test_simultaneous_needs_get_distinct_entries_before_their_meals():
    """Two feeds both needing a first lot on the same day (06:00), and at the same instant before 06:00."""
    for hours in ((8, 9), (3, 3)):
        cons = consumption([T0_US + DAY + h * HOUR for h in hours], [4, 5], [10_000_000, 20_000_000])
        init = initial([3], [100.0], [2.1], [T0_US])
        inv = plan_inventory(cons, init, 1_000_000.0, 1, 1)
        check_inventory(cons, init, 1_000_000.0, 1, inv)
        assert inv.lots.height == 3 and inv.lots["entry_time"].n_unique() == 3


def test_a_lot_that_does_not_fit_at_six_waits_for_its_meal():
    """At 06:00 the silo is nearly full of feed 1; after the 07:00 meal the feed 2 lot fits."""
    cons = consumption([T0_US + DAY + 7 * HOUR, T0_US + DAY + 8 * HOUR], [1, 2], [50_000_000, 20_000_000])
    init = initial([1], [9_000.0], [2.5], [T0_US])
    inv = plan_inventory(cons, init, 10_000.0, 1, 1)
    check_inventory(cons, init, 10_000.0, 1, inv)
    assert inv.lots.row(1, named=True)["entry_time"] == T0 + dt.timedelta(days=1, hours=8)
    assert inv.lots.row(1, named=True)["quantity_kg"] == 2_500.0


def test_room_is_kept_for_the_other_feeds_next_week():
    """Feed 1 (10 t/day) refills the 100 t silo every 9 days; feed 2's 15 t meal the night after a
    refill fits only because that refill left room for it."""
    d = np.arange(1, 61)
    t = np.append(T0_US + d * DAY + 8 * HOUR, T0_US + 15 * DAY + 4 * HOUR)  # 2024-01-16 04:00
    cons = consumption(t, np.append(np.full(60, 1), 2), np.append(np.full(60, 10_000 * 10_000), 15_000 * 10_000))
    init = initial([1], [50_000.0], [2.5], [T0_US])
    inv = plan_inventory(cons, init, 100_000.0, 1, 1)
    check_inventory(cons, init, 100_000.0, 1, inv)
    refill = inv.lots.filter(pl.col("entry_time") == T0 + dt.timedelta(days=14, hours=6))
    assert refill["feed"].to_list() == [1] and refill["quantity_kg"].item() <= 75_000


def test_capacity_that_cannot_hold_a_meal_is_refused():
    cons = consumption([T0_US + DAY], [1], [12_000 * 10_000])
    with pytest.raises(AquagenError, match="capacity 10,000 kg cannot hold"):
        plan_inventory(cons, initial([1], [500.0], [2.5], [T0_US]), 10_000.0, 1, 1)
    with pytest.raises(AquagenError, match="exceeds the capacity"):
        plan_inventory(cons.head(0), initial([1], [20_000.0], [2.5], [T0_US]), 10_000.0, 1, 1)


def test_bad_consumption_is_refused():
    cons = consumption([T0_US + DAY, T0_US + 2 * DAY], [1, 1], [10, 20])
    with pytest.raises(AquagenError, match="not sorted"):
        plan_inventory(cons.reverse(), initial([1], [500.0], [2.5], [T0_US]), 10_000.0, 1, 1)
    tied = consumption([T0_US + DAY, T0_US + DAY], [1, 1], [10, 20])  # same time: by event id
    with pytest.raises(AquagenError, match="not sorted"):
        plan_inventory(tied.reverse(), initial([1], [500.0], [2.5], [T0_US]), 10_000.0, 1, 1)
    with pytest.raises(AquagenError, match="> 0 kg"):
        fifo(cons.with_columns(amount_kg=pl.lit(0.0)), as_lots(initial([1], [500.0], [2.5], [T0_US])))


def test_empty_consumption():
    init = initial([0], [5000.0], [2.7], [T0_US])
    inv = plan_inventory(consumption([], [], []), init, 5_000.0, 1, 1)
    assert inv.lots.height == 1 and inv.costs.height == 0 and inv.draws.height == 0
    assert dict(inv.draws.schema) == DRAWS_SCHEMA and dict(inv.costs.schema) == COSTS_SCHEMA


def test_price_drift_is_slow_and_in_band():
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2030-01-01"))
    for f, feed in enumerate(FEEDS):
        p = price_per_kg(f, days, 42)
        assert np.all(np.abs(p / feed.base_price - 1) <= 0.06 + 1e-12)
        assert np.abs(np.diff(p)).max() < 0.001 * p.max()
        assert price_per_kg(f, dt.date(2024, 3, 1), 42) == p[(np.datetime64("2024-03-01") - days[0]).astype(int)]
    assert price_per_kg(4, days, 1)[0] != price_per_kg(4, days, 2)[0]
    assert price_per_kg(4, days, 1)[0] / FEEDS[4].base_price != price_per_kg(5, days, 1)[0] / FEEDS[5].base_price


def test_scale_40k_events():
    """A barge's 20 rings fed twice a day for 1,000 days: 40,000 events (fast: no per-event loop)."""
    rings, days = 20, 1000
    t = np.repeat(T0_US + DAY + np.arange(days) * DAY, 2 * rings)
    t += np.tile(np.repeat([8 * HOUR, 16 * HOUR], rings), days)
    d = np.repeat(np.arange(days), 2 * rings)
    feed = np.where(d % 500 < 250, 4, 5)
    amount = np.rint((200 + 600 * (d % 500) / 500) * 10_000 * np.random.default_rng(0).uniform(0.9, 1.1, t.size))
    cons = consumption(t, feed, amount)
    init = initial([4], [25_000.0], [1.95], [T0_US])
    inv = plan_inventory(cons, init, 1_000_000.0, 11, 3)
    assert cons.height == 40_000 and inv.costs.height == 40_000
    assert 10 <= inv.lots.height <= 60
    check_inventory(cons, init, 1_000_000.0, 11, inv)


def test_price_drift_stays_inside_the_band_without_clipping():
    # drift and per-order noise together never reach the plan's €1.80-2.80 bounds, so no feed sits on them
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2030-01-01"))
    for feed in range(len(FEEDS)):
        for seed in (0, 1, 42):
            p = price_per_kg(feed, days, seed)
            assert 1.80 < p.min() * (1 - PRICE_NOISE) and p.max() * (1 + PRICE_NOISE) < 2.80, (feed, seed)


def test_expired_stock_is_written_off_and_never_drawn():
    """An initial lot still holding feed at its expiry is written off then; later meals draw a reorder."""
    bought = T0_US // DAY - 10  # purchased 10 days before T0
    expires = expiry_instant(np.array([bought]))[0]
    early = [T0_US + k * DAY for k in range(5)]  # 5 meals of 100 kg, then a year's pause
    late = [int(expires) + k * DAY for k in range(1, 6)]
    cons = consumption(early + late, [1] * 10, [100 * 10_000] * 10)
    init = initial([1], [5_000.0], [2.5], [T0_US - DAY]).with_columns(purchase_day=pl.lit(bought, dtype=pl.Int64))
    inv = plan_inventory(cons, init, 10_000.0, 1, 1)
    off = inv.draws.filter(pl.col("event_id") < 0)
    assert off["event_id"].to_list()[0] == -1 and off["lot"].to_list()[0] == 0
    assert off["drawn_kg"].to_list()[0] == 4_500.0 and (off["remaining_kg"] == 0.0).all()
    assert epoch_us(off["time"])[0] == expires
    # and the reorder the late meals left feed in, at its own expiry (a year after its purchase)
    rest = off.filter(pl.col("lot") > 0).join(inv.lots, on="lot")
    assert rest.height == 1 and (epoch_us(rest["time"]) == expiry_instant(rest["purchase_date"].cast(pl.Int64))).all()
    # no meal draws lot 0 after its expiry; every meal is costed, the write-off is not
    meals = inv.draws.filter(pl.col("event_id") >= 0)
    assert (epoch_us(meals.filter(pl.col("lot") == 0)["time"]) < expires).all()
    assert inv.costs.height == 10 and sorted(inv.costs["event_id"]) == sorted(cons["event_id"])
    # without a purchase day (no shelf life known) the old lot feeds the late meals
    old = plan_inventory(cons, init.drop("purchase_day"), 10_000.0, 1, 1)
    assert (epoch_us(old.draws.filter(pl.col("lot") == 0)["time"]) > expires).any()


def test_reorder_leftovers_expire_too():
    """A reorder's leftover that waits more than a year (a barge between batches) is written off
    at its expiry, and the next meals get a fresh lot."""
    bought = T0_US // DAY - 10
    first = [T0_US + k * DAY for k in range(60)]  # 60 days of 200 kg: reorders beyond the initial lot
    later = [T0_US + (460 + k) * DAY for k in range(5)]
    cons = consumption(first + later, [1] * 65, [200 * 10_000] * 65)
    init = initial([1], [1_000.0], [2.5], [T0_US - DAY]).with_columns(purchase_day=pl.lit(bought, dtype=pl.Int64))
    inv = plan_inventory(cons, init, 50_000.0, 1, 1)
    days = inv.lots["purchase_date"].cast(pl.Int64).fill_null(bought).to_numpy()
    expires = expiry_instant(days)
    meals = inv.draws.filter(pl.col("event_id") >= 0)
    assert (epoch_us(meals["time"]) <= expires[meals["lot"].to_numpy()]).all()  # never drawn expired
    off = inv.draws.filter(pl.col("event_id") < 0)
    assert off.height >= 1 and (off["remaining_kg"] == 0).all() and (off["lot"] > 0).any()  # a reorder's leftover
    assert inv.costs.height == 65
    old = plan_inventory(cons, init.drop("purchase_day"), 50_000.0, 1, 1)  # without shelf life: drawn expired
    old_days = old.lots["purchase_date"].cast(pl.Int64).fill_null(bought).to_numpy()
    assert (epoch_us(old.draws["time"]) > expiry_instant(old_days)[old.draws["lot"].to_numpy()]).any()


def test_an_idle_container_writes_off_its_initial_stock_whatever_comes_later():
    """A container nothing draws from writes its initial lot off at the lot's expiry; a container
    first used after that expiry writes off the same lot at the same instant (what happened before
    any later as-of date does not depend on what comes after it: prefix-stable)."""
    bought = T0_US // DAY - 10
    expires = int(expiry_instant(np.array([bought]))[0])
    init = initial([1], [5_000.0], [2.5], [T0_US - DAY]).with_columns(purchase_day=pl.lit(bought, dtype=pl.Int64))
    idle = plan_inventory(consumption([], [], []), init, 10_000.0, 1, 1)
    assert idle.costs.height == 0 and idle.lots.height == 1
    assert idle.draws["event_id"].to_list() == [-1] and idle.draws["remaining_kg"].to_list() == [0.0]
    assert epoch_us(idle.draws["time"]).tolist() == [expires] and idle.draws["drawn_kg"].to_list() == [5_000.0]
    used = plan_inventory(
        consumption([expires + k * DAY for k in range(1, 4)], [1] * 3, [100 * 10_000] * 3), init, 10_000.0, 1, 1
    )
    assert used.draws.filter(pl.col("time") <= idle.draws["time"].max()).equals(idle.draws)


@pytest.mark.parametrize("profile", ["aquamind@8f2ab39", "aquamind@cb41030"])
def test_idle_feed_sites_at_once_are_each_site_alone(profile):
    """The idle feed sites built in one pass (``feed_idle``: most sites of a small fleet) give each site
    exactly what building it alone gives: the same tables, rows, order, types and ids per day."""
    p = get(profile)
    assert p.feed_idle is not None
    master = p.master(dt.date(2023, 1, 1), rng_for(11, MASTER_STREAM), p.name)  # lots expire in the horizon
    sites = p.feed_sites(master.__getitem__)
    books = {s.key: Local(p.name) for s in sites}
    together = p.feed_idle(sites, 11, books.__getitem__)
    assert sorted(together) == [s.key for s in sites]
    written_off = 0
    for s in sites:
        alone = Local(p.name)
        want = p.feed_site(s, pl.DataFrame(schema={"container_id": pl.Int64}), 11, alone, False)
        got = together[s.key]
        assert got.keys() == want.keys()
        for name, df in want.items():
            assert got[name].schema == df.schema and got[name].equals(df), (s.key, name)
        assert books[s.key].counts().equals(alone.counts()), s.key
        written_off += want[FEED_CHANGES].height
    assert written_off >= len(sites)  # every site writes its initial lots off


# --- the order helpers ---------------------------------------------------------------------------

keys_rows = st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 2), st.integers(0, 2)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(keys_rows, keys_rows)
def test_insert_at_puts_new_rows_where_a_stable_sort_does(old, new):
    """Inserting a few sorted rows among sorted ones (``_insert_at``) gives the stable lexsort of
    both, the new rows after equal old ones."""
    old, new = sorted(old), sorted(new)
    keys = tuple(np.array([r[c] for r in old], np.int64) for c in range(3))
    more = tuple(np.array([r[c] for r in new], np.int64) for c in range(3))
    got = [np.insert(k, _insert_at(keys, more), m).tolist() for k, m in zip(keys, more, strict=True)]
    assert list(zip(*got)) == sorted(old + new)
    tagged = sorted([(*r, 0) for r in old] + [(*r, 1) for r in new])  # old before new when equal
    at = _insert_at(keys, more)
    order = np.insert(np.zeros(len(old), np.int64), at, np.ones(len(new), np.int64)).tolist()
    assert order == [t[3] for t in tagged]
