"""Fixtures shared by the vLLM tests (tests/models/test_vllm.py, tests/models/test_batch_vllm.py): the vLLM
venv's python, built once per machine and cached (the tiny random Llama is in tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """The vLLM venv's python: FSABENCH_VLLM_BIN when set, else scripts/build_vllm_venv.py builds it once
    per machine under the test cache (about 80 s of pip on a quiet 2-core box); skips, saying why, when
    it cannot (FSABENCH_BUILD_VLLM=0: do not try)."""
    given = os.environ.get("FSABENCH_VLLM_BIN")
    if given:
        return given
    if os.environ.get("FSABENCH_BUILD_VLLM", "1") == "0":
        pytest.skip("no FSABENCH_VLLM_BIN and FSABENCH_BUILD_VLLM=0")
    builder = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_vllm_venv.py")], capture_output=True,
                             text=True, timeout=1800)
    if builder.returncode != 0:
        tail = (builder.stdout + builder.stderr).strip().splitlines()[-3:]
        pytest.skip(f"cannot build the vLLM venv (scripts/build_vllm_venv.py): {' | '.join(tail)}")
    return builder.stdout.strip().splitlines()[-1]


def engine_pid(proc: subprocess.Popen, seconds: float) -> int:
    """The engine server's pid from a `fsabench run` child's stderr ("... server pid N ..."), read within
    `seconds`; fails with the stderr's tail when the run ends or the time runs out first."""
    end, lines = time.monotonic() + seconds, []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        lines.append(line)
        if "server pid" in line:
            return int(line.split("server pid")[1].split()[0])
        if not line and proc.poll() is not None:
            break
    raise AssertionError("no 'server pid' line:\n" + "".join(lines)[-3000:])
