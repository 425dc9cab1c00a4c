"""Agreement statistics over rating tables: Krippendorff's alpha (the maintained `krippendorff`
package) and Cohen's kappa (computed here: a few lines, checked against scikit-learn in the tests).

A rating table maps annotator -> unit -> code, where a code is the answer's position on the scale
(ordered by score for ordinal scales). Units are items, or (item, target) pairs for per-target
dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

Table = Mapping[str, Mapping[str, float]]  # annotator -> unit -> code


def alpha(table: Table, level: str) -> tuple[float | None, int]:
    """Krippendorff's alpha at the rubric's level of measurement, and the number of pairable units
    (rated by two or more annotators). None when undefined: fewer than two raters on every unit, or
    one value only (no variation to agree on)."""
    raters = [a for a in table if table[a]]
    units = sorted({u for a in raters for u in table[a]})
    pairable = [u for u in units if sum(u in table[a] for a in raters) >= 2]
    if len(raters) < 2 or not pairable:
        return None, len(pairable)
    values = {table[a][u] for a in raters for u in pairable if u in table[a]}
    if len(values) < 2:
        return None, len(pairable)
    import krippendorff
    import numpy as np

    data = np.array([[table[a].get(u, np.nan) for u in pairable] for a in raters], dtype=float)
    try:
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    except (ValueError, ZeroDivisionError):
        return None, len(pairable)
    return (None if math.isnan(value) else value), len(pairable)


def cohen_kappa(x: Sequence[int], y: Sequence[int], k: int, weights: str | None = None) -> float | None:
    """Cohen's kappa of two raters' codes (0..k-1) on the same units; `weights`: None (nominal) or
    "linear" (ordinal: a one-step miss counts less than a far one). None when chance agreement is
    total (both raters used a single identical value)."""
    n = len(x)
    if n == 0 or len(y) != n:
        return None
    observed = [[0.0] * k for _ in range(k)]
    for a, b in zip(x, y):
        observed[a][b] += 1 / n
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def w(i: int, j: int) -> float:
        return (abs(i - j) / (k - 1) if k > 1 else 0.0) if weights == "linear" else float(i != j)

    seen = sum(w(i, j) * observed[i][j] for i in range(k) for j in range(k))
    chance = sum(w(i, j) * rows[i] * cols[j] for i in range(k) for j in range(k))
    return None if chance == 0 else 1 - seen / chance


def pairwise_kappa(table: Table, k: int, weights: str | None) -> list[dict]:
    out = []
    for a, b in combinations(sorted(table), 2):
        shared = sorted(set(table[a]) & set(table[b]))
        value = cohen_kappa([int(table[a][u]) for u in shared], [int(table[b][u]) for u in shared], k, weights)
        out.append({"a": a, "b": b, "n": len(shared), "kappa": value})
    return out


def mean_of(values: Sequence[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return sum(real) / len(real) if real else None


def consensus(codes: Sequence[float], level: str) -> float:
    """The human answer a judge is compared with: the median code (ordinal/interval, lower median on
    ties) or the most common code (nominal, smallest on ties)."""
    ordered = sorted(codes)
    if level == "nominal":
        return max(sorted(set(ordered)), key=ordered.count)
    return ordered[(len(ordered) - 1) // 2]
