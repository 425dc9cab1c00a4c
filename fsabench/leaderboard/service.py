"""`fsabench leaderboard serve`: a small web service over one leaderboard (FastAPI + uvicorn + SQLite).

    GET  /                      ranked table (HTML)         GET /models/<slug>.html  an entry's page
    GET  /api/leaderboard       ranked table (JSON)         GET /api/entries/<slug>  one row (JSON)
    POST /api/submissions       a bundle (JSON body), `Authorization: Bearer <token>`; verified exactly
                                as `fsabench leaderboard verify` does; 201 accepted, 422 rejected
    GET  /healthz               GET /docs (OpenAPI)

Tokens come from FSABENCH_LEADERBOARD_TOKENS (comma-separated) and/or --tokens-file (one per
line); only their sha256 is kept. The token is checked before any rate limit, so anonymous posts
cannot use up a submitter's budget: writes are limited per token, reads per client address (taken
from X-Forwarded-For only when the peer is a --trusted-proxy). Bodies over the leaderboard's size
limit get 413 before they are read; a client has `request_timeout` s to send a whole request.

Each entry is verified once per (slug, bundle sha256, rules): at submit, or at start when the
rules (leaderboard spec, task definitions) changed since. Its ranked row, bootstrap (stats.Boot),
page parts and pre-rendered page tail are stored with it; accepting or dropping an entry updates the
standings incrementally and stores every changed place in the same transaction; the table and index
are rendered then, once (ledger.py holds that state; standings.py the ranking walk). A GET never verifies, ranks or renders more than an entry
page's small head. At start the stored standings are read as they are, unless the rules or the
ranking code changed (a fingerprint in the store's meta table): then the board is re-ranked once.
Entries whose folder file disappears (checked at start and every `rescan_seconds`) or that fail
verification under new rules drop out of the ranking with a logged reason; their pages answer 404.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from fsabench.errors import FsabenchError
from fsabench.leaderboard import stats
from fsabench.leaderboard.ledger import (RANKING_VERSION, Ledger, View, derived_fingerprint,  # noqa: F401 (re-exported)
                                         page_parts, tail_key)
from fsabench.leaderboard.pages import Body
from fsabench.leaderboard.site import TEMPLATES, compare_payload, render_compare  # noqa: F401 (TEMPLATES: routes)
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.submission import SubmissionError, bundle_files, bundle_json_bytes, bundle_slug, read_bundle_bytes
from fsabench.leaderboard.verify import Verifier
from fsabench.webserver import Limits, bind, uvicorn_config

LOG = logging.getLogger("fsabench.leaderboard")
TOKENS_ENV = "FSABENCH_LEADERBOARD_TOKENS"
SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
ASSET_TYPES = {"site.css": "text/css; charset=utf-8", "site.js": "text/javascript; charset=utf-8",
               "compare.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = [(b"X-Content-Type-Options", b"nosniff"), (b"Content-Security-Policy", CSP.encode())]  # cased as browsers show them


@dataclass(frozen=True)
class ServiceConfig:
    max_body: int  # bytes; the leaderboard's max_submission_bytes by default
    posts_per_minute: int = 6  # per token
    requests_per_minute: int = 600  # per client address (reads, and posts without a valid token)
    quiet: bool = False
    trusted_proxies: tuple[str, ...] = ()
    request_timeout: float = 25.0  # seconds to send a whole request (slowloris clients are dropped)
    rescan_seconds: float = 10.0  # how often the submissions folder is checked for removed files (0 = never)
    page_cache_bytes: int = 64 * 2 ** 20  # composed entry pages kept (gzip; ~0.2 MB each for the fsa tasks)
    max_connections: int = 1000  # open connections in all
    max_connections_per_client: int = 128  # from one address (a browser opens ~6; an office behind NAT, more)
    connection_queue: int = 512  # connections over a limit wait for a slot (unread) instead of a 503 ...
    connection_queue_seconds: float = 5.0  # ... for this long at most


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


def rules_digest(board: Leaderboard) -> str:
    """What a verification depends on besides the bundle: the leaderboard's spec and its tasks."""
    rules = {"spec": board.spec.model_dump(mode="json"),
             "tasks": {name: spec.definition_hash() for name, spec in sorted(board.tasks.items())}}
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()


class RateLimiter:
    """A sliding one-minute window of request times per key (a client address or a token digest)."""

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self.per_minute, self.max_keys = per_minute, max_keys
        self._hits: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """None when the request may go ahead, else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:  # bounded memory: forget clients idle for a minute
                    self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < 60.0}
                hits = self._hits[key] = collections.deque()
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, int(60.0 - (now - hits[0])) + 1)
            hits.append(now)
            return None


class LeaderboardApp:
    """What the HTTP routes call: verification, the ledger (stored standings and rendered views), no HTTP details."""

    def __init__(self, board: Leaderboard, verifier: Verifier, store: Store, tokens: set[str],
                 config: ServiceConfig) -> None:
        self.board, self.verifier, self.store, self.tokens, self.config = board, verifier, store, tokens, config
        self.rules = rules_digest(board)
        self.ledger = Ledger(board, store, self.rules, config.page_cache_bytes)
        self.posts = RateLimiter(config.posts_per_minute)
        self.requests = RateLimiter(config.requests_per_minute)
        self._submit_lock = threading.Lock()
        self._compare_page: tuple[int, Body] | None = None
        self.folder_files: set[str] | None = None  # slugs imported from the folder (None: no folder import)

    # --- entries in --------------------------------------------------------------------------------
    def import_files(self, paths: list[Path]) -> list[str]:
        """Load the folder's bundles (verified like any other, once per content and rules); return the problems."""
        problems, known = [], {e["slug"]: e for e in self.store.entries(self.board.name)}
        self.folder_files = set()
        for path in paths:
            try:
                raw = read_bundle_bytes(path, self.board.spec.limits)  # the JSON, gunzipped when .json.gz
            except OSError as exc:
                problems.append(f"{path}: cannot read ({exc.strerror})")
                continue
            except SubmissionError as exc:
                problems.append(str(exc))
                continue
            slug = bundle_slug(path)
            old = known.get(slug)
            if old and old["bundle_sha256"] == hashlib.sha256(raw).hexdigest() and old["rules"] == self.rules \
                    and old["status"] == "ok":
                self.folder_files.add(slug)  # verified before, same bytes, same rules
                continue
            try:
                verified = self.verifier.verify_file(path)
            except SubmissionError as exc:
                problems.append(str(exc))
                continue
            self.ledger.accept(verified, raw, "folder", None)
            self.folder_files.add(verified.slug)
        return problems

    def check_stored(self) -> list[str]:
        """At start: drop folder entries whose file is gone, re-verify entries checked under other rules."""
        reasons = self.rescan()
        for entry in self.store.entries(self.board.name):
            if entry["status"] != "ok" or entry["rules"] == self.rules:
                continue
            raw = self.store.bundle(self.board.name, entry["slug"]) or b""
            try:
                verified = self.verifier.verify_bytes(raw, f"stored entry {entry['slug']!r}")
            except SubmissionError as exc:
                reasons.append(self._drop(entry["slug"], f"fails verification under the current rules: {exc}"))
                continue
            row = dict(verified.row)
            counts = row.pop("counts", None)
            self.store.reverified(self.board.name, entry["slug"], row, self.rules, page_parts(verified), counts)
        return reasons

    def rescan(self) -> list[str]:
        """Drop entries imported from the folder whose file has been removed."""
        if self.folder_files is None:
            return []
        present = {bundle_slug(p) for p in bundle_files(self.board.submissions_dir)}
        reasons = []
        for entry in self.store.entries(self.board.name):
            if entry["source"] == "folder" and entry["status"] == "ok" and entry["slug"] not in present:
                reasons.append(self._drop(entry["slug"], f"its file {entry['slug']}.json was removed from "
                                                         f"{self.board.submissions_dir} (no .json or .json.gz of it "
                                                         "is left)"))
                self.folder_files.discard(entry["slug"])
        return reasons

    def _drop(self, slug: str, reason: str) -> str:
        self.ledger.drop(slug, reason)
        line = f"dropped entry {slug!r} from the ranking: {reason}"
        LOG.warning(line)
        if not self.config.quiet:
            sys.stderr.write(line + "\n")
        return line

    def authorized(self, header: str | None) -> str | None:
        """The token's digest when the Authorization header holds an accepted bearer token."""
        if not header or not header.startswith("Bearer "):
            return None
        digest = token_digest(header[7:])
        return digest if any(hmac.compare_digest(digest, known) for known in self.tokens) else None

    def submit(self, raw: bytes, submitter: str) -> tuple[int, dict[str, Any]]:
        start = time.perf_counter()
        try:
            raw = bundle_json_bytes(raw, "submission", self.board.spec.limits)  # a gzipped body is stored as its JSON
            verified = self.verifier.verify_bytes(raw, "submission")
        except SubmissionError as exc:
            return 422, {"accepted": False, "error": str(exc)}
        verify = time.perf_counter() - start
        with self._submit_lock:  # check-then-write as one step: two posts of one slug cannot both win
            owner = self.store.owner(self.board.name, verified.slug)
            if owner is not False and owner != submitter[:16]:
                return 409, {"accepted": False, "error": f"entry {verified.slug!r} already exists and was "
                             "submitted by someone else", "hint": "choose another entry name"}
            self.ledger.accept(verified, raw, "post", submitter[:16])
            self.ledger.last_change["verify"] = verify
        row = self.ledger.entry(verified.slug) or {k: v for k, v in verified.row.items() if k != "counts"}
        return (200 if owner is not False else 201), {"accepted": True, "slug": verified.slug, "row": row}

    def warm(self) -> None:
        """Load what the first POST needs (the gold of every task, the shared resamples), off the start path."""
        for task in self.board.spec.tasks:
            size = len(self.verifier.split(task).examples)
            stats.weights(task, self.board.spec.metric, size)

    # --- pages out (rendered once per change by the ledger; no verification or ranking here) --------------
    @property
    def last_change(self) -> dict[str, Any]:
        return self.ledger.last_change

    def table_json(self) -> Body:
        return self.ledger.view.table

    def index_html(self) -> Body:
        return self.ledger.view.index

    def entry(self, slug: str) -> dict[str, Any] | None:
        return self.ledger.entry(slug)

    def cached_page(self, slug: str) -> Body | None:
        return self.ledger.cached_page(slug)

    def model_html(self, slug: str) -> Body | None:
        return self.ledger.model_html(slug)

    def compare_html(self) -> Body:
        """The per-example comparison page (site.render_compare) over the verifier's test splits."""
        view = self.ledger.view
        hit = self._compare_page
        if hit is None or hit[0] != view.number:
            entries = [{"slug": r["slug"], "name": r["name"]} for r in view.rows.values()]
            examples = {task: self.verifier.split(task).examples for task in self.board.spec.tasks}
            hit = self._compare_page = (view.number, Body(render_compare(self.board, compare_payload(entries, examples))
                                                          .encode("utf-8")))
        return hit[1]

    def prediction_js(self, slug: str) -> Body | None:
        """assets/preds/<slug>.js: an entry's parsed predictions, stored with its page parts."""
        stored = self.store.page(self.board.name, slug)
        script = stored[1].get("preds_js") if stored is not None else None
        return Body(script.encode("utf-8")) if script else None


def build_app(lb: LeaderboardApp, limits: Limits):
    """The FastAPI app over one LeaderboardApp."""
    from fsabench.leaderboard.routes import build_routes

    return build_routes(lb, limits)


def default_db(name: str) -> Path:
    env = os.environ.get("FSABENCH_LEADERBOARD_DB")
    return Path(env) if env else Path(platformdirs.user_data_dir("fsabench")) / "leaderboards" / f"{name}.sqlite3"


def limits_of(config: ServiceConfig) -> Limits:
    """The web stack's limits for this service: connections over a cap queue briefly before any 503."""
    return Limits(max_body=config.max_body, request_timeout=config.request_timeout,
                  max_connections=config.max_connections, max_connections_per_client=config.max_connections_per_client,
                  connection_queue=config.connection_queue, connection_queue_seconds=config.connection_queue_seconds,
                  unlimited_peers=tuple(config.trusted_proxies))  # a proxy carries many clients' connections


class LeaderboardServer:
    """A bound, not yet serving, server: `serve_forever()` blocks, `shutdown()` stops it from another
    thread; `app` is the LeaderboardApp, `problems` the folder import's errors, `dropped` the drops."""

    def __init__(self, lb: LeaderboardApp, host: str, port: int, problems: list[str], dropped: list[str]) -> None:
        import uvicorn

        self.app, self.problems, self.dropped = lb, problems, dropped
        self.limits = limits_of(lb.config)
        self.sock = bind(host, port, self.limits.backlog)
        self.server_address = self.sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn_config(build_app(lb, self.limits), self.limits, quiet=True))
        self._done = threading.Event()

    def serve_forever(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self._done.set()

    def shutdown(self) -> None:
        self.server.should_exit = True
        self._done.wait(30)

    def server_close(self) -> None:
        self.sock.close()


def make_server(board: Leaderboard, data_root: Path, host: str = "127.0.0.1", port: int = 0,
                db_path: Path | None = None, tokens: set[str] | None = None, config: ServiceConfig | None = None,
                import_files: list[Path] | None = None) -> LeaderboardServer:
    """Verify what needs verifying (folder bundles, entries stored under other rules), read the stored
    standings (re-ranking only when the rules or ranking code changed), render the table, then bind.
    The gold is loaded when first needed, or by `warm()` shortly after the server starts."""
    verifier = Verifier(board, data_root)
    config = config or ServiceConfig(max_body=board.spec.limits.max_submission_bytes)
    lb = LeaderboardApp(board, verifier, Store(db_path or default_db(board.name)),
                        load_tokens() if tokens is None else tokens, config)
    problems = lb.import_files(import_files) if import_files is not None else []
    dropped = lb.check_stored()
    lb.ledger.load()
    return LeaderboardServer(lb, host, port, problems, dropped)


def serve(board: Leaderboard, data_root: Path, host: str, port: int, db_path: Path | None,
          tokens_file: Path | None, import_files: list[Path] | None, trusted_proxies: tuple[str, ...] = (),
          quiet: bool = False, reads_per_minute: int = 600, posts_per_minute: int = 6) -> None:
    """Run until SIGINT/SIGTERM (graceful: in-flight requests finish), printing where to find the service."""
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tokens = load_tokens(tokens_file)
    config = ServiceConfig(max_body=board.spec.limits.max_submission_bytes, quiet=quiet,
                           trusted_proxies=tuple(trusted_proxies), requests_per_minute=reads_per_minute,
                           posts_per_minute=posts_per_minute)
    server = make_server(board, data_root, host, port, db_path, tokens, config, import_files=import_files)
    for problem in server.problems:
        sys.stderr.write(f"skipped folder submission: {problem}\n")
    bound_host, bound_port = server.server_address
    sys.stderr.write(f"leaderboard {board.name} on http://{bound_host}:{bound_port}/ "
                     f"(db {server.app.store.path}; {len(tokens)} submit token(s){'' if tokens else ': POST disabled'})\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.app.store.close()

