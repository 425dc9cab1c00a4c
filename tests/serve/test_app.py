"""`fsabench serve`: an OpenAI-compatible server over a local model, exercised by real clients."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fsabench.models import load_model
from fsabench.runner import RunOptions, run_task
from fsabench.serve import start_server
from fsabench.tasks.registry import build_registry
from tests.conftest import DATA_DIR


def post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def served(trained_tiny_t5):
    adapter = load_model(f"hf:{trained_tiny_t5}", batch_size=8)
    server = start_server(adapter, served_name="student", batch_size=8, batch_wait=0.05)
    yield adapter, server
    server.shutdown()


@pytest.mark.slow  # the served model is the trained tiny T5 (trained_tiny_t5: ~60 s of training)
def test_served_student_answers_as_the_local_model_does(served):
    adapter, server = served
    spec = build_registry().spec("atsa-rest14")
    options = RunOptions(limit=16)
    local = run_task(spec, adapter, DATA_DIR, options)
    client = load_model(f"openai-compat:{server.url}#student", concurrency=8)  # no --prompt-style:
    assert client.prompt_style == "raw"  # the server's /v1/models says the student takes the raw sentence
    remote = run_task(spec, client, DATA_DIR, options)
    assert [e.prompt for e in remote.examples] == [e.prompt for e in local.examples]
    assert [e.output for e in remote.examples] == [e.output for e in local.examples]
    assert remote.scores == local.scores and remote.usage.failed == 0
    assert max(server.batcher.batches) > 1  # concurrent requests were answered together
    assert client.identity()["server"]["model"] == adapter.name  # the cache key names the served weights


@pytest.fixture(scope="module")
def served_untrained(tiny_t5):
    """The untrained tiny T5 (built in seconds, cached): routes and errors do not need a trained model."""
    adapter = load_model(f"hf:{tiny_t5}", batch_size=8)
    server = start_server(adapter, served_name="student", batch_size=8, batch_wait=0.05)
    yield adapter, server
    server.shutdown()


def test_openai_routes_and_errors(served_untrained):
    _, server = served_untrained
    with urllib.request.urlopen(f"{server.url}/models", timeout=10) as resp:
        models = json.loads(resp.read())
    assert models["data"][0]["id"] == "student" and "identity_sha256" in models["data"][0]["fsabench"]
    status, chat = post(f"{server.url}/chat/completions", {"model": "student", "max_tokens": 20,
                                                           "messages": [{"role": "user", "content": "The pizza was great."}]})
    assert status == 200 and isinstance(chat["choices"][0]["message"]["content"], str)
    assert chat["usage"]["prompt_tokens"] > 0
    status, done = post(f"{server.url}/completions", {"prompt": ["Great staff.", "Cold soup."], "max_tokens": 20})
    assert status == 200 and [c["index"] for c in done["choices"]] == [0, 1]
    for bad in ({"messages": "hi"}, {"messages": [{"role": "user", "content": "x"}], "n": 2},
                {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}):
        status, error = post(f"{server.url}/chat/completions", bad)
        assert status == 400 and error["error"]["type"] == "invalid_request_error"
    assert post(f"{server.url}/embeddings", {})[0] == 404


@pytest.mark.slow  # ~12 s CPU: a server subprocess plus litellm's import
def test_serve_command_behind_litellm(tiny_t5, cli, tmp_path):
    """The CLI server, reached the way vLLM/llama.cpp/Ollama servers are: litellm + --api-base."""
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "serve", "--model", f"hf:{tiny_t5}", "--port", "0", "--name", "tiny"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY "), line
        url = line.split()[1]
        res = cli("run", "-m", "litellm:hosted_vllm/tiny", "--api-base", url, "--prompt-style", "raw",
                  "-t", "atsa-rest14", "--limit", "6", "--max-new-tokens", "8", "-o", tmp_path, "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)[0]["scores"]["all"]["failed"] == 0
    finally:
        proc.terminate()
        proc.wait(20)
