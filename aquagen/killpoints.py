"""A test hook that kills aquagen with SIGKILL at a named point (a load, an advance, a publish).

``AQUAGEN_KILL_AT=POINT[:N][+SECONDS]`` kills the process the N-th time (default
the first) POINT is reached, either at once or SECONDS later from a timer
thread, so that the statement just sent to the server is still running. Points:
``copy`` (after each chunk written into a COPY stream), ``keys``, ``index``,
``fk`` (before each such build statement), ``swap`` (in the final transaction of a
load into an existing schema, before the tables are replaced by their copies),
``final`` (inside the last transaction, just before COMMIT). Unset, the hook costs one dict lookup.
"""

from __future__ import annotations

import os
import re
import signal
import threading

_ENV = "AQUAGEN_KILL_AT"
_lock = threading.Lock()
_seen: dict[str, int] = {}


def _spec() -> tuple[str, int, float] | None:
    raw = os.environ.get(_ENV)
    if not raw:
        return None
    m = re.fullmatch(r"(\w+)(?::(\d+))?(?:\+([\d.]+))?", raw.strip())
    if not m:
        raise ValueError(f"{_ENV}={raw!r} is not POINT[:N][+SECONDS]")
    return m[1], int(m[2] or 1), float(m[3] or 0)


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def reached(point: str) -> None:
    spec = _spec()
    if spec is None or spec[0] != point:
        return
    with _lock:
        _seen[point] = _seen.get(point, 0) + 1
        if _seen[point] != spec[1]:
            return
    if spec[2] > 0:
        t = threading.Timer(spec[2], _kill)
        t.daemon = True
        t.start()
    else:
        _kill()
