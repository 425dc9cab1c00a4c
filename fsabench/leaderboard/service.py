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
are rendered then, once, and the changed entry pages are composed in the background (ledger.py holds
that state, standings.py the ranking walk, shelf.py the pages). A GET never verifies or ranks; it looks
up prepared bytes (only a page asked for before the composer reached it is composed on the GET). Page
tails and prediction scripts live as files in `<db>.pages/` (derived from the database: safe to delete). At start the stored standings are
read as they are, unless the rules or the ranking code changed (a fingerprint in the store's meta
table): then the board is re-ranked once. Entries whose folder file disappears (checked at start and
every `rescan_seconds`) or that fail verification under new rules drop out of the ranking with a
logged reason; their pages answer 404. Connections over the per-client cap wait briefly for a slot
(`fsabench.web.limits`, the leaderboard's defaults) before any 503.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import platformdirs

from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.state import (ASSET_TYPES, CSP, LOG, SECURITY_HEADERS, SLUG, TEMPLATES, TOKENS_ENV,  # noqa: F401
                                        Body, LeaderboardApp, RateLimiter, ServiceConfig, derived_fingerprint,
                                        load_tokens, page_parts, rules_digest, tail_key, token_digest)
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.verify import Verifier
from fsabench.web import Limits, bind, settle_heap, uvicorn_config


def build_app(lb: LeaderboardApp, limits: Limits):
    """The FastAPI app over one LeaderboardApp."""
    from fsabench.leaderboard.routes import build_routes

    return build_routes(lb, limits)


def default_db(name: str) -> Path:
    env = os.environ.get("FSABENCH_LEADERBOARD_DB")
    return Path(env) if env else Path(platformdirs.user_data_dir("fsabench")) / "leaderboards" / f"{name}.sqlite3"


def limits_of(config: ServiceConfig) -> Limits:
    return Limits.for_app("leaderboard", max_body=config.max_body, request_timeout=config.request_timeout,
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
        self.app.ledger.close()  # the page composer stops before the store closes

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
    settle_heap()
    for problem in server.problems:
        sys.stderr.write(f"skipped folder submission: {problem}\n")
    bound_host, bound_port = server.server_address
    sys.stderr.write(f"leaderboard {board.name} on http://{bound_host}:{bound_port}/ "
                     f"(db {server.app.store.path}; {len(tokens)} submit token(s){'' if tokens else ': POST disabled'})\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.app.ledger.close()
        server.app.store.close()

