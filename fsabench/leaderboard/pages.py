"""What the leaderboard service sends: bodies rendered once per change, each with its gzip form.

The table (JSON) and index (HTML) are rendered when the standings change, never on a GET. An entry's
page is two parts: a small head that shows its place (rank, ties, interval, flags: it changes when
other entries come and go) and a large tail that does not (the example browser's inline data and the
provenance, ~2 MB for the fsa tasks). The tail is rendered and deflated once, when the entry is
accepted, and stored beside it (`tail`, `tail_crc`, `tail_len`). Serving a page deflates only the
head (a few kB) with a sync flush and appends the stored deflate stream: a valid gzip member, whose
CRC-32 is combined from the two parts' CRCs (`crc32_combine`, zlib's method), so the 2 MB tail is
never re-rendered or re-compressed. shelf.py prepares every entry's head and trailer per change, in
the background, with the tail in a file; composed pages sit in a byte-bounded LRU (`PageCache`), so a
page missing from it costs one read of its tail file and a concatenation.
"""

from __future__ import annotations

import gzip
import struct
import threading
import zlib
from collections import OrderedDict
from typing import Any

from fsabench.leaderboard.spec import Leaderboard

TAIL_MARK = "<h2>Examples</h2>"  # model.html.j2: nothing from here on depends on the entry's place
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, unknown OS
LEVEL = 6


class Body:
    """A rendered answer: its gzip form always, the plain bytes kept or re-made from the gzip."""

    def __init__(self, raw: bytes | None = None, gz: bytes | None = None) -> None:
        assert raw is not None or gz is not None
        self._raw = raw
        self.gz = gz if gz is not None else gzip.compress(raw, LEVEL, mtime=0)

    @property
    def raw(self) -> bytes:
        return self._raw if self._raw is not None else gzip.decompress(self.gz)

    @property
    def size(self) -> int:
        return len(self.gz) + (len(self._raw) if self._raw is not None else 0)


# --- entry pages: a head per place, a tail per entry ------------------------------------------------
def _model_html(board: Leaderboard, row: dict[str, Any], runs: list, examples_json: str, built) -> str:
    from fsabench.leaderboard.site import _common, environment

    return environment().get_template("model.html.j2").render(
        **_common(board, built), row=row, runs=runs, examples_json=examples_json)


def render_head(board: Leaderboard, row: dict[str, Any]) -> bytes:
    html = _model_html(board, row, [], "", None)
    return html[:html.index(TAIL_MARK)].encode("utf-8")


def render_tail(board: Leaderboard, row: dict[str, Any], parts: dict[str, Any], built=None) -> tuple[bytes, int, int]:
    """(raw deflate stream, crc32, length) of the page from the Examples heading to the end."""
    html = _model_html(board, row, parts["runs"], parts["examples_json"], built)
    tail = html[html.index(TAIL_MARK):].encode("utf-8")
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(tail) + compressor.flush(), zlib.crc32(tail), len(tail)


def deflate_head(head: bytes) -> tuple[bytes, int, int]:
    """(deflate stream ending in a sync flush: byte-aligned, not final; crc32; length) of a page's head."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(head) + compressor.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(head), len(head)


def join_parts(head: tuple[bytes, int, int], tail: tuple[bytes, int, int]) -> bytes:
    """One gzip member of head + tail from the head's sync-flushed and the tail's finished deflate streams."""
    crc = crc32_combine(head[1], tail[1], tail[2])
    return GZIP_HEADER + head[0] + tail[0] + struct.pack("<II", crc, (head[2] + tail[2]) & 0xFFFFFFFF)


def join_gzip(head: bytes, tail_deflated: bytes, tail_crc: int, tail_len: int) -> bytes:
    """One gzip member of head + tail from the head's bytes and the tail's finished deflate stream."""
    return join_parts(deflate_head(head), (tail_deflated, tail_crc, tail_len))


POLY = 0xEDB88320  # CRC-32, reflected


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (reflected bit order), as zlib's crc32.c."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                break
        m >>= 1
        b = (b >> 1) ^ POLY if b & 1 else b >> 1
    return p


_X2N = [1 << 30]  # x^(2^k) modulo the polynomial, k = 0..31
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def _x2nmodp(n: int, k: int) -> int:
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """crc32(a + b) from crc32(a), crc32(b) and len(b) (zlib's crc32_combine; Python's zlib lacks it)."""
    return _multmodp(_x2nmodp(len2, 3), crc1) ^ crc2


class PageCache:
    """Composed entry pages by slug, each with the tag (the view generation of its row) it was made for;
    least recently used dropped first, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int = 64 * 2 ** 20) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self._pages: OrderedDict[str, tuple[Any, Body]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slug: str, tag: Any) -> Body | None:
        with self._lock:
            hit = self._pages.get(slug)
            if hit is None or hit[0] != tag:
                return None
            self._pages.move_to_end(slug)
            return hit[1]

    def put(self, slug: str, tag: Any, body: Body) -> None:
        with self._lock:
            old = self._pages.pop(slug, None)
            self.bytes -= old[1].size if old is not None else 0
            self._pages[slug] = (tag, body)
            self.bytes += body.size
            while self.bytes > self.max_bytes and len(self._pages) > 1:
                _, (_, dropped) = self._pages.popitem(last=False)
                self.bytes -= dropped.size
