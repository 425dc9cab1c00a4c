"""The hosted leaderboard's SQLite store: verified entries, the bundles they came from, and what
their pages need, so a GET never re-verifies anything.

WAL mode with one writer: every write goes through one connection behind a lock, each as a single
autocommitted statement (a kill -9 mid-POST leaves the entry wholly there or wholly absent), with
`synchronous=FULL` so an acknowledged POST survives a crash. Readers use their own connection per
thread and never wait for the writer. An entry that stops passing (its file removed, or the rules
changed under it) is kept with status 'dropped' and the reason, out of the ranking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import zlib
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    leaderboard TEXT NOT NULL,
    slug TEXT NOT NULL,
    row_json TEXT NOT NULL,          -- the ranked-table row (ranking.summarize), computed at verification
    bundle BLOB NOT NULL,            -- the submitted bundle, zlib-compressed, so it can be re-verified
    bundle_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,            -- 'post' or 'folder'
    submitter TEXT,                  -- sha256 prefix of the token that posted it
    created TEXT NOT NULL,
    PRIMARY KEY (leaderboard, slug)
);
"""
# Added after the first release; old files gain them on open.
COLUMNS = {"status": "TEXT NOT NULL DEFAULT 'ok'", "reason": "TEXT", "rules": "TEXT", "page": "BLOB"}


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.version = 0  # bumped on every write: caches of the table key on it
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(entries)")}
        for name, decl in COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE entries ADD COLUMN {name} {decl}")

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._db.close()

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock:
            self._db.execute(sql, args)
            self.version += 1

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, leaderboard: str, slug: str) -> dict[str, Any] | None:
        """A ranked entry (dropped ones are not found)."""
        row = self._reader().execute("SELECT row_json, bundle_sha256, source, submitter, created FROM entries "
                                     "WHERE leaderboard=? AND slug=? AND status='ok'", (leaderboard, slug)).fetchone()
        if row is None:
            return None
        return {"row": json.loads(row[0]), "bundle_sha256": row[1], "source": row[2], "submitter": row[3],
                "created": row[4]}

    def owner(self, leaderboard: str, slug: str) -> str | None | bool:
        """The submitter of an existing entry (any status); False when there is none."""
        row = self._reader().execute("SELECT submitter FROM entries WHERE leaderboard=? AND slug=?",
                                     (leaderboard, slug)).fetchone()
        return False if row is None else row[0]

    def bundle(self, leaderboard: str, slug: str) -> bytes | None:
        row = self._reader().execute("SELECT bundle FROM entries WHERE leaderboard=? AND slug=?",
                                     (leaderboard, slug)).fetchone()
        return zlib.decompress(row[0]) if row else None

    def page(self, leaderboard: str, slug: str) -> tuple[str, dict[str, Any]] | None:
        """(bundle sha256, the page's stored parts) of a ranked entry."""
        row = self._reader().execute("SELECT bundle_sha256, page FROM entries WHERE leaderboard=? AND slug=? "
                                     "AND status='ok'", (leaderboard, slug)).fetchone()
        if row is None or row[1] is None:
            return None
        return row[0], json.loads(zlib.decompress(row[1]))

    def rows(self, leaderboard: str) -> list[dict[str, Any]]:
        found = self._reader().execute("SELECT slug, row_json FROM entries WHERE leaderboard=? AND status='ok'",
                                       (leaderboard,)).fetchall()
        return [{**json.loads(row), "slug": slug} for slug, row in found]

    def entries(self, leaderboard: str) -> list[dict[str, Any]]:
        """Every entry's bookkeeping (for the checks at start): slug, sha, source, status, rules."""
        found = self._reader().execute("SELECT slug, bundle_sha256, source, status, rules FROM entries "
                                       "WHERE leaderboard=?", (leaderboard,)).fetchall()
        return [dict(zip(("slug", "bundle_sha256", "source", "status", "rules"), r)) for r in found]

    # --- writes (one writer) ---------------------------------------------------------------------------
    def put(self, leaderboard: str, slug: str, row: dict[str, Any], bundle: bytes, source: str,
            submitter: str | None, rules: str | None = None, page: dict[str, Any] | None = None) -> None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self._write("INSERT OR REPLACE INTO entries (leaderboard, slug, row_json, bundle, bundle_sha256, source, "
                    "submitter, created, status, reason, rules, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?, ?)",
                    (leaderboard, slug, json.dumps(row, ensure_ascii=False), zlib.compress(bundle, 6),
                     hashlib.sha256(bundle).hexdigest(), source, submitter, now, rules, _pack(page)))

    def reverified(self, leaderboard: str, slug: str, row: dict[str, Any], rules: str, page: dict[str, Any]) -> None:
        self._write("UPDATE entries SET row_json=?, rules=?, page=?, status='ok', reason=NULL "
                    "WHERE leaderboard=? AND slug=?",
                    (json.dumps(row, ensure_ascii=False), rules, _pack(page), leaderboard, slug))

    def drop(self, leaderboard: str, slug: str, reason: str) -> None:
        self._write("UPDATE entries SET status='dropped', reason=? WHERE leaderboard=? AND slug=?",
                    (reason, leaderboard, slug))


def _pack(page: dict[str, Any] | None) -> bytes | None:
    return None if page is None else zlib.compress(json.dumps(page, ensure_ascii=False).encode("utf-8"), 6)
