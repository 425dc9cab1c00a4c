"""The leaderboard service's state: tokens, rate limits, the verified entries and their cached pages
(no HTTP here: `routes.py` serves this over FastAPI, `service.py` binds and runs it)."""

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
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from fsabench.errors import FsabenchError
from fsabench.leaderboard.ranking import columns
from fsabench.leaderboard.site import (TEMPLATES, compare_payload, examples_payload, inline_json, prediction_script,
                                       provenance, render_compare, render_index, table_rows)
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.submission import SubmissionError, bundle_files, bundle_json_bytes, bundle_slug, read_bundle_bytes
from fsabench.leaderboard.verify import Verified, Verifier
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


def page_parts(verified: Verified) -> dict[str, Any]:
    """What an entry's page needs from its verified runs, stored beside it (rendering needs no re-verify)."""
    return {"runs": provenance(verified.results), "examples_json": inline_json(examples_payload(verified.results)),
            "preds_js": prediction_script(verified.slug, verified.results)}  # for the comparison page


class LeaderboardApp:
    """What the HTTP routes call: verification, the store and rendering, no HTTP details."""

    def __init__(self, board: Leaderboard, verifier: Verifier, store: Store, tokens: set[str],
                 config: ServiceConfig) -> None:
        self.board, self.verifier, self.store, self.tokens, self.config = board, verifier, store, tokens, config
        self.rules = rules_digest(board)
        self.posts = RateLimiter(config.posts_per_minute)
        self.requests = RateLimiter(config.requests_per_minute)
        self._submit_lock = threading.Lock()
        self._cache: dict[str, tuple[int, Body]] = {}  # 'table' | 'index' -> (store version, body)
        self._pages: OrderedDict[str, tuple[int, Body]] = OrderedDict()  # slug -> (store version, page): an LRU
        self.folder_files: set[str] | None = None  # slugs imported from the folder (None: no folder import)

    # --- entries in --------------------------------------------------------------------------------
    def _store(self, verified: Verified, raw: bytes, source: str, submitter: str | None) -> None:
        self.store.put(self.board.name, verified.slug, verified.row, raw, source, submitter, self.rules,
                       page_parts(verified))

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
            self._store(verified, raw, "folder", None)
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
            self.store.reverified(self.board.name, entry["slug"], verified.row, self.rules, page_parts(verified))
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
        self.store.drop(self.board.name, slug, reason)
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
        try:
            raw = bundle_json_bytes(raw, "submission", self.board.spec.limits)  # a gzipped body is stored as its JSON
            verified = self.verifier.verify_bytes(raw, "submission")
        except SubmissionError as exc:
            return 422, {"accepted": False, "error": str(exc)}
        with self._submit_lock:  # check-then-write as one step: two posts of one slug cannot both win
            owner = self.store.owner(self.board.name, verified.slug)
            if owner is not False and owner != submitter[:16]:
                return 409, {"accepted": False, "error": f"entry {verified.slug!r} already exists and was "
                             "submitted by someone else", "hint": "choose another entry name"}
            self._store(verified, raw, "post", submitter[:16])
        return (200 if owner is not False else 201), {"accepted": True, "slug": verified.slug, "row": verified.row}

    # --- pages out (cached per store version; no verification here) -------------------------------------
    def _cached(self, key: str, build) -> "Body":
        version = self.store.version
        hit = self._cache.get(key)
        if hit is None or hit[0] != version:
            hit = (version, Body(build()))
            self._cache[key] = hit
        return hit[1]

    def cached_table(self) -> "Body | None":
        hit = self._cache.get("table")
        return hit[1] if hit is not None and hit[0] == self.store.version else None

    def _ranked(self) -> list[dict[str, Any]]:
        return table_rows(self.board, self.store.rows(self.board.name))

    def table_json(self) -> "Body":
        def build() -> bytes:
            table = {"leaderboard": self.board.name, "title": self.board.spec.title, "metric": self.board.spec.metric,
                     "columns": columns(self.board), "entries": self._ranked()}
            return json.dumps(table, ensure_ascii=False).encode("utf-8")
        return self._cached("table", build)

    def index_html(self) -> "Body":
        return self._cached("index", lambda: render_index(self.board, self._ranked()).encode("utf-8"))

    def compare_html(self) -> "Body":
        """The per-example comparison page (site.render_compare) over the verifier's test splits."""
        def build() -> bytes:
            entries = [{"slug": r["slug"], "name": r["name"]} for r in self._ranked()]
            examples = {task: self.verifier.split(task).examples for task in self.board.spec.tasks}
            return render_compare(self.board, compare_payload(entries, examples)).encode("utf-8")
        return self._cached("compare", build)

    def prediction_js(self, slug: str) -> "Body | None":
        """assets/preds/<slug>.js: an entry's parsed predictions, stored with its page parts."""
        stored = self.store.page(self.board.name, slug)
        script = stored[1].get("preds_js") if stored is not None else None
        return Body(script.encode("utf-8")) if script else None

    def cached_page(self, slug: str) -> "Body | None":
        hit = self._pages.get(slug)
        if hit is None or hit[0] != self.store.version:
            return None
        self._pages.move_to_end(slug)
        return hit[1]

    def model_html(self, slug: str) -> "Body | None":
        """An entry's page from its stored parts and current rank (LRU of 32 rendered pages)."""
        version = self.store.version
        stored = self.store.page(self.board.name, slug)
        row = next((r for r in self._ranked() if r["slug"] == slug), None)
        if stored is None or row is None:
            return None
        from fsabench.leaderboard.site import _common, environment

        _, parts = stored
        html = environment().get_template("model.html.j2").render(
            **_common(self.board, None), row=row, runs=parts["runs"], examples_json=parts["examples_json"])
        body = Body(html.encode("utf-8"))
        self._pages[slug] = (version, body)
        self._pages.move_to_end(slug)
        while len(self._pages) > 32:
            self._pages.popitem(last=False)
        return body


class Body:
    """A cached answer and its gzip form (browsers ask for gzip; an entry page shrinks ~10x)."""

    def __init__(self, raw: bytes) -> None:
        import gzip

        self.raw = raw
        self.gz = gzip.compress(raw, 6, mtime=0)
