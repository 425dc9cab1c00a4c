"""Entry pages composed once per change, off the request path, so a GET only looks up prepared bytes.

Why: at 1,000 entries the page a reader asks for was composed on the GET (the head rendered for the
entry's place, ~1.5 ms; its ~230 kB gzipped tail read from SQLite, ~1-2 ms; the two joined), in the
thread pool, with the GIL: with a random page per request most missed the byte-bounded LRU, and that
work made the load test's p99 (140 ms on pages, 75 ms on the JSON that queued behind them).

Now each view change (ledger.py `_refresh`) hands the new view to a composer thread that, for every
entry whose display row changed (its generation), renders and deflates the head and works out the
gzip trailer (CRC-32 combined with the tail's, pages.py); the tail itself lives in a file beside the
database (`<db>.pages/<slug>.<crc>-<len>.gz`, written once per tail from the stored one, so memory does
not grow with the entries: the OS page cache holds what is read). A GET joins the prepared prefix,
one read of the tail file and the trailer (~0.1 ms, on the event loop), and keeps the result in the
byte-bounded LRU. Memory: the prepared heads, ~1.5 kB per entry, plus the LRU's budget.

Work per change: one head per entry whose place changed (at most every entry: a new leader moves
all ranks), in the background; the POST that caused it does not wait. Until the composer reaches an
entry, its page is composed on demand (the same step, done once: the composer then skips it), so a
page never shows an older place than the table; the composer's lag is `pending()` (GET /healthz).

Also here: the comparison page's per-entry prediction scripts (`preds`: a file written when the entry
is accepted, or made once from the stored parts when first asked for) and, through `after_pass`, the
comparison page itself (state.py renders it again after a pass when the list of entries changed).
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsabench.leaderboard.pages import (GZIP_HEADER, LEVEL, Body, PageCache, crc32_combine, deflate_head, render_head,
                                        render_tail)
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.store import Store

LOG = logging.getLogger("fsabench.leaderboard")


@dataclass(frozen=True)
class Prepared:
    """An entry's page as bytes around its tail file: prefix (gzip header + deflated head) + tail + trailer."""

    generation: int  # of the display row the head was rendered for
    prefix: bytes
    trailer: bytes  # CRC-32 and length of the whole page
    tail: Path


class PageShelf:
    """Prepared entry pages of one board; `body()` is the GET path (lookups and one file read only)."""

    def __init__(self, board: Leaderboard, store: Store, folder: Path, tail_key: str, page_row,
                 cache_bytes: int = 64 * 2 ** 20) -> None:
        self.board, self.store, self.folder, self.tail_key = board, store, folder, tail_key
        self.page_row = page_row  # ledger._page_row: the row a tail is rendered with
        self.cache = PageCache(cache_bytes)
        self._prepared: dict[str, Prepared] = {}
        self._preds: dict[str, Path] = {}  # slug -> its predictions script (gzip), for the comparison page
        self._view: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _view / _thread
        self._compose_lock = threading.Lock()  # one composition at a time (composer thread or an on-demand GET)
        self._closed = False
        self._finished: Any = None  # the last view the composer went all through
        self.after_pass: Callable[[Any], None] | None = None  # more to prepare per view (the comparison page)

    # --- the GET path --------------------------------------------------------------------------------
    def body(self, view: Any, slug: str) -> Body | None:
        """The page of `slug` as `view` places it, when it has been prepared (else None)."""
        generation = view.generation.get(slug)
        if generation is None:
            return None
        hit = self.cache.get(slug, generation)
        if hit is not None:
            return hit
        prepared = self._prepared.get(slug)
        if prepared is None or prepared.generation != generation:
            return None
        try:
            with open(prepared.tail, "rb") as f:
                tail = f.read()
        except OSError:  # removed under us (the entry was re-submitted): compose again
            return None
        body = Body(gz=b"".join((prepared.prefix, tail, prepared.trailer)))
        self.cache.put(slug, generation, body)
        return body

    def preds(self, view: Any, slug: str) -> Body | None:
        """assets/preds/<slug>.js (gzip), when prepared (else None)."""
        path = self._preds.get(slug)
        if path is None or slug not in view.rows:
            return None
        try:
            with open(path, "rb") as f:
                return Body(gz=f.read())
        except OSError:
            return None

    def prepare_preds(self, view: Any, slug: str) -> Body | None:
        """Make an entry's predictions script file now (a GET before the composer got to it; thread pool)."""
        if slug not in view.rows:
            return None
        if slug not in self._preds:
            self._compose(view, slug, None)  # its tail first: the script's file is named after it
            self._make_preds(slug, self.store.tail_meta(self.board.name, slug).get(slug))
        return self.preds(view, slug)

    def prepare(self, view: Any, slug: str) -> Body | None:
        """Compose one entry's page now (a GET that came before the composer; thread pool), then serve it."""
        if slug not in view.rows:
            return None
        self._compose(view, slug, None)
        return self.body(view, slug)

    def pending(self) -> int:
        """Entries of the current view whose page is not composed for their current place yet."""
        view = self._view
        if view is None or view is self._finished:
            return 0
        count = sum(1 for slug, gen in view.generation.items()
                    if (p := self._prepared.get(slug)) is None or p.generation != gen)
        thread = self._thread
        return count or int(thread is not None and thread.is_alive())  # the comparison page is still being made

    # --- changes -------------------------------------------------------------------------------------
    def changed(self, view: Any) -> None:
        """A new view: compose what it changed in the background (one composer thread at most)."""
        with self._lock:
            self._view = view
            for slug in [s for s in self._prepared if s not in view.rows]:
                self._prepared.pop(slug, None)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="fsabench-pages", daemon=True)
                self._thread.start()

    def forget(self, slug: str) -> None:
        """A dropped or re-submitted entry: its prepared page and tail files go."""
        self._prepared.pop(slug, None)
        self._preds.pop(slug, None)
        for path in self._tail_files(slug):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._closed = True
        thread = self._thread
        if thread is not None:
            thread.join(10)

    def _run(self) -> None:
        while True:
            with self._lock:
                view = self._view
            try:
                if self._finished is None:
                    self._sweep(view)
                metas = self.store.tail_meta(self.board.name)
                for slug in list(view.rows):
                    if self._closed or self._view is not view:
                        break  # a newer view: start over with it (what is done stays done)
                    self._compose(view, slug, metas.get(slug))
                if self.after_pass is not None and not self._closed and self._view is view:
                    self.after_pass(view)
                if self._view is view:
                    self._finished = view
            except Exception as exc:  # noqa: BLE001 (a GET composes what the composer could not)
                if not self._closed:
                    LOG.warning("composing entry pages failed: %s", exc)
            with self._lock:
                if self._closed or self._view is view:
                    self._thread = None
                    return

    def _sweep(self, view: Any) -> None:
        """At start: files of entries no longer ranked (dropped while the service was down) go."""
        try:
            found = list(self.folder.iterdir())
        except OSError:
            return
        for path in found:
            if not path.name.startswith(".") and path.name.split(".", 1)[0] not in view.rows:  # not a temp file
                path.unlink(missing_ok=True)

    def _compose(self, view: Any, slug: str, meta: tuple[int, int, str] | None) -> None:
        row, generation = view.rows.get(slug), view.generation.get(slug)
        if row is None:
            return
        with self._compose_lock:
            done = self._prepared.get(slug)
            if done is not None and done.generation == generation:
                return
            crc, length, path = self._tail(slug, row, meta)
            head, head_crc, head_len = deflate_head(render_head(self.board, row))
            trailer = struct.pack("<II", crc32_combine(head_crc, crc, length), (head_len + length) & 0xFFFFFFFF)
            self._prepared[slug] = Prepared(generation, GZIP_HEADER + head, trailer, path)

    def accepted(self, slug: str, crc: int, length: int, script: str) -> None:
        """A newly accepted entry: its predictions script becomes a file at once (the parts are at hand)."""
        self._make_preds(slug, (crc, length, self.tail_key), script)

    def _make_preds(self, slug: str, meta: tuple[int, int, str] | None, script: str | None = None) -> None:
        """The predictions script (from the stored page parts when not given: a 2 MB read, so it is made when
        first asked for, once per bundle, then kept as a file; the comparison page asks for 2-3 entries)."""
        if meta is None:
            return
        path = self.folder / f"{slug}.{meta[0]:08x}-{meta[1]:x}.preds.js.gz"
        if not path.exists():
            if script is None:
                stored = self.store.page(self.board.name, slug)
                script = stored[1].get("preds_js") if stored is not None else None
            if not script:
                return
            self._write(path, gzip.compress(script.encode("utf-8"), LEVEL, mtime=0))
        self._preds[slug] = path

    def _tail(self, slug: str, row: dict[str, Any], meta: tuple[int, int, str] | None) -> tuple[int, int, Path]:
        """(crc32, length, file) of the entry's tail; the file written from the store when missing, the
        tail rendered again when it was stored by another fsabench version or template."""
        if meta is None:
            meta = self.store.tail_meta(self.board.name, slug).get(slug)
        if meta is None or meta[2] != self.tail_key:
            stored = self.store.page(self.board.name, slug)
            if stored is None:
                raise LookupError(f"entry {slug!r} has no stored page parts")
            deflated, crc, length = render_tail(self.board, self.page_row(row), stored[1])
            self.store.set_tail(self.board.name, slug, deflated, crc, length, self.tail_key)
            return crc, length, self._write_tail(slug, crc, length, deflated)
        crc, length, _ = meta
        path = self._tail_path(slug, crc, length)
        if not path.exists():
            stored = self.store.tail(self.board.name, slug)
            if stored is None:
                raise LookupError(f"entry {slug!r} has no stored page tail")
            crc, length = stored[1], stored[2]
            path = self._write_tail(slug, crc, length, stored[0])
        return crc, length, path

    def _tail_path(self, slug: str, crc: int, length: int) -> Path:
        return self.folder / f"{slug}.{crc:08x}-{length:x}.gz"  # '.' is not in slugs: the slug is the stem

    def _tail_files(self, slug: str) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if p.name.split(".", 1)[0] == slug]
        except OSError:
            return []

    def _write_tail(self, slug: str, crc: int, length: int, deflated: bytes) -> Path:
        """Written atomically; the slug's files of older tails (and their scripts) are removed."""
        path = self._write(self._tail_path(slug, crc, length), deflated)
        stem = path.name[:-len(".gz")] + "."
        for old in self._tail_files(slug):
            if old != path and not old.name.startswith(stem):
                old.unlink(missing_ok=True)
        return path

    def _write(self, path: Path, data: bytes) -> Path:
        """Atomically: a temp file, then a rename."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)
        return path
