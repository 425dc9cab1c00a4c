"""Fixtures shared by the vLLM tests (tests/models/test_vllm.py, tests/models/test_batch_vllm.py): the
tiny random Llama and the vLLM venv's python, each built once per machine and cached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, read_train

TINY_LLAMA_CODE = [ROOT / "fsabench" / "tiny.py"]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """Random Llama (hidden 128, 2 heads of 64, 2 layers), BPE tokenizer trained on rest14 + laptop14
    sentences, ChatML template; cached across runs by content (tests/fixture_cache.py)."""
    from fsabench.tiny import build_tiny_llama
    from tests.fixture_cache import cached_build, content_key

    texts = [r["sentence"] for r in read_train("atsa/rest14") + read_train("atsa/laptop14")]
    texts += ["Classify the sentiment of the text as positive or negative. Answer with one word: positive or "
              "negative.\nText: \nSentiment: positive negative"] * 20
    key = content_key({"texts": texts, "builder": "build_tiny_llama", "defaults": True}, TINY_LLAMA_CODE)
    return cached_build("tiny_llama", key, lambda out: build_tiny_llama(texts, out),
                        tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """The vLLM venv's python: FSABENCH_VLLM_BIN when set, else scripts/build_vllm_venv.py builds it once
    per machine under the test cache (about 80 s of pip on a quiet 2-core box); skips, saying why, when
    it cannot (FSABENCH_BUILD_VLLM=0: do not try)."""
    given = os.environ.get("FSABENCH_VLLM_BIN")
    if given:
        return given
    if os.environ.get("FSABENCH_BUILD_VLLM", "1") == "0":
        pytest.skip("no FSABENCH_VLLM_BIN and FSABENCH_BUILD_VLLM=0")
    builder = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_vllm_venv.py")], capture_output=True,
                             text=True, timeout=1800)
    if builder.returncode != 0:
        tail = (builder.stdout + builder.stderr).strip().splitlines()[-3:]
        pytest.skip(f"cannot build the vLLM venv (scripts/build_vllm_venv.py): {' | '.join(tail)}")
    return builder.stdout.strip().splitlines()[-1]
