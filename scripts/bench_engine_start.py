#!/usr/bin/env python3
"""What each `fsabench serve --engine-start` costs: start-up time and memory of the server + engine.

    OMP_NUM_THREADS=1 python scripts/bench_engine_start.py --model ./path/to/tiny_t5 [--repeats 3]

For each mode (fork, spawn, and --no-engine-process as the baseline) it starts the real `fsabench serve`
command, times it from launch to its READY line (the socket listens; with spawn, the engine has loaded
its own copy), sends one batch of prompts so the engine has decoded, then reads each process's memory
from /proc: peak RSS (VmHWM), RSS now, and PSS (a page shared by the fork counts half to each side, so
the PSS sum is the real footprint; the RSS sum counts shared weights twice). The resource tracker that
spawn starts is counted with the engine. Medians over --repeats; the load average is printed beside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fsabench.processes import children

MODES = {"none": ["--no-engine-process"], "fork": ["--engine-start", "fork"], "spawn": ["--engine-start", "spawn"]}


def memory(pid: int) -> dict[str, float]:
    """MiB: peak RSS, RSS and PSS of one process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return {"peak_rss": int(status["VmHWM"].split()[0]) / 1024, "rss": int(status["VmRSS"].split()[0]) / 1024,
            "pss": pss / 1024}


def one(model: str, mode: str) -> dict[str, float]:
    exe = Path(sys.executable).parent / "fsabench"
    started = time.monotonic()
    proc = subprocess.Popen([str(exe), "serve", "--model", model, "--port", "0", "--name", "m", "--quiet",
                             "--batch-size", "4", *MODES[mode]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"{mode}: the server did not start: {proc.stderr.read()[-500:]}")
        ready = time.monotonic() - started
        body = json.dumps({"model": "m", "prompt": ["Nice screen.", "Cold soup, rude waiter."] * 4,
                           "max_tokens": 16}).encode()
        request = urllib.request.Request(line.split()[1] + "/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=60).read()
        server = memory(proc.pid)
        engine = {"peak_rss": 0.0, "rss": 0.0, "pss": 0.0}
        for child in children(proc.pid):
            for key, value in memory(child).items():
                engine[key] += value
        return {"ready_s": ready, **{f"server_{k}": v for k, v in server.items()},
                **{f"engine_{k}": v for k, v in engine.items()},
                "total_peak_rss": server["peak_rss"] + engine["peak_rss"], "total_pss": server["pss"] + engine["pss"]}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a local hf: model folder (or a model string)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = args.model if ":" in args.model.split("/")[0] else f"hf:{args.model}"
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.repeats):  # interleaved, so a change of load hits every mode alike
        for mode in MODES:
            runs[mode].append(one(model, mode))
    keys = ["ready_s", "server_peak_rss", "engine_peak_rss", "total_peak_rss", "server_pss", "engine_pss",
            "total_pss"]
    print(f"{'mode':6} " + " ".join(f"{k:>16}" for k in keys) + "   (seconds; MiB; medians of "
          f"{args.repeats})")
    for mode, rows in runs.items():
        print(f"{mode:6} " + " ".join(f"{statistics.median(r[k] for r in rows):16.2f}" for k in keys))
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
