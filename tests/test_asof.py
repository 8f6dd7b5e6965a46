"""The as-of moment without a database: a past date is cut at its end, today (the default) at the
moment of generation floored to the hour, an explicit moment where it says, a later day or moment
is refused; what the daily batch update books is booked with everything that references it; a
resumed run keeps its moment. (Snapshots cut part-way, validated and advanced: tests/test_advance.py.)"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import schemas
from aquagen.check import validate
from aquagen.errors import AquagenError
from aquagen.profiles import get, names
from aquagen.run.generate import as_of_moment, generate

from .conftest import run_cli

NOW = dt.datetime(2026, 3, 10, 9, 41, 27, tzinfo=dt.UTC)


def test_today_is_cut_at_now_floored_to_the_hour_a_past_day_at_its_end():
    assert as_of_moment(None, NOW) == (NOW.date(), dt.time(9))
    assert as_of_moment(NOW.date(), NOW) == (NOW.date(), dt.time(9))  # today given explicitly: the same
    assert as_of_moment(dt.date(2026, 3, 9), NOW) == (dt.date(2026, 3, 9), None)
    assert as_of_moment(dt.datetime(2026, 3, 10, 9, 30), NOW) == (NOW.date(), dt.time(9, 30))  # naive: UTC
    # a moment that names its zone is taken in UTC (its date too)
    cet = dt.timezone(dt.timedelta(hours=1))
    assert as_of_moment(dt.datetime(2026, 3, 10, 0, 30, tzinfo=cet), NOW) == (dt.date(2026, 3, 9), dt.time(23, 30))
    assert as_of_moment(dt.datetime(2026, 1, 5, 0, 0), NOW) == (dt.date(2026, 1, 5), dt.time(0))


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        (dt.date(2026, 3, 11), "--as-of 2026-03-11 is after today (2026-03-10 UTC)"),
        (dt.datetime(2026, 3, 10, 9, 42), "--as-of 2026-03-10T09:42 is after the moment of generation"),
        (dt.datetime(2026, 3, 10, 9, 0, 5), "is not a whole minute"),
    ],
)
def test_a_later_day_or_moment_is_refused(as_of, message):
    with pytest.raises(AquagenError, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_of_moment(as_of, NOW)


def test_the_cli_refuses_a_later_day_in_one_line(tmp_path):
    r = run_cli("generate", "--batches", "0", "--as-of", "2099-01-01", "--out", tmp_path / "x")
    assert r.returncode == 2 and r.stderr.startswith("error: --as-of 2099-01-01 is after today")
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    r = run_cli("generate", "--batches", "0", "--as-of", "2026-03-10T9h", "--out", tmp_path / "x")
    assert r.returncode == 2 and "use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)" in r.stderr


@pytest.mark.parametrize("profile", names())
def test_what_references_a_booked_row_is_booked_with_it(profile):
    """A row referencing a booked row (a fish weighed in a growth sample) exists no earlier than it."""
    p = get(profile)
    assert p.booked
    for name, t in schemas.tables(profile).items():
        for fk in t.foreign_keys:
            if fk.ref_table in p.booked:
                assert p.booked.get(name, dt.timedelta()) >= p.booked[fk.ref_table], (name, fk.column)


def test_a_resumed_run_keeps_its_moment(tmp_path):
    """Generated at 09:41 (cut at 09:00), then rerun with --resume at 10:05: complete, nothing to do."""
    args = dict(batches=0, first_start=NOW.date() - dt.timedelta(days=5))
    snap = generate(tmp_path / "s", now=NOW, **args)
    assert snap.manifest["arguments"]["as_of_time"] == "09:00"
    again = generate(tmp_path / "s", now=NOW + dt.timedelta(minutes=24), resume=True, **args)
    assert again.status == "complete" and again.manifest == snap.manifest
    with pytest.raises(AquagenError, match="pass --force to replace it"):  # another moment asked for
        generate(
            tmp_path / "s",
            as_of=NOW.replace(hour=10, minute=0, second=0),
            now=NOW.replace(hour=10),
            resume=True,
            **args,
        )


@pytest.mark.parametrize("hour", [21, 13, 10, 9])
def test_a_part_day_of_the_newest_profile_validates(tmp_path, hour):
    """aquamind@cb41030 cut on a day of harvest (events at 10:00, lots graded at 16:00), of sea transfer
    (moves at 09:00 with their handling losses) and growth samples (booked with the 20:00 update), whose
    daily states are computed at 23:50: at 21:00, 13:00, 10:00 and 09:00, nothing after the moment, every
    check passes."""
    first = dt.date(2023, 1, 1)
    moment = dt.datetime(2025, 2, 26, hour, 0, tzinfo=dt.UTC)  # harvest, transfers with losses, samples
    snap = generate(
        tmp_path / "s",
        seed=4,
        batches=2,
        stagger_days=408,  # the second batch's move into Post-Smolt on a day of the first's harvest
        first_start=first,
        as_of=moment,
        profile="aquamind@cb41030",
        now=NOW,
        workers=1,  # no worker processes to start (each imports Polars and aquagen) for two batches
    )
    assert snap.manifest["arguments"]["as_of_time"] == f"{hour:02d}:00"
    samples = snap.scan("batch_growthsample").filter(pl.col("sample_date") == moment.date()).collect()
    states = snap.scan("batch_actualdailyassignmentstate").filter(pl.col("date") == moment.date()).collect()
    assert (samples.height > 0) == (hour >= 20) and states.height == 0  # the day's states not yet
    on_the_day = lambda t, col: snap.scan(t).filter(pl.col(col).dt.date() == moment.date()).collect()
    moved = snap.scan("batch_transferaction").filter(pl.col("actual_execution_date") == moment.date()).collect()
    if hour > 10:  # the day's harvest events (10:00) and moves (09:00) are in
        assert on_the_day("harvest_harvestevent", "event_date").height > 0
        assert (on_the_day("harvest_harvestlot", "created_at").height > 0) == (hour >= 16)
        # the move's handling losses are in with the move (the application's execute step writes them)
        losses = on_the_day("batch_mortalityevent", "created_at").filter(pl.col("cause") == "HANDLING")
        assert moved["mortality_during_transfer"].sum() > 0
        assert losses.filter(pl.col("description").str.starts_with("Handling loss"))["count"].sum() == (
            moved["mortality_during_transfer"].sum()
        )
    elif hour == 10:  # the rings harvested that day have left (09:00), their harvest events (10:00) are not in
        assert moved.height > 0 and on_the_day("harvest_harvestevent", "event_date").height == 0
    else:  # at 09:00 the moves are not in, nor the 06:00 readings of the tanks they fill (taken before)
        assert moved.height == 0 and on_the_day("environmental_environmentalreading", "reading_time").height > 0
    late = []
    for name in snap.manifest["tables"]:
        lf = snap.scan(name)
        for col, kind in lf.collect_schema().items():
            if isinstance(kind, pl.Datetime) and lf.filter(pl.col(col) >= moment).select(pl.len()).collect().item():
                late.append(f"{name}.{col}")
    assert late == []
    assert [r.check.name for r in validate.run_snapshot(snap) if not r.ok] == []
