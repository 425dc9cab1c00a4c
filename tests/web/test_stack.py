"""run_app's start-up: what the process built before serving is frozen out of the garbage collector."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc, uvicorn
from fsabench.web import Limits, make_app, run_app
seen = []
uvicorn.Server.run = lambda self, sockets=None: seen.append(gc.get_freeze_count())  # record, do not serve
run_app(make_app("probe", Limits()), "127.0.0.1", 0, Limits(), quiet=True)
print(seen[0])
"""


def test_servers_start_with_their_startup_heap_frozen():
    """A full GC pass over a loaded model's ~420,000 objects took 215 ms in `fsabench serve`: the p99 of
    a server whose requests take 10 ms. Every server that run_app starts must begin with them frozen."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) > 10_000  # FastAPI + uvicorn alone are tens of thousands of objects
