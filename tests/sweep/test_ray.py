"""`fsabench sweep --executor ray` on a real local Ray head (127.0.0.1, 2 CPUs, 100 MB object store) that the
command starts and stops: a worker killed mid-cell is retried by Ray, the results equal the same cells run
one by one, and a re-run does no work (requests counted at the scripted servers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fsabench
from fsabench.processes import is_running
from fsabench.results import load_result
from fsabench.sweep.plan import read_log
from tests.servers.scripted import Script, ServerThread

pytest.importorskip("ray")
LIMIT = 3


_alive = is_running


@pytest.mark.slow
def test_ray_sweep_retries_a_killed_worker_and_equals_run(tmp_path):
    a = ServerThread(Script(labels=["positive", "negative", "neutral"], latency=0.5))
    b = ServerThread(Script(labels=["negative", "neutral", "positive"], latency=0.5))
    path = tmp_path / "SWEEP.yaml"
    path.write_text(f"""models:
  - {{model: "openai-compat:{a.url}#scripted", concurrency: 1}}
  - {{model: "openai-compat:{b.url}#scripted", concurrency: 1}}
tasks: [sc-sst2, atsa-rest14]
num_shots: [0, 2]
prompts: [default, terse]
limit: {LIMIT}
""")  # 2 models x 2 tasks x 2 shots x 2 prompts = 16 cells, each >= 1.5 s (3 requests one at a time)
    out = tmp_path / "out"
    env = {**os.environ, "FSABENCH_CACHE_DIR": str(tmp_path / "cache"), "RAY_USAGE_STATS_ENABLED": "0"}
    exe = Path(sys.executable).parent / "fsabench"
    driver = subprocess.Popen([str(exe), "sweep", str(path), "-o", str(out), "--executor", "ray", "--max-parallel", "2",
                               "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.monotonic() + 180
        while victim is None and time.monotonic() < deadline and driver.poll() is None:
            started = [e for e in read_log(out) if e["event"] == "start"]
            ended = {(e["cell"], e["pid"]) for e in read_log(out) if e["event"] in ("done", "failed", "skipped")}
            running = [e for e in started if (e["cell"], e["pid"]) not in ended and time.time() - e["time"] > 0.3]
            if len(started) >= 3 and running:
                victim = running[0]
            time.sleep(0.1)
        assert victim is not None, "no cell was seen running on a Ray worker"
        os.kill(victim["pid"], signal.SIGKILL)  # a Ray worker process, mid-cell
        for server in (a, b):  # the latency only had to keep a cell running until the kill
            server.control(latency=0.0)
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, stderr[-2000:]
    import json

    summary = json.loads(stdout)
    # a retried task reports the cells its killed attempt had finished as skipped (found on disk)
    assert summary["done"] + summary["skipped"] == 16 and summary["failed"] == 0 and summary["skipped"] <= 1
    starts = [e["pid"] for e in read_log(out) if e["event"] == "start" and e["cell"] == victim["cell"]]
    assert len(starts) == 2 and starts[0] == victim["pid"] != starts[1]  # killed, then retried by Ray elsewhere
    workers = {e["pid"] for e in read_log(out) if "pid" in e and e["event"] == "start"}
    deadline = time.monotonic() + 1  # the bound the old fixed sleep(1) gave them, left early once they are gone
    while [p for p in workers if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "Ray workers outlived the command (the local head was not stopped)"

    requests = a.stats()["requests"] + b.stats()["requests"]
    for name, server in (("a", a), ("b", b)):
        server.control(latency=0.0)
    for item in summary["outcomes"]:  # the same cells one by one: equal run keys, outputs and scores
        stored = load_result(item["file"])
        alone, = fsabench.evaluate(item["model"], item["task"], limit=LIMIT, seed=item["seed"],
                                   num_shots=item["num_shots"], prompt=item["prompt"], concurrency=1, cache=False)
        assert stored.meta["run_key"] == alone.meta["run_key"]
        assert stored.scores == alone.scores
        assert [e.output for e in stored.examples] == [e.output for e in alone.examples]
    before = a.stats()["requests"] + b.stats()["requests"]
    assert before - requests == 16 * LIMIT  # the one-by-one runs above (cache off)
    again = subprocess.run([str(exe), "sweep", str(path), "-o", str(out), "--executor", "ray", "--max-parallel", "2",
                            "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout)["skipped"] == 16
    assert a.stats()["requests"] + b.stats()["requests"] == before  # re-running on Ray does no work
