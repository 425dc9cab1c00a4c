"""What the API benchmarks share: the repository root on sys.path, the data directory, a 2,000-example
SST-2 task, and the loopback test servers started as their own processes.

Imported by the scripts in this folder (`python scripts/bench_api.py` puts `scripts/` first on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSABENCH_DATA_DIR", str(ROOT.parent / "shared" / "data"))

# SST-2's training sentences as one test split: enough requests to time an API path.
BENCH_SST2_TASK = """name: bench-sst2
type: classification
data: {format: json, dir: sentibench/sc/sst2, splits: {test: [train.json]}, id_field: null}
gold: {builder: label}
output: {parser: label, labels: [negative, positive]}
metric: accuracy
prompt:
  instruction: Classify the sentiment of the text as positive or negative.
  template: "Text: {{ input }}\\nSentiment:"
max_new_tokens: 8
"""


def write_bench_task(tasks_dir: Path) -> Path:
    """Write the bench-sst2 task into `tasks_dir` and return the folder."""
    tasks_dir.mkdir(parents=True, exist_ok=True)
    (tasks_dir / "bench-sst2.yaml").write_text(BENCH_SST2_TASK, encoding="utf-8")
    return tasks_dir


def start_test_server(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    """Start `python -m tests.servers.<module> --port 0 ARGS` and return (process, http://127.0.0.1:PORT).

    The servers print `PORT n` once they listen, so the first line is the handshake.
    """
    proc = subprocess.Popen([sys.executable, "-m", f"tests.servers.{module}", "--port", "0", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"tests.servers.{module} did not start (first line: {line!r})")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def stop(proc: subprocess.Popen) -> None:
    """Stop a server this script started."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def loadavg() -> list[str]:
    """The 1-, 5- and 15-minute load averages (empty where /proc is missing)."""
    path = Path("/proc/loadavg")
    return path.read_text().split()[:3] if path.exists() else []
