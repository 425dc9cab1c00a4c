"""`fsabench serve` decodes in an engine process of its own: the same answers as in-process `hf:`,
streaming and cancellation across the process boundary, and neither process outlives the other."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fsabench.models import load_model
from fsabench.models.base import Request
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


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (/proc: this kernel has no task/*/children)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if entry.name.isdigit() and fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(f"fsabench_{name} ")))


@pytest.fixture(scope="module")
def served(tiny_t5):
    proc, url = start(tiny_t5)
    yield proc, url
    proc.terminate()
    proc.wait(20)


def test_decoding_runs_in_a_child_process_and_answers_as_in_process_hf(served, tiny_t5):
    proc, url = served
    assert len(children(proc.pid)) == 1  # the engine process
    status, body = post(f"{url}/completions", {"model": "tiny", "prompt": PROMPTS, "max_tokens": 12})
    assert status == 200
    local = load_model(f"hf:{tiny_t5}", batch_size=4)
    expected = [c.text for c in local.generate([Request(id=str(i), prompt=p, max_new_tokens=12)
                                                for i, p in enumerate(PROMPTS)])]
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


@pytest.mark.slow  # two server processes (~4 s each)
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
    # the server is killed with -9: its engine process goes too (parent-death signal), holding no memory
    proc, url = start(tiny_t5)
    (engine,) = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(20)
    deadline = time.monotonic() + 10
    while alive(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(engine)


def test_no_engine_process_keeps_decoding_in_the_server(tiny_t5):
    proc, url = start(tiny_t5, "--no-engine-process")
    try:
        assert children(proc.pid) == []
        status, body = post(f"{url}/completions", {"model": "tiny", "prompt": PROMPTS[:2], "max_tokens": 6})
        assert status == 200 and len(body["choices"]) == 2
    finally:
        proc.terminate()
        proc.wait(20)
