"""Schema profiles are plug-ins: a profile added as one folder generates, validates and loads
through the same code as the built-in ones."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import psycopg
import pytest

import schemas
from aquagen import profiles
from aquagen.check import validate
from aquagen.errors import AquagenError
from aquagen.run.generate import generate
from loaders.postgres import load

FOLDER = Path(__file__).parent / "profiles" / "aquamind_nocomposition_test"
NAME = "aquamind-nocomposition@test"
DROPPED = ("batch_batchcomposition", "batch_historicalbatchcomposition")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The test profile's folder in a plug-in directory, with its schema files derived from the plan's."""
    base = tmp_path / "plugins"
    folder = base / schemas.slug(NAME)
    shutil.copytree(FOLDER, folder)
    schema = json.loads((Path(schemas.__file__).parent / "aquamind_8f2ab39.json").read_text())
    choices = json.loads((Path(schemas.__file__).parent / "aquamind_8f2ab39.choices.json").read_text())
    (folder / "schema.json").write_text(json.dumps({k: v for k, v in schema.items() if k not in DROPPED}))
    (folder / "choices.json").write_text(json.dumps({k: v for k, v in choices.items() if k not in DROPPED}))
    monkeypatch.setenv(schemas.PROFILE_PATH_ENV, str(base))
    return profiles.get(NAME)


def test_a_plugin_profile_generates_validates_and_loads(plugin, tmp_path, empty_db):
    assert NAME in profiles.names() and set(DROPPED).isdisjoint(plugin.tables)
    snap = generate(
        tmp_path / "snap",
        seed=2,
        batches=1,
        as_of=dt.date(2024, 6, 1),
        first_start=dt.date(2023, 9, 1),
        workers=2,
        profile=NAME,
    )
    assert snap.profile == NAME and set(snap.manifest["tables"]) == set(plugin.tables)
    failed = [r.check.name for r in validate.run(validate.SnapshotSource(snap)) if not r.ok]
    assert failed == []
    load(snap, empty_db)
    with psycopg.connect(empty_db) as c:
        tables = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert set(plugin.tables) <= tables and not set(DROPPED) & tables
        failed = [r.check.name for r in validate.run(validate.DatabaseSource(c, dt.date(2024, 6, 1), NAME)) if not r.ok]
    assert failed == []


def test_the_same_fish_in_both_profiles(plugin, tmp_path):
    args = dict(seed=2, batches=1, as_of=dt.date(2024, 6, 1), first_start=dt.date(2023, 9, 1))
    a = generate(tmp_path / "a", profile="aquamind@8f2ab39", **args)  # the plug-in is derived from it
    b = generate(tmp_path / "b", profile=NAME, **args)
    for name in a.manifest["tables"]:
        if name not in DROPPED:
            assert a.read(name).equals(b.read(name)), name


def test_an_unknown_profile_is_one_line(tmp_path):
    with pytest.raises(AquagenError, match=r"unknown profile .nope@1.; known: .*aquamind@8f2ab39"):
        generate(tmp_path / "x", profile="nope@1")
    assert not (tmp_path / "x").exists()
