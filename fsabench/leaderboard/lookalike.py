"""Look-alike names: the part of a Unicode TR39 "skeleton" an entry's identity needs.

TR39 calls two strings confusable when their skeletons match (NFD, each character mapped to its
prototype in Unicode's confusables.txt, NFD again). `confusable-homoglyphs` ships that table; its
pairs are symmetric, so the prototype used here for a character outside ASCII is its smallest ASCII
letter or digit look-alike (Cyrillic `е` -> `e`, Greek `ο` -> `o`, script `ℓ` -> `l`). ASCII stays as it
is: slugs of plain names never change, while `Lеxicon` (Cyrillic е) gets the slug of `Lexicon` and
collides with it instead of becoming a second, identical-looking row.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1)
def _ascii_prototypes() -> dict[str, str]:
    try:
        from confusable_homoglyphs.confusables import confusables_data
    except ImportError:  # a core dependency; an old environment without it only loses the folding
        return {}
    table = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_glyphs = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if ascii_glyphs:
            table[char] = min(ascii_glyphs).casefold()
    return table


def skeleton(name: str) -> str:
    """NFKC, case-folded, NFD, look-alikes outside ASCII mapped to their ASCII prototype, NFD (as TR39 ends)."""
    table = _ascii_prototypes()
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name).casefold())
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in folded))
