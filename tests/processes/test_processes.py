"""fsabench.processes: which processes still run, read from /proc the way every caller needs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fsabench.processes import children, is_running, process_state

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")

# a child that renames itself to something that looks like the end of /proc/PID/stat's name field
RENAMED = ("import ctypes, sys, time; ctypes.CDLL(None).prctl(15, b'x) Z (y', 0, 0, 0); "
           "sys.stdout.write('ok\\n'); sys.stdout.flush(); time.sleep(30)")


def test_a_process_named_like_a_zombie_is_running_and_a_zombie_is_not():
    proc = subprocess.Popen([sys.executable, "-c", RENAMED], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ok\n"
        assert process_state(proc.pid) in {"S", "R"} and is_running(proc.pid)
        assert proc.pid in children(os.getpid())
        proc.kill()
        for _ in range(100):  # killed, not yet reaped: a zombie
            if process_state(proc.pid) == "Z":
                break
            time.sleep(0.05)
        assert process_state(proc.pid) == "Z" and not is_running(proc.pid)
        assert proc.pid not in children(os.getpid())  # a zombie child is no running child
    finally:
        proc.kill()
        proc.wait()
    assert process_state(proc.pid) is None and not is_running(proc.pid)
