"""What the leaderboard service holds between requests: its stored standings and the views rendered from them.

A `Ledger` owns the board's entries as ranked: it accepts a verified entry (bootstrap, page parts and
page tail computed once, stored with the entry) and drops one, updating the standings incrementally
(standings.py) and storing every changed place in the same transaction; then it renders the table
(JSON) and index (HTML) once, as a `View` readers take whole. At start, `load()` reads the stored
standings as they are; only a different fingerprint (rules, or the ranking code's versions) makes it
bootstrap the stale entries from their stored counts and re-rank the board once. Entry pages are
composed from a head rendered for the entry's current place and its stored gzipped tail (pages.py),
per change and in the background (shelf.py), so a GET finds them ready.

Writers hold `_state` (the service has one writer at a time anyway: POSTs and folder rescans);
readers only read `view`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsabench import __version__
from fsabench.leaderboard import stats
from fsabench.leaderboard.pages import Body, render_tail
from fsabench.leaderboard.ranking import columns
from fsabench.leaderboard.shelf import PageShelf
from fsabench.leaderboard.site import (TEMPLATES, display_rows, examples_payload, inline_json, prediction_script,
                                       provenance, render_index)
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.standings import Standings, rank_partial_in_effect
from fsabench.leaderboard.store import Store, pack_entry
from fsabench.leaderboard.verify import Verified

RANKING_VERSION = 2  # of the standings and page tails stored with entries (a change re-ranks once at start)


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


class Ledger:
    def __init__(self, board: Leaderboard, store: Store, rules: str, page_cache_bytes: int = 64 * 2 ** 20,
                 compose_pages: bool = True) -> None:
        self.board, self.store, self.rules = board, store, rules
        self.derived = derived_fingerprint(rules)
        self.tail_key = tail_key()
        self._state = threading.RLock()
        self.standings = Standings(self._compare)
        self._rows: dict[str, dict[str, Any]] = {}  # slug -> stored row (no counts)
        self._info: dict[str, dict[str, Any]] = {}  # slug -> source, created
        self._boots: dict[str, dict[str, Any] | None] = {}  # slug -> stats.Boot header
        self._loaded: dict[str, stats.Boot] = {}  # Boots with replicates, read from the store when first compared
        self.view: View | None = None
        # entry pages, composed per change in the background (shelf.py); tail files beside the database
        self.shelf = PageShelf(board, store, Path(f"{store.path}.pages"), self.tail_key, _page_row, page_cache_bytes)
        self.compose_pages = compose_pages  # off: pages are composed when first asked for (tools, not the service)
        self._views = 0
        self.live = False  # standings loaded: accepted entries are placed at once
        self.last_change: dict[str, Any] = {}  # seconds spent preparing, storing, ranking, rendering; tests made

    def accept(self, verified: Verified, raw: bytes, source: str, submitter: str | None) -> None:
        """Store an accepted entry with its bootstrap and page tail; once live, place it (one transaction)."""
        tasks, metric, name, slug = self.board.spec.tasks, self.board.spec.metric, self.board.name, verified.slug
        row = dict(verified.row)
        counts = row.pop("counts", None)
        start = time.perf_counter()
        boot = stats.bootstrap(counts, tasks, metric)
        parts = page_parts(verified)
        tail = render_tail(self.board, _page_row(row), parts)
        packed = pack_entry(raw, parts, counts)
        prepared = time.perf_counter()
        ranking = 0.0
        with self._state:
            changed: set[str] = set()
            try:
                with self.store.batch():
                    self.store.put_packed(name, slug, row, packed, source, submitter, self.rules,
                                          boot.header() if boot else None, boot.replicates.tobytes() if boot else None,
                                          self.derived, (*tail, self.tail_key))
                    if self.live:
                        self._rows[slug], self._boots[slug] = row, boot.header() if boot else None
                        self._info[slug] = {"source": source, "created": _now()}
                        self._loaded.pop(slug, None)
                        if boot is not None:
                            self._loaded[slug] = boot
                        ranking = time.perf_counter()
                        changed = self._place_change(lambda: self.standings.add(slug, row))
                        ranking = time.perf_counter() - ranking
                        self._save_places(changed)
            except BaseException:
                if self.live:
                    self.load()  # the transaction rolled back: back to what the store holds
                raise
            stored = time.perf_counter()
            if self.live:
                if self.compose_pages:
                    self.shelf.accepted(slug, tail[1], tail[2], parts["preds_js"])
                self._refresh(renewed={slug})  # a re-submission may keep its row but not its page
            self.last_change = {"prepare": prepared - start, "store": stored - prepared - ranking, "rank": ranking,
                                "render": time.perf_counter() - stored, "tests": self.standings.tests,
                                "changed": len(changed)}

    def _place_change(self, change) -> set[str]:
        """Apply one incremental change, unless it flips whether partial entries are ranked (the first
        full entry arrives or the last one leaves): then every entry's standing changes, so re-rank all."""
        flag = rank_partial_in_effect(self._rows.values(), self.board.spec.rank_partial)
        if flag == self.standings.rank_partial:
            return change()
        self.standings = Standings(self._compare, rank_partial=flag).rebuild(self._rows.items())
        return set(self.standings.places)

    def _save_places(self, slugs: set[str]) -> None:
        places = self.standings.places
        self.store.set_places(self.board.name, {s: (places[s].standing, places[s].rank, places[s].tied_with,
                                                    places[s].leader) for s in slugs if s in places})

    def drop(self, slug: str, reason: str) -> None:
        """Take an entry out of the ranking (kept in the store with the reason)."""
        with self._state:
            changed: set[str] = set()
            with self.store.batch():
                self.store.drop(self.board.name, slug, reason)
                if self.live and slug in self._rows:
                    for known in (self._rows, self._boots, self._info, self._loaded):
                        known.pop(slug, None)
                    changed = self._place_change(lambda: self.standings.remove(slug))
                    self._save_places(changed)
            if self.live:
                self._refresh()
            self.shelf.forget(slug)

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
            self.standings = Standings(self._compare, rank_partial_in_effect(self._rows.values(),
                                                                             self.board.spec.rank_partial))
            if stale or self.store.meta(name, "derived") != self.derived or any(e["standing"] is None for e in entries):
                self.standings.rebuild((e["slug"], e["row"]) for e in entries)
                with self.store.batch():
                    self._save_places(set(self.standings.places))
                    self.store.set_meta(name, "derived", self.derived)
            else:
                self.standings.restore((e["slug"], e["row"], e["leader"]) for e in entries)
            self.live = True
            self._refresh()

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

    def _refresh(self, renewed: set[str] = frozenset()) -> None:
        """Render the table and index from the standings; mark the entries whose display row changed (and
        the `renewed` ones: their page changed), and have their pages composed (shelf.py)."""
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
                             slug not in renewed and old.rows.get(slug) == row else self._views)
                      for slug, row in by_slug.items()}
        self.view = View(by_slug, Body(json.dumps(table, ensure_ascii=False).encode("utf-8")),
                         Body(render_index(self.board, display).encode("utf-8")), generation, self._views)
        if self.compose_pages:
            self.shelf.changed(self.view)

    def table_json(self) -> Body:
        return self.view.table

    def index_html(self) -> Body:
        return self.view.index

    def entry(self, slug: str) -> dict[str, Any] | None:
        """GET /api/entries/<slug>: the entry's table row with its place, source and date."""
        row = self.view.rows.get(slug) if self.view is not None else None
        info = self._info.get(slug)
        return None if row is None or info is None else {**row, "slug": slug, **info}

    def cached_page(self, slug: str) -> Body | None:
        """An entry's page as prepared for its current place (None: not composed yet, or no such entry)."""
        view = self.view
        return self.shelf.body(view, slug) if view is not None else None

    def model_html(self, slug: str) -> Body | None:
        """An entry's page, composed now when the composer has not reached it yet (thread pool)."""
        view = self.view
        return self.shelf.prepare(view, slug) if view is not None else None

    def close(self) -> None:
        """Stop composing pages (before the store closes)."""
        self.shelf.close()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _without_counts(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "counts"}


def _page_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row to render a page tail with (the tail shows nothing of the entry's place)."""
    return {**row, "standing": "ranked", "rank": None, "tied_with": None, "ci": None, "href": None,
            "flags": list(row.get("flags") or [])}
