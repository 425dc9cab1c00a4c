#!/usr/bin/env python3
"""Sweep speed: `fsabench sweep` (local workers, then Ray) vs the same cells as sequential `fsabench run`s.

2 models x 4 tasks x 2 shot settings = 16 cells against the scripted OpenAI-compatible server (its own
process, 200 ms per answer). The two models are two names on that server (answers do not depend on the
name; the cache key does, and the cache is off anyway). Baselines, measured in the same invocation:

  sequential  16 `fsabench run` processes one after another (what a shell loop does): sum of wall times
  run phase   the sum of those runs' own `timing.seconds` (no process start, no task loading)

Goal (issue 24): sweep wall time >= 1.8x faster than the sequential sum on a 2-core machine.

    python scripts/bench_sweep.py                     # --limit 20, concurrency 8, --max-parallel 2
    python scripts/bench_sweep.py --limit 40 --no-ray

Needs FSABENCH_DATA_DIR (or ../shared/data); Ray for the Ray row. Prints a table and JSON (with /proc/loadavg).
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

from benchkit import ROOT, start_test_server  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
TASKS = ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"]
SHOTS = [0, 2]
EXE = [sys.executable, "-m", "fsabench.cli"]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc, root = start_test_server("scripted", "--latency", str(latency))
    return proc, root + "/v1"


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def sequential(models: list[str], limit: int, concurrency: int, out: Path) -> tuple[float, float]:
    """(sum of process wall times, sum of the runs' own timing.seconds)."""
    from fsabench.results import load_result

    wall = phase = 0.0
    for model in models:
        for task in TASKS:
            for shots in SHOTS:
                folder = out / f"{task}-{shots}"
                clock = time.perf_counter()
                res = subprocess.run([*EXE, "run", "-m", model, "-t", task, "--limit", str(limit), "--num-shots",
                                      str(shots), "--concurrency", str(concurrency), "--no-cache", "-o", str(folder),
                                      "-q"], env=env(), capture_output=True, text=True)
                if res.returncode != 0:
                    raise SystemExit(f"fsabench run {model} {task} failed: {res.stderr[-2000:]}")
                wall += time.perf_counter() - clock
                phase += sum(load_result(p).timing.seconds for p in folder.glob("*/*.json"))
    return wall, phase


def sweep(models: list[str], limit: int, concurrency: int, out: Path, executor: str, parallel: int) -> tuple[float, dict]:
    spec = out.parent / f"SWEEP-{executor}.yaml"
    spec.write_text("models:\n" + "".join(f'  - {{model: "{m}", concurrency: {concurrency}}}\n' for m in models)
                    + f"tasks: {json.dumps(TASKS)}\nnum_shots: {json.dumps(SHOTS)}\nlimit: {limit}\n")
    clock = time.perf_counter()
    res = subprocess.run([*EXE, "sweep", str(spec), "-o", str(out), "--executor", executor, "--max-parallel",
                          str(parallel), "--no-cache", "--json"], env=env(), capture_output=True, text=True)
    wall = time.perf_counter() - clock
    if res.returncode != 0:
        raise SystemExit(f"sweep ({executor}) failed: {res.stderr[-2000:]}")
    summary = json.loads(res.stdout)
    assert summary["done"] == len(models) * len(TASKS) * len(SHOTS), summary
    return wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--max-parallel", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    server, url = start_server(args.latency)
    models = [f"openai-compat:{url}#model-a", f"openai-compat:{url}#model-b"]
    figures: dict = {"cells": len(models) * len(TASKS) * len(SHOTS), "limit": args.limit,
                     "concurrency": args.concurrency, "latency_s": args.latency, "max_parallel": args.max_parallel,
                     "cpus": os.cpu_count(), "loadavg_before": loadavg()}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
            wall, phase = sequential(models, args.limit, args.concurrency, Path(tmp) / "seq")
            figures.update(sequential_wall_s=round(wall, 2), sequential_run_phase_s=round(phase, 2))
            local, _ = sweep(models, args.limit, args.concurrency, Path(tmp) / "local", "local", args.max_parallel)
            figures.update(sweep_local_s=round(local, 2), speedup_local=round(wall / local, 2),
                           speedup_local_vs_run_phase=round(phase / local, 2))
            if not args.no_ray:
                ray_wall, _ = sweep(models, args.limit, args.concurrency, Path(tmp) / "ray", "ray", args.max_parallel)
                figures.update(sweep_ray_s=round(ray_wall, 2), speedup_ray=round(wall / ray_wall, 2),
                               speedup_ray_vs_run_phase=round(phase / ray_wall, 2))
    finally:
        server.terminate()
        server.wait(10)
    figures["loadavg_after"] = loadavg()
    print(f"{'':28}{'seconds':>9}{'speed-up':>10}")
    print(f"{'sequential fsabench run x16':28}{figures['sequential_wall_s']:>9.2f}{'1.00x':>10}")
    print(f"{'  (their run phases only)':28}{figures['sequential_run_phase_s']:>9.2f}")
    print(f"{'sweep --executor local':28}{figures['sweep_local_s']:>9.2f}{figures['speedup_local']:>9.2f}x")
    if "sweep_ray_s" in figures:
        print(f"{'sweep --executor ray':28}{figures['sweep_ray_s']:>9.2f}{figures['speedup_ray']:>9.2f}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
