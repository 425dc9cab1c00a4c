"""`fsabench leaderboard serve`: a small web service over one leaderboard (stdlib http.server + SQLite).

    GET  /                      ranked table (HTML)         GET /models/<slug>.html  an entry's page
    GET  /api/leaderboard       ranked table (JSON)         GET /api/entries/<slug>  one row (JSON)
    POST /api/submissions       a bundle (JSON body), `Authorization: Bearer <token>`; verified exactly
                                as `fsabench leaderboard verify` does; 201 accepted, 422 rejected
    GET  /healthz

Tokens come from FSABENCH_LEADERBOARD_TOKENS (comma-separated) and/or --tokens-file (one per
line); only their sha256 is kept. Bodies over the leaderboard's size limit get 413 before they are
read; each client address gets a per-minute request budget (429 with Retry-After past it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import platformdirs

from fsabench.errors import FsabenchError
from fsabench.leaderboard.ranking import columns
from fsabench.leaderboard.site import TEMPLATES, render_index, render_model, table_rows
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.submission import SubmissionError
from fsabench.leaderboard.verify import Verifier

TOKENS_ENV = "FSABENCH_LEADERBOARD_TOKENS"
SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
ASSET_TYPES = {"site.css": "text/css; charset=utf-8", "site.js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True)
class ServiceConfig:
    max_body: int  # bytes; the leaderboard's max_submission_bytes by default
    posts_per_minute: int = 6
    requests_per_minute: int = 600
    quiet: bool = False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def load_tokens(tokens_file: Path | None = None, env: str | None = None) -> set[str]:
    """sha256 digests of the accepted tokens (env var, comma-separated, plus a file, one per line)."""
    raw = [t for t in (env if env is not None else os.environ.get(TOKENS_ENV, "")).split(",")]
    if tokens_file is not None:
        try:
            raw += tokens_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FsabenchError(f"{tokens_file}: cannot read tokens ({exc.strerror})", hint="check --tokens-file") from None
    return {token_digest(t) for t in raw if t.strip() and not t.strip().startswith("#")}


class RateLimiter:
    """A sliding one-minute window of request times per client."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """None when the request may go ahead, else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, int(60.0 - (now - hits[0])) + 1)
            hits.append(now)
            return None


class LeaderboardApp:
    """What the HTTP handler calls: verification, the store and rendering, no HTTP details."""

    def __init__(self, board: Leaderboard, verifier: Verifier, store: Store, tokens: set[str],
                 config: ServiceConfig) -> None:
        self.board, self.verifier, self.store, self.tokens, self.config = board, verifier, store, tokens, config
        self.posts = RateLimiter(config.posts_per_minute)
        self.requests = RateLimiter(config.requests_per_minute)
        self._pages: dict[tuple[str, str], str] = {}
        self._submit_lock = threading.Lock()

    def import_files(self, paths: list[Path]) -> list[str]:
        """Load the folder's bundles (verified like any other); return the problems, one line each."""
        problems = []
        for path in paths:
            try:
                verified = self.verifier.verify_file(path)
            except SubmissionError as exc:
                problems.append(str(exc))
                continue
            self.store.put(self.board.name, verified.slug, verified.row, path.read_bytes(), "folder", None)
        return problems

    def authorized(self, header: str | None) -> str | None:
        """The token's digest when the Authorization header holds an accepted bearer token."""
        if not header or not header.startswith("Bearer "):
            return None
        digest = token_digest(header[7:])
        return digest if any(hmac.compare_digest(digest, known) for known in self.tokens) else None

    def submit(self, raw: bytes, submitter: str) -> tuple[int, dict[str, Any]]:
        try:
            verified = self.verifier.verify_bytes(raw, "submission")
        except SubmissionError as exc:
            return 422, {"accepted": False, "error": str(exc)}
        with self._submit_lock:  # check-then-write as one step: two posts of one slug cannot both win
            existing = self.store.get(self.board.name, verified.slug)
            if existing and existing["submitter"] != submitter[:16]:
                return 409, {"accepted": False, "error": f"entry {verified.slug!r} already exists and was "
                             "submitted by someone else", "hint": "choose another entry name"}
            self.store.put(self.board.name, verified.slug, verified.row, raw, "post", submitter[:16])
        return (200 if existing else 201), {"accepted": True, "slug": verified.slug, "row": verified.row}

    def table(self) -> dict[str, Any]:
        rows = table_rows(self.board, self.store.rows(self.board.name))
        return {"leaderboard": self.board.name, "title": self.board.spec.title, "metric": self.board.spec.metric,
                "columns": columns(self.board), "entries": rows}

    def index_html(self) -> str:
        return render_index(self.board, table_rows(self.board, self.store.rows(self.board.name)))

    def model_html(self, slug: str) -> str | None:
        """An entry's page, re-scored from its stored bundle (cached per bundle digest)."""
        entry = self.store.get(self.board.name, slug)
        if entry is None:
            return None
        key = (slug, entry["bundle_sha256"])
        if key not in self._pages:
            verified = self.verifier.verify_bytes(self.store.bundle(self.board.name, slug) or b"", slug)
            row = next(r for r in table_rows(self.board, self.store.rows(self.board.name)) if r["slug"] == slug)
            self._pages = {key: render_model(self.board, row, verified.results)}  # keep one page: bounded memory
        return self._pages[key]


class Handler(BaseHTTPRequestHandler):
    server_version = "fsabench-leaderboard"
    disable_nagle_algorithm = True  # or every response waits ~40 ms for a delayed ACK
    timeout = 30  # seconds a client may take to send its request
    app: LeaderboardApp

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if not self.app.config.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json", headers)

    def _html(self, text: str) -> None:
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8")

    def _limited(self, limiter: RateLimiter) -> bool:
        wait = limiter.retry_after(self.client_address[0])
        if wait is not None:
            self._json(429, {"error": "too many requests", "retry_after": wait}, {"Retry-After": str(wait)})
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self._limited(self.app.requests):
            return
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            return self._html(self.app.index_html())
        if path == "/api/leaderboard":
            return self._json(200, self.app.table())
        if path == "/healthz":
            return self._json(200, {"ok": True, "leaderboard": self.app.board.name})
        if path.startswith("/assets/") and path[8:] in ASSET_TYPES:
            return self._send(200, (TEMPLATES / path[8:]).read_bytes(), ASSET_TYPES[path[8:]])
        match = re.match(r"^/(?:api/entries/([^/]+)|models/([^/]+)\.html)$", path)
        slug = (match.group(1) or match.group(2)) if match else None
        if slug and SLUG.match(slug):
            if match.group(1):
                entry = self.app.store.get(self.app.board.name, slug)
                if entry:
                    return self._json(200, {**entry["row"], "slug": slug, "source": entry["source"], "created": entry["created"]})
            else:
                page = self.app.model_html(slug)
                if page is not None:
                    return self._html(page)
        self._json(404, {"error": f"not found: {path}"})

    def do_POST(self) -> None:  # noqa: N802
        if self._limited(self.app.requests) or self._limited(self.app.posts):
            return
        if self.path.split("?", 1)[0] != "/api/submissions":
            return self._json(404, {"error": f"not found: {self.path}"})
        submitter = self.app.authorized(self.headers.get("Authorization"))
        if submitter is None:
            return self._json(401, {"error": "missing or invalid token", "hint": "send Authorization: Bearer <token>"},
                              {"WWW-Authenticate": 'Bearer realm="fsabench-leaderboard"', "Connection": "close"})
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._json(411, {"error": "Content-Length required"}, {"Connection": "close"})
        if int(length) > self.app.config.max_body:
            self.close_connection = True
            return self._json(413, {"error": f"body of {int(length):,} bytes is over the limit of "
                                    f"{self.app.config.max_body:,}"}, {"Connection": "close"})
        raw = self.rfile.read(int(length))
        status, payload = self.app.submit(raw, submitter)
        self._json(status, payload)


def default_db(name: str) -> Path:
    env = os.environ.get("FSABENCH_LEADERBOARD_DB")
    return Path(env) if env else Path(platformdirs.user_data_dir("fsabench")) / "leaderboards" / f"{name}.sqlite3"


def make_server(board: Leaderboard, data_root: Path, host: str = "127.0.0.1", port: int = 0,
                db_path: Path | None = None, tokens: set[str] | None = None, config: ServiceConfig | None = None,
                import_files: list[Path] | None = None) -> ThreadingHTTPServer:
    """A bound, not yet serving, server; `server.app` is the LeaderboardApp, `server.problems` the import errors."""
    verifier = Verifier(board, data_root)
    for task in board.spec.tasks:  # load gold once, before the first request
        verifier.split(task)
    config = config or ServiceConfig(max_body=board.spec.limits.max_submission_bytes)
    app = LeaderboardApp(board, verifier, Store(db_path or default_db(board.name)),
                         load_tokens() if tokens is None else tokens, config)
    problems = app.import_files(import_files or [])
    handler = type("BoundHandler", (Handler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.app, server.problems = app, problems  # type: ignore[attr-defined]
    return server


def serve(board: Leaderboard, data_root: Path, host: str, port: int, db_path: Path | None,
          tokens_file: Path | None, import_files: list[Path]) -> None:
    """Run until interrupted, printing where to find the service."""
    tokens = load_tokens(tokens_file)
    server = make_server(board, data_root, host, port, db_path, tokens, import_files=import_files)
    for problem in server.problems:  # type: ignore[attr-defined]
        sys.stderr.write(f"skipped folder submission: {problem}\n")
    bound_host, bound_port = server.server_address[:2]
    sys.stderr.write(f"leaderboard {board.name} on http://{bound_host}:{bound_port}/ "
                     f"(db {server.app.store.path}; {len(tokens)} submit token(s){'' if tokens else ': POST disabled'})\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.store.close()  # type: ignore[attr-defined]
