"""`fsabench serve` decodes in an engine process of its own: the same answers as in-process `hf:`,
streaming and cancellation across the process boundary, and neither process outlives the other.
Forked (the default on a CPU model) or spawned (`--engine-start spawn`: it loads its own copy)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fsabench.errors import FsabenchError, ModelError
from fsabench.models import load_model
from fsabench.models.base import Request
from fsabench.processes import children, is_running
from fsabench.serve import ModelServer
from fsabench.serve.engine_process import EngineLoad
from tests.serve.test_app import post

PROMPTS = ["The pizza was great but the waiter was rude.", "Battery life is short.", "Nice screen.",
           "The soup came cold and the bill was wrong.", "Fast delivery, friendly staff.", "Meh."]


def start(model: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "serve", "--model", f"hf:{model}", "--port", "0", "--name", "tiny", "--quiet",
                             "--batch-size", "4", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY "), line + proc.stderr.read()[-2000:]
    return proc, line.split()[1]


def engine_of(pid: int) -> int:
    """The server's engine process (a spawned one has a sibling: multiprocessing's resource tracker)."""
    (engine,) = [child for child in children(pid)
                 if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]
    return engine


alive = is_running


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"fsabench_{name} ")))


@pytest.fixture(scope="module")
def local(tiny_t5):
    return load_model(f"hf:{tiny_t5}", batch_size=4)


def in_process(adapter, prompts: list[str], max_tokens: int) -> list[str]:
    return [c.text for c in adapter.generate([Request(id=str(i), prompt=p, max_new_tokens=max_tokens)
                                              for i, p in enumerate(prompts)])]


@pytest.fixture(scope="module")
def served(tiny_t5):
    proc, url = start(tiny_t5)
    yield proc, url
    proc.terminate()
    proc.wait(20)


def test_decoding_runs_in_a_child_process_and_answers_as_in_process_hf(served, local):
    proc, url = served
    assert len(children(proc.pid)) == 1  # the engine process
    status, body = post(f"{url}/completions", {"model": "tiny", "prompt": PROMPTS, "max_tokens": 12})
    assert status == 200
    expected = in_process(local, PROMPTS, 12)
    assert [c["text"] for c in body["choices"]] == expected
    # streamed, the deltas join to the same text, and each prompt gets its finish reason
    request = urllib.request.Request(f"{url}/completions", data=json.dumps(
        {"model": "tiny", "prompt": PROMPTS[:2], "max_tokens": 12, "stream": True}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        events = [line[6:] for line in resp.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    texts, finished = ["", ""], [None, None]
    for event in events[:-1]:
        for choice in json.loads(event)["choices"]:
            texts[choice["index"]] += choice["text"]
            finished[choice["index"]] = choice["finish_reason"] or finished[choice["index"]]
    assert texts == expected[:2] and None not in finished
    assert metric(url, "engine_up") == 1 and metric(url, "decoding_steps_total") > 0


def test_a_client_that_leaves_stops_its_rows_in_the_engine_process(served):
    _, url = served
    before, steps = metric(url, "cancelled_jobs_total"), metric(url, "decoding_steps_total")
    parts = urllib.parse.urlsplit(url)
    # 16 prompts x 512 forced tokens in rows of 4: several waves, still decoding when the client leaves
    body = json.dumps({"model": "tiny", "prompt": ["Cold soup."] * 16, "max_tokens": 512, "min_tokens": 512}).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        deadline = time.monotonic() + 20
        while metric(url, "decoding_steps_total") < steps + 50 and time.monotonic() < deadline:
            time.sleep(0.05)  # the engine is decoding the request's rows
    deadline = time.monotonic() + 20  # the client has gone away
    while metric(url, "cancelled_jobs_total") == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(url, "cancelled_jobs_total") > before
    status, _ = post(f"{url}/completions", {"model": "tiny", "prompt": "Still there?", "max_tokens": 4})
    assert status == 200  # the engine goes on serving others


@pytest.mark.slow  # three server processes (~4-8 s each)
def test_neither_process_outlives_the_other(tiny_t5):
    # the engine dies: waiting and new requests get a 500 that says so, and /health turns 503
    proc, url = start(tiny_t5)
    try:
        (engine,) = children(proc.pid)
        os.kill(engine, signal.SIGKILL)
        status, body = post(f"{url}/completions", {"model": "tiny", "prompt": "Hello?", "max_tokens": 4})
        assert status == 500 and "decoding engine process stopped" in body["error"]["message"]
        with pytest.raises(urllib.error.HTTPError) as health:
            urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=10)
        assert health.value.code == 503
        assert metric(url, "engine_up") == 0
    finally:
        proc.terminate()
        proc.wait(20)
    # the server is killed with -9: its engine process goes too (parent-death signal), holding no memory;
    # a spawned one too (and spawn's resource tracker)
    for extra in ((), ("--engine-start", "spawn")):
        proc, url = start(tiny_t5, *extra)
        engines = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(20)
        deadline = time.monotonic() + 10
        while any(map(alive, engines)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engines and not any(map(alive, engines))


def test_no_engine_process_keeps_decoding_in_the_server(tiny_t5):
    proc, url = start(tiny_t5, "--no-engine-process")
    try:
        assert children(proc.pid) == []
        status, body = post(f"{url}/completions", {"model": "tiny", "prompt": PROMPTS[:2], "max_tokens": 6})
        assert status == 200 and len(body["choices"]) == 2
    finally:
        proc.terminate()
        proc.wait(20)


# --- a spawned engine process: it loads its own copy of the model -----------------------------------------
@pytest.fixture(scope="module")
def spawned(tiny_t5):
    proc, url = start(tiny_t5, "--engine-start", "spawn")
    yield proc, url
    proc.terminate()
    proc.wait(20)


def test_a_spawned_engine_process_answers_as_in_process_hf(spawned, local):
    proc, url = spawned
    engine = engine_of(proc.pid)
    assert b"spawn_main" in Path(f"/proc/{engine}/cmdline").read_bytes()  # a fresh interpreter, not a fork
    status, body = post(f"{url}/completions", {"model": "tiny", "prompt": PROMPTS, "max_tokens": 12})
    assert status == 200
    assert [c["text"] for c in body["choices"]] == in_process(local, PROMPTS, 12)
    assert metric(url, "engine_up") == 1 and metric(url, "decoding_steps_total") > 0


def test_a_spawned_engine_that_dies_fails_waiting_requests_and_health(spawned):
    proc, url = spawned  # runs after the test above: it ends this server's engine
    steps = metric(url, "decoding_steps_total")
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(post(f"{url}/completions", {
        "model": "tiny", "prompt": ["Cold soup."] * 8, "max_tokens": 512, "min_tokens": 512})))
    waiting.start()
    deadline = time.monotonic() + 20
    while metric(url, "decoding_steps_total") < steps + 20 and time.monotonic() < deadline:
        time.sleep(0.05)  # the engine is decoding the waiting request
    os.kill(engine_of(proc.pid), signal.SIGKILL)
    waiting.join(30)
    ((status, body),) = answers
    assert status == 500 and "decoding engine process stopped" in body["error"]["message"]
    status, body = post(f"{url}/completions", {"model": "tiny", "prompt": "Hello?", "max_tokens": 4})
    assert status == 500 and "decoding engine process stopped" in body["error"]["message"]
    with pytest.raises(urllib.error.HTTPError) as health:
        urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=10)
    assert health.value.code == 503


def test_a_spawned_engine_that_cannot_load_its_model_is_a_one_line_error(local, tmp_path):
    started = time.monotonic()
    with pytest.raises(ModelError) as failed:
        ModelServer(local, engine_process=True, engine_start="spawn",
                    engine_load=EngineLoad(f"hf:{tmp_path / 'gone'}", {"batch_size": 4}, 1))
    message = str(failed.value)
    assert "\n" not in message and time.monotonic() - started < 60
    assert message.startswith(f"the engine process could not load hf:{tmp_path / 'gone'}: ")


def test_a_spawned_engine_with_another_model_is_refused(local, tiny_t5, tmp_path):
    copy = shutil.copytree(tiny_t5, tmp_path / "copy")  # same weights, another identity (its path)
    with pytest.raises(ModelError, match="loaded a different hf:.*identity differs") as failed:
        ModelServer(local, engine_process=True, engine_start="spawn",
                    engine_load=EngineLoad(f"hf:{copy}", {"batch_size": 4}, 1))
    assert "\n" not in str(failed.value)


def test_engine_start_fork_is_refused_where_fork_is_unsafe(cli, tiny_t5):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a second thread: a fork could copy a lock it holds
    other.start()
    try:
        result = cli("serve", "--model", f"hf:{tiny_t5}", "--port", "0", "--quiet", "--engine-start", "fork")
    finally:
        stop.set()
        other.join()
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--engine-start fork is not safe here: the server process runs" in lines[0], result.stderr
    with pytest.raises(FsabenchError, match="needs the model's load spec"):  # the library: spawn needs a spec
        ModelServer(load_model(f"hf:{tiny_t5}"), engine_process=True, engine_start="spawn")


def test_auto_spawns_where_fork_is_unsafe(local, tiny_t5):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        server = ModelServer(local, engine_process=True, engine_load=EngineLoad(f"hf:{tiny_t5}", {"batch_size": 4}, 1))
    finally:
        stop.set()
        other.join()
    try:
        assert type(server.engine.process).__name__ == "SpawnProcess" and server.engine.alive
    finally:
        server.shutdown()
