#!/usr/bin/env python3
"""Leaderboard service at scale: start-up, cold first requests, POST re-rank, load, limits and memory.

    cd <repo> && OMP_NUM_THREADS=1 FSABENCH_DATA_DIR=<data> PYTHONPATH=$PWD \\
        .venv/bin/python scripts/bench_leaderboard.py --entries 200,1000 --duration 30

Standalone: the fsabench package, its data and the shipped fsa submissions; no test-suite imports.

The board is a copy of leaderboards/fsa whose zero-shot category needs no audit (so every entry is
ranked and a POST really re-ranks). Its entries are valid bundles synthesized from the shipped
SmolLM2 zero-shot run: per task, 64 versions answer a share (2-85%) of the test examples with the
gold string (re-scored with fsabench's scorer, once); each entry combines one version per task
(a new combination each), so scores spread from ~2 to ~85 and neighbours tie. Each entry is stored
exactly as the service's accept path does (bootstrap, page parts, page tail); every 250th bundle,
and every POSTed one, goes through the full verification too. The database is cached (--cache-dir) per entry count and code fingerprint and
copied for each run, so a second run starts at once.

Per entry count it prints: the time from spawning `fsabench leaderboard serve` to its first answer;
the cold first GET /api/leaderboard and first entry page; how long the service's background composer
takes to have every entry page ready (GET /healthz `pages_pending`; the bench waits for it before the
POSTs and again before the load, and says so); the POST of new entries (total, and the
verify / rank / render parts the service reports in Server-Timing, with the paired tests made);
`--concurrency` keep-alive clients for `--duration` s alternating GET /api/leaderboard and a random
entry's page (gzip, as browsers ask): requests/s, p50/p99, errors by status; the connection limits
and what a client past them gets; the service's peak RSS (VmHWM); the load average beside each.
Goals on a quiet machine (1,000 entries): first GETs < 1 s, POST re-rank < 2 s, >= 1,000 req/s,
p99 < 100 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import gzip
import hashlib
import http.client
import json
import os
import random
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fsabench.leaderboard.ledger import derived_fingerprint, tail_key  # noqa: E402
from fsabench.leaderboard.service import LeaderboardApp, ServiceConfig, limits_of, rules_digest  # noqa: E402
from fsabench.leaderboard.spec import load_leaderboard  # noqa: E402
from fsabench.leaderboard.store import Store  # noqa: E402
from fsabench.leaderboard.submission import EntryInfo, read_bundle_bytes  # noqa: E402
from fsabench.leaderboard.verify import Verifier  # noqa: E402
from fsabench.scoring import score_record, score_records  # noqa: E402
from fsabench.settings import data_dir  # noqa: E402

BENCH_VERSION = 3  # of the synthesized entries (part of the cache key)
BASE = "smollm2-135m-instruct-zero-shot.json.gz"
TOKEN = "bench-token"


def load() -> str:
    return "load avg %.2f %.2f %.2f" % os.getloadavg()


# --- the board and its entries --------------------------------------------------------------------------
def bench_boards(folder: Path) -> Path:
    """leaderboards/fsa with a zero-shot category that ranks without an audit."""
    import yaml

    spec = yaml.safe_load((ROOT / "leaderboards" / "fsa" / "leaderboard.yaml").read_text(encoding="utf-8"))
    spec["categories"]["zero-shot"]["require_audit"] = False
    (folder / "fsa" / "submissions").mkdir(parents=True, exist_ok=True)
    (folder / "fsa" / "leaderboard.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return folder


class Synth:
    """Valid bundles from one real zero-shot run. Per task, `variants` versions of the run are made once, the
    v-th answering a share 2% + 83% * v / (variants - 1) of the examples (a seeded random set) with the
    gold string and re-scored with fsabench's scorer. An entry picks one level and, per task, a variant
    within two of it (a new combination each time: no two entries share outputs), so scores spread and
    close neighbours tie."""

    def __init__(self, board, verifier: Verifier, variants: int = 64) -> None:
        self.board, self.verifier, self.count = board, verifier, variants
        raw = read_bundle_bytes(ROOT / "leaderboards" / "fsa" / "submissions" / BASE, board.spec.limits)
        self.payload = json.loads(raw)
        self.base = verifier.verify_bytes(raw, BASE)
        self.results = {(r.task.name, r.seed): r for r in self.base.results}
        self._variants: dict[tuple, tuple] = {}

    @staticmethod
    def runs_of(board) -> list:
        raw = read_bundle_bytes(ROOT / "leaderboards" / "fsa" / "submissions" / BASE, board.spec.limits)
        return json.loads(raw)["runs"]

    def variant(self, index: int, v: int):
        """(RunResult, the bundle's run) of run `index` answered with the gold on variant v's share."""
        if (index, v) not in self._variants:
            run = self.payload["runs"][index]
            base = self.results[(run["task"]["name"], run["seed"])]
            spec = self.board.tasks[base.task.name]
            examples = {e.id: e for e in self.verifier.split(base.task.name).examples}
            rng = random.Random(f"{index}-{v}")
            share = 0.02 + 0.83 * v / (self.count - 1)
            flip = {r.id for r in base.examples if rng.random() < share}
            records = []
            for record in base.examples:
                if record.id in flip:
                    fresh = score_record(spec, examples[record.id], examples[record.id].target, None)
                    fresh.prompt_tokens, fresh.completion_tokens = record.prompt_tokens, record.completion_tokens
                    fresh.cost_usd = record.cost_usd
                    record = fresh
                records.append(record)
            scores = score_records(spec, records)
            sent = [{k: x for k, x in {**e, "output": examples[e["id"]].target, "error": None}.items()
                     if x is not None or k == "output"} if e["id"] in flip else e for e in run["examples"]]
            self._variants[index, v] = (base.model_copy(update={"examples": records, "scores": scores}),
                                        {**run, "examples": sent,
                                         "scores": {k: x.model_dump(mode="json") for k, x in scores.items()}})
        return self._variants[index, v]

    def make(self, index: int, combo: tuple[int, ...]):
        """(bundle bytes, the Verified entry the verifier would make of them) for one variant per run."""
        rng = random.Random(index)
        entry = EntryInfo(name=f"Synthetic model {index:05d}", category="zero-shot", date=dt.date(2026, 12, 1),
                          parameters=rng.randrange(10 ** 7, 10 ** 11), notes="bench_leaderboard.py")
        made = [self.variant(i, v) for i, v in enumerate(combo)]
        payload = {**self.payload, "entry": entry.model_dump(mode="json"), "runs": [run for _, run in made]}
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        results = [result.model_copy() for result, _ in made]
        verified = self.verifier.accepted(self.base.bundle.model_copy(update={"entry": entry}), results, [])
        return raw, verified


def combos(count: int, runs: int, variants: int = 64, seed: int = 0) -> list[tuple[int, ...]]:
    """`count` distinct choices of one variant per run: a level, and per run a variant within two of it."""
    rng, used, out = random.Random(seed), set(), []
    while len(out) < count:
        level = rng.randrange(variants)
        combo = tuple(min(variants - 1, max(0, level + rng.randint(-2, 2))) for _ in range(runs))
        if combo not in used:
            used.add(combo)
            out.append(combo)
    return out


def make_shard(job: tuple) -> str:
    """In a worker process: store entries (index, combo) in a database of their own, as the service would."""
    boards, path, jobs = job
    board = load_leaderboard("fsa", boards)
    verifier = Verifier(board, data_dir())
    synth = Synth(board, verifier)
    app = LeaderboardApp(board, verifier, Store(Path(path)), set(), ServiceConfig(max_body=1, quiet=True, compose_pages=False))
    start = time.perf_counter()
    for done, (index, combo) in enumerate(jobs, 1):
        raw, verified = synth.make(index, combo)
        if index % 250 == 0:  # the synthesized bundle passes the real verification, with the same row
            again = verifier.verify_bytes(raw, f"synthesized entry {index}")
            assert again.row["score"] == verified.row["score"] and again.row["counts"] == verified.row["counts"]
        app.ledger.accept(verified, raw, "post", hashlib.sha256(TOKEN.encode()).hexdigest()[:16])
        if done % 50 == 0:
            print(f"  {Path(path).name}: {done}/{len(jobs)} entries ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
    app.store.close()
    return path


def prepared_db(board, boards: Path, verifier: Verifier, entries: int, cache: Path | None, tmp: Path,
                workers: int) -> tuple[Path, list[str], float]:
    """A copy of the cached (or newly made) database of `entries` synthesized entries; its slugs; seconds to
    make it. Workers each store a share in a database of their own; the shares are merged and ranked once."""
    import multiprocessing
    import sqlite3

    key = hashlib.sha256(f"{BENCH_VERSION}|{Store.SCHEMA_VERSION}|{derived_fingerprint(rules_digest(board))}|{tail_key()}".encode()).hexdigest()
    cached = cache / f"fsa-{entries}-{key[:16]}.sqlite3" if cache else None
    made = 0.0
    if cached is None or not cached.exists():
        start = time.perf_counter()
        target = cached or tmp / "made.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        chosen = list(enumerate(combos(entries, len(Synth.runs_of(board)))))
        shards = [(boards, str(partial) + f".shard{w}", chosen[w::workers]) for w in range(workers)]
        for leftover in [partial] + [Path(p) for _, p, _ in shards]:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{leftover}{suffix}").unlink(missing_ok=True)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            paths = pool.map(make_shard, shards)
        Store(partial).close()
        conn = sqlite3.connect(partial)
        for path in paths:
            conn.execute("ATTACH DATABASE ? AS shard", (path,))
            conn.execute("INSERT INTO entries SELECT * FROM shard.entries")
            conn.commit()
            conn.execute("DETACH DATABASE shard")
        conn.close()  # (the last connection to close checkpoints the WAL into the file)
        for path in paths:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        app = LeaderboardApp(board, verifier, Store(partial), set(), ServiceConfig(max_body=1, quiet=True, compose_pages=False))
        app.ledger.load()  # rank once, as a service start would
        app.store.close()
        os.replace(partial, target)
        made = time.perf_counter() - start
    db = tmp / f"board-{entries}.sqlite3"
    shutil.copyfile(cached or tmp / "made.sqlite3", db)
    store = Store(db)
    slugs = [r["slug"] for r in store.standing_rows(board.name)]
    store.close()
    return db, slugs, made


# --- the service ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 120) -> tuple[int, dict, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, time.perf_counter() - start
    finally:
        conn.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def client(port: int, paths, stop_at: float, latencies: list[float], statuses: collections.Counter,
                 by_kind: dict[str, list[float]]) -> None:
    reader = writer = None
    while time.perf_counter() < stop_at:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = next(paths)
        start = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        by_kind.setdefault(path.split("/")[1], []).append(latencies[-1])
        statuses[status] += 1
        if b"connection: close" in head.lower():
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def load_test(port: int, slugs: list[str], concurrency: int, seconds: float, paths: list[str] | None = None) -> dict:
    """Keep-alive clients for `seconds`: GET /api/leaderboard and a random entry page alternating (or `paths`)."""
    rng = random.Random(0)
    fixed = paths

    def paths():
        while True:
            if fixed:
                yield from fixed
                continue
            yield "/api/leaderboard"
            yield f"/models/{rng.choice(slugs)}.html"

    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    by_kind: dict[str, list[float]] = {}

    async def run() -> float:
        start = time.perf_counter()
        shared = paths()
        await asyncio.gather(*[client(port, shared, start + seconds, latencies, statuses, by_kind)
                               for _ in range(concurrency)])
        return time.perf_counter() - start

    before = load()
    elapsed = asyncio.run(run())
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000,
            "errors": {s: n for s, n in statuses.items() if s != 200}, "load": f"{before} -> {load()}",
            "kinds": {kind: (statistics.median(v) * 1000, sorted(v)[min(len(v) - 1, int(0.99 * len(v)))] * 1000)
                      for kind, v in by_kind.items()}}


def pages_settled(port: int, limit: float = 120.0) -> tuple[float, int]:
    """Seconds until the service's background composer has every entry page ready (GET /healthz
    `pages_pending` reaches 0), and how many were pending at the first look."""
    start, first = time.perf_counter(), None
    while time.perf_counter() - start < limit:
        pending = json.loads(request(port, "GET", "/healthz", timeout=10)[2]).get("pages_pending", 0)
        first = pending if first is None else first
        if pending == 0:
            break
        time.sleep(0.05)
    return time.perf_counter() - start, first or 0


def probe_limits(port: int, config: ServiceConfig) -> str:
    """Fill one client's connection cap, then: 16 more wait and are answered when 16 close; past the queue, 503."""
    limits = limits_of(config)
    cap, queue = limits.max_connections_per_client, limits.connection_queue
    ask = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"

    def status_of(sock: socket.socket, timeout: float) -> int | None:
        sock.settimeout(timeout)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
        except (socket.timeout, ConnectionError):
            return None
        return int(data.split(b" ", 2)[1])

    def answered_now(socks: list[socket.socket]) -> list[socket.socket]:
        """The sockets with an answer to read (at once: idle keep-alive connections close after 5 s)."""
        poll = select.poll()
        for sock in socks:
            poll.register(sock, select.POLLIN)
        ready = {fd for fd, _ in poll.poll(0)}
        return [sock for sock in socks if sock.fileno() in ready]

    held = []
    for _ in range(cap):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(ask)
        held.append(sock)
    answered = sum(status_of(s, 10) == 200 for s in held)
    extra = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    for sock in extra:
        sock.sendall(ask)
    time.sleep(0.3)
    waiting = len(extra) - len(answered_now(extra))
    start = time.perf_counter()
    for sock in held[:16]:
        sock.close()
    late = [status_of(s, 10) for s in extra]
    waited = time.perf_counter() - start
    over = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(queue + 8)]
    for sock in over:
        sock.sendall(ask)
    time.sleep(min(2.0, limits.connection_queue_seconds / 2))  # the queue is full: the last 8 are refused at once
    refused = sum(status_of(s, 1) == 503 for s in answered_now(over))
    for sock in held[16:] + extra + over:
        sock.close()
    return (f"limits: {limits.max_connections} connections in all, {cap} per client address; up to {queue} more wait "
            f"(unread) up to {limits.connection_queue_seconds:g} s for a slot, then 503.\n"
            f"  probe: {answered}/{cap} held connections answered; {waiting}/16 over the cap waited, and when 16 "
            f"closed got {dict(collections.Counter(late))} within {waited * 1000:.0f} ms; then {queue + 8} more: "
            f"{refused} refused (503) before the queue's wait ended (expected 8: past cap + queue)")


def bench(entries: int, args, board, boards: Path, verifier: Verifier, tmp: Path) -> None:
    db, slugs, made = prepared_db(board, boards, verifier, entries, None if args.no_cache else args.cache_dir, tmp,
                                  args.workers)
    print(f"\n## {entries} entries ({'made in %.0f s' % made if made else 'cached database'}; "
          f"db {db.stat().st_size / 1e6:.0f} MB) | {load()}")
    port = free_port()
    env = {**os.environ, "FSABENCH_LEADERBOARD_TOKENS": TOKEN, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fsabench.cli", "leaderboard", "serve", "fsa", "--port", str(port), "--db", str(db),
               "--no-import-folder", "--quiet", "--reads-per-minute", "100000000", "--posts-per-minute", "1000",
               "--leaderboards-dir", str(boards)]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fsabench.cli", "leaderboard", "serve", "--help"], env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=True)
    imports = time.perf_counter() - started
    spawned = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        for _ in range(1200):
            try:
                if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        ready = time.perf_counter() - spawned
        status, _, body, first_table = request(port, "GET", "/api/leaderboard", headers={"Accept-Encoding": "gzip"})
        table = json.loads(gzip.decompress(body))
        assert status == 200 and len(table["entries"]) == entries, (status, len(table["entries"]))
        ties = sum(1 for e in table["entries"] if e["tied_with"])
        status, _, page, first_page = request(port, "GET", f"/models/{slugs[len(slugs) // 2]}.html",
                                              headers={"Accept-Encoding": "gzip"})
        assert status == 200 and b"examples-data" in gzip.decompress(page)
        print(f"start (spawn -> first answer): {ready:.2f} s (baseline: `fsabench leaderboard serve --help` {imports:.2f} s) | cold first GET /api/leaderboard: {first_table * 1000:.0f} ms "
              f"({len(body) / 1e3:.0f} kB gzip, {ties} entries tied with a better one) | cold first entry page: "
              f"{first_page * 1000:.0f} ms ({len(page) / 1e3:.0f} kB gzip) | {load()}")
        settled, pending = pages_settled(port)
        print(f"entry pages composed in the background: {pending} pending after the first GETs, all ready "
              f"{settled:.2f} s later | {load()}")
        synth = Synth(board, verifier)
        fresh = combos(entries + args.posts, len(synth.payload["runs"]))[entries:]  # combinations not in the db
        for i in range(args.posts):
            raw, _ = synth.make(10 ** 6 + i, fresh[i])
            status, headers, answer, took = request(port, "POST", "/api/submissions", gzip.compress(raw, 6),
                                                    {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip",
                                                     "Content-Type": "application/json"})
            assert status == 201, answer[:300]
            row = json.loads(answer)["row"]
            print(f"POST new entry ({len(raw) / 1e3:.0f} kB): {took:.2f} s in all; server: "
                  f"{headers.get('server-timing', '-')} | rank {row['rank']}"
                  f"{', tied with #%s' % row['tied_with'] if row['tied_with'] else ''} | {load()}")
        status, _, body, after = request(port, "GET", "/api/leaderboard", headers={"Accept-Encoding": "gzip"})
        print(f"GET /api/leaderboard after the POSTs: {after * 1000:.0f} ms ({len(json.loads(gzip.decompress(body))['entries'])} entries)")
        settled, pending = pages_settled(port)
        print(f"entry pages re-composed after the POSTs: {pending} pending, all ready {settled:.2f} s later "
              "(until then a page asked for is composed on its GET)")
        result = load_test(port, slugs, args.concurrency, args.duration)
        floor = load_test(port, slugs, args.concurrency, max(3.0, args.duration / 3), paths=["/healthz"])
        errors = ", ".join(f"{s}: {n}" for s, n in sorted(result["errors"].items())) or "none"
        print(f"load: {args.concurrency} keep-alive clients, {args.duration:g} s, GET /api/leaderboard and a random "
              f"entry page alternating (gzip)")
        print("| entries | requests | req/s | p50 ms | p99 ms | errors by status | load avg (1/5/15 min) |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {entries} | {result['requests']} | {result['rps']:.0f} | {result['p50']:.1f} | {result['p99']:.1f} | "
              f"{errors} | {result['load']} |")
        print("  p50/p99 ms by path: " + "; ".join(f"/{k}...: {a:.1f} / {b:.1f}" for k, (a, b) in result["kinds"].items()))
        floor_errors = ", ".join(f"{s}: {n}" for s, n in sorted(floor["errors"].items())) or "none"
        print(f"| baseline: GET /healthz only, same clients, {max(3.0, args.duration / 3):g} s | {floor['requests']} | "
              f"{floor['rps']:.0f} | {floor['p50']:.1f} | {floor['p99']:.1f} | {floor_errors} | {floor['load']} |")
        if not args.no_probe:
            print(probe_limits(port, ServiceConfig(max_body=1)))
        print(f"service peak RSS (VmHWM): {peak_rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        stderr = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if stderr:
            print(f"service stderr (last lines): {stderr[-600:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", default="1000", help="entry counts, comma-separated (default 1000; e.g. 200,1000)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive clients (default 64)")
    parser.add_argument("--posts", type=int, default=3, help="new entries POSTed, each timed (default 3)")
    parser.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "fsabench" / "bench_leaderboard", help="where synthesized databases are kept between runs")
    parser.add_argument("--no-cache", action="store_true", help="synthesize the database afresh")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes synthesizing entries")
    parser.add_argument("--no-probe", action="store_true", help="skip the connection-limit probe")
    args = parser.parse_args()
    print(f"bench_leaderboard: {os.cpu_count()} CPUs | {load()} | python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="fsabench-bench-lb-") as tmp:
        boards = bench_boards(Path(tmp) / "leaderboards")
        board = load_leaderboard("fsa", boards)
        verifier = Verifier(board, data_dir())
        for entries in (int(n) for n in args.entries.split(",")):
            bench(entries, args, board, boards, verifier, Path(tmp))
    print("\ngoals (quiet machine, 1,000 entries): first GETs < 1 s; POST re-rank < 2 s; >= 1,000 req/s, p99 < 100 ms, "
          "0 errors")


if __name__ == "__main__":
    main()
