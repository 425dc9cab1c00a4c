"""The service keeps its standings in the store: a POST re-ranks incrementally to what a from-scratch
ranking gives, and a restart reads the stored standings (no verification, no test, no bootstrap)
unless the rules or ranking code changed. Real SQLite, real loopback server, the shipped bundles."""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import json
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
import yaml

from fsabench.leaderboard.service import ServiceConfig, make_server, token_digest
from fsabench.leaderboard.site import render_model, table_rows
from fsabench.leaderboard.spec import load_leaderboard
from tests.conftest import DATA_DIR, ROOT

TOKEN = "t0ken"
SHIPPED = ROOT / "leaderboards" / "fsa" / "submissions"
pytestmark = pytest.mark.slow


def ranked_boards(tmp_path: Path) -> Path:
    """The fsa board with its baselines ranked (two real entries to rank and compare)."""
    spec = yaml.safe_load((ROOT / "leaderboards" / "fsa" / "leaderboard.yaml").read_text())
    spec["categories"]["baseline"]["ranked"] = True
    folder = tmp_path / "leaderboards" / "fsa"
    (folder / "submissions").mkdir(parents=True)
    (folder / "leaderboard.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "leaderboards"


def started(boards: Path, db: Path):
    board = load_leaderboard("fsa", boards)
    server = make_server(board, DATA_DIR, "127.0.0.1", 0, db, {token_digest(TOKEN)},
                         ServiceConfig(max_body=board.spec.limits.max_submission_bytes, quiet=True, rescan_seconds=0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stopped(server) -> None:
    server.shutdown()
    server.server_close()
    server.app.store.close()


def call(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(*server.server_address, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def places(server) -> list[tuple]:
    status, _, body = call(server, "GET", "/api/leaderboard")
    assert status == 200
    return [(e["slug"], e["rank"], e["tied_with"], e["ci"], e["score"], e["standing"]) for e in json.loads(body)["entries"]]


def test_posts_rank_incrementally_and_a_restart_reads_the_stored_standings(tmp_path):
    boards, db = ranked_boards(tmp_path), tmp_path / "lb.sqlite3"
    server = started(boards, db)
    try:
        assert places(server) == []
        verified = []
        for name in ("empty-baseline.json", "lexicon-baseline.json"):
            raw = (SHIPPED / name).read_bytes()
            status, headers, body = call(server, "POST", "/api/submissions", raw, {"Authorization": f"Bearer {TOKEN}"})
            assert status == 201, body
            assert "rank;dur=" in headers["server-timing"] and "paired tests" in headers["server-timing"]
            verified.append(server.app.verifier.verify_bytes(raw, name))
        board = load_leaderboard("fsa", boards)
        scratch = table_rows(board, [{**v.row, "slug": v.slug} for v in verified])
        expected = [(r["slug"], r["rank"], r["tied_with"], r["ci"], r["score"], r["standing"]) for r in scratch]
        assert places(server) == expected and [p[1] for p in expected] == [1, 2]
        status, _, page = call(server, "GET", "/models/empty-baseline.html", headers={"Accept-Encoding": "gzip"})
        html = gzip.decompress(page).decode()
        assert status == 200 and "rank 2" in html and 'id="examples-data"' in html
        assert call(server, "GET", "/models/empty-baseline.html")[2].decode() == html  # plain = gunzipped
        built = dt.datetime.strptime(re.search(r"Built (.+? UTC)", html).group(1), "%Y-%m-%d %H:%M UTC")
        row = next(e for e in json.loads(call(server, "GET", "/api/leaderboard")[2])["entries"]
                   if e["slug"] == "empty-baseline")
        assert html == render_model(board, row, verified[0].results, built)  # head + stored tail = the whole page
        shelf = server.app.ledger.shelf  # the composer prepares every page: a GET then only looks bytes up
        for _ in range(600):
            if shelf.pending() == 0:
                break
            threading.Event().wait(0.05)
        assert shelf.pending() == 0 and json.loads(call(server, "GET", "/healthz")[2])["pages_pending"] == 0
        ready = server.app.ledger.cached_page("empty-baseline")
        assert ready is not None and gzip.decompress(ready.gz).decode() == html
        tails = {p.name.split(".")[0] for p in Path(f"{db}.pages").glob("*.gz") if ".preds." not in p.name}
        assert tails == {"empty-baseline", "lexicon-baseline"}  # one tail file per entry, beside the database
        status, _, script = call(server, "GET", "/assets/preds/empty-baseline.js", headers={"Accept-Encoding": "gzip"})
        assert status == 200 and gzip.decompress(script).decode() == server.app.store.page(
            board.name, "empty-baseline")[1]["preds_js"]
        assert server.app.cached_prediction_js("empty-baseline") is not None  # a file now: later GETs read it
        entry = json.loads(call(server, "GET", "/api/entries/lexicon-baseline")[2])
        assert entry["rank"] == 1 and entry["source"] == "post" and "counts" not in entry
    finally:
        stopped(server)

    server = started(boards, db)  # a restart: everything read as stored
    try:
        assert places(server) == expected
        assert server.app.ledger.standings.tests == 0 and server.app.verifier._splits == {}  # no test, nothing verified
        assert server.app.ledger._loaded == {}  # no replicates even read
    finally:
        stopped(server)

    with sqlite3.connect(db) as conn:  # ranking code of another version, and a row from before counts had a column
        conn.execute("UPDATE meta SET value='older' WHERE key='derived'")
        row = json.loads(conn.execute("SELECT row_json FROM entries WHERE slug='lexicon-baseline'").fetchone()[0])
        counts = next(v for v in verified if v.slug == "lexicon-baseline").row["counts"]
        conn.execute("UPDATE entries SET row_json=?, counts=NULL, boot=NULL, replicates=NULL, derived=NULL "
                     "WHERE slug='lexicon-baseline'", (json.dumps({**row, "counts": counts}),))
    server = started(boards, db)
    try:
        assert places(server) == expected and server.app.ledger.standings.tests == 1  # re-ranked once, same result
        assert server.app.verifier._splits == {}  # still nothing re-verified: the rules did not change
    finally:
        stopped(server)
    shutil.rmtree(boards)
