"""kill -9 of `fsabench run --batch` in every phase, then the same command: 0 requests sent twice, 0 lost,
scores identical to the online run; and two processes at once on one cache: one batch per request."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.batches import BatchServerThread

N = 40
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    return BatchServerThread()


@pytest.fixture
def batches(server):
    server.control(reset=True, batch_release=True, delays=[0.05, 0.1, 0.05], fail_rate=0.0, expire=False, hold=[])
    return server


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def command(server, cache: Path, out: Path, *extra: str, model: str | None = None) -> list[str]:
    exe = Path(sys.executable).parent / "fsabench"
    return [str(exe), "run", "-m", model or f"openai-compat:{server.url}#scripted", "-t", "sc-sst2", "--limit", str(N),
            "--batch", "--batch-poll", "0.05", "--cache-dir", str(cache), "-o", str(out), "-q", *extra]


def job_states(cache: Path) -> list[tuple]:
    path = cache / "responses.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT state, batch_id, status FROM batch_jobs").fetchall()
    except sqlite3.OperationalError:
        return []


def outputs(out: Path) -> tuple[list, dict, dict]:
    result = json.loads(next(out.rglob("sc-sst2.json")).read_text())
    return [(e["id"], e["output"]) for e in result["examples"]], result["scores"], result["usage"]


# phase -> (how the run is paused there, what shows it reached the pause)
PHASES = {
    "writing": ({"env": {"FSABENCH_BATCH_STALL": "writing"}},
                lambda s, cache: list((cache / "batches").glob("*.tmp*"))),
    "uploading": ({"hold": ["upload"]}, lambda s, cache: s.stats()["held"] == 1),
    "creating": ({"hold": ["create"]}, lambda s, cache: s.stats()["held"] == 1 and s.stats()["batches"] == 1),
    "polling": ({"hold": ["progress"]},
                lambda s, cache: any(st == "submitted" and status == "in_progress" for st, _, status in job_states(cache))),
    "downloading": ({"hold": ["download"]}, lambda s, cache: s.stats()["held"] == 1),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_kill_9_in_each_phase_then_the_same_command_resumes(batches, tmp_path, phase):
    pause, reached = PHASES[phase]
    cache, out = tmp_path / "cache", tmp_path / "out"
    if "hold" in pause:
        batches.control(hold=pause["hold"])
    proc = subprocess.Popen(command(batches, cache, out), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **pause.get("env", {})})
    try:
        wait_for(lambda: reached(batches, cache), f"the run to reach {phase}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and not list(out.rglob("sc-sst2.json"))
    wait_for(lambda: batches.stats()["held"] == 0, "the server to see the dead client")
    batches.control(batch_release=True)

    resumed = subprocess.run(command(batches, cache, out), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    stats = batches.stats()
    assert stats["batches"] == 1 and stats["batch_requests"] == N  # 0 sent twice
    assert stats["prompts"] == N and stats["repeated"] == 0  # 0 lost, each answered once
    assert not list((cache / "batches").glob("*.tmp*"))  # a half-written input file is cleaned up
    resumed_outputs, resumed_scores, usage = outputs(out)
    assert usage["failed"] == 0 and usage["requests"] == N and len(resumed_outputs) == N

    online = subprocess.run([a for a in command(batches, tmp_path / "c2", tmp_path / "online") if a != "--batch"],
                            capture_output=True, text=True, timeout=120)
    assert online.returncode == 0, online.stderr
    online_outputs, online_scores, _ = outputs(tmp_path / "online")
    assert resumed_outputs == online_outputs and resumed_scores == online_scores
    print(f"\nkill -9 while {phase}: resumed with {stats['batches']} batch, {stats['batch_requests']} requests, "
          f"{stats['uploads']} upload(s), {stats['downloads']} download(s); scores {resumed_scores['all']}")


def test_two_processes_at_once_put_each_request_in_one_batch(batches, tmp_path):
    batches.control(hold=["progress"])  # the batch runs until both processes are polling it
    cache = tmp_path / "cache"
    procs = [subprocess.Popen(command(batches, cache, tmp_path / f"out{i}"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    wait_for(lambda: 2 in batches.stats()["pollers"].values(), "both processes polling one batch")
    batches.control(batch_release=True)
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    stats = batches.stats()
    assert stats["batches"] == 1 and stats["batch_requests"] == N and stats["repeated"] == 0
    first, second = outputs(tmp_path / "out0"), outputs(tmp_path / "out1")
    assert first[:2] == second[:2] and first[2]["failed"] == 0


def test_anthropic_batch_created_by_a_killed_run_is_adopted_not_created_again(batches, tmp_path):
    """Message Batches carry no metadata: the batch is found by creation time and request count."""
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = command(batches, cache, out, "--api-base", batches.root, model="litellm:anthropic/claude-haiku-4-5")
    batches.control(hold=["create"])
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: batches.stats()["held"] == 1 and batches.stats()["batches"] == 1, "the create call")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    wait_for(lambda: batches.stats()["held"] == 0, "the server to see the dead client")
    batches.control(batch_release=True)
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    stats = batches.stats()
    assert stats["batches"] == 1 and stats["batch_requests"] == N and stats["repeated"] == 0
    assert outputs(out)[2]["failed"] == 0 and outputs(out)[2]["cost_usd"] > 0
