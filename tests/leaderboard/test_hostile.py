"""The leaderboard service under hostile and unlucky conditions, on a real loopback port and SQLite file:
anonymous floods, spoofed X-Forwarded-For, slowloris, pages that must not re-verify, entries that
vanish or stop passing, and kill -9 in the middle of a POST."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from fsabench.leaderboard.service import ServiceConfig, make_server, rules_digest, token_digest
from tests.conftest import DATA_DIR
from tests.leaderboard.test_service import _start_cli, post, request
from tests.leaderboard.support import board, boards_dir, free_port, good_bundle, good_bundle_text

TOKEN, OTHER = "s3cret-token", "another-token"


def start(tmp_path, lb_board=None, import_files=None, **config):
    """The service on a thread, with two accepted tokens and the config's limits."""
    settings = {"max_body": board().spec.limits.max_submission_bytes, "quiet": True, "rescan_seconds": 0, **config}
    srv = make_server(lb_board or board(), DATA_DIR, "127.0.0.1", 0, tmp_path / "lb.sqlite3",
                      {token_digest(TOKEN), token_digest(OTHER)}, ServiceConfig(**settings), import_files=import_files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def stop(srv) -> None:
    srv.shutdown()
    srv.server_close()
    srv.app.store.close()


def get(port: int, path: str, headers: dict | None = None) -> int:
    return request(port, "GET", path, headers=headers)[0]


def test_anonymous_posts_never_lock_out_a_token_and_limits_are_per_token(tmp_path):
    srv = start(tmp_path, posts_per_minute=2)
    port = srv.server_address[1]
    try:
        assert {post(port, b"{}", token=None)[0] for _ in range(8)} == {401}  # checked before any limit
        assert [post(port, b"{}")[0] for _ in range(3)] == [422, 422, 429]  # this token's budget: 2 a minute
        assert post(port, b"{}", token=OTHER)[0] == 422  # another token is not affected
    finally:
        stop(srv)


def test_reads_limited_per_client_and_forwarded_for_only_from_a_trusted_proxy(tmp_path):
    srv = start(tmp_path, requests_per_minute=3)
    port = srv.server_address[1]
    try:  # not a trusted proxy: a made-up X-Forwarded-For does not buy a fresh budget
        codes = [get(port, "/healthz", {"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(4)]
        assert codes == [200, 200, 200, 429]
    finally:
        stop(srv)
    srv = start(tmp_path, requests_per_minute=3, trusted_proxies=("127.0.0.1",))
    port = srv.server_address[1]
    try:  # behind a trusted proxy each forwarded client has its own budget
        assert [get(port, "/healthz", {"X-Forwarded-For": "10.0.0.1"}) for _ in range(4)] == [200, 200, 200, 429]
        assert get(port, "/healthz", {"X-Forwarded-For": "10.0.0.2"}) == 200
        assert get(port, "/healthz", {"X-Forwarded-For": "10.0.0.1, 10.0.0.3"}) == 200  # right-most hop counts
    finally:
        stop(srv)


def test_pages_are_never_reverified_per_get(tmp_path):
    srv = start(tmp_path, requests_per_minute=10_000)
    port = srv.server_address[1]
    calls = []
    original = srv.app.verifier.verify_bundle
    srv.app.verifier.verify_bundle = lambda *a, **k: calls.append(1) or original(*a, **k)  # a spy, not a mock
    try:
        assert post(port, good_bundle_text().encode())[0] == 201
        assert post(port, good_bundle_text("Second entry").encode())[0] == 201
        verified = len(calls)
        for _ in range(5):  # a client alternating two model pages
            assert get(port, "/models/lexicon-baseline.html") == 200
            assert get(port, "/models/second-entry.html") == 200
        assert len(calls) == verified == 2
    finally:
        stop(srv)


def test_removed_and_no_longer_passing_entries_drop_out_with_404_pages(tmp_path, caplog):
    lb = boards_dir(tmp_path)
    from fsabench.leaderboard.spec import load_leaderboard

    local = load_leaderboard("fsa", lb)
    file = local.submissions_dir / "lexicon-baseline.json"
    file.write_text(good_bundle_text(), encoding="utf-8")
    srv = start(tmp_path, local, [file], requests_per_minute=10_000, rescan_seconds=0.3)
    port = srv.server_address[1]
    try:
        assert get(port, "/models/lexicon-baseline.html") == 200
        with caplog.at_level("WARNING", logger="fsabench.leaderboard"):
            file.unlink()  # the running service notices on its next folder scan
            deadline = time.monotonic() + 10
            while get(port, "/models/lexicon-baseline.html") != 404 and time.monotonic() < deadline:
                time.sleep(0.1)
        assert "lexicon-baseline.json was removed" in caplog.text
        assert get(port, "/models/lexicon-baseline.html") == 404 and get(port, "/api/entries/lexicon-baseline") == 404
        assert json.loads(request(port, "GET", "/api/leaderboard")[2])["entries"] == []
    finally:
        stop(srv)

    # an entry accepted under older rules that fails the current ones: re-verified once at start, dropped
    tampered = good_bundle()
    tampered["runs"][0]["scores"]["all"]["f1"] += 1.0
    from fsabench.leaderboard.store import Store

    store = Store(tmp_path / "lb.sqlite3")
    store.put("fsa", "old-entry", {**good_bundle()["entry"], "score": 99.0}, json.dumps(tampered).encode(), "post",
              "x" * 16, rules="rules-of-last-year", page={"runs": [], "examples_json": "{}"})
    store.close()
    with caplog.at_level("WARNING", logger="fsabench.leaderboard"):
        srv = start(tmp_path, local)
    port = srv.server_address[1]
    try:
        assert "dropped entry 'old-entry'" in caplog.text and "current rules" in caplog.text
        assert get(port, "/models/old-entry.html") == 404
        assert all(e["slug"] != "old-entry" for e in json.loads(request(port, "GET", "/api/leaderboard")[2])["entries"])
        assert rules_digest(local) != "rules-of-last-year"
    finally:
        stop(srv)


def hung_up_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection (after any answer) within `seconds`."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def test_slowloris_is_dropped_and_others_are_answered_meanwhile(tmp_path):
    srv = start(tmp_path, request_timeout=1.5, requests_per_minute=10_000)
    port = srv.server_address[1]
    try:
        headers = socket.create_connection(("127.0.0.1", port), timeout=10)
        headers.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")  # headers never finished
        body = socket.create_connection(("127.0.0.1", port), timeout=10)
        body.sendall(b"POST /api/submissions HTTP/1.1\r\nHost: x\r\n" + f"Authorization: Bearer {TOKEN}\r\n".encode()
                     + b"Content-Length: 100000\r\n\r\n{")  # body never finished
        started = time.monotonic()
        assert get(port, "/healthz") == 200 and time.monotonic() - started < 1.0
        assert hung_up_within(headers, 5) and hung_up_within(body, 5)  # dropped at the 1.5 s deadline
        assert get(port, "/healthz") == 200
        headers.close()
        body.close()
    finally:
        stop(srv)


@pytest.mark.slow
def test_kill_9_during_a_post_loses_nothing(tmp_path):
    lb, db, port = boards_dir(tmp_path), tmp_path / "service.sqlite3", free_port()
    proc = _start_cli(port, db, lb)
    try:
        assert post(port, good_bundle_text().encode())[0] == 201
        second = good_bundle_text("Second entry").encode()
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"POST /api/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(second)}\r\n\r\n".encode() + second)
        time.sleep(0.3)  # mid-verification
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    proc = _start_cli(port, db, lb)
    try:
        slugs = [e["slug"] for e in json.loads(request(port, "GET", "/api/leaderboard")[2])["entries"]]
        assert "lexicon-baseline" in slugs  # acknowledged before the kill: kept
        for slug in slugs:  # whatever is there is whole: its page renders
            assert request(port, "GET", f"/models/{slug}.html")[0] == 200
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
