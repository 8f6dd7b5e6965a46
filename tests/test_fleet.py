"""The fleet: schedule, workers, prefix-stable ids, resume after kill -9, feed stock checks."""

import dataclasses
import datetime as dt
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from aquagen.errors import AquagenError
from aquagen.model.calendar import stage_starts
from aquagen.model.domain import GEOGRAPHY_BY_NAME
from aquagen.model.fleet import (
    TRANSITION_WINDOWS,
    calendar_of,
    default_farm_start,
    fleet_status,
    hall_windows,
    plan_batch,
    plan_farm,
    plan_fleet,
    sea_window,
)
from aquagen.model.seeds import fleet_eggs
from aquagen.model.sites import SITES
from aquagen.model.timeline import LIFE_DAYS, SEA_START
from aquagen.profiles import get
from aquagen.profiles.aquamind_8f2ab39 import feedstock
from aquagen.run import shards
from aquagen.run.generate import (
    DEFAULT_STAGGER_DAYS,
    default_first_start,
    generate,
    work_folder,
)
from aquagen.tables.ids import id_column, when_column

from .conftest import run_cli, shared_snapshot
from .test_batch import _rewrite, failed

PROFILE = get()
MUTABLE = PROFILE.mutable

FIRST = dt.date(2023, 3, 1)
AS_OF = dt.date(2024, 9, 20)  # batches in the sea, in freshwater, and one mid-transition
ARGS = dict(seed=5, batches=4, first_start=FIRST, stagger_days=45)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return shared_snapshot(tmp_path_factory, "fleet-4-batches", as_of=AS_OF, workers=1, **ARGS)


def _digests(snap) -> dict[str, str]:
    return {f["path"]: f["sha256"] for t in snap.manifest["tables"].values() for f in t["files"]}


def test_fleet_passes_every_check(fleet):
    assert failed(fleet) == []
    rows = {k: v["rows"] for k, v in fleet.manifest["tables"].items()}
    assert rows["batch_batch"] == 4 and rows["inventory_feedpurchase"] > SITES.n_feed_containers  # reorders happened
    costs = fleet.read("inventory_feedingevent")["feed_cost"]
    assert costs.null_count() == 0 and costs.len() == rows["inventory_feedingevent"]


def test_feed_sites_write_their_events_one_part_per_year(tmp_path, monkeypatch):
    """A feed site writes its per-event tables one calendar year at a time (memory bounded by a year,
    not by the site's history): part feed-NNN-YYYY holds exactly the rows created in YYYY; part
    feed-NNN holds no feeding event, only its lots' initial '+' rows. (Every piece its own part
    here: in a fleet this small, each would be gathered, see the next test.)"""
    monkeypatch.setattr(shards, "GATHER_ROWS", 1)
    snap = generate(
        tmp_path / "snap", seed=5, batches=1, first_start=dt.date(2023, 3, 1), as_of=dt.date(2024, 2, 1), workers=1
    )
    years: set[int] = set()
    for name in (
        "inventory_feedingevent",
        "inventory_historicalfeedingevent",
        "inventory_historicalfeedcontainerstock",
    ):
        for f in snap.manifest["tables"][name]["files"]:
            part = f["path"].split("/")[1].removesuffix(".parquet")
            df = pl.read_parquet(snap.path / f["path"])
            if (m := re.fullmatch(r"feed-\d{3}-(\d{4})", part)) is not None:
                assert df[when_column(name, PROFILE.name)].dt.year().unique().to_list() == [int(m[1])], f["path"]
                years.add(int(m[1]))
            else:
                assert re.fullmatch(r"feed-\d{3}", part) and name.endswith("feedcontainerstock"), f["path"]
                assert df["history_type"].unique().to_list() == ["+"], f["path"]
    assert years == {2023, 2024}


@pytest.mark.parametrize(("hour", "gather_rows"), [(13, shards.GATHER_ROWS), (9, 1)])
def test_idle_feed_sites_at_once_write_what_each_site_writes_alone(tmp_path, monkeypatch, hour, gather_rows):
    """The feed sites without a feeding event, built and written in one task (the profile's
    ``feed_idle``), give the bytes of every site built and written on its own: cut part-way through
    the day their initial lots are written off (at 12:00), after it and before it (and, every piece
    its own part, each site's parts as they were)."""
    monkeypatch.setattr(shards, "GATHER_ROWS", gather_rows)
    as_of = dt.datetime(2024, 9, 19, hour, tzinfo=dt.UTC)  # a year after the farm's setup: the lots expire
    args = dict(seed=6, batches=1, first_start=dt.date(2023, 10, 20), as_of=as_of)
    at_once = generate(tmp_path / "at-once", workers=1, **args)
    alone = dataclasses.replace(get(), feed_idle=None)
    monkeypatch.setattr(shards, "get", lambda name: alone)
    one_by_one = generate(tmp_path / "one-by-one", workers=1, **args)
    assert _digests(at_once) == _digests(one_by_one)
    stock = at_once.read("inventory_historicalfeedcontainerstock")
    written_off = stock.filter(pl.col("history_change_reason") == feedstock.WRITTEN_OFF)
    assert (written_off.height > 0) == (hour > 12), written_off.height


def test_small_pieces_are_gathered_into_one_part_per_table(fleet):
    """A shard's rows of a table under ``GATHER_ROWS`` are not a part file of their own: every such
    piece of a table is in its one ``gathered`` part, and no other part is that small."""
    gathered = 0
    for name, t in fleet.manifest["tables"].items():
        for f in t["files"]:
            part = f["path"].split("/")[1].removesuffix(".parquet")
            if part == shards.GATHERED_PART:
                gathered += 1
            elif part != "master":
                assert f["rows"] >= shards.GATHER_ROWS, f["path"]
        assert len({f["path"] for f in t["files"]}) == len(t["files"]), name
    assert gathered >= 30  # of the 4 batches' and the feed sites' tables
    years = fleet.read("inventory_feedingevent")["created_at"].dt.year().unique().to_list()
    assert sorted(years) == [2023, 2024]  # both years' windows of the feed sites, in one part


def test_same_bytes_for_any_number_of_workers(fleet, tmp_path, monkeypatch):
    import multiprocessing

    from aquagen.run import generate as run_generate

    live = []  # worker processes alive as the master data is made: they start up meanwhile

    def master(job):
        live.append(len(multiprocessing.active_children()))
        return shards.master_shard(job)

    monkeypatch.setattr(run_generate, "master_shard", master)
    two = generate(tmp_path / "snap", as_of=AS_OF, workers=2, **ARGS)
    assert len(live) == 1 and live[0] >= 1
    assert _digests(two) == _digests(fleet)
    assert (two.path / "manifest.json").read_bytes() == (fleet.path / "manifest.json").read_bytes()


def test_the_cli_with_workers_runs_polars_on_one_thread_in_its_own_process():
    """``--workers N`` (N > 1): the command's own process takes shards beside N - 1 workers and, like
    them, runs Polars on one thread; with one worker it keeps Polars' own pool; a POLARS_MAX_THREADS
    of the user is kept. In a fresh interpreter, as the command starts (Polars reads it once)."""
    code = (
        "import sys; from aquagen import cli\n"
        "cli._one_polars_thread(int(sys.argv[1])); import polars; print(polars.thread_pool_size())"
    )
    env = {k: v for k, v in os.environ.items() if k != "POLARS_MAX_THREADS"}

    def threads(workers: int, env: dict) -> int:
        run = subprocess.run([sys.executable, "-c", code, str(workers)], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    assert threads(2, env) == 1
    assert threads(1, env) == (os.cpu_count() or 1)
    assert threads(2, {**env, "POLARS_MAX_THREADS": "3"}) == 3


def test_a_later_as_of_date_only_adds_rows(fleet, tmp_path):
    later = generate(tmp_path / "later", as_of=AS_OF + dt.timedelta(days=75), workers=1, **ARGS)
    grew = 0
    for name in fleet.manifest["tables"]:
        early, late = fleet.read(name), later.read(name)
        key = id_column(name, PROFILE.name) if id_column(name, PROFILE.name) in early.columns else early.columns[0]
        if early.height:  # dense ids 1..n in both
            assert (
                early[key].sort().to_list() == list(range(1, early.height + 1))
                or name.startswith(("auth_", "users_"))
                or key != id_column(name, PROFILE.name)
            ), name
        if name in MUTABLE:  # objects that change keep their ids; their current state moves on
            assert set(early[key]) <= set(late[key]), name
            continue
        if early.height == 0:
            continue
        assert late.filter(pl.col(key) <= early[key].max()).sort(key).equals(early.sort(key)), name
        grew += late.height > early.height
    assert grew >= 15  # every event and history table


def test_feed_stock_of_a_site_used_after_the_horizon_is_prefix_stable(tmp_path):
    """A sea area's barges idle up to the horizon of one as-of date (the batch moves to sea after it)
    hold initial lots that expired before that date: both snapshots write them off at their expiry,
    so the earlier one's feed-stock rows are the later one's, ids included (an advance from it is
    exact), and no lot holds feed past its expiry."""
    kw = dict(seed=42, batches=1, first_start=dt.date(2025, 6, 1), workers=1)
    early = generate(tmp_path / "early", as_of=dt.date(2026, 6, 1), **kw)
    late = generate(tmp_path / "late", as_of=dt.date(2026, 10, 1), **kw)
    barges = PROFILE.stock_tables
    used = {n: s.read("inventory_feedingevent")["container_id"].max() for n, s in (("early", early), ("late", late))}
    assert used["early"] <= SITES.n_hall_containers < used["late"]  # at sea only in the later one
    for name in ("inventory_feedpurchase", "inventory_feedingevent", barges[1]):
        a, b = early.read(name), late.read(name)
        assert a.join(b, on=a.columns, how="anti", nulls_equal=True).height == 0, name
    off = early.read(barges[1]).filter(pl.col("history_change_reason") == feedstock.WRITTEN_OFF)
    assert off.height > 0 and (off["quantity_kg"] == 0).all()
    assert failed(early) == []


@pytest.mark.parametrize(
    "killed_after",
    [
        lambda done: len(done) >= 6,  # master, 4 built batches, a written batch
        # a feed site built (its tables kept in the work folder for its write pass), the batches all written
        lambda done: any(d["done"].startswith("build-feed") for d in done),
    ],
    ids=["a batch written", "a feed site built"],
)
def test_resume_after_kill_gives_the_same_bytes(fleet, tmp_path, killed_after):
    out = tmp_path / "snap"
    cmd = [
        sys.executable,
        "-m",
        "aquagen",
        "generate",
        "--out",
        str(out),
        "--seed",
        "5",
        "--batches",
        "4",
        "--first-start",
        FIRST.isoformat(),
        "--stagger-days",
        "45",
        "--as-of",
        AS_OF.isoformat(),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = work_folder(out).local / "progress.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = [json.loads(line) for line in progress.read_text().splitlines()[1:]]  # JSON lines
            if killed_after(done):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists() and progress.exists()
    r = run_cli(*cmd[3:])  # without --resume: refused, nothing lost
    assert r.returncode == 2 and "--resume" in r.stderr
    r = run_cli(*cmd[3:], "--resume")
    assert r.returncode == 0, r.stderr
    assert not work_folder(out).exists()
    assert (out / "manifest.json").read_bytes() == (fleet.path / "manifest.json").read_bytes()
    assert all((out / p).read_bytes() == (fleet.path / p).read_bytes() for p in _digests(fleet))


def test_default_fleet_shows_every_stage():
    as_of = dt.date(2026, 11, 24)
    planned = plan_fleet(50, default_first_start(as_of), DEFAULT_STAGGER_DAYS, fleet_eggs(42), seed=42, as_of=as_of)
    assert len(planned) == 50
    age = [(as_of - b.start_date).days for b in planned]
    life = [calendar_of(b, 42).life_days for b in planned]
    active = sum(0 <= a < n for a, n in zip(age, life))
    assert 40 <= active <= 50 and sum(a >= n for a, n in zip(age, life)) > 0  # harvested ones too
    assert any(a >= SEA_START for a in age if a < LIFE_DAYS) and any(a < SEA_START for a in age)
    assert {b.geography for b in planned} == {"Scotland", "Faroe Islands"}


def test_every_planned_batch_has_started_or_it_says_so():
    as_of = dt.date(2026, 11, 30)
    planned = plan_fleet(60, default_first_start(as_of, 60), DEFAULT_STAGGER_DAYS, fleet_eggs(42), seed=42, as_of=as_of)
    assert len(planned) == 60 and max(b.start_date for b in planned) <= as_of
    with pytest.raises(AquagenError, match=r"--batches 100000 do not all start by the as-of date .* only \d+ batches"):
        plan_fleet(
            100_000, default_first_start(as_of, 100_000), DEFAULT_STAGGER_DAYS, fleet_eggs(42), seed=42, as_of=as_of
        )


@pytest.mark.parametrize("seed", [42, 7, 3, 5, 26, 86, 59, 151, 159, 174])
def test_full_farm_plan(seed):
    """A full farm, checked every 2 weeks over 3 years: 65–85 % of the containers holding fish, at
    least 4 batches in every stage on nearly every date (never fewer than 3), a batch in every
    transition window on most dates and two or more near it (within 10 days) on nearly every date,
    every station and sea area used, both geographies balanced, no hall or sea area holding two
    batches."""
    first = dt.date(2022, 1, 1)
    planned = plan_farm(first, dt.date(2027, 12, 31), fleet_eggs(seed), seed)
    assert len({b.station for b in planned}) == SITES.n_stations and len({b.sea_area for b in planned}) == 42
    geos = [b.geography for b in planned]
    assert abs(geos.count("Scotland") - geos.count("Faroe Islands")) <= 2
    dates = [dt.date(2025, 1, 1) + dt.timedelta(days=14 * k) for k in range(79)]
    fewest, windows, near = [], [], []
    for as_of in dates:
        share, stages = fleet_status(planned, seed, as_of)
        assert 0.65 <= share <= 0.85 and stages["Adult"] >= 25, (as_of, share, stages)
        fewest.append(min(stages.values()))
        ages = [(as_of - b.start_date).days for b in planned]
        windows.append(min(sum(lo <= a <= hi for a in ages) for lo, hi in TRANSITION_WINDOWS))
        near.append(min(sum(lo - 10 <= a <= hi + 10 for a in ages) for lo, hi in TRANSITION_WINDOWS))
    assert min(fewest) >= 3 and sum(n >= 4 for n in fewest) >= 0.98 * len(dates)
    assert sum(n >= 1 for n in windows) >= 0.85 * len(dates)
    assert sum(n >= 2 for n in near) >= 0.95 * len(dates)
    # the stage days the plan looks ahead with (before a batch's start) are the batch's own calendar
    assert all((stage_starts(seed, b.shard) == calendar_of(b, seed).stage_start).all() for b in planned)
    # the windows the plan reserved are the batch's own calendar: no hall or area holds two batches
    for key, windows_of in (
        ("station", lambda b: [w[1:] for w in hall_windows(b.start_date, calendar_of(b, seed))]),
        ("sea_area", lambda b: [sea_window(b.start_date, calendar_of(b, seed))]),
    ):
        by_site: dict = {}
        for b in planned:
            for k, w in enumerate(windows_of(b)):
                by_site.setdefault((getattr(b, key), k), []).append(w)
        for ws in by_site.values():
            ws.sort()
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(ws))


def test_full_farm_plan_is_prefix_stable():
    """The plan at a later date keeps every batch of an earlier one as it was (dates, sites, eggs,
    names, shards): the as-of date only chooses which batches exist."""
    first, seed = dt.date(2022, 1, 1), 42
    later = plan_farm(first, dt.date(2027, 6, 30), fleet_eggs(seed), seed)
    for day in (dt.date(2022, 3, 1), dt.date(2024, 2, 29), dt.date(2025, 7, 14), dt.date(2026, 12, 1)):
        for d in (day, day + dt.timedelta(days=1)):
            earlier = plan_farm(first, d, fleet_eggs(seed), seed)
            assert earlier == [b for b in later if b.start_date <= d] and earlier, d
    # the default first start is the same for every as-of date of a year: 4–5 years of history
    assert default_farm_start(dt.date(2026, 1, 1)) == default_farm_start(dt.date(2026, 12, 31)) == dt.date(2022, 1, 1)


def test_a_batch_into_a_full_farm_is_told_the_first_start_that_fits():
    """``aquagen batch`` on a full farm: the one-line error names the first start date at which a
    station and a sea area are both free, and that date works while the day before does not."""
    seed = 42
    planned = plan_farm(dt.date(2022, 1, 1), dt.date(2026, 6, 30), fleet_eggs(seed), seed)
    place = dict(eggs=3_300_000, geography_name="Scotland", seed=seed)
    with pytest.raises(AquagenError) as e:
        plan_batch(planned, start_date=dt.date(2025, 10, 3), **place)
    m = re.search(
        r"free for .* starting 2025-10-03; the first start at which a station and a sea area of "
        r"Scotland are both free is (\d{4}-\d\d-\d\d) \(--start-date\)$",
        str(e.value),
    )
    assert m, str(e.value)
    first = dt.date.fromisoformat(m[1])
    assert first > dt.date(2025, 10, 3)
    with pytest.raises(AquagenError):
        plan_batch(planned, start_date=first - dt.timedelta(days=1), **place)
    b = plan_batch(planned, start_date=first, **place)
    assert b.start_date == first and b.geography == "Scotland"


def test_fleet_that_does_not_fit_says_how_many_do(tmp_path):
    r = run_cli(
        "generate",
        "--out",
        tmp_path / "s",
        "--batches",
        "400",
        "--stagger-days",
        "1",
        "--geography",
        "Scotland",
        "--as-of",
        "2026-01-01",
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"only {GEOGRAPHY_BY_NAME['Scotland'].stations} batches fit" in r.stderr  # one a station
    assert not any(tmp_path.iterdir())


def test_broken_feed_stock_fails_exactly_its_check(fleet, tmp_path):
    lots = "inventory_historicalfeedcontainerstock"
    drawn = fleet.read(lots).filter(pl.col("history_type") == "~")["history_id"][0]
    broken = _rewrite(
        fleet,
        tmp_path,
        lots,
        lambda df: df.with_columns(
            history_date=pl.when(pl.col("history_id") == drawn)
            .then(pl.col("entry_date") - pl.duration(hours=1))
            .otherwise(pl.col("history_date"))
        ),
    )
    assert failed(broken) == ["lot decrements before the lot's delivery"]
    broken = _rewrite(
        fleet,
        tmp_path,
        "inventory_feedingevent",
        lambda df: df.with_columns(
            amount_kg=pl.when(pl.col("id") == 1).then(pl.col("amount_kg") * 2).otherwise(pl.col("amount_kg")),
            feeding_percentage=pl.when(pl.col("id") == 1)
            .then(pl.col("feeding_percentage") * 2)
            .otherwise(pl.col("feeding_percentage")),
        ),
    )
    assert set(failed(broken)) == {
        "(hall or sea area, feed) where delivered <> fed + remaining",
        "container summaries whose totals differ from their feeding events",
        "batch summaries whose totals differ from their feeding events",
        "feeding events costing outside the prices of their site's lots of that feed",
    }
    # a lot drawn after its expiry date (write-offs keep it from happening)
    draw = (
        fleet.read(lots)
        .filter((pl.col("history_type") == "~") & pl.col("history_change_reason").is_null())
        .row(0, named=True)
    )
    broken = _rewrite(
        fleet,
        tmp_path,
        "inventory_feedpurchase",
        lambda df: df.with_columns(
            expiry_date=pl.when(pl.col("id") == draw["feed_purchase_id"])
            .then(pl.lit(draw["history_date"].date() - dt.timedelta(days=1)))
            .otherwise(pl.col("expiry_date"))
        ),
    )
    assert failed(broken) == ["feed drawn from a lot after its expiry date"]
    stock = "inventory_feedcontainerstock"
    broken = _rewrite(
        fleet,
        tmp_path,
        stock,
        lambda df: df.with_columns(
            quantity_kg=pl.when(pl.col("id") == 1).then(-pl.col("quantity_kg") - 1).otherwise(pl.col("quantity_kg"))
        ),
    )
    assert "stock lots (or lot history rows) below zero" in failed(broken)
