"""Parse JSON written by someone else (data files, predictions, RunResults, leaderboard bundles).

Python's json module quietly keeps the last of two equal keys, accepts NaN and Infinity, and raises
RecursionError (not a JSON error) on a few hundred KB of '['. A file that two readers can read two ways
(a reviewer sees the first "leaderboard" key, the verifier the second) or that crashes the reader is
refused here, with one JSONProblem that callers turn into their own one-line error.
"""

from __future__ import annotations

import json
import math
from typing import Any


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


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 is valid JSON syntax that Python reads as infinity
        raise JSONProblem(f"{text[:40]} is too large for a number")
    return value


def loads(text: str | bytes) -> Any:
    """json.loads that refuses duplicate keys, NaN/Infinity (also 1e400) and nesting deeper than Python follows."""
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except JSONProblem:
        raise
    except json.JSONDecodeError as exc:
        raise JSONProblem(exc.msg, exc.lineno) from None
    except RecursionError:
        raise JSONProblem("nested too deeply") from None
    except UnicodeDecodeError:
        raise JSONProblem("not UTF-8 text") from None
