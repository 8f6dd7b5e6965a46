"""The restructure changes no output byte: a small fleet's Parquet files match the pinned sha256 list.

A change that alters the data on purpose regenerates ``tests/data/pinned_sha256.txt`` in the
same commit (``python3 -m tests.test_pinned [PROFILE]``). Each profile has its own list."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PINNED = {  # profile -> its pinned list
    "aquamind@8f2ab39": DATA / "pinned_sha256.txt",
    "aquamind@cb41030": DATA / "pinned_sha256_cb41030.txt",
}
ARGS = dict(seed=1, batches=3, as_of=dt.date(2026, 6, 30))
# Polars threads per profile: the suite's one (a thread per xdist worker), and several, as a user's
# machine has (Polars joins and group-bys split their work by thread: the bytes must not follow)
THREADS = {"aquamind@8f2ab39": None, "aquamind@cb41030": 4}


def digests(root: Path) -> str:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}"
        for p in sorted(root.rglob("*.parquet"), key=lambda p: p.relative_to(root).as_posix())
    ]
    return "\n".join(lines) + "\n"


def build(out: Path, profile: str) -> Path:
    from aquagen.run.generate import generate

    generate(out, workers=1, profile=profile, **ARGS)  # any number gives the same bytes (test_fleet, test_profiles)
    return out


def build_with_threads(out: Path, profile: str, threads: int | None) -> Path:
    """``build`` here, or with ``threads`` Polars threads in a process of its own (Polars sizes its
    pool once, when first imported)."""
    if threads is None:
        return build(out, profile)
    code = "import sys; from pathlib import Path; from tests.test_pinned import build; build(Path(sys.argv[1]), sys.argv[2])"
    env = {**os.environ, "POLARS_MAX_THREADS": str(threads)}
    subprocess.run([sys.executable, "-c", code, str(out), profile], env=env, cwd=DATA.parents[1], check=True)
    return out


@pytest.mark.parametrize("profile", sorted(PINNED))
def test_output_matches_pinned_hashes(tmp_path, profile):
    got = digests(build_with_threads(tmp_path / "pinned", profile, THREADS[profile])).splitlines()
    want = PINNED[profile].read_text().splitlines()
    assert [line.split()[1] for line in got] == [line.split()[1] for line in want], "file list changed"
    changed = [g.split()[1] for g, w in zip(got, want) if g != w]
    assert not changed, f"{len(changed)} files changed: {changed[:10]}"


if __name__ == "__main__":  # regenerate a profile's list after an intended change of its data
    import tempfile

    for name in sys.argv[1:] or sorted(PINNED):
        with tempfile.TemporaryDirectory() as d:
            PINNED[name].write_text(digests(build(Path(d) / "pinned", name)))
    sys.exit(0)
