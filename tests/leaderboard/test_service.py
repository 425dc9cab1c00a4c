"""The hosted leaderboard on a real loopback port with a real SQLite file: auth, verification, limits,
rate limiting, and data that survives a restart of the `fsabench leaderboard serve` command."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fsabench.leaderboard.service import ServiceConfig, make_server, token_digest
from tests.conftest import DATA_DIR
from tests.leaderboard.support import board, boards_dir, free_port, good_bundle, good_bundle_text

TOKEN = "s3cret-token"


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def post(port: int, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, _, data = request(port, "POST", "/api/submissions", body, headers)
    return status, json.loads(data)


@pytest.fixture
def server(tmp_path):
    srv = make_server(board(), DATA_DIR, "127.0.0.1", 0, tmp_path / "lb.sqlite3", {token_digest(TOKEN)},
                      ServiceConfig(max_body=board().spec.limits.max_submission_bytes, posts_per_minute=4, quiet=True))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    srv.app.store.close()


def test_post_needs_a_token_and_runs_the_same_verification(server):
    port = server.server_address[1]
    raw = good_bundle_text().encode()
    assert post(port, raw, token=None)[0] == 401
    assert post(port, raw, token="wrong")[0] == 401

    tampered = good_bundle()
    tampered["runs"][0]["scores"]["all"]["f1"] += 2.5
    status, payload = post(port, json.dumps(tampered).encode())
    assert status == 422 and not payload["accepted"]
    assert "re-computed from the outputs" in payload["error"]

    status, payload = post(port, raw)
    assert status == 201 and payload["slug"] == "lexicon-baseline", payload
    status, _, data = request(port, "GET", "/api/leaderboard")
    table = json.loads(data)
    assert status == 200 and [e["name"] for e in table["entries"]] == ["Lexicon baseline"]
    assert table["entries"][0]["score"] == payload["row"]["score"]
    assert table["entries"][0]["rank"] is None and table["entries"][0]["standing"] == "reference"  # baselines: not ranked

    status, headers, html = request(port, "GET", "/")
    assert status == 200 and b"Lexicon baseline" in html and "script-src 'self'" in headers["Content-Security-Policy"]
    status, _, page = request(port, "GET", "/models/lexicon-baseline.html")
    assert status == 200 and b'id="examples-data"' in page
    assert request(port, "GET", "/models/..%2Fetc.html")[0] == 404

    # a body over the size limit is refused from its Content-Length, before it is read
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/api/submissions")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Content-Length", str(board().spec.limits.max_submission_bytes + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()

    # 4 posts a minute per token (the 401s and the 413 above do not count): 2 above, 2 more, then 429
    statuses = [post(port, b"{}")[0] for _ in range(4)]
    assert statuses[:2] == [422, 422] and statuses[2:] == [429, 429]


def _start_cli(port: int, db: Path, lb: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "fsabench"
    env = {**os.environ, "FSABENCH_LEADERBOARD_TOKENS": f"other,{TOKEN}"}
    proc = subprocess.Popen([str(exe), "leaderboard", "serve", "fsa", "--port", str(port), "--db", str(db),
                             "--leaderboards-dir", str(lb)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    for _ in range(200):  # bounded: at most ~20 s
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read()}")
    proc.kill()
    raise AssertionError("serve did not answer /healthz in time")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_serve_command_keeps_entries_across_a_restart(tmp_path):
    lb, db, port = boards_dir(tmp_path), tmp_path / "service.sqlite3", free_port()
    proc = _start_cli(port, db, lb)
    try:
        assert json.loads(request(port, "GET", "/api/leaderboard")[2])["entries"] == []
        status, payload = post(port, good_bundle_text().encode())
        assert status == 201, payload
    finally:
        _stop(proc)
    proc = _start_cli(port, db, lb)
    try:
        entries = json.loads(request(port, "GET", "/api/leaderboard")[2])["entries"]
        assert [(e["name"], e["standing"]) for e in entries] == [("Lexicon baseline", "reference")]
        status, _, data = request(port, "GET", "/api/entries/lexicon-baseline")
        assert status == 200 and json.loads(data)["source"] == "post"
    finally:
        _stop(proc)
