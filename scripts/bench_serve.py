#!/usr/bin/env python3
"""Serving speed: `openai-compat:` through `fsabench serve` vs `hf:` in-process, same tiny model and task.

    OMP_NUM_THREADS=1 python scripts/bench_serve.py                 # trains a tiny T5 first (~1-3 min)
    OMP_NUM_THREADS=1 python scripts/bench_serve.py --model ./runs/student

The in-process run is `run_task` on `hf:` (batch size 16). The served runs start the real
`fsabench serve` command in a subprocess (the same batch size) and score the same 1,140 atsa-rest14
examples through the `openai-compat:` adapter at concurrency 1, 8 and 32, timing each HTTP call
for p50/p99 latency. Every served run must give the in-process outputs exactly (checked), and
the prompt style comes from the server's /v1/models (no --prompt-style). Goal: served throughput
at concurrency 32 >= 0.8x in-process, same batch size both sides (--batch-size, default 16), and p99
latency at concurrency 1 under 3x its p50.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def start_serve(model: Path, batch_size: int) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "serve", "--model", f"hf:{model}", "--port", "0", "--name", "student",
                             "--batch-size", str(batch_size), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"fsabench serve did not start: {line!r}")
    return proc, line.split()[1]


def timed_client(url: str, concurrency: int):
    """The openai-compat adapter with each HTTP call timed (latencies in seconds)."""
    from fsabench.models import load_model

    client = load_model(f"openai-compat:{url}#student", concurrency=concurrency)
    latencies: list[float] = []
    inner = client._call

    async def call(request):
        start = time.perf_counter()
        try:
            return await inner(request)
        finally:
            latencies.append(time.perf_counter() - start)

    client._call = call
    return client, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a seq2seq model folder [default: train a tiny T5]")
    parser.add_argument("--steps", type=int, default=200, help="training steps for the tiny T5")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--batch-size", type=int, default=16, help="both sides: in-process batch and serve --batch-size")
    parser.add_argument("--limit", type=int, default=None, help="examples (default: all 1,140)")
    args = parser.parse_args()

    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            sys.path.insert(0, str(ROOT / "scripts"))
            from bench_eval_hf import tiny_student

            model = tiny_student(Path(tmp), args.steps)
        spec = build_registry().spec("atsa-rest14")
        local = load_model(f"hf:{model}", batch_size=args.batch_size, device="cpu")
        run_task(spec, local, data_dir(), RunOptions(limit=32))  # warm-up
        start = time.perf_counter()
        reference = run_task(spec, local, data_dir(), RunOptions(limit=args.limit))
        base = time.perf_counter() - start
        n = len(reference.examples)
        outputs = [e.output for e in reference.examples]
        print(f"load: {os.getloadavg()[0]:.1f} (1-min load average; 2-core CPU shared with other agents)")
        print(f"in-process hf: (batch {args.batch_size}): {n} examples in {base:.2f} s = {n / base:.1f} examples/s")
        print("| path | concurrency | examples/s | vs in-process | p50 ms | p99 ms | same outputs |")
        print("|---|---|---|---|---|---|---|")
        print(f"| hf: in-process (batch {args.batch_size}) | - | {n / base:.1f} | 1.00x | - | - | - |")
        proc, url = start_serve(model, args.batch_size)
        try:
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                client, latencies = timed_client(url, concurrency)
                run_task(spec, client, data_dir(), RunOptions(limit=16))  # warm-up (connections, /models)
                latencies.clear()
                start = time.perf_counter()
                served = run_task(spec, client, data_dir(), RunOptions(limit=args.limit))
                seconds = time.perf_counter() - start
                same = [e.output for e in served.examples] == outputs and served.scores == reference.scores
                lat = sorted(latencies)
                p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
                print(f"| openai-compat via serve ({client.prompt_style}) | {concurrency} | {n / seconds:.1f} | "
                      f"{base / seconds:.2f}x | {statistics.median(lat) * 1000:.1f} | {p99 * 1000:.1f} | {same} |",
                      flush=True)
                client.close()
        finally:
            proc.terminate()
            proc.wait(30)
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
