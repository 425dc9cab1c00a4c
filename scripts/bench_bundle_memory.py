"""Peak memory of `fsabench leaderboard verify` on hostile bundles that must be refused (issue 22, class 1).

Each bundle is small on disk (gzip) and expands to many tiny JSON values; the verifier must refuse it
while reading, before it builds millions of objects. Prints one line per bundle: gzip size, JSON size,
exit code, peak RSS (MB, from the child's ru_maxrss) and wall seconds.

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python scripts/bench_bundle_memory.py [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAP_BYTES = 6 * 2**30  # address-space cap on the child: a shared machine must survive the "before" run

HEAD = {"kind": "fsabench-leaderboard-submission", "bundle_version": 2, "leaderboard": "fsa",
        "fsabench_version": "0", "entry": {"name": "x", "category": "zero-shot", "date": "2026-01-01"}}


def bundles() -> dict[str, bytes]:
    """name -> JSON text of each hostile bundle (~15 MB: under the 64 MB size limit, ~15 KB gzipped)."""
    head = json.dumps(HEAD)[:-1]
    n = 5_000_000
    return {
        "runs of empty objects": (head + ', "runs": [' + ",".join(["{}"] * n) + "]}").encode(),
        "one run, examples of empty objects": (head + ', "runs": [{"examples": [' + ",".join(["{}"] * n)
                                               + "]}]}").encode(),
        "runs of empty lists": (head + ', "runs": [' + ",".join(["[]"] * n) + "]}").encode(),
        "deep nesting": (head + ', "runs": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
    }


TIMEOUT_S = 300


def peak_of(cmd: list[str]) -> tuple[int, float, float, str]:
    """Run in its own session, so a timeout stops the verifier too (not only the wrapper)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return -9, 0.0, time.perf_counter() - start, f"timed out after {TIMEOUT_S} s (killed)\n0"
    return proc.returncode, 0.0, time.perf_counter() - start, (out + err).strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bundle-bench-"))
    print(f"loadavg: {open('/proc/loadavg').read().strip()}; child address space capped at {CAP_BYTES >> 30} GB "
          "(a MemoryError or exit 2 under the cap means the bundle would have taken more)", flush=True)
    exe = str(Path(sys.executable).parent / "fsabench")
    for name, text in bundles().items():
        path = out / (name.replace(" ", "-").replace(",", "") + ".json.gz")
        path.write_bytes(gzip.compress(text, 9, mtime=0))
        # a fresh wrapper process per bundle, so ru_maxrss of RUSAGE_CHILDREN is this bundle's peak alone
        wrapper = [sys.executable, "-c", "import resource,subprocess,sys; "
                   f"resource.setrlimit(resource.RLIMIT_AS, ({CAP_BYTES}, {CAP_BYTES})); "
                   "r=subprocess.run(sys.argv[1:]).returncode; "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r)",
                   exe, "leaderboard", "verify", str(path), "--leaderboard", "fsa"]
        code, _, seconds, output = peak_of(wrapper)
        peak_kb = int(output.splitlines()[-1])
        lines = output.splitlines()
        message = lines[-2][:110] if len(lines) > 1 else ""
        print(f"{name:38s} gzip {path.stat().st_size / 1024:8.1f} KB  json {len(text) / 1e6:6.1f} MB  exit {code}  "
              f"peak {peak_kb / 1024:8.1f} MB  {seconds:6.1f} s  | {message}", flush=True)


if __name__ == "__main__":
    main()
