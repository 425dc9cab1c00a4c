"""Seeded samples that stream: reviews per source for the teacher, and responses for `corpus.size`.

Both use bottom-k hash selection: every item gets a 64-bit hash of (seed, its key) and the k items
with the smallest hashes are kept. The sample is reproducible (same seed, same sample), does not
depend on the file's order (a review's key is its text, so sorting a file by date or product
changes nothing), and a smaller sample is contained in a larger one with the same seed (the
corpus-size sweep trains on nested corpora, as a scaling curve should). It takes two passes over
the file and holds k (hash, index) pairs, never the rows: about 100 bytes an item (50 MB for the
paper's 500,000 reviews per domain).

The paper's seed code draws a seeded random sample of each domain's reviews (HITSZ-HLT/FSA-
Distillation); taking the first N rows instead lets the file's order leak into the corpus.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from hashlib import blake2b
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def item_hash(seed: int, key: str) -> int:
    return int.from_bytes(blake2b(f"{seed}\x1f{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def bottom_k(keys: Iterable[str], k: int, seed: int) -> set[int]:
    """Indices (positions in `keys`) of the k keys with the smallest seeded hashes."""
    heap: list[tuple[int, int]] = []  # (-hash, index): the root is the largest hash kept so far
    for index, key in enumerate(keys):
        value = item_hash(seed, key)
        if len(heap) < k:
            heapq.heappush(heap, (-value, index))
        elif -heap[0][0] > value:
            heapq.heapreplace(heap, (-value, index))
    return {index for _, index in heap}


def sample_stream(make: Callable[[], Iterator[T]], key: Callable[[T], str], k: int, seed: int) -> Iterator[T]:
    """The k items of `make()` with the smallest seeded hashes, in stream order. `make` is called
    twice and must yield the same items both times (a file read from the start)."""
    chosen = bottom_k((key(item) for item in make()), k, seed)
    for index, item in enumerate(make()):
        if index in chosen:
            yield item


def sample_reviews(path: str | Path, fields, fmt: str | None, size: int, seed: int, limit: int | None = None,
                   skipped=None) -> Iterator[dict[str, Any]]:
    """A seeded random sample of `size` reviews of one file (all of them when it has fewer), keyed by
    review text, in file order; reviews without text are skipped (counted once, in `skipped`)."""
    from fsabench.distill.reviews import Skipped, iter_reviews

    passes = iter([Skipped(), skipped if skipped is not None else Skipped()])
    return sample_stream(lambda: iter_reviews(path, fields, fmt, limit, next(passes)), lambda r: r["Text"], size, seed)
