"""Shared fixtures: the shared data folder, the CLI runner, tiny T5 models built by the test itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
if "FSABENCH_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["FSABENCH_DATA_DIR"] = str(SHARED_DATA)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA_DIR = Path(os.environ["FSABENCH_DATA_DIR"])


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own response cache and user task path, so tests never share state."""
    monkeypatch.setenv("FSABENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("FSABENCH_TASKS_PATH", raising=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `fsabench` console script in a subprocess, as a user would."""
    exe = Path(sys.executable).parent / "fsabench"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


@pytest.fixture
def cli():
    return run_cli


def read_train(task_dir: str, limit: int | None = None) -> list[dict]:
    path = DATA_DIR / "fsa-distillation" / task_dir / "train.json"
    return json.loads(path.read_text(encoding="utf-8-sig"))[:limit]


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> Path:
    """An untrained tiny T5 (random weights) with a tokenizer trained on rest14 + laptop14 sentences."""
    from fsabench.tiny import build_tiny_t5

    texts = [r["sentence"] for r in read_train("atsa/rest14") + read_train("atsa/laptop14")]
    texts += [" | positive ; | negative ; | neutral ; | conflict"] * 50
    return build_tiny_t5(texts, tmp_path_factory.mktemp("tiny_t5"))


@pytest.fixture(scope="session")
def trained_tiny_t5(tiny_t5, tmp_path_factory) -> Path:
    """The tiny T5 fine-tuned for about a minute on atsa-rest14 train (sentence -> target string)."""
    from fsabench.examples import load_split
    from fsabench.tasks.registry import build_registry
    from tests.tiny_training import train_seq2seq

    spec = build_registry().spec("atsa-rest14")
    train = load_split(spec, DATA_DIR, "train").examples
    out = tmp_path_factory.mktemp("trained_tiny_t5")
    return train_seq2seq(tiny_t5, [(e.input, e.target) for e in train], out, seconds=60)
