#!/usr/bin/env python3
"""Leaderboard speed: verification (re-scoring) throughput, site build time, service latency.

    FSABENCH_DATA_DIR=../shared/data .venv/bin/python scripts/bench_leaderboard.py

Uses the shipped fsa submissions (leaderboards/fsa/submissions). Prints one line per figure, with
the baseline it should be read against (the runs' own recorded time for the same examples).
"""

from __future__ import annotations

import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fsabench.leaderboard.service import ServiceConfig, make_server, token_digest  # noqa: E402
from fsabench.leaderboard.site import build_site  # noqa: E402
from fsabench.leaderboard.spec import load_leaderboard  # noqa: E402
from fsabench.leaderboard.verify import Verifier  # noqa: E402
from fsabench.settings import data_dir  # noqa: E402


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    board = load_leaderboard("fsa", ROOT / "leaderboards")
    files = sorted(board.submissions_dir.glob("*.json"))
    lexicon = board.submissions_dir / "lexicon-baseline.json"
    cold = time.perf_counter()
    verifier = Verifier(board, data_dir())
    verifier.verify_file(lexicon)
    cold = time.perf_counter() - cold
    verify_seconds, verified = timed(lambda: verifier.verify_file(lexicon))
    seconds = verify_seconds
    n = sum(len(r.examples) for r in verified.results)
    run_seconds = sum(r.timing.seconds for r in verified.results)
    print(f"verify lexicon bundle ({lexicon.stat().st_size:,} bytes, {n} examples): {seconds:.3f} s warm "
          f"({n / seconds:,.0f} examples/s), {cold:.3f} s cold (loads gold) | baseline: the runs took {run_seconds:.2f} s")
    entries = [verifier.verify_file(f) for f in files]
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = timed(lambda: build_site(board, entries, Path(tmp) / "site"), repeat=2)
        size = sum(p.stat().st_size for p in (Path(tmp) / "site").rglob("*") if p.is_file())
        print(f"build site ({len(entries)} entries): {seconds:.2f} s, {size / 1e6:.1f} MB on disk")
        server = make_server(board, data_dir(), "127.0.0.1", 0, Path(tmp) / "lb.sqlite3", {token_digest("t")},
                             ServiceConfig(max_body=board.spec.limits.max_submission_bytes, posts_per_minute=1000,
                                           requests_per_minute=100_000, quiet=True))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        raw = lexicon.read_bytes()

        def call(method: str, path: str, body: bytes | None = None) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request(method, path, body=body, headers={"Authorization": "Bearer t"} if body else {})
            status = conn.getresponse().status
            conn.close()
            return status

        posts = []
        for _ in range(5):
            start = time.perf_counter()
            assert call("POST", "/api/submissions", raw) in (200, 201)
            posts.append(time.perf_counter() - start)
        gets = []
        for _ in range(200):
            start = time.perf_counter()
            assert call("GET", "/api/leaderboard") == 200
            gets.append(time.perf_counter() - start)
        print(f"service POST bundle (verify + store): median {statistics.median(posts) * 1000:.0f} ms | "
              f"baseline: in-process verify {verify_seconds * 1000:.0f} ms")
        print(f"service GET /api/leaderboard: median {statistics.median(gets) * 1000:.1f} ms, "
              f"p95 {sorted(gets)[int(0.95 * len(gets))] * 1000:.1f} ms, {len(gets) / sum(gets):.0f} requests/s sequential")
        server.shutdown()
        server.server_close()
        server.app.store.close()


if __name__ == "__main__":
    main()
