"""kill -9 in the middle of an API run, then resume: no request repeated, results identical."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES, ANSWER_FIRST = 80, 30


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def cached_rows(cache: Path) -> int:
    path = cache / "responses.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def run_args(url: str, out: Path, cache: Path) -> list[str]:
    exe = Path(sys.executable).parent / "fsabench"
    return [str(exe), "run", "-m", f"openai-compat:{url}#scripted", "-t", "sc-sst2", "--limit", str(EXAMPLES),
            "--concurrency", "8", "--cache-dir", str(cache), "-o", str(out), "-q"]


def outputs(out: Path) -> tuple[list, dict]:
    result = json.loads(next(out.rglob("sc-sst2.json")).read_text())
    return [(e["id"], e["output"], e["prediction"]) for e in result["examples"]], result["scores"]


def test_kill_9_then_resume_sends_no_request_twice(scripted, tmp_path):
    scripted.control(latency=0.02, stall_after=ANSWER_FIRST)  # answer 30 prompts, then hold the rest
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = subprocess.Popen(run_args(scripted.url, out, cache), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: scripted.stats()["answered"] == ANSWER_FIRST, what="30 answers")
        wait_for(lambda: cached_rows(cache) == ANSWER_FIRST, what="30 committed answers")  # each committed on arrival
        wait_for(lambda: scripted.stats()["requests"] > ANSWER_FIRST, what="requests held in flight")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    held = scripted.stats()["requests"] - ANSWER_FIRST  # in flight when the run died (none can come now)
    assert not list(out.rglob("sc-sst2.json"))  # nothing finished
    wait_for(lambda: scripted.stats()["abandoned"] == held, what="the server to see the dead client")
    scripted.control(release=True)

    resumed = subprocess.run(run_args(scripted.url, out, cache), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    stats = scripted.stats()
    assert stats["answered"] == EXAMPLES and stats["prompts"] == EXAMPLES  # every prompt answered once...
    assert stats["repeated"] == 0  # ...and none of the 30 answered before the kill was asked again
    assert stats["requests"] == ANSWER_FIRST + held + (EXAMPLES - ANSWER_FIRST)  # no request beyond those
    resumed_outputs, resumed_scores = outputs(out)
    result = json.loads(next(out.rglob("sc-sst2.json")).read_text())
    assert result["usage"]["cached"] == ANSWER_FIRST and result["usage"]["requests"] == EXAMPLES - ANSWER_FIRST

    # an uninterrupted run on an empty cache gives identical examples and scores
    clean = tmp_path / "clean"
    subprocess.run(run_args(scripted.url, clean, tmp_path / "cache2"), check=True, capture_output=True, timeout=120)
    clean_outputs, clean_scores = outputs(clean)
    assert resumed_outputs == clean_outputs and resumed_scores == clean_scores
    print(f"\nkill -9 after {ANSWER_FIRST} answers ({held} requests held in flight, abandoned); resumed run sent "
          f"{EXAMPLES - ANSWER_FIRST} requests, took {ANSWER_FIRST} from the cache; per-prompt answers: all 1; "
          f"scores identical to an uninterrupted run: {clean_scores['all']}")
