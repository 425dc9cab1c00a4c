#!/usr/bin/env python3
"""Local evaluation speed: fsabench `hf:` vs lm-eval's `hf` backend, same tiny seq2seq model and task.

Both read the same prompts (the task exported with `fsabench export lm-eval`), decode greedily with
batch size 16 on the CPU, and must give identical predictions; the script checks that, then prints
examples per second for each and the ratio (goal: fsabench >= 1.5x).

    python scripts/bench_eval_hf.py                      # builds and briefly trains a tiny T5 (~1-2 min)
    python scripts/bench_eval_hf.py --model ./runs/student --limit 400

Timed: model load + generation + scoring, in this process, after one warm-up call each; the two
alternate for --rounds rounds and the best time of each is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSABENCH_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def tiny_student(work: Path, steps: int) -> Path:
    """A tiny T5 (~0.4M parameters) fine-tuned briefly on atsa-rest14, so it writes real answers."""
    from fsabench.examples import load_split
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry
    from fsabench.tiny import build_tiny_t5
    from tests.tiny_training import train_seq2seq

    spec = build_registry().spec("atsa-rest14")
    train = load_split(spec, data_dir(), "train").examples
    texts = [e.input for e in train] + [" | positive ; | negative ; | neutral ; | conflict"] * 50
    base = build_tiny_t5(texts, work / "tiny_t5")
    return train_seq2seq(base, [(e.input, e.target) for e in train], work / "student", steps=steps)


def run_fsabench(model: Path, limit: int) -> tuple[float, list[str]]:
    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    spec = build_registry().spec("atsa-rest14")
    started = time.perf_counter()
    adapter = load_model(f"hf:{model}", batch_size=16, device="cpu")
    result = run_task(spec, adapter, data_dir(), RunOptions(limit=limit))
    return time.perf_counter() - started, [e.output for e in result.examples]


def run_lm_eval(model: Path, export_dir: Path, limit: int) -> tuple[float, list[str]]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(export_dir), include_defaults=False)
    started = time.perf_counter()
    out = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model},backend=seq2seq", device="cpu",
                                  batch_size=16, tasks=["fsabench_atsa_rest14"], limit=limit, task_manager=manager,
                                  log_samples=True, bootstrap_iters=0, verbosity="ERROR")
    seconds = time.perf_counter() - started
    samples = sorted(out["samples"]["fsabench_atsa_rest14"], key=lambda s: s["doc_id"])
    return seconds, [s["resps"][0][0].replace("[NL]", "\n") for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a local seq2seq model folder [default: build a tiny T5]")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--train-steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds; the best of each counts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hf-"))
    model = args.model or tiny_student(work, args.train_steps)
    from fsabench.export.lmeval import export_lmeval
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    export_lmeval(work / "lmeval", [build_registry().spec("atsa-rest14")], {}, data_dir(), seq2seq=True)
    run_fsabench(model, 16), run_lm_eval(model, work / "lmeval", 16)  # warm-up: imports, first-call costs
    ours_times, theirs_times = [], []
    for _ in range(args.rounds):  # alternate, keep the best of each: a shared 2-core box is noisy
        ours_s, ours = run_fsabench(model, args.limit)
        theirs_s, theirs = run_lm_eval(model, work / "lmeval", args.limit)
        ours_times.append(ours_s)
        theirs_times.append(theirs_s)
        print(f"round: fsabench {ours_s:.1f} s, lm-eval {theirs_s:.1f} s", flush=True)
    ours_s, theirs_s = min(ours_times), min(theirs_times)
    same = sum(a == b for a, b in zip(ours, theirs))
    row = {"examples": args.limit, "fsabench_seconds": round(ours_s, 2), "lm_eval_seconds": round(theirs_s, 2),
           "fsabench_ex_per_s": round(args.limit / ours_s, 1), "lm_eval_ex_per_s": round(args.limit / theirs_s, 1),
           "speedup": round(theirs_s / ours_s, 2), "identical_predictions": f"{same}/{len(ours)}"}
    print(f"fsabench hf:  {row['fsabench_ex_per_s']:8.1f} examples/s ({ours_s:.1f} s)")
    print(f"lm-eval hf:   {row['lm_eval_ex_per_s']:8.1f} examples/s ({theirs_s:.1f} s)")
    print(f"speed-up {row['speedup']}x; identical predictions {row['identical_predictions']}")
    print(json.dumps(row))
    if same != len(ours):
        first = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        print(f"first difference at example {first}: {ours[first]!r} vs {theirs[first]!r}")


if __name__ == "__main__":
    main()
