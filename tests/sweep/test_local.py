"""`fsabench sweep` with the local executor: baselines and scripted-server API models, cell results equal
to `fsabench run` of the same cell, resume after a killed driver, failure isolation and the exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fsabench
from fsabench.api import sweep
from fsabench.processes import is_running
from fsabench.results import load_result
from fsabench.sweep.plan import read_log
from tests.servers.scripted import Script, ServerThread

LIMIT = 4


@pytest.fixture(scope="module")
def servers():
    """Two scripted endpoints that answer differently (different label order): two distinct 'models'."""
    return ServerThread(Script(labels=["positive", "negative", "neutral"])), \
        ServerThread(Script(labels=["negative", "neutral", "positive"]))


def grid(tmp_path: Path, servers, extra_models: str = "", shots="[0, 2]", seeds="[0]") -> Path:
    a, b = servers
    path = tmp_path / "SWEEP.yaml"
    path.write_text(f"""models:
  - baseline:lexicon
  - baseline:gold
  - {{model: "openai-compat:{a.url}#scripted", concurrency: 4}}
  - {{model: "openai-compat:{b.url}#scripted", concurrency: 4}}
{extra_models}tasks: [sc-sst2, atsa-rest14]
num_shots: {shots}
seeds: {seeds}
prompts: [default, terse]
limit: {LIMIT}
exclude: [{{model: baseline:lexicon, num_shots: 2}}, {{model: baseline:gold, num_shots: 2}}]
""")
    return path


def requests(servers) -> int:
    return sum(s.stats()["requests"] for s in servers)


def test_a_small_sweep_runs_then_skips(tmp_path):
    path = tmp_path / "SWEEP.yaml"
    path.write_text("models: [baseline:lexicon]\ntasks: [atsa-rest14]\nprompts: [default, terse]\nlimit: 3\n")
    first = sweep(path, tmp_path / "out", max_parallel=1)
    assert first.counts == {"done": 2, "skipped": 0, "failed": 0, "n/a": 0}
    assert sweep(path, tmp_path / "out", max_parallel=1).counts["skipped"] == 2
    assert [e["event"] for e in read_log(tmp_path / "out")].count("start") == 4


@pytest.mark.slow
def test_local_sweep_equals_cells_run_one_by_one_and_resumes(tmp_path, servers):
    for s in servers:
        s.control(reset=True)
    out = tmp_path / "out"
    summary = sweep(grid(tmp_path, servers), out, max_parallel=2)
    assert summary.counts == {"done": 24, "skipped": 0, "failed": 0, "n/a": 0}
    assert requests(servers) == 16 * LIMIT  # 2 API models x 2 tasks x 2 shots x 2 prompts, each example once
    for cell in summary.cells:
        stored = load_result(cell.path(out))
        alone, = fsabench.evaluate(cell.model, cell.task, limit=LIMIT, seed=cell.seed, num_shots=cell.num_shots,
                                   prompt=cell.prompt, concurrency=4, cache=False)
        assert stored.meta["run_key"] == alone.meta["run_key"], cell.id
        assert stored.scores == alone.scores, cell.id
        assert [(e.id, e.prompt, e.output, e.prediction) for e in stored.examples] == \
               [(e.id, e.prompt, e.output, e.prediction) for e in alone.examples], cell.id
        assert stored.task.sha256 == alone.task.sha256 and stored.meta["prompt"] == cell.prompt
    before = requests(servers)
    again = sweep(grid(tmp_path, servers), out, max_parallel=2)
    assert again.counts["skipped"] == 24 and again.counts["done"] == 0
    assert requests(servers) == before  # re-running does no work


@pytest.mark.slow
def test_a_model_that_will_not_load_fails_its_cells_only(tmp_path, servers, cli):
    extra = '  - {model: "baseline:nonexistent"}\n'
    out = tmp_path / "out"
    res = cli("sweep", grid(tmp_path, servers, extra, shots="[0]"), "-o", out, "--max-parallel", "2")
    assert res.returncode == 1, res.stderr
    assert "16 done, 0 skipped (already done), 4 failed" in res.stdout
    failed = [line for line in res.stderr.splitlines() if line.startswith("failed: baseline:nonexistent")]
    assert len(failed) == 4 and all("the model did not load: unknown baseline 'nonexistent'" in line for line in failed)
    assert len(list(out.glob("*/*.json"))) == 16
    res = cli("sweep", tmp_path / "SWEEP.yaml", "-o", out, "--json")  # failed cells are retried, the rest skipped
    payload = json.loads(res.stdout)
    assert (payload["done"], payload["skipped"], payload["failed"]) == (0, 16, 4) and res.returncode == 1


@pytest.mark.slow
def test_dry_run_lists_cells_done_and_cost(tmp_path, servers, cli):
    path = grid(tmp_path, servers, shots="[0]")
    text = path.read_text().replace('#scripted", concurrency: 4}',
                                    '#scripted", concurrency: 4, price_per_million: [1.0, 2.0]}')
    path.write_text(text)
    out = tmp_path / "out"
    sweep(path, out, max_parallel=2)
    (out / "baseline_gold" / "sc-sst2__shots0__prompt-terse__seed0.json").unlink()
    first = next(out.glob("openai-compat*/atsa-rest14__shots0__prompt-default__seed0.json"))
    first.unlink()
    res = cli("sweep", path, "-o", out, "--dry-run", "--json")
    plan = json.loads(res.stdout)
    assert (plan["total"], plan["done"]) == (16, 14)
    (cost,) = plan["cost"].values()
    assert cost["cells"] == 1 and cost["requests"] == LIMIT and cost["usd"] > 0
    res = cli("sweep", path, "-o", out, "--dry-run")
    assert "16 cells, 14 already done, 2 to run" in res.stdout and "estimated API cost: $" in res.stdout


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "ray"])
def test_killed_driver_then_rerun_finishes_only_missing_cells(tmp_path, servers, executor):
    """kill -9 the driver halfway: finished cells stay; its workers die with it; the re-run sends only
    the missing cells' requests (counted at the scripted servers). On Ray the local head's GCS and raylet
    die with the driver (two Ray agents linger a minute or two: docs/sweeps.md)."""
    if executor == "ray":
        pytest.importorskip("ray")
    for s in servers:
        s.control(reset=True, latency=0.4)
    out = tmp_path / "out"
    path = grid(tmp_path, servers, seeds="[0, 1]")  # 48 cells, 32 of them API cells of >= 0.4 s
    env = {**os.environ, "FSABENCH_CACHE_DIR": str(tmp_path / "cache")}
    exe = Path(sys.executable).parent / "fsabench"
    driver = subprocess.Popen([str(exe), "sweep", str(path), "-o", str(out), "--max-parallel", "2", "-q",
                               "--executor", executor], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            api_done = [e for e in read_log(out) if e["event"] == "done" and "openai-compat" in e["cell"]]
            if len(api_done) >= 6:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the sweep did not finish 6 API cells in 120 s")
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
    finally:
        if driver.poll() is None:
            driver.kill()
    workers = {e["pid"] for e in read_log(out) if e["event"] == "start"}
    deadline = time.monotonic() + (2 if executor == "local" else 60)  # Ray workers notice their raylet is gone
    while [p for p in workers if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], "workers outlived their killed driver"
    finished = {str(p) for p in out.glob("*/*.json")}
    api_missing = 32 - len([p for p in finished if "openai-compat" in p])
    assert 0 < api_missing < 32
    for s in servers:
        s.control(latency=0.0)
    before = requests(servers)
    os.environ["FSABENCH_CACHE_DIR"] = str(tmp_path / "cache")  # the same cache the killed driver used
    summary = sweep(path, out, max_parallel=2)  # the re-run may use either executor: the files are the state
    sent = requests(servers) - before
    assert summary.counts["failed"] == 0 and summary.counts["done"] + summary.counts["skipped"] == 48
    assert summary.counts["skipped"] == len(finished)
    assert 0 < sent <= api_missing * LIMIT  # only missing cells (answers already cached are not re-sent)
    before = requests(servers)
    assert sweep(path, out, max_parallel=2).counts["skipped"] == 48 and requests(servers) == before


_alive = is_running


@pytest.mark.slow
def test_a_killed_local_worker_loses_no_finished_cell_and_its_cell_is_retried(tmp_path, servers):
    import threading

    for s in servers:
        s.control(reset=True, latency=0.3)
    path = grid(tmp_path, servers, shots="[0]")
    path.write_text(path.read_text().replace("concurrency: 4", "concurrency: 1"))  # an API cell takes >= 1.2 s
    out = tmp_path / "out"
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("summary", sweep(path, out, max_parallel=2)))
    thread.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        events = read_log(out)
        ended = {(e["cell"], e["pid"]) for e in events if e["event"] in ("done", "failed", "skipped", "n/a")}
        done_before = [e for e in events if e["event"] == "done"]
        running = [e for e in events if e["event"] == "start" and "openai-compat" in e["cell"]
                   and (e["cell"], e["pid"]) not in ended and time.time() - e["time"] > 0.2]
        if running and done_before:
            victim = running[0]
        time.sleep(0.05)
    assert victim is not None
    finished = {p.name for p in out.glob("*/*.json")}
    os.kill(victim["pid"], signal.SIGKILL)
    thread.join(240)
    for s in servers:
        s.control(latency=0.0)
    summary = box["summary"]
    assert summary.counts["failed"] == 0 and summary.counts["done"] == 16
    starts = [e["pid"] for e in read_log(out) if e["event"] == "start" and e["cell"] == victim["cell"]]
    assert len(starts) == 2 and starts[0] == victim["pid"] != starts[1]
    assert finished <= {p.name for p in out.glob("*/*.json")}
