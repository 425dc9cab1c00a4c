"""lm-eval both ways on the same tiny student: identical scores on every subset.

(a) `--model lm-eval:hf,...` runs lm-eval's own model code inside fsabench;
(b) `fsabench export lm-eval` + the real `lm_eval` CLI runs fsabench's tasks inside lm-eval.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fsabench.models import load_model
from fsabench.runner import RunOptions, run_task
from fsabench.tasks.registry import build_registry
from tests.conftest import DATA_DIR

LIMIT = 16


@pytest.fixture(scope="module")
def fsabench_results(trained_tiny_t5, tmp_path_factory):
    """`fsabench run` (the CLI's code path) with hf: on a generation task and a likelihood task."""
    import fsabench

    out = tmp_path_factory.mktemp("fsabench_runs")
    for task, scoring in (("atsa-rest14", "generate"), ("sc-sst2", "likelihood")):
        results = fsabench.evaluate(f"hf:{trained_tiny_t5}", task, limit=LIMIT, output_dir=out, overwrite=True,
                                    scoring=scoring, data_dir=DATA_DIR, batch_size=16, device="cpu")
        assert all(r.usage.failed == 0 for r in results)
    return {p.stem: json.loads(p.read_text()) for p in out.rglob("*.json")}


@pytest.mark.slow  # ~7 s CPU: lm-eval's import and a tiny-T5 run
def test_lm_eval_model_inside_fsabench_matches_hf(trained_tiny_t5, fsabench_results):
    lm = load_model(f"lm-eval:hf,pretrained={trained_tiny_t5},backend=seq2seq", batch_size=16, device="cpu")
    registry = build_registry()
    for task, scoring in (("atsa-rest14", "generate"), ("sc-sst2", "likelihood")):
        theirs = run_task(registry.spec(task), lm, DATA_DIR, RunOptions(limit=LIMIT, scoring=scoring))
        ours = fsabench_results[task]
        assert [e.output for e in theirs.examples] == [e["output"] for e in ours["examples"]]
        assert {k: v.model_dump(mode="json") for k, v in theirs.scores.items()} == ours["scores"]
    assert any(e["output"] for e in fsabench_results["atsa-rest14"]["examples"])  # real text, not all empty


def run_lm_eval(model_dir: Path, include: Path, tasks: str, out: Path) -> dict:
    exe = Path(sys.executable).parent / "lm_eval"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run([str(exe), "--model", "hf", "--model_args", f"pretrained={model_dir},backend=seq2seq",
                          "--include_path", str(include), "--tasks", tasks, "--limit", str(LIMIT),
                          "--batch_size", "16", "--device", "cpu", "--output_path", str(out)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(next(out.rglob("results_*.json")).read_text())["results"]


@pytest.mark.slow  # lm-eval's CLI in a subprocess on two tasks
def test_exported_tasks_score_identically_in_lm_eval(trained_tiny_t5, fsabench_results, cli, tmp_path):
    exported = tmp_path / "exported"  # two exports side by side; lm-eval scans the folder recursively
    gen, mc = exported / "gen", exported / "mc"
    assert cli("export", "lm-eval", gen, "--tasks", "atsa-rest14", "--seq2seq").returncode == 0
    assert cli("export", "lm-eval", mc, "--tasks", "sc-sst2", "--scoring", "likelihood").returncode == 0
    results = run_lm_eval(trained_tiny_t5, exported, "fsabench_atsa_rest14,fsabench_sc_sst2", tmp_path / "lm")
    compared = undefined = 0
    for task, metrics in (("atsa-rest14", ("precision", "recall", "f1")), ("sc-sst2", ("accuracy", "macro_f1"))):
        lm_scores = results["fsabench_" + task.replace("-", "_")]
        for subset, score in fsabench_results[task]["scores"].items():
            for metric in metrics:
                name = metric if subset == "all" else f"{metric}_{subset}"
                value = lm_scores.get(f"{name},none")
                if score.get(metric) is None:  # an empty subset in the first LIMIT examples: undefined both ways
                    assert value is None or math.isnan(value), (task, name, value)
                    undefined += 1
                    continue
                assert value == score[metric], (task, name)
                compared += 1
    assert compared + undefined == 12 + 2 and compared >= 11  # 4 subsets x P/R/F1 (atsa), accuracy + macro-F1
