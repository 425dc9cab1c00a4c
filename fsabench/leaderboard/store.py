"""The hosted leaderboard's SQLite store (WAL): verified entries and the bundles they came from."""

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


class Store:
    """One connection shared by the server's threads behind a lock (SQLite writes are serial anyway)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, leaderboard: str, slug: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT row_json, bundle_sha256, source, submitter, created FROM entries "
                                   "WHERE leaderboard=? AND slug=?", (leaderboard, slug)).fetchone()
        if row is None:
            return None
        return {"row": json.loads(row[0]), "bundle_sha256": row[1], "source": row[2], "submitter": row[3],
                "created": row[4]}

    def bundle(self, leaderboard: str, slug: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT bundle FROM entries WHERE leaderboard=? AND slug=?",
                                   (leaderboard, slug)).fetchone()
        return zlib.decompress(row[0]) if row else None

    def put(self, leaderboard: str, slug: str, row: dict[str, Any], bundle: bytes, source: str,
            submitter: str | None) -> None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (leaderboard, slug, json.dumps(row, ensure_ascii=False), zlib.compress(bundle, 6),
                 hashlib.sha256(bundle).hexdigest(), source, submitter, now))

    def rows(self, leaderboard: str) -> list[dict[str, Any]]:
        with self._lock:
            found = self._db.execute("SELECT slug, row_json FROM entries WHERE leaderboard=?", (leaderboard,)).fetchall()
        return [{**json.loads(row), "slug": slug} for slug, row in found]
