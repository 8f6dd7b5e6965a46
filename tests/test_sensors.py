"""Sensor faults are on by default and switched off by --clean-sensors, which the manifest keeps
(so that advance regenerates a snapshot with the same sensors)."""

import json

from aquagen.run.generate import clean_sensors_of

from .conftest import run_cli


def test_clean_sensors_is_recorded(tmp_path, master_snapshot):
    assert master_snapshot.manifest["arguments"]["clean_sensors"] is False  # the default: faults on
    r = run_cli("generate", "--out", tmp_path / "s", "--batches", "0", "--as-of", "2025-01-01", "--clean-sensors")
    assert r.returncode == 0, r.stderr
    arguments = json.loads((tmp_path / "s" / "manifest.json").read_text())["arguments"]
    assert arguments["clean_sensors"] is True and clean_sensors_of(arguments) is True


def test_snapshot_from_before_sensor_faults_regenerates_clean():
    assert clean_sensors_of({"as_of": "2025-01-01", "batches": 3}) is True
