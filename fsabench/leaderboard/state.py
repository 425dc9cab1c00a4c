"""The leaderboard service's state: tokens, rate limits, verification and the ledger of ranked entries
and their rendered pages (ledger.py) (no HTTP here: `routes.py` serves this over FastAPI, `service.py`
binds and runs it)."""

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
from fsabench.leaderboard.site import TEMPLATES, compare_payload, render_compare
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.submission import SubmissionError, bundle_files, bundle_json_bytes, bundle_slug, read_bundle_bytes
from fsabench.leaderboard.verify import Verifier
from fsabench.web.headers import security_headers

LOG = logging.getLogger("fsabench.leaderboard")
TOKENS_ENV = "FSABENCH_LEADERBOARD_TOKENS"
SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
ASSET_TYPES = {"site.css": "text/css; charset=utf-8", "site.js": "text/javascript; charset=utf-8",
               "compare.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = security_headers(CSP)  # the one policy of fsabench.web.headers, with this site's CSP


@dataclass(frozen=True)
class ServiceConfig:
    max_body: int  # bytes; the leaderboard's max_submission_bytes by default
    posts_per_minute: int = 6  # per token
    requests_per_minute: int = 600  # per client address (reads, and posts without a valid token)
    quiet: bool = False
    trusted_proxies: tuple[str, ...] = ()
    request_timeout: float = 25.0  # seconds to send a whole request (slowloris clients are dropped)
    rescan_seconds: float = 10.0  # how often the submissions folder is checked for removed files (0 = never)
    page_cache_bytes: int = 64 * 2 ** 20  # composed entry pages kept (gzip; ~0.24 MB each for the fsa tasks)
    compose_pages: bool = True  # compose entry pages per change in the background (shelf.py); off for tools


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
        self.ledger = Ledger(board, store, self.rules, config.page_cache_bytes, config.compose_pages)
        self.posts = RateLimiter(config.posts_per_minute)
        self.requests = RateLimiter(config.requests_per_minute)
        self._submit_lock = threading.Lock()
        self._compare_page: tuple[int, list, Body] | None = None  # (view number, entries listed, page)
        if config.compose_pages:
            self.ledger.shelf.after_pass = lambda view: self._compare_page is not None and self.compare_html()
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
        """Load what the first POST needs (the gold of every task, the shared resamples) and render the
        comparison page, off the start path."""
        for task in self.board.spec.tasks:
            size = len(self.verifier.split(task).examples)
            stats.weights(task, self.board.spec.metric, size)
        if self.config.compose_pages and self.ledger.view is not None:
            self.compare_html()  # from now on the page composer renders it again after each change

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
        """The per-example comparison page (site.render_compare) over the verifier's test splits: rendered
        by the page composer after each change that alters the entries' list (or now, when asked first)."""
        view = self.ledger.view
        hit = self._compare_page
        if hit is None or hit[0] != view.number:
            entries = [{"slug": r["slug"], "name": r["name"]} for r in view.rows.values()]
            if hit is not None and hit[1] == entries:  # places moved, the list did not: the same page
                hit = self._compare_page = (view.number, entries, hit[2])
            else:
                examples = {task: self.verifier.split(task).examples for task in self.board.spec.tasks}
                page = Body(render_compare(self.board, compare_payload(entries, examples)).encode("utf-8"))
                hit = self._compare_page = (view.number, entries, page)
        return hit[2]

    def cached_compare_html(self) -> Body | None:
        hit, view = self._compare_page, self.ledger.view
        return hit[2] if hit is not None and view is not None and hit[0] == view.number else None

    def prediction_js(self, slug: str) -> Body | None:
        """assets/preds/<slug>.js: an entry's parsed predictions (stored with its page parts), made into a
        file once per bundle by the page composer, or now when it has not got to it yet (shelf.py)."""
        view = self.ledger.view
        return self.ledger.shelf.prepare_preds(view, slug) if view is not None else None

    def cached_prediction_js(self, slug: str) -> Body | None:
        view = self.ledger.view
        return self.ledger.shelf.preds(view, slug) if view is not None else None
