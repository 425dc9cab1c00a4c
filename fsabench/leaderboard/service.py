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
standings incrementally (standings.py) and stores every changed place in the same transaction; the
table and index are rendered then, once. A GET never verifies, ranks or renders more than an entry
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

from fsabench import __version__
from fsabench.errors import FsabenchError
from fsabench.leaderboard import stats
from fsabench.leaderboard.pages import Body, PageCache, join_gzip, render_head, render_tail
from fsabench.leaderboard.ranking import columns
from fsabench.leaderboard.site import (TEMPLATES, compare_payload, display_rows, examples_payload, inline_json,
                                       prediction_script, provenance, render_compare, render_index)
from fsabench.leaderboard.standings import Standings
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store
from fsabench.leaderboard.submission import SubmissionError, bundle_files, bundle_json_bytes, bundle_slug, read_bundle_bytes
from fsabench.leaderboard.verify import Verified, Verifier
from fsabench.webserver import Limits, bind, uvicorn_config

LOG = logging.getLogger("fsabench.leaderboard")
TOKENS_ENV = "FSABENCH_LEADERBOARD_TOKENS"
SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
ASSET_TYPES = {"site.css": "text/css; charset=utf-8", "site.js": "text/javascript; charset=utf-8",
               "compare.js": "text/javascript; charset=utf-8"}
RANKING_VERSION = 1  # of the standings and page tails stored with entries (a change re-ranks once at start)
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


def page_parts(verified: Verified) -> dict[str, Any]:
    """What an entry's page needs from its verified runs, stored beside it (rendering needs no re-verify)."""
    return {"runs": provenance(verified.results), "examples_json": inline_json(examples_payload(verified.results)),
            "preds_js": prediction_script(verified.slug, verified.results)}  # for the comparison page


def derived_fingerprint(rules: str) -> str:
    """What stored bootstraps and standings depend on: the rules and the ranking code's versions."""
    return hashlib.sha256(f"{rules}|stats {stats.VERSION}|ranking {RANKING_VERSION}".encode()).hexdigest()


def tail_key() -> str:
    """What a stored page tail depends on besides the entry: fsabench's version and the page templates."""
    digest = hashlib.sha256(__version__.encode())
    for name in ("_base.html.j2", "model.html.j2"):
        digest.update((TEMPLATES / name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class View:
    """One consistent picture of the board for readers; replaced whole after each change."""

    rows: dict[str, dict[str, Any]]  # slug -> display row (site.display_rows), in table order
    table: Body  # GET /api/leaderboard
    index: Body  # GET /
    generation: dict[str, int]  # slug -> the change that last altered its display row (entry page cache tag)
    number: int  # of this view (the comparison page's cache tag)


class LeaderboardApp:
    """What the HTTP routes call: verification, the store, the standings and rendering, no HTTP details.

    Writers (POST, folder rescans) hold `_state`: an accepted or dropped entry updates the standings
    incrementally (standings.py), stores the entry and every changed place in one transaction, and
    renders the table and index once (`_refresh`). Readers only read `view`."""

    def __init__(self, board: Leaderboard, verifier: Verifier, store: Store, tokens: set[str],
                 config: ServiceConfig) -> None:
        self.board, self.verifier, self.store, self.tokens, self.config = board, verifier, store, tokens, config
        self.rules = rules_digest(board)
        self.derived = derived_fingerprint(self.rules)
        self.tail_key = tail_key()
        self.posts = RateLimiter(config.posts_per_minute)
        self.requests = RateLimiter(config.requests_per_minute)
        self._submit_lock = threading.Lock()
        self._state = threading.RLock()
        self.standings = Standings(self._compare)
        self._rows: dict[str, dict[str, Any]] = {}  # slug -> stored row (no counts)
        self._info: dict[str, dict[str, Any]] = {}  # slug -> source, created
        self._boots: dict[str, dict[str, Any] | None] = {}  # slug -> stats.Boot header
        self._loaded: dict[str, stats.Boot] = {}  # Boots with replicates, read from the store when first compared
        self.view: View | None = None
        self.pages = PageCache(config.page_cache_bytes)
        self._compare_page: tuple[int, Body] | None = None
        self._views = 0
        self.live = False  # standings loaded: accepted entries are placed at once
        self.last_change: dict[str, Any] = {}  # seconds spent ranking and rendering, paired tests made
        self.folder_files: set[str] | None = None  # slugs imported from the folder (None: no folder import)

    # --- entries in --------------------------------------------------------------------------------
    def _store(self, verified: Verified, raw: bytes, source: str, submitter: str | None) -> None:
        """Store an accepted entry with its bootstrap and page tail; once live, place it (one transaction)."""
        tasks, metric, name, slug = self.board.spec.tasks, self.board.spec.metric, self.board.name, verified.slug
        row = dict(verified.row)
        counts = row.pop("counts", None)
        start = time.perf_counter()
        boot = stats.bootstrap(counts, tasks, metric)
        parts = page_parts(verified)
        tail = render_tail(self.board, _page_row(row), parts)
        prepared = time.perf_counter()
        ranking = 0.0
        with self._state:
            changed: set[str] = set()
            try:
                with self.store.batch():
                    self.store.put(name, slug, row, raw, source, submitter, self.rules, parts, counts)
                    self.store.set_boot(name, slug, boot.header() if boot else None,
                                        boot.replicates.tobytes() if boot else None, self.derived)
                    self.store.set_tail(name, slug, *tail, self.tail_key)
                    if self.live:
                        self._rows[slug], self._boots[slug] = row, boot.header() if boot else None
                        self._info[slug] = {"source": source, "created": _now()}
                        self._loaded.pop(slug, None)
                        if boot is not None:
                            self._loaded[slug] = boot
                        ranking = time.perf_counter()
                        changed = self.standings.add(slug, row)
                        ranking = time.perf_counter() - ranking
                        self._save_places(changed)
            except BaseException:
                if self.live:
                    self.load()  # the transaction rolled back: back to what the store holds
                raise
            stored = time.perf_counter()
            if self.live:
                self._refresh(changed | {slug})
            self.last_change = {"prepare": prepared - start, "store": stored - prepared - ranking, "rank": ranking,
                                "render": time.perf_counter() - stored, "tests": self.standings.tests,
                                "changed": len(changed)}

    def _save_places(self, slugs: set[str]) -> None:
        places = self.standings.places
        self.store.set_places(self.board.name, {s: (places[s].standing, places[s].rank, places[s].tied_with,
                                                    places[s].leader) for s in slugs if s in places})

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
            row = dict(verified.row)
            counts = row.pop("counts", None)
            self.store.reverified(self.board.name, entry["slug"], row, self.rules, page_parts(verified), counts)
        return reasons

    def load(self) -> None:
        """Read the stored standings. Entries stored under another fingerprint (rules or ranking code) get
        their bootstrap again from their stored counts, and the whole board is re-ranked once."""
        tasks, metric, name = self.board.spec.tasks, self.board.spec.metric, self.board.name
        with self._state:
            entries = self.store.standing_rows(name)
            stale = [e for e in entries if e["derived"] != self.derived]
            for entry in stale:
                counts = self.store.counts(name, entry["slug"])
                moved = entry["row"].pop("counts", None) is not None  # files from before counts had a column
                boot = stats.bootstrap(counts, tasks, metric)
                entry["boot"] = boot.header() if boot else None
                self.store.set_boot(name, entry["slug"], entry["boot"], boot.replicates.tobytes() if boot else None,
                                    self.derived, row=entry["row"] if moved else None, counts=counts if moved else None)
            self._rows = {e["slug"]: e["row"] for e in entries}
            self._boots = {e["slug"]: e["boot"] for e in entries}
            self._info = {e["slug"]: {"source": e["source"], "created": e["created"]} for e in entries}
            self._loaded = {}
            if stale or self.store.meta(name, "derived") != self.derived or any(e["standing"] is None for e in entries):
                self.standings.rebuild((e["slug"], e["row"]) for e in entries)
                with self.store.batch():
                    self._save_places(set(self.standings.places))
                    self.store.set_meta(name, "derived", self.derived)
            else:
                self.standings.restore((e["slug"], e["row"], e["leader"]) for e in entries)
            self.live = True
            self._refresh(set(self._rows))

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
        with self._state:
            changed: set[str] = set()
            with self.store.batch():
                self.store.drop(self.board.name, slug, reason)
                if self.live and slug in self._rows:
                    for known in (self._rows, self._boots, self._info, self._loaded):
                        known.pop(slug, None)
                    changed = self.standings.remove(slug)
                    self._save_places(changed)
            if self.live:
                self._refresh(changed | {slug})
        line = f"dropped entry {slug!r} from the ranking: {reason}"
        LOG.warning(line)
        if not self.config.quiet:
            sys.stderr.write(line + "\n")
        return line

    def _compare(self, a: str, b: str) -> float | None:
        name, tasks, metric = self.board.name, self.board.spec.tasks, self.board.spec.metric
        return stats.compare(self._boot(a), self._boot(b), lambda: self.store.counts(name, a),
                             lambda: self.store.counts(name, b), tasks, metric)

    def _boot(self, slug: str) -> stats.Boot | None:
        if slug not in self._loaded:
            header = self._boots.get(slug)
            if header is None:
                return None
            self._loaded[slug] = stats.Boot.from_stored(header, self.store.replicates(self.board.name, slug))
        return self._loaded[slug]

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
            self._store(verified, raw, "post", submitter[:16])
            self.last_change["verify"] = verify
        row = (self.view.rows.get(verified.slug) if self.view else None) or _without_counts(verified.row)
        return (200 if owner is not False else 201), {"accepted": True, "slug": verified.slug, "row": row}

    # --- pages out (rendered once per change; no verification or ranking here) ---------------------------
    def _refresh(self, changed: set[str]) -> None:
        """Render the table and index from the standings; mark the entries whose display row changed."""
        tasks = self.board.spec.tasks
        rows = []
        for slug in self.standings.order():
            place, boot, row = self.standings.places[slug], self._boots.get(slug), self._rows[slug]
            rows.append({**row, "slug": slug, "flags": list(row.get("flags") or []), "standing": place.standing,
                         "rank": place.rank, "tied_with": place.tied_with,
                         "ci": boot["ci"] if boot else stats.no_intervals(tasks)})
        display = display_rows(self.board, rows)
        table = {"leaderboard": self.board.name, "title": self.board.spec.title, "metric": self.board.spec.metric,
                 "columns": columns(self.board), "entries": display}
        self._views += 1
        old = self.view
        by_slug = {r["slug"]: r for r in display}
        generation = {slug: (old.generation[slug] if old is not None and slug in old.generation and
                             old.rows.get(slug) == row else self._views) for slug, row in by_slug.items()}
        self.view = View(by_slug, Body(json.dumps(table, ensure_ascii=False).encode("utf-8")),
                         Body(render_index(self.board, display).encode("utf-8")), generation, self._views)

    def warm(self) -> None:
        """Load what the first POST needs (the gold of every task, the shared resamples), off the start path."""
        for task in self.board.spec.tasks:
            size = len(self.verifier.split(task).examples)
            stats.weights(task, self.board.spec.metric, size)

    def cached_table(self) -> Body | None:
        return self.view.table if self.view is not None else None

    def table_json(self) -> Body:
        return self.view.table

    def index_html(self) -> Body:
        return self.view.index

    def entry(self, slug: str) -> dict[str, Any] | None:
        """GET /api/entries/<slug>: the entry's table row with its place, source and date."""
        row = self.view.rows.get(slug) if self.view is not None else None
        info = self._info.get(slug)
        return None if row is None or info is None else {**row, "slug": slug, **info}

    def compare_html(self) -> Body:
        """The per-example comparison page (site.render_compare) over the verifier's test splits."""
        view = self.view
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

    def cached_page(self, slug: str) -> Body | None:
        view = self.view
        tag = view.generation.get(slug) if view is not None else None
        return self.pages.get(slug, tag) if tag is not None else None

    def model_html(self, slug: str) -> Body | None:
        """An entry's page: its head rendered for its current place, joined to its stored gzipped tail."""
        view = self.view
        row = view.rows.get(slug) if view is not None else None
        if row is None:
            return None
        tail = self.store.tail(self.board.name, slug)
        if tail is None or tail[3] != self.tail_key:  # stored by an older fsabench or template: render it once
            stored = self.store.page(self.board.name, slug)
            if stored is None:
                return None
            tail = (*render_tail(self.board, _page_row(row), stored[1]), self.tail_key)
            self.store.set_tail(self.board.name, slug, *tail)
        body = Body(gz=join_gzip(render_head(self.board, row), tail[0], tail[1], tail[2]))
        self.pages.put(slug, view.generation[slug], body)
        return body


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _without_counts(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "counts"}


def _page_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row to render a page tail with (the tail shows nothing of the entry's place)."""
    return {**row, "standing": "ranked", "rank": None, "tied_with": None, "ci": None, "href": None,
            "flags": list(row.get("flags") or [])}


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
    lb.load()
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

