"""A shared snapshot is untrusted input; every failure at the edges is one line and leaves nothing
half-done (issue 19): tampered manifests and part files, kills at every step of publish, a second
run into the same folder, a full disk, signals, out-of-range CLI values, internal errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import schemas
from aquagen.check import validate
from aquagen.errors import AquagenError
from aquagen.model.sites import SITES
from aquagen.snapshot import Snapshot, aside, locked
from loaders import postgres, staged

from .conftest import AS_OF, fingerprint, run_cli, run_forked

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _one_line(r: subprocess.CompletedProcess, code: int = 2) -> str:
    err = r.stderr.strip()
    assert r.returncode == code and len(err.splitlines()) == 1 and "Traceback" not in err, (r.returncode, err)
    return err


# --- tampered snapshots -------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(m: dict, table: str) -> dict:
    return m["tables"][table]["files"][0]


def _rewrite_part(snap: Path, m: dict, table: str, change) -> None:
    """Replace the first part of ``table`` by ``change(arrow table)``, with a recomputed checksum."""
    f = _entry(m, table)
    t = pq.read_table(snap / f["path"])
    pq.write_table(change(t), snap / f["path"])
    f["sha256"] = _sha(snap / f["path"])


def _set_column(t: pa.Table, name: str, arr: pa.Array, field: pa.Field | None = None) -> pa.Table:
    i = t.schema.get_field_index(name)
    return t.set_column(i, field or pa.field(name, arr.type, nullable=True), arr)


def _overflowing_decimal(n: int) -> pa.Array:
    """decimal(10,2) values with 12 integer digits (Arrow does not check precision on its buffers)."""
    wide = pa.array([Decimal("123456789012.00")] * n, type=pa.decimal128(20, 2))
    return pa.Array.from_buffers(pa.decimal128(10, 2), n, wide.buffers())


# each mutation: (name, function(snapshot folder, manifest dict, draw) -> None); the manifest is written after
def _wrong_type(m: dict, d) -> None:
    """A top-level field given a value of another type (the same type would be no tampering: an empty
    list for a master-only snapshot's empty batch list)."""
    key = d(st.sampled_from(["format_version", "schema", "seed", "arguments", "batches", "tables"]))
    m[key] = d(
        st.one_of(
            st.none(),
            st.booleans(),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=2),
            st.floats(allow_nan=False, allow_infinity=False),
        ).filter(lambda v: type(v) is not type(m[key]))
    )


MUTATIONS = {
    "drop a top-level key": lambda s, m, d: m.pop(
        d(st.sampled_from(["format_version", "schema", "seed", "arguments", "batches", "planned_batches", "tables"]))
    ),
    "wrong type at top level": lambda s, m, d: _wrong_type(m, d),
    "seed beyond bigint": lambda s, m, d: m.__setitem__("seed", d(st.integers(min_value=2**63))),
    "unknown profile": lambda s, m, d: m.__setitem__("schema", d(st.text(max_size=12))),
    "other format version": lambda s, m, d: m.__setitem__("format_version", d(st.integers().filter(lambda v: v != 1))),
    "bad as-of date": lambda s, m, d: m["arguments"].__setitem__(
        "as_of", d(st.sampled_from(["0001-06-01", "2026-13-01", "tomorrow", 20260101]))
    ),
    "a batch added to no batch": lambda s, m, d: m["arguments"].__setitem__(
        "added", d(st.sampled_from([[{"shard": 7, "from": "2025-01-01"}], [{"shard": 0}], ["x"], {"shard": 0}]))
    ),
    "tables as a list": lambda s, m, d: m.__setitem__("tables", list(m["tables"].values())),
    "a table missing": lambda s, m, d: m["tables"].pop(d(st.sampled_from(sorted(m["tables"])))),
    "an unknown table": lambda s, m, d: m["tables"].__setitem__("evil_table", {"rows": 0, "files": []}),
    "table rows off": lambda s, m, d: m["tables"]["batch_species"].__setitem__(
        "rows", 1 + d(st.integers(min_value=1, max_value=10))
    ),
    "file rows off with the table's": lambda s, m, d: (
        _entry(m, "infrastructure_hall").__setitem__("rows", SITES.n_halls + (k := d(st.sampled_from([-5, -1, 1, 5])))),
        m["tables"]["infrastructure_hall"].__setitem__("rows", SITES.n_halls + k),
    ),
    "file entry without a key": lambda s, m, d: _entry(m, "auth_user").pop(
        d(st.sampled_from(["path", "rows", "sha256"]))
    ),
    "path outside": lambda s, m, d: _entry(m, "auth_user").__setitem__(
        "path",
        d(
            st.sampled_from(
                [
                    "../../etc/hostname",
                    "/etc/hostname",
                    "auth_user/../../x.parquet",
                    "auth_user/../batch_species/master.parquet",
                    "batch_species/master.parquet",
                    "auth_user\\..\\x.parquet",
                    "auth_user/.././../x.parquet",
                ]
            )
        ),
    ),
    "files listed twice": lambda s, m, d: m["tables"]["auth_user"]["files"].append(dict(_entry(m, "auth_user"))),
    "symlink leading out": lambda s, m, d: _symlink_out(s, m),
    "checksum changed": lambda s, m, d: _entry(m, "auth_user").__setitem__("sha256", "0" * 64),
    "truncated part": lambda s, m, d: _truncate(s, m, d(st.integers(min_value=0, max_value=200))),
    "garbage part": lambda s, m, d: _garbage(s, m, d(st.binary(min_size=0, max_size=300))),
    "extra column": lambda s, m, d: _rewrite_part(
        s, m, "infrastructure_hall", lambda t: t.append_column("evil", pa.array([1] * t.num_rows))
    ),
    "missing column": lambda s, m, d: _rewrite_part(
        s, m, "infrastructure_hall", lambda t: t.drop_columns([d(st.sampled_from(t.column_names))])
    ),
    "wrong type": lambda s, m, d: _rewrite_part(
        s, m, "infrastructure_hall", lambda t: _set_column(t, "name", pa.array(list(range(t.num_rows)), pa.int64()))
    ),
    "int64 overflowing an int32 column": lambda s, m, d: _rewrite_part(
        s, m, "auth_user", lambda t: _set_column(t, "id", pa.array([2**31 + i for i in range(t.num_rows)], pa.int64()))
    ),
    "NULL in a NOT NULL column": lambda s, m, d: _rewrite_part(
        s,
        m,
        "infrastructure_hall",
        lambda t: _set_column(t, "name", pa.array([None] + t.column("name").to_pylist()[1:], pa.string())),
    ),
    "numeric beyond its precision": lambda s, m, d: _rewrite_part(
        s,
        m,
        "infrastructure_container",
        lambda t: _set_column(t, "volume_m3", _overflowing_decimal(t.num_rows), t.schema.field("volume_m3")),
    ),
    "varchar too long": lambda s, m, d: _rewrite_part(
        s,
        m,
        "infrastructure_hall",
        lambda t: _set_column(t, "name", pa.array(["x" * 5000] * t.num_rows), t.schema.field("name")),
    ),
    "a timestamp far beyond Python's dates": lambda s, m, d: _rewrite_part(
        s,
        m,
        "infrastructure_hall",
        lambda t: _set_column(
            t,
            "created_at",
            pa.array([d(st.sampled_from([2**62, -(2**62)]))] * t.num_rows).cast(t.schema.field("created_at").type),
            t.schema.field("created_at"),
        ),
    ),
    "more rows than listed": lambda s, m, d: _rewrite_part(
        s,
        m,
        "infrastructure_hall",
        lambda t: pa.concat_tables([t, t.slice(0, d(st.integers(min_value=1, max_value=5)))]),
    ),
}


def _symlink_out(s: Path, m: dict) -> None:
    outside = s.parent / f"outside-{s.name}.parquet"
    shutil.copy(s / _entry(m, "auth_user")["path"], outside)
    (s / _entry(m, "auth_user")["path"]).unlink()
    (s / _entry(m, "auth_user")["path"]).symlink_to(outside)


def _truncate(s: Path, m: dict, n: int) -> None:
    p = s / _entry(m, "infrastructure_hall")["path"]
    p.write_bytes(p.read_bytes()[:n])
    _entry(m, "infrastructure_hall")["sha256"] = _sha(p)


def _garbage(s: Path, m: dict, data: bytes) -> None:
    p = s / _entry(m, "infrastructure_hall")["path"]
    p.write_bytes(data)
    _entry(m, "infrastructure_hall")["sha256"] = _sha(p)


def _tampered(master_snapshot, folder: Path, name: str, draw) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(master_snapshot.path, folder)
    m = json.loads((folder / "manifest.json").read_text())
    MUTATIONS[name](folder, m, draw)
    (folder / "manifest.json").write_text(json.dumps(m))
    return folder


def test_an_untampered_snapshot_passes(master_snapshot):
    snap = Snapshot.open(master_snapshot.path)
    snap.verify()
    assert snap.unlisted() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(MUTATIONS)), data=st.data())
def test_a_tampered_snapshot_is_refused_in_one_line_before_the_database(
    master_snapshot, empty_db, tmp_path, name, data
):
    before = fingerprint(empty_db)
    folder = _tampered(master_snapshot, tmp_path / "t", name, data.draw)
    with pytest.raises(AquagenError) as e:
        postgres.load(Snapshot.open(folder), empty_db)
    assert "\n" not in str(e.value) and str(e.value)
    assert fingerprint(empty_db) == before
    with psycopg.connect(empty_db) as c:  # values are checked as they stream in: no staging schema left
        assert staged.leftovers(c) == []


@pytest.mark.parametrize(
    "name",
    [
        "path outside",
        "int64 overflowing an int32 column",
        "a table missing",
        "NULL in a NOT NULL column",
        "garbage part",
    ],
)
def test_the_cli_refuses_a_tampered_snapshot_with_exit_2(master_snapshot, empty_db, tmp_path, name):
    folder = _tampered(master_snapshot, tmp_path / "t", name, lambda s: find(s, lambda _: True))
    before = fingerprint(empty_db)
    err = _one_line(run_forked("load", folder, "--dsn", empty_db))
    assert err.startswith("error: ")
    assert fingerprint(empty_db) == before
    if name == "int64 overflowing an int32 column":
        assert err == (
            "error: table auth_user, file auth_user/master.parquet: column id is int64, the profile's "
            "integer is int32; the snapshot is not an aquagen snapshot of profile aquamind@8f2ab39"
        )


def test_validate_flags_files_the_manifest_does_not_list(master_snapshot, tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(master_snapshot.path, folder)
    (folder / "auth_user" / "master.parquet.tmp-123").write_bytes(b"x")
    r = run_cli("validate", folder)
    assert r.returncode == 1 and "files the manifest does not list" in r.stdout and "1 failed" in r.stdout


def test_validate_flags_a_primary_key_held_twice(master_snapshot, tmp_path):
    """A part whose checksum matches the manifest (a snapshot written so) with a hall's id held by two rows:
    the files pass verify, validate fails naming the table."""
    folder = tmp_path / "s"
    shutil.copytree(master_snapshot.path, folder)
    m = json.loads((folder / "manifest.json").read_text())

    def twice(t: pa.Table) -> pa.Table:  # the last row takes the first row's id
        ids = t["id"].to_pylist()
        return _set_column(t, "id", pa.array([*ids[:-1], ids[0]], t["id"].type), t.schema.field("id"))

    _rewrite_part(folder, m, "infrastructure_hall", twice)
    (folder / "manifest.json").write_text(json.dumps(m))
    r = run_cli("validate", folder)
    assert r.returncode == 1 and "rows repeating a primary key" in r.stdout and "(infrastructure_hall)" in r.stdout
    failed = [(x.check.name, x.actual) for x in validate.run_snapshot(Snapshot.open(folder)) if not x.ok]
    assert failed == [("rows repeating a primary key (infrastructure_hall)", 1)]


def test_validate_of_a_snapshot_refuses_another_as_of(master_snapshot):
    """A snapshot is validated as of its own date: another --as-of is refused, not ignored."""
    err = _one_line(run_cli("validate", master_snapshot.path, "--as-of", "2025-06-01"))
    assert err.startswith("error: --as-of 2025-06-01") and AS_OF.isoformat() in err
    assert run_cli("validate", master_snapshot.path, "--as-of", AS_OF.isoformat()).returncode == 0


# --- generate: kill points, lock, resume, full disk, signals ---------------------------------------

# master data of a short history (its weather small): each test below runs it three times or more
GEN = ["generate", "--seed", "3", "--batches", "0", "--as-of", AS_OF.isoformat(), "--workers", "1"]
GEN += ["--first-start", (AS_OF - dt.timedelta(days=30)).isoformat()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "snap"
    assert run_cli(*GEN, "--out", out).returncode == 0
    return out


@pytest.fixture(scope="module")
def older(tmp_path_factory) -> Path:
    """Another seed's snapshot, for the runs below to replace with --force (each test takes a copy)."""
    out = tmp_path_factory.mktemp("older") / "snap"
    assert run_cli(*GEN, "--seed", "4", "--out", out).returncode == 0
    return out


OTHER = next(p for p in ("aquamind@cb41030", "aquamind@8f2ab39") if p != schemas.PROFILE)  # not the snapshots below


def _same(out: Path, reference: Path) -> None:
    snap = Snapshot.open(out)
    assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()
    assert snap.unlisted() == []
    snap.verify()
    assert not aside(out).exists() and not Path(f"{out}.partial").exists()


@pytest.mark.parametrize("point", ["publish_manifest", "publish_prune", "publish_aside", "publish_in", "publish_done"])
def test_publish_recovers_from_a_kill_at_every_step(reference, older, tmp_path, point):
    """And what the folder holds besides the snapshot's own files (a report, a user's file) stays with the
    new snapshot, as ``aquagen batch`` keeps it: --force replaces the snapshot, not them."""
    out = tmp_path / "snap"
    shutil.copytree(older, out)  # an older snapshot, replaced with --force
    (out / "report").mkdir()
    (out / "report" / "index.html").write_text("report")
    (out / "notes.txt").write_text("mine")
    r = run_forked(*GEN, "--out", out, "--force", kill_at=point)
    assert r.returncode == -signal.SIGKILL
    assert out.exists() or aside(out).exists()  # the old or the new snapshot is always somewhere
    r = run_cli(*GEN, "--out", out, "--resume")
    assert r.returncode == 0, r.stderr
    assert (out / "report" / "index.html").read_text() == "report" and (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    _same(out, reference)


def test_a_rerun_finishes_a_publish_killed_between_the_renames(reference, older, tmp_path):
    out = tmp_path / "snap"
    shutil.copytree(older, out)
    assert run_forked(*GEN, "--out", out, "--force", kill_at="publish_aside").returncode < 0
    assert not out.exists()
    r = run_forked(*GEN, "--out", out)  # without --resume: the interrupted publish is finished first
    assert "exists" in _one_line(r) and "--force" in r.stderr
    _same(out, reference)


def test_a_temporary_file_of_a_killed_write_never_reaches_the_snapshot(reference, tmp_path):
    out = tmp_path / "snap"
    r = run_forked(*GEN, "--out", out, kill_at="store_tmp:7")
    assert r.returncode == -signal.SIGKILL
    assert list(Path(f"{out}.partial").rglob("*.tmp-*"))
    # resumed for another profile: refused in one line naming it (it failed on the tables' columns)
    err = _one_line(run_cli(*GEN, "--out", out, "--resume", "--profile", OTHER))
    assert f"interrupted run with other arguments (--profile {schemas.PROFILE}, asked --profile {OTHER})" in err
    assert run_cli(*GEN, "--out", out, "--resume").returncode == 0
    _same(out, reference)


def test_resume_of_a_complete_snapshot_says_so(reference, tmp_path):
    out = tmp_path / "snap"
    shutil.copytree(reference, out)
    r = run_cli(*GEN, "--out", out, "--resume")
    assert r.returncode == 0 and "already complete" in r.stdout
    # of another profile or seed: refused, naming what differs (another profile was "already complete")
    for option, had, asked in (("--profile", schemas.PROFILE, OTHER), ("--seed", "3", "4")):
        err = _one_line(run_cli(*GEN, "--out", out, "--resume", option, asked))
        assert f"complete snapshot of other arguments ({option} {had}, asked {option} {asked})" in err, err
    _same(out, reference)


def test_an_interrupted_run_of_an_earlier_work_format_is_not_resumed(tmp_path):
    """A run interrupted by an aquagen whose work files were Parquet (its progress file names no work
    format): --resume refuses it in one line, leaving it as it was, instead of failing on its files."""
    out = tmp_path / "snap"
    partial = Path(f"{out}.partial")
    partial.mkdir()
    progress = partial / "progress.json"
    progress.write_text(json.dumps({"meta": {"seed": 3}}) + "\n" + json.dumps({"done": "master"}) + "\n")
    before = progress.read_bytes()
    err = _one_line(run_cli(*GEN, "--out", out, "--resume"))
    assert "interrupted run of an earlier aquagen" in err and "--force" in err, err
    assert progress.read_bytes() == before and not out.exists()


def test_resume_with_force_starts_over_what_it_cannot_continue(reference, older, tmp_path):
    """``--resume --force`` (the command a user reruns with --resume after a killed --force run): a complete
    snapshot of other arguments, or an interrupted run it cannot read, is replaced as --force says. Both
    were refused asking for --force, which the command had."""
    out = tmp_path / "snap"
    shutil.copytree(older, out)
    err = _one_line(run_cli(*GEN, "--out", out, "--resume"))
    assert "holds a complete snapshot of other arguments" in err and "--force" in err, err
    assert run_cli(*GEN, "--out", out, "--resume", "--force").returncode == 0
    _same(out, reference)
    partial = Path(f"{out}.partial")
    partial.mkdir()
    (partial / "progress.json").write_text(json.dumps({"meta": {"seed": 3}}) + "\n")  # an earlier work format
    assert run_cli(*GEN, "--out", out, "--resume", "--force").returncode == 0
    _same(out, reference)


def test_an_out_named_with_a_dot_is_its_folder(reference, older, tmp_path):
    """``--out DIR/.`` (``cd DIR; generate --out . --force``) replaces DIR's snapshot: its work folder went
    into DIR ("DIR/..partial") and the old snapshot was moved aside for good."""
    out = tmp_path / "snap"
    shutil.copytree(older, out)
    assert run_cli(*GEN, "--out", f"{out}/.", "--force").returncode == 0
    _same(out, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_an_out_that_is_a_symlink_is_written_through(reference, older, tmp_path):
    """``--out LINK`` (a symlink to a folder, e.g. on a bigger disk) replaces the snapshot in the folder it
    names and leaves the link as it was. The link itself was moved aside as the old snapshot and a folder put
    in its place, then the run failed on the rmtree of the link (an internal error), and so did every rerun:
    a link moved aside so is now removed, and the folder it names is left as it is."""
    real, link = tmp_path / "disk" / "snap", tmp_path / "snap"
    real.parent.mkdir()
    shutil.copytree(older, real)
    link.symlink_to(real)
    for out in (link, f"{link}/"):
        r = run_cli(*GEN, "--out", out, "--force")
        assert r.returncode == 0, r.stderr
        assert link.is_symlink() and link.resolve() == real
        _same(real, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "snap"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["snap"]
    link.unlink()  # what the earlier runs left: a snapshot where the link was, the link moved aside
    shutil.copytree(real, link)
    aside(link).symlink_to(real)
    assert run_cli(*GEN, "--out", link, "--force").returncode == 0
    _same(link, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "snap"] and real.is_dir()


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "snap"
    with locked(out):
        err = _one_line(run_forked(*GEN, "--out", out))
    assert "another aquagen run is writing" in err
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_a_full_disk_is_one_line_and_resumable(reference, tmp_path):
    out = tmp_path / "snap"
    err = _one_line(run_forked(*GEN, "--out", out, env={**os.environ, "AQUAGEN_ENOSPC_AT": "9"}))
    assert err.startswith("error: no space left on /") and "MB more; nothing was published" in err
    assert not out.exists() and not list(Path(f"{out}.partial").rglob("*.tmp-*"))
    assert run_cli(*GEN, "--out", out, "--resume").returncode == 0
    _same(out, reference)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _terminal_signals() -> None:
    """In the child before exec: SIGINT and SIGTERM as a shell's foreground command has them (default,
    not blocked). A child inherits ignored and blocked signals, and a pytest worker's may have been
    changed by what ran in it before (Python then installs no Ctrl-C handler: the run ignores SIGINT)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


_SIGNAL_STORM = """
import os, random, signal, sys, threading
import polars as pl
from aquagen.run.runner import on_this_thread

df, rnd = pl.DataFrame({"a": list(range(100))}), random.Random(1)
for _ in range(200):
    timer = threading.Timer(rnd.uniform(0, 0.003), os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        while True:
            on_this_thread(lambda: df.filter(pl.col("a") > 5).height)
    except KeyboardInterrupt:
        pass
    timer.join()
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
print("ok")
"""


def test_ctrl_c_at_any_moment_of_a_shard_is_one_keyboard_interrupt():
    """A shard runs inside a Polars query (``runner.on_this_thread``): Ctrl-C, whenever it comes, is
    one KeyboardInterrupt out of the call, never one raised in Polars' own Python code around the
    shard (Polars then panics, or the interrupt comes again later: seen before the handlers were held).
    200 Ctrl-C at random moments of back-to-back shards, in a process of its own."""
    run = subprocess.run(
        [sys.executable, "-c", _SIGNAL_STORM],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        preexec_fn=_terminal_signals,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "ok"), run.stderr[-2000:]


def test_a_worker_whose_run_died_while_it_started_up_ends_at_once():
    """A worker sets its death signal as it starts up; a run killed before that sends none, so the
    worker checks that its parent is still the run's, and else ends silently (else it lingered,
    measured: a kill -9 of the run a second into it left the worker and its spawner alive)."""
    code = "import os, sys; from aquagen.run.runner import _worker_init; _worker_init(int(sys.argv[1])); print('on')"

    def start(parent: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code, str(parent)], env=ENV, capture_output=True, text=True)

    orphan, child = start(1 << 22), start(os.getpid())  # no process is its parent; this one is
    assert (orphan.returncode, orphan.stdout, orphan.stderr) == (0, "", "")
    assert (child.returncode, child.stdout.strip()) == (0, "on"), child.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_worker_silently_with_the_resume_hint(tmp_path, sig):
    out = tmp_path / "snap"
    cmd = [
        sys.executable,
        "-m",
        "aquagen",
        "generate",
        "--out",
        str(out),
        "--batches",
        "40",  # far more than can finish before the signal, even on a loaded machine (the run is cut early)
        "--as-of",
        AS_OF.isoformat(),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
        preexec_fn=_terminal_signals,
    )
    deadline, workers = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None:  # the worker and multiprocessing's resource tracker
        workers = _children(proc.pid)
        if len(workers) >= 2 and (Path(f"{out}.partial") / "progress.json").exists():
            break
        time.sleep(0.05)
    assert proc.poll() is None and len(workers) >= 2
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)  # Ctrl-C reaches the whole group
    _, stderr = proc.communicate(timeout=60)
    # the run's signal state is this process's (inherited): a SIGINT blocked or ignored here never stops it
    inherited = [ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith(("SigBlk", "SigIgn"))]
    assert proc.returncode == 130, (proc.returncode, inherited, stderr[-500:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "--resume" in lines[0] and "Traceback" not in stderr, stderr

    def alive() -> list[int]:
        """The workers still running (not gone, not zombies)."""
        running = []
        for p in workers:
            try:
                state = Path(f"/proc/{p}/stat").read_text().split()[2]
            except OSError:  # gone, also between a look and the next
                continue
            if state != "Z":
                running.append(p)
        return running

    deadline = time.monotonic() + 0.5  # every worker gone within half a second
    while alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert alive() == []
    assert not out.exists() and (Path(f"{out}.partial") / "progress.json").exists()


# --- the CLI's edges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["batch", "--start-date", "2025-01-01", "--eggs", "1000000000000", "--geography", "Scotland"], "--eggs"),
        (["batch", "--start-date", "2025-01-01", "--eggs", "2147483648", "--geography", "Scotland"], "--eggs"),
        (["batch", "--start-date", "2025-01-01", "--eggs", "0", "--geography", "Scotland"], "--eggs"),
        (["generate", "--as-of", "0001-06-01"], "--as-of"),
        (["generate", "--as-of", "2026-01-01", "--first-start", "0001-01-01"], "--first-start"),
        (["generate", "--as-of", "2200-01-01"], "--as-of"),
        (["generate", "--batches", "1000000000", "--as-of", "2026-01-01"], "--batches"),
        (["generate", "--batches", "100000", "--as-of", "2026-01-01"], "--batches"),
        (["generate", "--seed", "9223372036854775808"], "--seed"),
        (["generate", "--stagger-days", "99999999999"], "--stagger-days"),
        (["generate", "--batches", "1", "--geography", ""], "unknown geography ''"),  # an unset $GEO
        # a full farm follows its calendar: the spacing was ignored and recorded in the manifest
        (["generate", "--stagger-days", "30", "--as-of", "2026-01-01"], "--stagger-days 30 spaces the batches"),
    ],
)
def test_out_of_range_values_are_refused_before_any_work(tmp_path, args, says):
    # the CLI's main in this process (conftest.run_cli: the same exit code and output): ten interpreter
    # start-ups less; the one-line output of a process of its own is the other tests' here
    start = time.monotonic()
    err = _one_line(run_cli(*args, "--out", tmp_path / "snap"))
    assert says in err, err
    assert time.monotonic() - start < 60  # not a measurement: a guard against planning 1e9 batches
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_out_is_refused(tmp_path, master_snapshot):
    file = master_snapshot.path / "manifest.json"
    assert "is a file" in _one_line(run_forked(*GEN, "--out", file))
    assert "which is a file" in _one_line(run_forked(*GEN, "--out", file / "below"))


def test_an_internal_bug_exits_1_and_hides_the_traceback_unless_debug(tmp_path):
    code = (
        "import sys, click; from aquagen import cli\n"
        "@cli.cli.command()\ndef boom():\n    {}['x']\n"
        "sys.argv = ['aquagen', *sys.argv[1:]]; cli.main()"
    )
    r = subprocess.run([sys.executable, "-c", code, "boom"], capture_output=True, text=True, env=ENV)
    assert _one_line(r, 1).startswith("internal error: KeyError")
    r = subprocess.run([sys.executable, "-c", code, "--debug", "boom"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 1 and "Traceback" in r.stderr and "internal error: KeyError" in r.stderr


def test_a_missing_file_is_the_users_error_only_where_they_pointed(tmp_path):
    """A file missing in a path the command was given (here an argument's folder) is the user's error, exit 2;
    a file missing anywhere else is aquagen's bug: internal error, exit 1."""
    code = (
        "import sys, click; from pathlib import Path; from aquagen import cli\n"
        "@cli.cli.command()\n@click.argument('folder', type=click.Path(path_type=Path))\n"
        "@click.option('--inside', is_flag=True)\n"
        "def boom(folder, inside):\n    open(folder / 'part.parquet' if inside else sys.prefix + '/no-such.json')\n"
        "sys.argv = ['aquagen', *sys.argv[1:]]; cli.main()"
    )
    run = lambda *args: subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV)
    err = _one_line(run("boom", str(tmp_path / "snap"), "--inside"))
    assert err == f"error: {tmp_path / 'snap' / 'part.parquet'}: No such file or directory"
    err = _one_line(run("boom", str(tmp_path / "snap")), 1)
    assert (
        err.startswith("internal error: FileNotFoundError: [Errno 2] No such file or directory:")
        and "no-such.json" in err
    )


def test_a_group_without_a_command_prints_its_help():
    """``aquagen`` and ``aquagen db`` alone print their help as --help does, exit 0 (it was an error, exit 2)."""
    for group in ([], ["db"]):
        r = run_cli(*group)
        assert r.returncode == 0 and r.stderr == "" and r.stdout == run_cli(*group, "--help").stdout, r
        # the group's own usage line: click 8.5 writes an optional command in brackets, 8.4 without
        usage = re.escape(f"Usage: aquagen {' '.join(group)}".rstrip() + " [OPTIONS] ")
        assert re.match(usage + r"(COMMAND|\[COMMAND\]) \[ARGS\]\.\.\.\n", r.stdout), r.stdout


def test_a_user_error_stays_exit_2(tmp_path):
    assert _one_line(run_cli("validate", tmp_path / "none")).startswith("error: ")
