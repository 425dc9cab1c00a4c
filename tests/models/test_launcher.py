"""The launcher (fsabench/models/launcher.py) with real server processes: tests/servers/scripted.py as the
OpenAI-compatible server `openai-compat: --launch` starts, a fake SGLang (a python package whose
`launch_server` runs that same real server: SGLang has no CPU build), and kill -9 of fsabench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsabench.errors import ModelError
from fsabench.models import load_model
from fsabench.models.base import Request
from fsabench.processes import is_running
from tests.models.conftest import engine_pid

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SCRIPTED = f"{PY} -m tests.servers.scripted --port {{port}}"


alive = is_running  # a zombie (exited, not yet reaped by its parent) is gone for our purpose


def wait_gone(pid: int, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(autouse=True)
def _repo_on_path(monkeypatch):
    monkeypatch.chdir(ROOT)  # `python -m tests.servers.scripted` resolves from the repository root
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def test_launched_server_answers_and_is_stopped():
    adapter = load_model("openai-compat:scripted", launch=SCRIPTED, concurrency=4)
    assert adapter.identity()["launch"][:3] == [PY, "-m", "tests.servers.scripted"]
    assert adapter._server.process is None  # identity needs no server: a fully cached run starts none
    answers = adapter.generate([Request(id=str(i), prompt=f"review {i}", max_new_tokens=5) for i in range(6)])
    assert all(a.error is None and a.text for a in answers)
    server, watchdog = adapter._server.process.pid, adapter._server.watchdog.pid
    assert alive(server) and alive(watchdog)
    assert os.getpgid(server) == server  # its own process group
    adapter.close()
    assert wait_gone(server, 15) and wait_gone(watchdog, 15)


def test_server_that_exits_early_is_one_line_plus_its_log():
    command = f"{PY} -c \"import sys; print('engine: no such model'); sys.exit(3)\" {{port}}"
    adapter = load_model("openai-compat:x", launch=command)
    with pytest.raises(ModelError) as err:
        adapter.generate([Request(id="1", prompt="hi")])
    text = str(err.value)
    assert "exited with code 3 before answering" in text.splitlines()[0]
    assert "engine: no such model" in text


def test_server_that_never_answers_times_out_and_is_stopped(monkeypatch):
    monkeypatch.setenv("FSABENCH_ENGINE_TIMEOUT", "1.5")
    command = f"{PY} -c \"import time; print('loading weights', flush=True); time.sleep(60)\" {{port}}"
    adapter = load_model("openai-compat:x", launch=command)
    server = adapter._server
    with pytest.raises(ModelError, match="did not answer .* within 1.5 s") as err:
        adapter.generate([Request(id="1", prompt="hi")])
    assert "loading weights" in str(err.value)
    assert server.process is None  # stopped


def test_launch_needs_a_port_placeholder_and_openai_compat():
    with pytest.raises(ModelError, match=r"has no \{port\}"):
        load_model("openai-compat:x", launch=f"{PY} -m tests.servers.scripted").generate([Request(id="1", prompt="a")])
    with pytest.raises(Exception, match="--launch is for openai-compat: models"):
        load_model("hf:./nowhere", launch=SCRIPTED)


def _fake_sglang(tmp_path: Path) -> Path:
    """A python whose `sglang.launch_server` runs the scripted OpenAI server on the given port and
    records its argv and pid (a real child process; only the engine is stood in for)."""
    site = tmp_path / "site"
    (site / "sglang").mkdir(parents=True)
    (site / "sglang" / "__init__.py").write_text("")
    (site / "sglang" / "launch_server.py").write_text(
        "import argparse, json, os, sys\n"
        "p = argparse.ArgumentParser(); p.add_argument('--model-path'); p.add_argument('--served-model-name')\n"
        "p.add_argument('--host'); p.add_argument('--port', type=int); p.add_argument('--dtype')\n"
        "p.add_argument('--mem-fraction-static')\n"
        "args = p.parse_args()\n"
        "open(os.environ['FAKE_SGLANG_RECORD'], 'w').write(json.dumps({'argv': sys.argv[1:], 'pid': os.getpid()}))\n"
        "sys.argv = ['scripted', '--port', str(args.port)]\n"
        "from tests.servers.scripted import main\n"
        "main()\n")
    dist = site / "sglang-0.0.0.fake.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sglang\nVersion: 0.0.0.fake\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={site}:{ROOT} exec {PY} \"$@\"\n")
    python.chmod(0o755)
    return python


def test_sglang_scheme_starts_its_server_through_the_launcher(tmp_path, monkeypatch, data_dir):
    from fsabench.api import evaluate

    python = _fake_sglang(tmp_path)
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_SGLANG_RECORD", str(record))
    monkeypatch.setenv("FSABENCH_SGLANG_BIN", str(python))
    model_dir = tmp_path / "weights"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    results = evaluate(f"sglang:{model_dir}", "sc-sst2", limit=5, engine_args="--mem-fraction-static 0.5",
                       dtype="float32")
    seen = json.loads(record.read_text())
    assert seen["argv"][:2] == ["--model-path", str(model_dir)]
    assert "--mem-fraction-static" in seen["argv"] and ["--dtype", "float32"] == seen["argv"][-4:-2]
    model = results[0].model
    assert model.identity["engine"] == "sglang" and model.identity["engine_version"] == "0.0.0.fake"
    assert model.identity["fingerprint"] and model.identity["engine_args"] == ["--mem-fraction-static", "0.5"]
    assert len(results[0].examples) == 5 and all(e.output for e in results[0].examples)
    assert wait_gone(seen["pid"], 15)  # evaluate stopped the server it started


def test_sglang_without_sglang_installed_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("FSABENCH_SGLANG_BIN", PY)
    with pytest.raises(ModelError, match="sglang is not installed"):
        load_model("sglang:org/model")


@pytest.mark.slow
def test_kill_9_of_fsabench_leaves_no_server(tmp_path):
    """A real `fsabench run` killed with SIGKILL mid-run: the watchdog stops the server it launched."""
    exe = Path(PY).parent / "fsabench"
    launch = f"{PY} -m tests.servers.scripted --port {{port}} --latency 0.3"
    proc = subprocess.Popen([str(exe), "run", "--model", "openai-compat:scripted", "--launch", launch,
                             "--tasks", "sc-sst2", "--limit", "200", "--concurrency", "1", "-o", str(tmp_path / "out"),
                             "--no-cache"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
                            start_new_session=True)
    server = engine_pid(proc, 60)
    time.sleep(1.0)  # mid-run: requests in flight
    assert alive(server)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert wait_gone(server, 20), "the launched server outlived kill -9 of fsabench"
