#!/usr/bin/env python3
"""Leaderboard speed: verification (re-scoring) throughput, site build time, service latency and load.

    FSABENCH_DATA_DIR=../shared/data .venv/bin/python scripts/bench_leaderboard.py [--skip-basic]

The load test runs the real `fsabench leaderboard serve` command in a subprocess over a database of
200 entries (the lexicon bundle's verified parts under 200 names and scores, stored with the current
rules, so nothing is re-verified at start) and 64 keep-alive clients alternating GET /api/leaderboard
and GET /models/<slug>.html for 30 s. Goal: >= 500 requests/s, p99 < 100 ms.

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
from fsabench.leaderboard.submission import bundle_files  # noqa: E402
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
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-basic", action="store_true", help="only the load test")
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if not args.skip_basic:
        basic()
    load_test(args.entries, args.concurrency, args.seconds)


def basic() -> None:
    board = load_leaderboard("fsa", ROOT / "leaderboards")
    files = bundle_files(board.submissions_dir)
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


def prepared_db(path: Path, entries: int) -> list[str]:
    """A service database of `entries` entries (one verified bundle's parts under many names)."""
    import random

    from fsabench.leaderboard.service import page_parts, rules_digest
    from fsabench.leaderboard.store import Store

    board = load_leaderboard("fsa", ROOT / "leaderboards")
    raw = (board.submissions_dir / "lexicon-baseline.json").read_bytes()
    verified = Verifier(board, data_dir()).verify_bytes(raw, "lexicon")
    parts, rules, rng = page_parts(verified), rules_digest(board), random.Random(0)
    store = Store(path)
    slugs = []
    for i in range(entries):
        slug = f"entry-{i:03d}"
        row = {**verified.row, "name": f"Entry {i:03d}", "score": round(rng.uniform(20, 80), 2)}
        store.put(board.name, slug, row, raw, "post", "bench", rules, parts)
        slugs.append(slug)
    store.close()
    return slugs


async def _worker(port: int, paths: list[str], stop_at: float, latencies: list[float], errors: list[str]) -> None:
    import asyncio

    reader = writer = None
    k = 0
    while time.perf_counter() < stop_at:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = paths[k % len(paths)]
        k += 1
        start = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n".encode())  # as browsers
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(f"{status} {path}")
        if b"connection: close" in head.lower():
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def load_test(entries: int, concurrency: int, seconds: float) -> None:
    import asyncio
    import os
    import subprocess

    from tests.test_leaderboard_support import free_port

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.sqlite3"
        slugs = prepared_db(db, entries)
        port = free_port()
        exe = Path(sys.executable).parent / "fsabench"
        proc = subprocess.Popen([str(exe), "leaderboard", "serve", "fsa", "--port", str(port), "--db", str(db),
                                 "--no-import-folder", "--quiet", "--reads-per-minute", "100000000",
                                 "--leaderboards-dir", str(ROOT / "leaderboards")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            page = f"/models/{slugs[0]}.html"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sizes = {}
            for path in ("/api/leaderboard", page):  # warm the caches, note the sizes (plain and gzip)
                conn.request("GET", path)
                sizes[path] = len(conn.getresponse().read())
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
                sizes[path, "gz"] = len(conn.getresponse().read())
            latencies: list[float] = []
            errors: list[str] = []
            load_before = os.getloadavg()[0]

            async def run() -> float:
                start = time.perf_counter()
                await asyncio.gather(*[_worker(port, ["/api/leaderboard", page], start + seconds, latencies, errors)
                                       for _ in range(concurrency)])
                return time.perf_counter() - start

            elapsed = asyncio.run(run())
            lat = sorted(latencies)
            p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
            print(f"load test: {entries} entries, concurrency {concurrency}, {elapsed:.1f} s, GET /api/leaderboard "
                  f"({sizes['/api/leaderboard'] / 1e3:.0f} kB, gzip {sizes['/api/leaderboard', 'gz'] / 1e3:.0f} kB) + "
                  f"GET {page} ({sizes[page] / 1e3:.0f} kB, gzip {sizes[page, 'gz'] / 1e3:.0f} kB) alternating")
            print(f"| requests | req/s | p50 ms | p99 ms | errors | load avg (1 min) |")
            print(f"|---|---|---|---|---|---|")
            print(f"| {len(lat)} | {len(lat) / elapsed:.0f} | {statistics.median(lat) * 1000:.1f} | {p99 * 1000:.1f} | "
                  f"{len(errors)} | {load_before:.1f} -> {os.getloadavg()[0]:.1f} |")
            print("goal: >= 500 req/s, p99 < 100 ms (client and server share the 2 cores)")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
