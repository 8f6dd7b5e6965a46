"""``python -m aquagen ARGS`` as a child forked from a server process that has imported aquagen once.

A run that a kill point (``AQUAGEN_KILL_AT``) ends with SIGKILL, or whose output must be one line at the
file descriptors (a library writing there is not caught by redirecting ``sys.stderr``), needs a process
of its own, but not an interpreter start-up and its imports (about 0.5 CPU-s each, for some 30 such runs):
multiprocessing's fork server imports this module, and with it the CLI, the generator and the loaders,
once per xdist worker; each run is a fork of it. The server has imported Polars but run nothing on it,
so no Polars thread pool is forked. What the imports read from the environment (the schema profile) is
the server's (``PROFILE``): a run whose environment names another needs an interpreter of its own.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import schemas
from aquagen import cli

# what a run imports, imported once in the server (a fork finds them loaded)
for _module in ("aquagen.run.generate", "aquagen.check.validate", "loaders.postgres", "loaders.advance"):
    importlib.import_module(_module)

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])
PROFILE = os.environ.get(schemas.PROFILE_ENV)  # what the server's imports read (it inherits this environment)


def _main(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: the CLI's main with the run's directory, environment, argv and output files."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
        os.close(f)
    sys.argv = ["aquagen", *args]
    cli.main()  # exits: multiprocessing turns SystemExit into the exit code


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float, tmp: Path) -> subprocess.CompletedProcess:
    """The exit code (negative: the signal that ended it), stdout and stderr of ``aquagen ARGS``."""
    argv = ["aquagen", *args]
    assert env.get(schemas.PROFILE_ENV) == PROFILE, "the server's imports read another profile"
    out, err = tmp / "stdout", tmp / "stderr"
    child = _CONTEXT.Process(target=_main, args=(args, str(cwd), env, str(out), str(err)))
    child.start()
    child.join(timeout)
    if child.exitcode is None:
        child.kill()
        child.join()
        raise subprocess.TimeoutExpired(argv, timeout)
    return subprocess.CompletedProcess(argv, child.exitcode, out.read_text(), err.read_text())
