"""Scale-out: the shards on a Dask cluster, the snapshot on any fsspec filesystem, same bytes."""

import datetime as dt
import importlib.util
import json

import fsspec
import pytest

from aquagen.errors import AquagenError
from aquagen.run.generate import generate

from .conftest import run_cli, shared_snapshot

pytestmark = pytest.mark.slow  # fleets, databases, processes: minutes in all

ARGS = dict(seed=9, batches=2, first_start=dt.date(2024, 1, 1), stagger_days=30, as_of=dt.date(2025, 1, 1))


# The clusters' HTTP servers on free ports (":0"): the default, 8787, is taken when another xdist worker
# runs a cluster at the same time (then Dask warns and picks another).


@pytest.fixture(scope="module")
def distributed():
    """Dask's distributed scheduler, imported by the worker that runs these tests only (about 1 CPU-s)."""
    import distributed

    return distributed


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return shared_snapshot(tmp_path_factory, "dask-local", **ARGS)


def _manifest_bytes(path) -> bytes:
    return (path / "manifest.json").read_bytes()


def test_local_cluster_writes_the_same_bytes(distributed, local, tmp_path):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        snap = generate(tmp_path / "snap", scheduler=cluster.scheduler_address, **ARGS)
    assert _manifest_bytes(snap.path) == _manifest_bytes(local.path)
    for t in local.manifest["tables"].values():
        for f in t["files"]:
            assert (snap.path / f["path"]).read_bytes() == (local.path / f["path"]).read_bytes()
    assert not (tmp_path / "snap.partial").exists()


def test_any_fsspec_url_with_threads_sharing_memory(distributed, local):
    # workers in threads share the in-memory filesystem: the remote code path (no renames)
    url = "memory://aquagen-test/snap"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        snap = generate(url, scheduler=cluster.scheduler_address, **ARGS)
    fs = fsspec.filesystem("memory")
    assert fs.cat("/aquagen-test/snap/manifest.json") == _manifest_bytes(local.path)
    assert json.loads(fs.cat("/aquagen-test/snap/manifest.json")) == snap.manifest
    for t in local.manifest["tables"].values():
        for f in t["files"]:
            assert fs.cat(f"/aquagen-test/snap/{f['path']}") == (local.path / f["path"]).read_bytes()
    assert not fs.exists("/aquagen-test/snap.partial")
    fs.rm("/aquagen-test", recursive=True)


def test_a_failing_shard_leaves_no_manifest(distributed, tmp_path, monkeypatch):
    # the first batch shard fails on every try: the run stops, no manifest claims its files
    import aquagen.run.generate as G

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        tries = tmp_path / "tries"

        def broken(job, pb, first):  # runs on a worker (a copy of this function): count tries in a file
            with open(tries, "a") as f:
                f.write(f"{pb.shard}\n")
            raise RuntimeError("disk full")

        monkeypatch.setattr(G, "write_batch", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            generate(tmp_path / "snap", scheduler=cluster.scheduler_address, **ARGS)
    assert tries.read_text().split().count("0") == 3  # tried, then retried twice
    assert not (tmp_path / "snap").exists()
    assert (tmp_path / "snap.partial" / "progress.json").exists()  # resumable


def test_unreachable_scheduler_is_one_line(tmp_path):
    with pytest.raises(AquagenError, match="cannot reach the Dask scheduler"):
        generate(tmp_path / "s", scheduler="tcp://127.0.0.1:9", connect_timeout=0.2, **ARGS)
    r = run_cli(
        "generate",
        "--out",
        tmp_path / "s2",
        "--batches",
        "1",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "0.2",
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(tmp_path.iterdir()) == []  # connected before anything is written: no s.partial


def test_a_bad_scheduler_or_output_url_is_one_line_and_writes_nothing(tmp_path):
    """Checked before anything is written: an address Dask cannot parse (an internal error, and the run's
    work folder left behind), and an --out URL of a filesystem this machine has no package for (an
    internal ImportError) or of no filesystem at all."""
    gen = ["generate", "--batches", "1", "--connect-timeout", "0.2", "--out"]
    cases = [
        ([tmp_path / "s", "--scheduler", "garbage"], "--scheduler 'garbage' is not a Dask scheduler address"),
        ([tmp_path / "s", "--scheduler", "tcp://:0"], "(port 0 is outside 1..65535); use tcp://HOST:PORT"),
        ([tmp_path / "s", "--scheduler", " "], "--scheduler is empty"),
        (["nofs://bucket/snap"], "--out nofs://bucket/snap: Protocol not known: nofs; use a folder or an fsspec URL"),
    ]
    if importlib.util.find_spec("s3fs") is None:
        cases.append(
            (["s3://bucket/snap"], "--out s3://bucket/snap needs a package that is not installed: Install s3fs")
        )
    for args, says in cases:
        r = run_cli(*gen, *args, cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and says in r.stderr, (args, r.stderr)
    assert list(tmp_path.iterdir()) == []
