"""Parse JSON written by someone else (data files, predictions, RunResults, leaderboard bundles).

Python's json module quietly keeps the last of two equal keys, accepts NaN and Infinity, and raises
RecursionError (not a JSON error) on a few hundred KB of '['. A file that two readers can read two ways
(a reviewer sees the first "leaderboard" key, the verifier the second) or that crashes the reader is
refused here, with one JSONProblem that callers turn into their own one-line error.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

# A JSON string, or the rest of the text after an unterminated quote: the closing quote is optional, so a
# match never fails and never backtracks (scanning stays linear even on `"\\"\\"...` without an end).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = re.compile(rb"[^\[\]{}]+")


class JSONProblem(ValueError):
    """Why a text is not acceptable JSON; `lineno` when the decoder knows it."""

    def __init__(self, msg: str, lineno: int | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.lineno = lineno


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise JSONProblem(f"key {key!r} appears twice in one object")
    return obj


def _constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a number JSON allows")


MAX_INT_DIGITS = 100  # ids and counts; Python refuses str() of a 4,300+ digit int with a ValueError anyway


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONProblem(f"an integer of {len(text.lstrip('-')):,} digits is too large (limit {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 is valid JSON syntax that Python reads as infinity
        raise JSONProblem(f"{text[:40]} is too large for a number")
    return value


def check_bounds(raw: str | bytes, max_values: int, max_depth: int) -> None:
    """Refuse a text holding more than `max_values` JSON values or nesting deeper than `max_depth`, by
    scanning its bytes (strings blanked out) before any object is built.

    Python spends ~100 bytes on an empty dict: 15 MB of `{},{},...` (15 KB gzipped) became 4+ GB of
    objects before a reader could count them. Every value but the top one is the first element of a
    non-empty container or follows a comma, so values = 1 + commas + non-empty containers: C-speed byte
    counts (on well-formed JSON exact, otherwise a bound the parser's own error follows); the depth walk
    runs only once the count is known to be small."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    strings = (data.count(b'"') - data.count(b'\\"')) // 2  # keys and string values (blanking costs ~70 B each)
    if strings > 2 * max_values:
        raise JSONProblem(f"holds about {strings:,} strings, over the limit of {2 * max_values:,}")
    blank = _STRING.sub(b'""', data)
    empty = blank.count(b"[]") + blank.count(b"{}")  # `[ ]` is counted as holding one value: a bound, not exact
    values = 1 + blank.count(b",") + blank.count(b"[") + blank.count(b"{") - empty
    if values > max_values:
        raise JSONProblem(f"holds about {values:,} JSON values, over the limit of {max_values:,}")
    brackets = _BRACKETS.sub(b"", blank)
    if brackets:
        deepest = max(accumulate(1 if c in b"[{" else -1 for c in brackets))
        if deepest > max_depth:
            raise JSONProblem(f"nests {deepest} levels deep, over the limit of {max_depth}")


def loads(text: str | bytes, max_values: int | None = None, max_depth: int = 64) -> Any:
    """json.loads that refuses duplicate keys, NaN/Infinity (also 1e400) and nesting deeper than Python follows;
    with `max_values`, also more values or deeper nesting than that (checked before parsing: check_bounds)."""
    if max_values is not None:
        check_bounds(text, max_values, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float,
                          parse_int=_int)
    except JSONProblem:
        raise
    except json.JSONDecodeError as exc:
        raise JSONProblem(exc.msg, exc.lineno) from None
    except RecursionError:
        raise JSONProblem("nested too deeply") from None
    except UnicodeDecodeError:
        raise JSONProblem("not UTF-8 text") from None
