"""Entry pages are a rendered head joined to a stored deflated tail: the joined gzip is exactly the page,
and the page cache stays within its byte budget."""

from __future__ import annotations

import gzip
import os
import zlib

from fsabench.leaderboard.pages import Body, PageCache, crc32_combine, join_gzip


def test_crc32_combine_matches_zlib_on_any_split():
    for head, tail in [(b"", b""), (b"a", b""), (b"", b"b"), (os.urandom(37), os.urandom(5000)),
                       (b"x" * 70_000, b"<h2>Examples</h2>" * 120_000)]:
        assert crc32_combine(zlib.crc32(head), zlib.crc32(tail), len(tail)) == zlib.crc32(head + tail)


def test_a_joined_gzip_is_the_whole_page_for_every_decoder():
    head, tail = "<p>rank 7 · ünïcode</p>".encode() * 50, os.urandom(300) + b"examples " * 200_000
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = packer.compress(tail) + packer.flush()
    joined = join_gzip(head, deflated, zlib.crc32(tail), len(tail))
    assert gzip.decompress(joined) == head + tail  # checks the CRC and the length too
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # as browsers read Content-Encoding: gzip
    assert inflater.decompress(joined) == head + tail and inflater.eof and not inflater.unused_data
    assert Body(gz=joined).raw == head + tail


def test_the_page_cache_drops_least_recent_pages_past_its_budget():
    cache = PageCache(max_bytes=10_000)
    for i in range(20):
        cache.put(f"e{i}", 1, Body(gz=os.urandom(1_000)))
        assert cache.bytes <= 10_000
    assert cache.get("e19", 1) is not None and cache.get("e0", 1) is None
    assert cache.get("e19", 2) is None  # made for an older place of the entry
