#!/usr/bin/env python3
"""Serving speed: `openai-compat:` through `fsabench serve` vs `hf:` in-process, same tiny model and task.

    OMP_NUM_THREADS=1 python scripts/bench_serve.py                 # trains a tiny T5 first (~1-3 min)
    # the data: FSABENCH_DATA_DIR, else ../shared/data beside the checkout, else fsabench's data dir
    OMP_NUM_THREADS=1 python scripts/bench_serve.py --model ./runs/student --limit 400 --json

The in-process run is `run_task` on `hf:`. The served runs start the real `fsabench serve` command in
a subprocess with the same batch size and the same torch thread count (--batch-size, --threads;
default: this process's torch threads) and score the same atsa-rest14 examples through the
`openai-compat:` adapter at each concurrency, timing each HTTP call for p50/p99 latency. Every
served run must give the in-process outputs exactly (checked), and the prompt style comes from the
server's /v1/models (no --prompt-style).

On a shared machine the load changes from minute to minute, so the in-process run is repeated right
before each served run and each ratio is taken against that neighbour; the load average is printed
beside every row. `server CPU ms/ex` is the serving processes' CPU time per example (user + system;
the HTTP process and its engine process), a figure the load moves less than wall time; `client CPU
ms/ex` is this process's (the HTTP client).
`overhead` (concurrency 1) is each request's served latency minus the model's own time for the same
prompt, in-process, one request per generate call.

`equal work` (--equal-work-tokens N, default 16): concurrency 1 again, every request made to write
exactly N tokens (`min_tokens` = `max_tokens` = N, vLLM's fields), so the model's own time is about the
same for every request and p99/p50 shows the tail the server adds. On the benchmark's own prompts it
cannot: the tiny student answers most sentences in one token and a few with its whole 100-token
budget, so the model alone has a p99 about 20x its p50 before any server is involved.

Goal (issue 28): served throughput at concurrency 32 >= 0.8x in-process, and p99 latency at
concurrency 1 under 3x its p50. When the goal was set, in-process `hf:` meant static sorted `generate`
batches; it now decodes with continuous batching too (about 3x faster on the tiny T5), so each row
also shows the static in-process run (FSABENCH_STATIC_GENERATE=1) and the ratio against it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("FSABENCH_DATA_DIR") and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["FSABENCH_DATA_DIR"] = str(ROOT.parent / "shared" / "data")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its live children (the server's engine process;
    Linux /proc; None elsewhere)."""
    from fsabench.processes import children, stat_fields

    fields = stat_fields(pid)
    if fields is None:
        return None
    total = int(fields[11]) + int(fields[12])
    for child in children(pid):
        fields = stat_fields(child)  # None: ended meanwhile
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def start_serve(model: Path, batch_size: int, threads: int, extra: list[str]) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "serve", "--model", f"hf:{model}", "--port", "0", "--name", "student",
                             "--batch-size", str(batch_size), "--threads", str(threads), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"fsabench serve did not start: {line!r}")
    return proc, line.split()[1]


def timed_client(url: str, concurrency: int):
    """The openai-compat adapter with each HTTP call timed: {prompt: seconds}."""
    from fsabench.models import load_model

    client = load_model(f"openai-compat:{url}#student", concurrency=concurrency)
    latencies: dict[str, float] = {}
    inner = client._call

    async def call(request):
        start = time.perf_counter()
        try:
            return await inner(request)
        finally:
            latencies[request.prompt] = time.perf_counter() - start

    client._call = call
    return client, latencies


def one_at_a_time(local, run) -> dict[str, float]:
    """The model alone, in-process, one request per `generate` call: {prompt: seconds}. What a lone
    request costs without any server, so the served latency at concurrency 1 can be split into the
    model's own time and the server's overhead (this tiny student answers most sentences with a
    token or two and a few with its whole 100-token budget: its own p99 is many times its p50)."""
    latencies: dict[str, float] = {}
    inner = local.generate

    def timed(requests, *rest, **kw):
        answers = []
        for request in requests:
            start = time.perf_counter()
            answers += inner([request], *rest, **kw)
            latencies[local._text_of(request)] = time.perf_counter() - start
        return answers

    local.generate = timed
    try:
        run()
    finally:
        del local.generate
    return latencies


def equal_work(url: str, local, prompts: list[str], tokens: int) -> dict:
    """Concurrency 1, each request writing exactly `tokens` tokens: served (one HTTP call at a time) and the
    model alone (in-process, one request per call), p50/p99 of each."""
    import httpx

    alone, served = [], []
    for prompt in prompts:
        start = time.perf_counter()
        local._generate_batch([prompt], [tokens], [tokens])
        alone.append(time.perf_counter() - start)
    body = {"model": "student", "max_tokens": tokens, "min_tokens": tokens, "temperature": 0}
    with httpx.Client(timeout=60) as client:
        client.post(f"{url}/completions", json={**body, "prompt": prompts[0]}).raise_for_status()  # warm-up
        for prompt in prompts:
            start = time.perf_counter()
            reply = client.post(f"{url}/completions", json={**body, "prompt": prompt})
            served.append(time.perf_counter() - start)
            reply.raise_for_status()
            written = reply.json()["usage"]["completion_tokens"]
            assert written == tokens, f"asked for exactly {tokens} tokens, the server wrote {written}"
    figures = {"tokens": tokens, "requests": len(prompts), "load": load()}
    for name, values in (("alone", alone), ("served", served)):
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        figures[name] = {"p50_ms": round(p50 * 1000, 1), "p99_ms": round(p99 * 1000, 1), "p99_over_p50": round(p99 / p50, 2)}
    return figures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a seq2seq model folder [default: train a tiny T5]")
    parser.add_argument("--steps", type=int, default=200, help="training steps for the tiny T5")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--batch-size", type=int, default=16, help="both sides: in-process batch and serve --batch-size")
    parser.add_argument("--threads", type=int, default=None,
                        help="both sides: torch threads [default: this process's, i.e. OMP_NUM_THREADS]")
    parser.add_argument("--limit", type=int, default=None, help="examples (default: all 1,140)")
    parser.add_argument("--serve-args", default="", help="extra `fsabench serve` options, e.g. '--batch-wait-ms 2'")
    parser.add_argument("--equal-work-tokens", type=int, default=16,
                        help="a last concurrency-1 round where every request writes exactly this many tokens (0: skip)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (the table goes to stderr)")
    args = parser.parse_args()

    import torch

    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    out = sys.stderr if args.json else sys.stdout

    def show(line: str) -> None:
        print(line, file=out, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            sys.path.insert(0, str(ROOT / "scripts"))
            from bench_eval_hf import tiny_student

            model = tiny_student(Path(tmp), args.steps)
        spec = build_registry().spec("atsa-rest14")
        local = load_model(f"hf:{model}", batch_size=args.batch_size, device="cpu")
        run_task(spec, local, data_dir(), RunOptions(limit=32))  # warm-up

        def in_process(static: bool = False):
            """`hf:` in this process: continuous batching (today's default) or, with static=True, the static
            sorted `generate` batches that were `hf:`'s only path when issue 28 set the goal."""
            os.environ["FSABENCH_STATIC_GENERATE"] = "1" if static else "0"
            try:
                start, cpu = time.perf_counter(), time.process_time()
                result = run_task(spec, local, data_dir(), RunOptions(limit=args.limit))
                return result, time.perf_counter() - start, time.process_time() - cpu
            finally:
                os.environ.pop("FSABENCH_STATIC_GENERATE", None)

        reference, _, _ = in_process()
        n = len(reference.examples)
        outputs = [e.output for e in reference.examples]
        report = {"examples": n, "batch_size": args.batch_size, "threads": threads, "load_before": load(),
                  "serve_args": args.serve_args, "rows": []}
        show(f"{n} atsa-rest14 examples; batch size {args.batch_size} and {threads} torch thread(s) on both sides; "
             f"load average {load()} (1/5/15 min; 2-core machine)")
        alone = one_at_a_time(local, lambda: run_task(spec, local, data_dir(), RunOptions(limit=args.limit)))
        a50, a99 = statistics.median(alone.values()), percentile(list(alone.values()), 0.99)
        report["model_alone"] = {"p50_ms": round(a50 * 1000, 1), "p99_ms": round(a99 * 1000, 1),
                                 "p99_over_p50": round(a99 / a50, 2), "load": load()}
        show(f"the model alone, in-process, one request per generate call: p50 {a50 * 1000:.1f} ms, p99 "
             f"{a99 * 1000:.1f} ms (p99/p50 {a99 / a50:.2f}); load {load().split()[0]}")
        show("| concurrency | in-process ex/s | served ex/s | served / in-process | in-process static ex/s | "
             "served / static | p50 ms | p99 ms | p99 / p50 | overhead p50/p99 ms | server CPU ms/ex | client CPU ms/ex "
             "| in-process CPU ms/ex | same outputs | load (1 min) |")
        show("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        proc, url = start_serve(model, args.batch_size, threads, args.serve_args.split())
        try:
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                _, base, base_cpu = in_process()  # the neighbouring baseline: the load drifts between rows
                static_result, static_base, _ = in_process(static=True)
                assert [e.output for e in static_result.examples] == outputs, "static and continuous hf: differ"
                client, latencies = timed_client(url, concurrency)
                run_task(spec, client, data_dir(), RunOptions(limit=16))  # warm-up (connections, /models)
                latencies.clear()
                cpu_start, start, client_cpu = cpu_seconds(proc.pid), time.perf_counter(), time.process_time()
                served = run_task(spec, client, data_dir(), RunOptions(limit=args.limit))
                seconds = time.perf_counter() - start
                cpu_end, client_cpu = cpu_seconds(proc.pid), time.process_time() - client_cpu
                client.close()
                same = [e.output for e in served.examples] == outputs and served.scores == reference.scores
                identical = sum(e.output == o for e, o in zip(served.examples, outputs))  # the share, when not all
                lat = list(latencies.values())
                p50, p99 = statistics.median(lat), percentile(lat, 0.99)
                cpu = (cpu_end - cpu_start) / n * 1000 if cpu_start is not None and cpu_end is not None else None
                row = {"concurrency": concurrency, "in_process_per_s": round(n / base, 1),
                       "served_per_s": round(n / seconds, 1), "ratio": round(base / seconds, 3),
                       "in_process_static_per_s": round(n / static_base, 1), "ratio_static": round(static_base / seconds, 3),
                       "p50_ms": round(p50 * 1000, 1), "p99_ms": round(p99 * 1000, 1),
                       "p99_over_p50": round(p99 / p50, 2), "server_cpu_ms_per_example": cpu and round(cpu, 2),
                       "in_process_cpu_ms_per_example": round(base_cpu / n * 1000, 2),
                       "client_cpu_ms_per_example": round(client_cpu / n * 1000, 2),
                       "same_outputs": same, "identical_outputs": f"{identical}/{n}", "load": load()}
                overhead = "-"
                if concurrency == 1:  # served minus the model alone, request by request
                    extra = [latencies[p] - alone[p] for p in latencies if p in alone]
                    row["overhead_p50_ms"] = round(statistics.median(extra) * 1000, 1)
                    row["overhead_p99_ms"] = round(percentile(extra, 0.99) * 1000, 1)
                    overhead = f"{row['overhead_p50_ms']} / {row['overhead_p99_ms']}"
                report["rows"].append(row)
                show(f"| {concurrency} | {row['in_process_per_s']} | {row['served_per_s']} | {row['ratio']:.2f}x | "
                     f"{row['in_process_static_per_s']} | {row['ratio_static']:.2f}x | {row['p50_ms']} | {row['p99_ms']} | {row['p99_over_p50']:.2f} | {overhead} | "
                     f"{'-' if cpu is None else f'{cpu:.1f}'} | {row['client_cpu_ms_per_example']:.1f} | "
                     f"{row['in_process_cpu_ms_per_example']:.1f} | {same} ({identical}/{n}) | "
                     f"{row['load'].split()[0]} |")
            if args.equal_work_tokens > 0:
                prompts = list(alone)  # the prompt texts the model saw (one_at_a_time keys them so)
                eq = report["equal_work"] = equal_work(url, local, prompts, args.equal_work_tokens)
                show(f"equal work, concurrency 1, {eq['tokens']} tokens per request, {eq['requests']} requests: "
                     f"model alone p50 {eq['alone']['p50_ms']} ms, p99 {eq['alone']['p99_ms']} ms "
                     f"(p99/p50 {eq['alone']['p99_over_p50']:.2f}); served p50 {eq['served']['p50_ms']} ms, p99 "
                     f"{eq['served']['p99_ms']} ms (p99/p50 {eq['served']['p99_over_p50']:.2f}); load {eq['load'].split()[0]}")
        finally:
            proc.terminate()
            proc.wait(30)
        report["load_after"] = load()
        show(f"load average after: {report['load_after']}")
        if args.json:
            print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
