"""Time `fsabench tasks overlap` over a synthetic corpus (the shipped teacher sample repeated N times) and
report records/s, MB/s and peak RSS, to show the corpus is streamed (peak memory does not grow with N).

    FSABENCH_DATA_DIR=... python scripts/bench_overlap.py 20 200     # copies to try, one run each
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEACHER = Path(os.environ["FSABENCH_DATA_DIR"]) / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
CHILD = """
import json, resource, sys, time
from fsabench.api import overlap
t = time.perf_counter()
found = overlap(sys.argv[1], tasks="fsa", fields="Text,mixtral_response")
print(json.dumps({"seconds": time.perf_counter() - t, "records": found.records,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "hits": sum(t["subsets"]["all"]["overlapping"] for t in found.to_dict()["tasks"].values())}))
"""


def main(copies: list[int]) -> None:
    lines = [line for line in TEACHER.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    for n in copies:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "corpus.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for _ in range(n):
                    handle.write("\n".join(lines) + "\n")
            size = path.stat().st_size / 1e6
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            print(f"{n} copies: {r['records']} records, {size:.0f} MB, {r['seconds']:.1f} s, "
                  f"{r['records'] / r['seconds']:.0f} records/s, {size / r['seconds']:.1f} MB/s, peak RSS {r['rss_mb']:.0f} MB, "
                  f"overlapping sentences {r['hits']}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20, 200])
