#!/usr/bin/env python3
"""API evaluation speed: fsabench vs lm-eval's `local-chat-completions` vs the latency limit.

The scripted OpenAI-compatible server (tests/servers/scripted.py, its own process) answers every
request after a fixed 200 ms. 2,000 requests (SST-2 train sentences as a 2,000-example task) at
concurrency 16 and 64. The limit is concurrency / latency requests per second. Then the same fsabench
run again on its warm cache: it must send zero requests and be >= 50x faster than cold.

    python scripts/bench_api.py                 # full (about 3 minutes)
    python scripts/bench_api.py --requests 400  # quick look

Needs FSABENCH_DATA_DIR (or ../shared/data), lm-eval and litellm installed. Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from benchkit import start_test_server, write_bench_task  # noqa: E402  (puts ROOT on sys.path)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")  # litellm refuses openai/ without one


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc, root = start_test_server("scripted", "--latency", str(latency))
    return proc, root + "/v1"


def server_stats(url: str) -> dict:
    with urllib.request.urlopen(url.replace("/v1", "/stats")) as resp:
        return json.loads(resp.read())


def run_fsabench(model: str, url: str, tasks_dir: Path, cache: Path, n: int, concurrency: int) -> float:
    import fsabench

    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    started = time.perf_counter()
    results = fsabench.evaluate(model, "bench-sst2", limit=n, output_dir=out, overwrite=True, cache_dir=cache,
                                tasks_dir=[str(tasks_dir)], concurrency=concurrency, api_base=url, timeout=30.0)
    seconds = time.perf_counter() - started
    failed = [e.error for r in results for e in r.examples if e.error]
    if failed:
        raise SystemExit(f"{model}: {len(failed)} requests failed, first: {failed[0]}")
    return seconds


def without_lean(run):
    os.environ["FSABENCH_LITELLM_LEAN"] = "0"
    try:
        return run()
    finally:
        os.environ.pop("FSABENCH_LITELLM_LEAN", None)


def run_lm_eval(url: str, export_dir: Path, n: int, concurrency: int) -> float:
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(export_dir), include_defaults=False)
    args = (f"base_url={url}/chat/completions,model=scripted,num_concurrent={concurrency},max_retries=3,"
            "tokenized_requests=False,tokenizer_backend=None,timeout=30")
    started = time.perf_counter()
    lm_eval.simple_evaluate(model="local-chat-completions", model_args=args, tasks=["fsabench_bench_sst2"], limit=n,
                            apply_chat_template=True, task_manager=manager, bootstrap_iters=0, verbosity="ERROR")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-lm-eval", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    tasks_dir = work / "tasks"
    tasks_dir.mkdir()
    write_bench_task(tasks_dir)
    from fsabench.export.lmeval import export_lmeval
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    export_lmeval(work / "lmeval", [build_registry([str(tasks_dir)]).spec("bench-sst2")], {}, data_dir(), "chat")
    proc, url = start_server(args.latency)
    rows, n = [], args.requests
    try:
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            limit = concurrency / args.latency
            clients = [("fsabench openai-compat", lambda c=concurrency: run_fsabench(
                f"openai-compat:{url}#scripted", url, tasks_dir, work / f"cache-oc-{c}", n, c))]
            if not args.skip_litellm:
                # litellm:openai/NAME at a local --api-base takes the lean client (models/api.py); "before" is
                # the same run through litellm itself (FSABENCH_LITELLM_LEAN=0)
                clients.append(("fsabench litellm (lean route)", lambda c=concurrency: run_fsabench(
                    "litellm:openai/scripted", url, tasks_dir, work / f"cache-ll-{c}", n, c)))
                clients.append(("fsabench litellm (via litellm)", lambda c=concurrency: without_lean(lambda: run_fsabench(
                    "litellm:openai/scripted", url, tasks_dir, work / f"cache-ll0-{c}", n, c))))
            if not args.skip_lm_eval:
                clients.append(("lm-eval local-chat-completions",
                                lambda c=concurrency: run_lm_eval(url, work / "lmeval", n, c)))
            for label, run in clients:
                before = server_stats(url)["requests"]
                seconds = run()
                sent = server_stats(url)["requests"] - before
                rows.append({"client": label, "concurrency": concurrency, "requests": sent, "seconds": round(seconds, 2),
                             "req_per_s": round(n / seconds, 1), "of_limit": round(n / seconds / limit, 3),
                             "limit_req_per_s": limit})
                print(rows[-1], flush=True)
        cold = next(r for r in rows if r["client"] == "fsabench openai-compat")
        before = server_stats(url)["requests"]
        warm = run_fsabench(f"openai-compat:{url}#scripted", url, tasks_dir, work / f"cache-oc-{cold['concurrency']}",
                            n, cold["concurrency"])
        warm_row = {"client": "fsabench warm cache", "concurrency": cold["concurrency"],
                    "requests": server_stats(url)["requests"] - before, "seconds": round(warm, 3),
                    "req_per_s": round(n / warm, 1), "speedup_vs_cold": round(cold["seconds"] / warm, 1)}
        rows.append(warm_row)
        print(warm_row, flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\n{'client':32} {'conc':>5} {'sent':>6} {'seconds':>8} {'req/s':>8} {'of limit':>9}")
    for r in rows:
        extra = f"{r['of_limit']:9.3f}" if "of_limit" in r else f"  x{r['speedup_vs_cold']} vs cold"
        print(f"{r['client']:32} {r['concurrency']:5d} {r['requests']:6d} {r['seconds']:8.2f} {r['req_per_s']:8.1f} {extra}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
