"""The hosted leaderboard's SQLite store: verified entries, the bundles they came from, what their
pages need, and their standing (rank, group leader, bootstrap), so a GET or a restart never
re-verifies or re-ranks anything.

WAL mode with one writer: every write goes through one connection behind a lock, either a single
autocommitted statement or one `batch()` transaction (an accepted entry and the rank changes it
causes commit together: a kill -9 mid-POST leaves the entry and its ranking wholly there or wholly
absent), with `synchronous=FULL` so an acknowledged POST survives a crash. Readers use their own
connection per thread and never wait for the writer. An entry that stops passing (its file removed,
or the rules changed under it) is kept with status 'dropped' and the reason, out of the ranking.

`places` holds each ranked-table entry's standing, rank, tie and group leader (a small table: a
re-rank that moves hundreds of entries rewrites only these rows, never an entry's large record).
`meta` holds, per leaderboard, the fingerprint of the rules and ranking code the stored standings
were computed under (ledger.py: a different fingerprint at start means one re-rank).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError

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
CREATE TABLE IF NOT EXISTS places (  -- an entry's place, apart from its large row: a re-rank rewrites only these
    leaderboard TEXT NOT NULL,
    slug TEXT NOT NULL,
    standing TEXT NOT NULL,          -- ranked | reference | awaiting audit | audit failed
    rank INTEGER,
    tied_with INTEGER,
    leader TEXT,                     -- the slug its tie group is led by (NULL: it leads, or is not ranked)
    PRIMARY KEY (leaderboard, slug)
);
CREATE TABLE IF NOT EXISTS meta (
    leaderboard TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (leaderboard, key)
);
"""
# Added after the first release; old files gain them on open.
COLUMNS = {"status": "TEXT NOT NULL DEFAULT 'ok'", "reason": "TEXT", "rules": "TEXT", "page": "BLOB",
           "counts": "BLOB",        # per-example counts (zlib JSON), kept out of row_json: only ranking reads them
           "boot": "TEXT",          # stats.Boot header (examples per task, point score, 95% intervals)
           "replicates": "BLOB",    # stats.Boot replicates (N_BOOT float64)
           "derived": "TEXT",       # the fingerprint boot and standing were computed under
           "tail": "BLOB", "tail_crc": "INTEGER", "tail_len": "INTEGER", "tail_key": "TEXT"}  # pages.py


class Store:
    SCHEMA_VERSION = 2  # 2: boot, replicates, derived, tail columns and the places table

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._local = threading.local()  # one read connection per thread, closed only by that thread
        self._closed = False
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
        """This thread's read connection. Never shared: closing a connection another thread is reading
        through crashes CPython's sqlite3 (a segfault, not an exception), so each thread closes its own."""
        conn = getattr(self._local, "conn", None)
        if self._closed:
            if conn is not None:
                self._local.conn = None
                conn.close()
            raise FsabenchError(f"{self.path}: the leaderboard store is closed",
                                hint="open a new Store; this one was closed by its service")
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close the writer and this thread's reader. Other threads' readers close on their next read
        (which then fails with a one-line error) or when their thread ends, never under their feet."""
        with self._lock:
            self._closed = True
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                self._local.conn = None
                conn.close()
            self._db.close()

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock:
            self._db.execute(sql, args)
            self.version += 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside commits as one transaction (other writers wait)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.version += 1

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, leaderboard: str, slug: str) -> dict[str, Any] | None:
        """A ranked entry (dropped ones are not found)."""
        row = self._reader().execute("SELECT row_json, bundle_sha256, source, submitter, created FROM entries "
                                     "WHERE leaderboard=? AND slug=? AND status='ok'", (leaderboard, slug)).fetchone()
        if row is None:
            return None
        return {"row": _without_counts(json.loads(row[0])), "bundle_sha256": row[1], "source": row[2],
                "submitter": row[3], "created": row[4]}

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
        return [{**_without_counts(json.loads(row)), "slug": slug} for slug, row in found]

    def entries(self, leaderboard: str) -> list[dict[str, Any]]:
        """Every entry's bookkeeping (for the checks at start): slug, sha, source, status, rules."""
        found = self._reader().execute("SELECT slug, bundle_sha256, source, status, rules FROM entries "
                                       "WHERE leaderboard=?", (leaderboard,)).fetchall()
        return [dict(zip(("slug", "bundle_sha256", "source", "status", "rules"), r)) for r in found]

    def standing_rows(self, leaderboard: str) -> list[dict[str, Any]]:
        """Ranked-table entries with what ranking stored: row, boot header, standing, rank, tie, leader, derived."""
        found = self._reader().execute(
            "SELECT e.slug, e.row_json, e.boot, p.standing, p.rank, p.tied_with, p.leader, e.derived, "
            "e.counts IS NOT NULL, e.created, e.source FROM entries e LEFT JOIN places p "
            "ON p.leaderboard = e.leaderboard AND p.slug = e.slug WHERE e.leaderboard=? AND e.status='ok'",
            (leaderboard,)).fetchall()
        keys = ("slug", "row", "boot", "standing", "rank", "tied_with", "leader", "derived", "has_counts", "created",
                "source")
        out = []
        for values in found:
            entry = dict(zip(keys, values))
            entry["row"] = json.loads(entry["row"])
            entry["boot"] = json.loads(entry["boot"]) if entry["boot"] else None
            out.append(entry)
        return out

    def counts(self, leaderboard: str, slug: str) -> dict[str, Any] | None:
        """An entry's per-example counts (from row_json in files written before they had a column)."""
        row = self._reader().execute("SELECT counts, row_json FROM entries WHERE leaderboard=? AND slug=?",
                                     (leaderboard, slug)).fetchone()
        if row is None:
            return None
        return json.loads(zlib.decompress(row[0])) if row[0] is not None else json.loads(row[1]).get("counts")

    def replicates(self, leaderboard: str, slug: str) -> bytes | None:
        row = self._reader().execute("SELECT replicates FROM entries WHERE leaderboard=? AND slug=?",
                                     (leaderboard, slug)).fetchone()
        return row[0] if row else None

    def tail(self, leaderboard: str, slug: str) -> tuple[bytes, int, int, str] | None:
        """A ranked entry's pre-rendered page tail: (raw deflate, crc32, length, render key)."""
        row = self._reader().execute("SELECT tail, tail_crc, tail_len, tail_key FROM entries WHERE leaderboard=? "
                                     "AND slug=? AND status='ok'", (leaderboard, slug)).fetchone()
        return None if row is None or row[0] is None else (row[0], row[1], row[2], row[3])

    def tail_meta(self, leaderboard: str, slug: str | None = None) -> dict[str, tuple[int, int, str]]:
        """Ranked entries' stored tails without their bytes: slug -> (crc32, length, render key)."""
        sql = ("SELECT slug, tail_crc, tail_len, tail_key FROM entries WHERE leaderboard=? AND status='ok' "
               "AND tail IS NOT NULL")
        found = self._reader().execute(sql + (" AND slug=?" if slug else ""), (leaderboard, slug) if slug else
                                       (leaderboard,)).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in found}

    def meta(self, leaderboard: str, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM meta WHERE leaderboard=? AND key=?", (leaderboard, key)).fetchone()
        return row[0] if row else None

    # --- writes (one writer) ---------------------------------------------------------------------------
    def put(self, leaderboard: str, slug: str, row: dict[str, Any], bundle: bytes, source: str,
            submitter: str | None, rules: str | None = None, page: dict[str, Any] | None = None,
            counts: dict[str, Any] | None = None) -> None:
        self.put_packed(leaderboard, slug, row, pack_entry(bundle, page, counts), source, submitter, rules)

    def put_packed(self, leaderboard: str, slug: str, row: dict[str, Any], packed: tuple, source: str,
                   submitter: str | None, rules: str | None, boot: dict[str, Any] | None = None,
                   replicates: bytes | None = None, derived: str | None = None,
                   tail: tuple[bytes, int, int, str] | None = None) -> None:
        """`put` with the bundle, page parts and counts packed beforehand (`pack_entry`, outside any lock), and
        the entry's bootstrap and page tail: one record written once (a large record is costly to rewrite)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        bundle, digest, page, counts = packed
        self._write("INSERT OR REPLACE INTO entries (leaderboard, slug, row_json, bundle, bundle_sha256, source, "
                    "submitter, created, status, reason, rules, page, counts, boot, replicates, derived, tail, "
                    "tail_crc, tail_len, tail_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (leaderboard, slug, json.dumps(row, ensure_ascii=False), bundle, digest, source, submitter, now,
                     rules, page, counts, json.dumps(boot) if boot is not None else None, replicates, derived,
                     *(tail or (None, None, None, None))))

    def reverified(self, leaderboard: str, slug: str, row: dict[str, Any], rules: str, page: dict[str, Any],
                   counts: dict[str, Any] | None = None) -> None:
        self._write("UPDATE entries SET row_json=?, rules=?, page=?, counts=?, status='ok', reason=NULL, tail=NULL "
                    "WHERE leaderboard=? AND slug=?",
                    (json.dumps(row, ensure_ascii=False), rules, _pack(page), _pack(counts), leaderboard, slug))

    def drop(self, leaderboard: str, slug: str, reason: str) -> None:
        with self._lock:
            self._db.execute("UPDATE entries SET status='dropped', reason=? WHERE leaderboard=? AND slug=?",
                             (reason, leaderboard, slug))
            self._db.execute("DELETE FROM places WHERE leaderboard=? AND slug=?", (leaderboard, slug))
            self.version += 1

    def set_boot(self, leaderboard: str, slug: str, header: dict[str, Any] | None, replicates: bytes | None,
                 derived: str, row: dict[str, Any] | None = None, counts: dict[str, Any] | None = None) -> None:
        """An entry's bootstrap (and, moving counts out of an old row_json, its row and counts)."""
        boot = json.dumps(header) if header is not None else None
        if row is None:
            self._write("UPDATE entries SET boot=?, replicates=?, derived=? WHERE leaderboard=? AND slug=?",
                        (boot, replicates, derived, leaderboard, slug))
        else:
            self._write("UPDATE entries SET boot=?, replicates=?, derived=?, row_json=?, counts=? "
                        "WHERE leaderboard=? AND slug=?", (boot, replicates, derived, json.dumps(row, ensure_ascii=False),
                                                           _pack(counts), leaderboard, slug))

    def set_places(self, leaderboard: str, places: dict[str, tuple[str, int | None, int | None, str | None]]) -> None:
        """(standing, rank, tied_with, leader) of the entries whose place changed."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO places (leaderboard, slug, standing, rank, tied_with, leader) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", [(leaderboard, slug, *place) for slug, place in places.items()])
            self.version += 1

    def set_tail(self, leaderboard: str, slug: str, deflated: bytes, crc: int, length: int, key: str) -> None:
        self._write("UPDATE entries SET tail=?, tail_crc=?, tail_len=?, tail_key=? WHERE leaderboard=? AND slug=?",
                    (deflated, crc, length, key, leaderboard, slug))

    def set_meta(self, leaderboard: str, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (leaderboard, key, value) VALUES (?, ?, ?)", (leaderboard, key, value))


def pack_entry(bundle: bytes, page: dict[str, Any] | None, counts: dict[str, Any] | None) -> tuple:
    """(compressed bundle, its sha256, packed page parts, packed counts): the CPU part of a `put`."""
    return zlib.compress(bundle, 6), hashlib.sha256(bundle).hexdigest(), _pack(page), _pack(counts)


def _pack(page: dict[str, Any] | None) -> bytes | None:
    """zlib level 1: a page's parts are ~2 MB of JSON, packed on every accepted POST (level 6 is ~4x slower)."""
    return None if page is None else zlib.compress(json.dumps(page, ensure_ascii=False).encode("utf-8"), 1)


def _without_counts(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("counts", None)  # rows stored before counts had their own column carried them
    return row
