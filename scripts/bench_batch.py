#!/usr/bin/env python3
"""Online vs provider batch API through fsabench: requests sent, recorded cost, wall time.

The scripted batch server (tests/servers/batches.py, its own process) answers online requests after a
fixed latency (default 200 ms) and runs batches through validating -> in_progress -> finalizing with
fixed delays (default 1 s, 2 s, 1 s; a real provider takes minutes to hours, so wall time here measures
fsabench's own overhead, not a provider's queue). 2,000 requests (SST-2 train sentences as one task), each
model run twice on an empty cache: online (concurrency 64), then with --batch.

    python scripts/bench_batch.py                  # 2,000 requests (about a minute)
    python scripts/bench_batch.py --requests 200   # quick look

`litellm:openai/gpt-4o-mini` prices both runs from litellm's bundled price map (online at list price,
batch at batch price); `openai-compat:` records no cost (a local server has no price). Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchkit import ROOT, loadavg, start_test_server, stop, write_bench_task  # noqa: E402

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")


def start_server(latency: float, delays: str) -> tuple[subprocess.Popen, str]:
    return start_test_server("batches", "--latency", str(latency), "--delays", delays, "--model", "gpt-4o-mini")


def call(root: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(root + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as resp:
        return json.loads(resp.read())


def run(model: str, root: str, tasks_dir: Path, cache: Path, out: Path, n: int, batch: bool) -> dict:
    call(root, "/control", {"reset": True})
    exe = Path(sys.executable).parent / "fsabench"
    args = [str(exe), "run", "-m", model, "-t", "bench-sst2", "--tasks-dir", str(tasks_dir), "--limit", str(n),
            "--concurrency", "64", "--cache-dir", str(cache), "-o", str(out), "-q", "--json"]
    if model.startswith("litellm:"):
        args += ["--api-base", f"{root}/v1"]
    if batch:
        args += ["--batch", "--batch-poll", "0.5"]
    clock = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - clock
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result = json.loads(next(out.rglob("bench-sst2.json")).read_text())
    stats = call(root, "/stats")
    return {"model": model, "mode": "batch" if batch else "online", "examples": len(result["examples"]),
            "http_requests": stats["http"], "completions_online": stats["requests"], "batches": stats["batches"],
            "batch_requests": stats["batch_requests"], "failed": result["usage"]["failed"],
            "cost_usd": result["usage"]["cost_usd"], "wall_s": round(seconds, 2),
            "accuracy": result["scores"]["all"]["accuracy"],
            "outputs": [e["output"] for e in result["examples"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--delays", default="1,2,1", help="batch seconds validating, in_progress, finalizing")
    args = parser.parse_args()
    proc, root = start_server(args.latency, args.delays)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tasks_dir = write_bench_task(Path(tmp) / "tasks")
            for model in ("openai-compat:" + root + "/v1#gpt-4o-mini", "litellm:openai/gpt-4o-mini"):
                for batch in (False, True):
                    tag = f"{len(rows)}"
                    rows.append(run(model, root, tasks_dir, Path(tmp) / f"cache{tag}", Path(tmp) / f"out{tag}",
                                    args.requests, batch))
    finally:
        stop(proc)
    load = loadavg()
    print(f"{'model':34} {'mode':6} {'http':>6} {'online':>7} {'batches':>7} {'in batch':>8} {'cost USD':>10} "
          f"{'wall s':>7} {'acc':>6}")
    for row in rows:
        name = row["model"] if len(row["model"]) <= 34 else "openai-compat:…#gpt-4o-mini"
        print(f"{name:34} {row['mode']:6} {row['http_requests']:6} {row['completions_online']:7} {row['batches']:7} "
              f"{row['batch_requests']:8} {row['cost_usd']:10.6f} {row['wall_s']:7.2f} {row['accuracy']:6.2f}")
    same = all(rows[i]["outputs"] == rows[i + 1]["outputs"] for i in (0, 2))
    print(f"identical outputs online vs batch: {same}; load average {' '.join(load)}")
    print(json.dumps({"requests": args.requests, "latency_s": args.latency, "batch_delays_s": args.delays,
                      "loadavg": load, "identical_outputs": same,
                      "rows": [{k: v for k, v in r.items() if k != "outputs"} for r in rows]}))


if __name__ == "__main__":
    main()
