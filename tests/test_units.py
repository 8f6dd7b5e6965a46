"""Unit tests of the pieces the fleet tests exercise only as a whole: id allocation, the store,
the planner and the Parquet writer."""

from __future__ import annotations

import ast
import datetime as dt
import os
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import schemas
from aquagen import snapshot, words
from aquagen.errors import AquagenError
from aquagen.model.fleet import calendar_of, plan_fleet, sea_window
from aquagen.model.seeds import MASTER_STREAM, fleet_eggs, rng_for
from aquagen.model.simulate import rows_through
from aquagen.profiles.aquamind_8f2ab39.feedstock import _rows_of
from aquagen.run import shards
from aquagen.run.runner import on_this_thread
from aquagen.run.shards import (
    Job,
    _by_feed_container,
    _by_window,
    _read_kept,
    _with_history_ids,
    _write_streams,
    window_of,
)
from aquagen.snapshot import write_part
from aquagen.store import Store
from aquagen.tables.conform import conform
from aquagen.tables.cut import cut, end_of, until
from aquagen.tables.ids import FIRST_SCHEMA, LOCAL_BASE, Counting, allocate, renumber, table_enum

PROFILE = "aquamind@8f2ab39"


def counts(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
    enum = table_enum(PROFILE)
    return pl.DataFrame(
        {"table": [t for t, _, _ in rows], "day": [d for _, d, _ in rows], "n": [n for _, _, n in rows]},
        schema={"table": enum, "day": pl.Int32, "n": pl.Int64},
    )


def firsts(frame: pl.DataFrame) -> dict[tuple[str, int], tuple[int, int]]:
    return {(str(t), d): (f, n) for t, d, f, n in frame.select("table", "day", "first", "n").iter_rows()}


def test_allocation_ranks_rows_by_day_then_shard():
    # two shards on overlapping days: within a day the lower shard key comes first
    got = allocate(
        {
            7: counts([("batch_growthsample", 10, 3), ("batch_growthsample", 12, 1)]),
            -1: counts([("batch_growthsample", 10, 2), ("batch_growthsample", 11, 4), ("batch_batch", 10, 1)]),
        }
    )
    assert firsts(got[-1]) == {
        ("batch_growthsample", 10): (1, 2),
        ("batch_growthsample", 11): (6, 4),
        ("batch_batch", 10): (1, 1),
    }
    assert firsts(got[7]) == {("batch_growthsample", 10): (3, 3), ("batch_growthsample", 12): (10, 1)}


def test_renumber_maps_local_ids_by_day_and_leaves_other_tables():
    # a shard without rows of its own (an idle feed site's first ids may be empty) changes nothing
    frames = {"batch_batch": pl.DataFrame({"id": [LOCAL_BASE + 1, LOCAL_BASE]})}
    assert renumber(frames, pl.DataFrame(schema=FIRST_SCHEMA), PROFILE)["batch_batch"].equals(frames["batch_batch"])
    first = pl.DataFrame(
        {"table": ["batch_batch"] * 2, "day": [2, 1], "first": [10, 3], "n": [1, 1]}, schema=FIRST_SCHEMA
    )
    assert renumber(frames, first, PROFILE)["batch_batch"]["id"].to_list() == [10, 3]


def test_allocation_is_dense_and_prefix_stable():
    shards = {k: counts([("batch_mortalityevent", d, k + d % 3 + 1) for d in range(5, 40, k + 2)]) for k in range(4)}
    got = allocate(shards)
    spans = sorted((f, f + n - 1) for frame in got.values() for (_, _), (f, n) in firsts(frame).items())
    assert spans[0][0] == 1 and all(a[1] + 1 == b[0] for a, b in zip(spans, spans[1:]))  # dense, no overlap
    # cutting every shard at a day keeps the earlier ids: a later as-of date only appends
    early = allocate({k: c.filter(pl.col("day") <= 20) for k, c in shards.items()})
    for k, frame in early.items():
        late = firsts(got[k])
        assert all(late[key] == value for key, value in firsts(frame).items())


@pytest.mark.parametrize("unit", ["us", "ms", "ns"])
def test_until_keeps_the_rows_before_the_moment(unit):
    """``until`` (arithmetic on the timestamps' array: the frame, its first rows or a mask) keeps
    exactly the rows a filter on the moment does, in their order: in time order, out of it, all,
    none."""
    utc = pl.Datetime(unit, "UTC")
    end = end_of(dt.date(2025, 12, 31))
    times = [dt.datetime(2025, 12, 31, 9, tzinfo=dt.UTC) + dt.timedelta(hours=h, microseconds=1) for h in range(30)]
    before = sum(t < end for t in times)
    for stamps in (times, times[::-1], times[:10], times[-5:], [*times[:3], times[-1], times[4]]):
        df = pl.DataFrame({"when": pl.Series(stamps, dtype=utc), "row": range(len(stamps))})
        kept = until(df, "when", end)
        assert kept.equals(df.filter(pl.col("when") < end))
        assert (kept is df) == (kept.height == df.height)
    assert until(pl.DataFrame({"when": pl.Series(times, dtype=utc)}), "when", end).height == before < len(times)


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_feed_site_rows_by_window_are_the_queries_rows(unit):
    """A feed site's rows by time window (arithmetic on the times' array: the frame, a slice or a mask)
    are the rows a query on ``window_of`` gives, in their order, in time order or not, across years."""
    stamps = [dt.datetime(2023, 12, 31, 23, tzinfo=dt.UTC) + dt.timedelta(days=97 * i, hours=i) for i in range(12)]
    for times in (stamps, stamps[::-1], [*stamps[4:], *stamps[:4]], stamps[5:7]):
        df = pl.DataFrame({"time": pl.Series(times, dtype=pl.Datetime(unit, "UTC")), "row": range(len(times))})
        windowed = df.with_columns(_window=window_of(pl.col("time")))
        want = {w: windowed.filter(pl.col("_window") == w).drop("_window") for w in windowed["_window"].unique()}
        got = _by_window(df, "time")
        assert sorted(got) == sorted(want) and all(got[w].equals(want[w]) for w in want)
    assert len(_by_window(df, "time")) == 1 and _by_window(df.head(0), "time") == {}


def test_feedings_handed_to_the_feed_sites_are_the_queries_rows(tmp_path):
    """A batch's feedings with their history ids and by feed container and window (a column taken as it
    is, one sort and slices) are what a join and ``partition_by`` give, in their order; and with a history
    whose rows are not the events' row for row, the join's."""
    job = Job(Store(str(tmp_path)), PROFILE, 1, dt.date(2025, 1, 1), dt.date(2023, 1, 1))
    n = 40
    feedings = pl.DataFrame(
        {
            "id": range(100, 100 + n),
            "container_id": [(7 * i) % 23 + 1 for i in range(n)],  # halls' tanks and rings: several feed containers
            "created_at": pl.Series(
                [dt.datetime(2023, 12, 20, tzinfo=dt.UTC) + dt.timedelta(days=i) for i in range(n)],
                dtype=pl.Datetime("us", "UTC"),
            ),
        }
    )
    history = feedings.select("id", history_id=pl.int_range(500, 500 + n, dtype=pl.Int32))
    for h in (history, history.reverse(), history.head(n - 1)):
        want = feedings.join(h, on="id", maintain_order="left")
        assert _with_history_ids(feedings, h).equals(want)
    with_ids = _with_history_ids(feedings, history)
    keyed = with_ids.with_columns(
        _fc=job.profile.feed_container_of(pl.col("container_id")), _window=window_of(pl.col("created_at"))
    )
    want = {
        f"{fc:04d}/{w}": g
        for (fc, w), g in keyed.partition_by("_fc", "_window", as_dict=True, include_key=False).items()
    }
    got = _by_feed_container(job, with_ids)
    assert len(want) > 2 and sorted(got) == sorted(want) and all(got[k].equals(want[k]) for k in want)
    assert _by_feed_container(job, with_ids.head(0)) == {}


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_rows_through_a_day_are_the_filters_rows(tz):
    """``rows_through`` (arithmetic on the dates' or times' array) keeps the rows a filter on the day
    keeps, in their order: in day order, out of it, all of them, none."""
    times = [dt.datetime(2025, 2, 27, 23) + dt.timedelta(hours=7 * i) for i in range(20)]
    last = dt.date(2025, 3, 1)
    for stamps in (times, times[::-1], times[:3], times[-3:], [*times[10:], *times[:10]]):
        df = pl.DataFrame({"t": pl.Series(stamps, dtype=pl.Datetime("us", tz)), "row": range(len(stamps))})
        df = df.with_columns(d=pl.col("t").dt.date(), ns=pl.col("t").cast(pl.Datetime("ns", tz)))
        for column in ("t", "d", "ns"):
            want = df.filter(pl.col(column).cast(pl.Date) <= pl.lit(last, dtype=pl.Date))
            assert rows_through(df, column, last).equals(want)


@pytest.mark.parametrize("small", [0, 1 << 30])
def test_kept_frames_read_back_as_written(tmp_path, monkeypatch, small):
    # every stream written by pyarrow (small 0: a history's columns that are its base's arrays left
    # out and taken from the base again) or by Polars (every frame small)
    monkeypatch.setattr(shards, "SMALL_STREAM_BYTES", small)
    job = Job(Store(str(tmp_path)), PROFILE, 1, dt.date(2024, 1, 1), dt.date(2023, 1, 1))
    base = pl.DataFrame({"id": [1, 2, 3], "note": ["a", None, "a rather longer note"], "kg": [1.5, 2.0, None]})
    history = base.select(pl.lit(7, pl.Int32).alias("history_id"), "id", pl.col("note").str.to_uppercase(), "kg")
    # a frame's columns of one value (an empty note, all NULL) and one that repeats another's arrays
    events = base.select("id", empty=pl.lit(""), at=pl.lit(None, pl.Datetime("us", "UTC")), again=pl.col("id"), kg="kg")
    frames = {"b": base, "h": history, "other": base.head(2), "e": events}
    index = _write_streams(job.work.local / "local/p.arrows", frames, {"h": "b", "other": "b"})
    assert [len(v) for v in index.values()] == ([2, 8, 2, 8] if small == 0 else [2, 2, 2, 2])
    if small == 0:
        # the note is the history's own; its id is one value (written once, in a stream of its own)
        assert index["h"][2:5] == ["b", [["id", 1], ["kg", 3]], [["history_id", 0]]]
        assert index["e"][2:5] == [None, [], [["empty", 1], ["at", 2]]] and index["e"][7] == [["again", 3, "id"]]
    got = _read_kept(job, "p")
    assert all(got[n].equals(df) and got[n].schema == df.schema for n, df in frames.items())


def test_store_round_trips_and_refuses_nothing_silently(tmp_path):
    store = Store(str(tmp_path / "root"))
    store.write_text("a/b.txt", "hello")
    store.write_bytes("c.bin", b"\x00\x01")
    df = pl.DataFrame({"x": [1, 2, 3]})
    store.write_parquet("d/e.parquet", df)
    assert store.read_text("a/b.txt") == "hello" and store.read_bytes("c.bin") == b"\x00\x01"
    assert store.read_parquet("d/e.parquet").equals(df)
    # a work frame (Arrow IPC) keeps its types: an enum's categories, nulls, time zones
    work = pl.DataFrame(
        {"t": pl.Series(["b", "a"], dtype=pl.Enum(["a", "b", "c"])), "n": [None, 2]},
        schema_overrides={"n": pl.Int64},
    ).with_columns(at=pl.datetime(2026, 1, 1, time_zone="UTC"))
    store.write_frame("w/f.arrows", work)
    back = store.read_frame("w/f.arrows")
    assert back.equals(work) and back.schema == work.schema
    assert store.exists("a/b.txt") and not store.exists("nope")
    assert [p.rsplit("/", 1)[-1] for p in store.glob("d/*.parquet")] == ["e.parquet"]
    assert store.child("a").read_text("b.txt") == "hello"
    assert store.sibling(".partial").local == tmp_path / "root.partial"
    assert not list(tmp_path.rglob("*.tmp-*"))  # writes go through a temporary file, renamed in place
    store.rm("a")
    assert not store.exists("a/b.txt") and store.exists("c.bin")


def test_store_on_memory_filesystem():
    store = Store("memory://aquagen-units/root")
    store.write_text("x.txt", "remote")
    assert store.local is None and store.read_text("x.txt") == "remote"
    store.rm()
    assert not store.exists("x.txt")


def test_planner_keeps_sites_apart_and_alternates_geographies():
    planned = plan_fleet(12, dt.date(2023, 1, 1), 20, fleet_eggs(3), seed=3)
    assert [b.geography for b in planned[:4]] == ["Scotland", "Faroe Islands", "Scotland", "Faroe Islands"]
    assert len({b.batch_number for b in planned}) == 12 and [b.batch_id for b in planned] == list(range(1, 13))
    by_area: dict[str, list] = {}
    for b in planned:
        by_area.setdefault(b.sea_area, []).append(b)
    for batches in by_area.values():  # a sea area holds one batch at a time (fallow included)
        windows = sorted(sea_window(b.start_date, calendar_of(b, 3)) for b in batches)
        assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))


def test_a_geography_is_named_as_a_user_types_it():
    from aquagen.model.fleet import geography

    for typed, name in [
        ("Faroe Islands", "Faroe Islands"),
        ("faroe", "Faroe Islands"),
        (" FAROE  islands", "Faroe Islands"),
    ]:
        assert geography(typed).name == name
    assert geography("scotland").name == geography("Scot").name == "Scotland"
    for typed in ("Norway", "", "islands"):
        with pytest.raises(AquagenError, match=f"unknown geography '{typed}'; valid: 'Scotland', 'Faroe Islands'"):
            geography(typed)


def test_planner_says_how_many_fit():
    with pytest.raises(AquagenError, match="does not fit|do not all start"):
        plan_fleet(400, dt.date(2023, 1, 1), 1, fleet_eggs(3), "Scotland", seed=3)


def test_known_password_hashes_are_the_computed_ones():
    from aquagen.model import domain as D
    from aquagen.profiles.aquamind_8f2ab39.masterdata import KNOWN_HASHES, pbkdf2_hash
    from aquagen.profiles.aquamind_cb41030.masterdata import SCOPED_USERS

    users = {u.username for u in D.USERS} | {u[0] for u in SCOPED_USERS}
    assert {(D.DEFAULT_PASSWORD, u) for u in users} <= set(KNOWN_HASHES)  # every default user's hash is known
    for (password, user), known in KNOWN_HASHES.items():
        assert known == pbkdf2_hash(password, user), user


def test_rows_of_matches_a_left_join_on_unique_keys():
    key = pl.Series([7, 3, 11, 5])
    wanted = pl.Series([5, 12, 7, 7, 2, 3])
    at, found = _rows_of(key, wanted)
    joined = pl.DataFrame({"k": wanted}).join(
        pl.DataFrame({"k": key, "row": range(4)}), on="k", how="left", maintain_order="left"
    )
    assert found.tolist() == joined["row"].is_not_null().to_list()
    assert at[found].tolist() == joined["row"].drop_nulls().to_list()
    assert _rows_of(pl.Series([], dtype=pl.Int64), wanted)[1].tolist() == [False] * 6


# the pipeline's stages, lowest first: each imports only the stages before it (issue 12: the table
# layer and the model never import what is built on them; the base modules beside them — errors,
# timing, store, snapshot, schemas — import none of these)
LAYERS = ("model", "tables", "profiles", "run", "loaders", "check", "cli")


def _imported_layers(path: Path, module: str) -> set[str]:
    """The layers of aquagen (and ``loaders``) a module imports, from its source."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            package = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
            target = ".".join([*package, node.module or ""]) if node.level else node.module or ""
        elif isinstance(node, ast.Import):
            target = node.names[0].name
        else:
            continue
        parts = target.split(".")
        out.add(parts[0] if parts[0] == "loaders" else parts[1] if parts[0] == "aquagen" and len(parts) > 1 else "")
    return out & set(LAYERS)


def test_each_stage_imports_only_the_stages_before_it():
    root = Path(__file__).parents[1]
    wrong = []
    for path in sorted([*root.glob("aquagen/**/*.py"), *root.glob("loaders/*.py")]):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        parts = module.split(".")
        layer = "loaders" if parts[0] == "loaders" else parts[1] if len(parts) > 1 else ""
        layer = "cli" if layer == "__main__" else layer  # ``python -m aquagen``: the command line
        if layer not in LAYERS:
            assert not _imported_layers(path, module), f"{module} is a base module: it imports a stage"
            continue
        later = set(LAYERS[LAYERS.index(layer) + 1 :])
        wrong += [f"{module} imports {x}" for x in sorted(_imported_layers(path, module) & later)]
    assert wrong == []


def test_every_join_that_builds_tables_states_its_order():
    """A Polars join's row order is unspecified unless asked for (a hash join may follow either side,
    or its partitions, which follow the thread count): the stages that build the snapshot's rows say
    it on every join, so that the bytes never rest on a join strategy (``join_asof`` keeps its left
    frame's order by definition)."""
    root = Path(__file__).parents[1]
    silent = []
    for stage in ("model", "tables", "profiles", "run"):
        for path in sorted((root / "aquagen" / stage).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("join", "join_where")
                    and any(k.arg in ("on", "left_on", "predicates") for k in node.keywords)  # not str.join
                    and not any(k.arg == "maintain_order" for k in node.keywords)
                ):
                    silent.append(f"{path.relative_to(root)}:{node.lineno}")
    assert silent == []


def test_history_strings_hold_whatever_their_base_columns_hold():
    """``numbered_history(of_conformed=True)`` skips measuring the strings of '+' rows made from
    conformed base rows: it rests on every history column allowing at least its base column's length."""
    from aquagen.profiles import names

    shorter = []
    for profile in names():
        for t in schemas.tables(profile).values():
            if t.history_table is None:
                continue
            limit = {c.name: c.max_length for c in schemas.table(t.history_table, profile).columns}
            for c in t.columns:
                if c.max_length is not None and c.name in limit:
                    held = limit[c.name]
                    if held is not None and held < c.max_length:
                        shorter.append(f"{profile} {t.history_table}.{c.name}")
    assert shorter == []


def _three_rows(t: schemas.Table) -> pl.DataFrame:
    """Three rows of any table: a value of each column's type (a short and a long string), NULL in the
    third row of a nullable column."""
    kinds = {
        pl.Boolean: [True, False],
        pl.String: ["short", "a string longer than a view's twelve inline bytes"],
        pl.Date: [dt.date(2026, 1, 2), dt.date(2026, 3, 4)],
        pl.Time: [dt.time(6, 30), dt.time(18, 45)],
        pl.Float64: [1.5, -2.25],
        pl.Datetime: [dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), dt.datetime(2026, 5, 6, 7, 8, tzinfo=dt.UTC)],
        pl.Decimal: [Decimal("1.25"), Decimal("-0.5")],
    }
    columns = {}
    for c in t.columns:
        values = next((v for kind, v in kinds.items() if c.polars_type == kind), [7, 11])  # else integers
        columns[c.name] = pl.Series(c.name, [*values, None if c.nullable else values[0]], dtype=c.polars_type)
    return pl.DataFrame(columns)


@pytest.mark.parametrize("profile", schemas.known())
def test_strings_handed_to_the_writer_as_views_give_the_bytes_of_strings(tmp_path, monkeypatch, profile):
    """``write_part`` hands Polars' string views to pyarrow's writer as they are (when it takes them)
    and stores the table's schema by hand: every table's file is byte for byte the one of casting
    to strings first, and reads back with the table's Arrow schema."""
    frames = {name: _three_rows(t) for name, t in schemas.tables(profile).items()}
    views = {name: write_part(tmp_path / "views", name, df, "p", profile) for name, df in frames.items()}
    monkeypatch.setattr(snapshot, "_views_written", lambda: False)
    cast = {name: write_part(tmp_path / "cast", name, df, "p", profile) for name, df in frames.items()}
    assert views == cast
    for name, entry in views.items():
        assert entry is not None
        assert pq.read_schema(tmp_path / "views" / entry["path"]) == schemas.table(name, profile).arrow_schema


def test_a_part_written_piece_by_piece_in_exact_row_groups_is_the_whole_frames(tmp_path, monkeypatch):
    """``PartWriter`` with ``exact``: pieces of any sizes, cut where a row group ends, give the bytes of
    ``write_part`` of their concatenation (small row groups here, so that pieces straddle them)."""
    monkeypatch.setattr(snapshot, "ROW_GROUP_ROWS", 1_000)
    name = "environmental_weatherdata"
    n = 4_321
    stamp = pl.datetime_range(
        dt.datetime(2020, 1, 1),
        dt.datetime(2020, 1, 1) + dt.timedelta(hours=3 * (n - 1)),
        "3h",
        time_zone="UTC",
        eager=True,
    )
    whole = conform(
        name,
        pl.DataFrame(
            {
                "id": range(1, n + 1),
                "timestamp": stamp,
                "temperature": [(i % 300) / 10 - 5 for i in range(n)],
                "wind_speed": [(i % 97) / 7 for i in range(n)],
                "wind_direction": [i % 360 for i in range(n)],
                "precipitation": [(i % 13) / 4 for i in range(n)],
                "wave_height": [(i % 31) / 9 for i in range(n)],
                "wave_period": [(i % 17) / 3 for i in range(n)],
                "wave_direction": [(i * 7) % 360 for i in range(n)],
                "cloud_cover": [i % 101 for i in range(n)],
                "area_id": [i % 5 + 1 for i in range(n)],
                "created_at": stamp,
            }
        ),
        PROFILE,
    )
    expected = write_part(tmp_path / "whole", name, whole, "master", PROFILE)
    cuts = [0, 7, 999, 1_000, 2_500, 2_501, 4_000, n]
    with snapshot.PartWriter(tmp_path / "pieces", name, "master", PROFILE, group_rows=1_000, exact=True) as writer:
        for a, b in zip(cuts, cuts[1:], strict=False):
            writer.add(whole.slice(a, b - a))
    assert writer.entry == expected
    assert pq.ParquetFile(tmp_path / "pieces" / expected["path"]).metadata.num_row_groups == 5


def test_rows_counted_piece_by_piece_are_counted_as_a_whole():
    """``Counting.add``: a table counted piece by piece in time order (a day split between two pieces
    included) gives the counts of ``assign`` of the whole."""
    name = "environmental_weatherdata"
    day = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    whole = pl.DataFrame({"created_at": [day + dt.timedelta(hours=5 * i) for i in range(100)]})
    one, pieces = Counting(PROFILE), Counting(PROFILE)
    one.assign(name, whole)
    for a, b in ((0, 13), (13, 13), (13, 40), (40, 100)):
        pieces.add(name, whole.slice(a, b - a))
    assert pieces.counts().equals(one.counts())
    with pytest.raises(ValueError, match="counted after"):
        pieces.add(name, whole.head(1))


@pytest.mark.parametrize("at", [None, dt.time(13, 7)])
def test_the_weather_written_as_it_is_made_is_the_whole_tables_part(tmp_path, monkeypatch, at):
    """The master shard writes the weather a calendar year at a time (``_write_made``): counted whole,
    cut at the as-of moment piece by piece, its row groups cut where they fall (small ones here, so
    that years straddle them), it is the part file and the counts of the whole table at once."""
    monkeypatch.setattr(snapshot, "ROW_GROUP_ROWS", 50_000)
    name = "environmental_weatherdata"
    job = Job(
        root=Store(str(tmp_path / "s")),
        profile_name=PROFILE,
        seed=3,
        as_of=dt.date(2024, 6, 30),
        first_start=dt.date(2022, 1, 1),
        as_of_time=at,
    )
    written = shards.master_shard(job)
    p = job.profile
    assert p.environment is not None
    master = p.master(job.setup_date, rng_for(job.seed, MASTER_STREAM), p.name)
    made, pieces = next(p.environment(master, job.setup_date, job.as_of, job.seed, p.name))
    assert made == name and not isinstance(pieces, pl.DataFrame)
    whole = pl.concat(list(pieces))
    counted = Counting(PROFILE)
    counted.assign(name, whole)
    if at is not None:
        whole = cut({name: whole}, job.cut_at, p.name, p.mutable)[name]
    assert whole.height > 6 * 50_000
    assert written.entries[name] == write_part(tmp_path / "whole", name, whole, "master", PROFILE)
    assert pq.ParquetFile(tmp_path / "s" / written.entries[name]["path"]).metadata.num_row_groups > 6
    mine = written.counts.filter(pl.col("table") == name)
    assert mine.equals(counted.counts())


def _polars_pool_cpu() -> float:
    """CPU-seconds of this process's Polars pool threads (``polars-N``), from /proc (10 ms ticks)."""
    ticks = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().startswith("polars-"):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        except OSError:  # a thread that ended meanwhile
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def test_a_shard_runs_its_queries_on_its_own_thread_once():
    """``on_this_thread`` (how the runner runs a shard): the Polars queries of the function run on the
    calling thread, where Polars otherwise hands a group-by's, a join's and a filter's work to its pool
    (half of it or more here); the function runs once, its result comes back and its exceptions come out
    as raised. CPU of this thread against Polars' pool threads (other threads of the process, such as a
    test's leftovers, are not counted)."""
    df = pl.DataFrame({"k": np.arange(1_000_000) % 1000, "v": np.random.default_rng(0).random(1_000_000)})
    calls = []

    def queries() -> float:
        """The share of the queries' CPU spent on this thread."""
        calls.append(1)
        thread, pool = time.thread_time(), _polars_pool_cpu()
        for _ in range(2):
            df.group_by("k").agg(pl.col("v").sum())
            df.join(df.head(1000), on="k")
            df.filter(pl.col("v") > 0.5)
        own = time.thread_time() - thread
        return own / (own + _polars_pool_cpu() - pool)

    assert on_this_thread(queries) > 0.8
    assert calls == [1]
    with pl.Config(engine_affinity="in-memory"):  # a user's default engine: not the one that calls the shard
        assert on_this_thread(queries) > 0.8
    assert queries() < 0.8  # Polars' pool otherwise: what makes the test able to fail
    assert len(calls) == 3

    def fails(e: BaseException) -> None:
        raise e

    with pytest.raises(AquagenError, match="^a one-line error$"):
        on_this_thread(fails, AquagenError("a one-line error"))
    with pytest.raises(KeyboardInterrupt):
        on_this_thread(fails, KeyboardInterrupt())


def test_counts_read_as_people_write_them():
    """Messages, captions and chart titles: "1 batch", never "1 batches"."""
    assert words.count(1, "batch") == "1 batch" and words.count(0, "batch") == "0 batches"
    assert words.count(3, "batch") == "3 batches" and words.count(1_200, "site") == "1,200 sites"
    assert words.count(2, "fish", "fish") == "2 fish"
    assert words.some(["A", "B"]) == "A, B" and words.some(list("ABCDEFG")) == "A, B, C, D, E and 2 more"
    assert words.some(list("ABC"), 2) == "A, B and 1 more" and words.some([]) == ""
