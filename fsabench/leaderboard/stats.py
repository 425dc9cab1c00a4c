"""Ranks that respect statistics: 95% intervals and ties a paired test cannot separate.

Method (named on the site): per task, one set of 1,000 bootstrap resamples of the test examples
(a fixed seed per task and metric) is shared by every entry (common random numbers). An entry's
replicates are its seed-averaged metric on each resample; their 2.5/97.5 percentiles give its 95%
interval per task, and the mean over tasks per resample gives the average's interval. Two entries
are compared with a paired bootstrap on those same resamples: the difference of their average
replicates, two-sided p under the shifted null. Walking the ranked list best first, an entry whose
paired test against the best entry of the current group gives p >= 0.05 joins that group ("tied
with #k"); otherwise it starts a new group.

Why shared resamples: an entry's replicates are computed once, when it is accepted (`bootstrap`,
a few matrix products per task and seed), and stored with it. A paired test is then a difference
of two stored vectors (O(N_BOOT)), so ranking n entries costs O(n * N_BOOT) and never resamples.
Entries that scored different numbers of examples (partial runs) are compared on the examples both
answered, with that prefix's resamples (`bootstrap(..., n=...)`), computed for the pair.

Rows carry their per-example counts (`counts`, computed at verification) so the site can rank from
rows alone; the service keeps each entry's `Boot` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from fsabench.results import RunResult

N_BOOT = 1000
ALPHA = 0.05
VERSION = 2  # of what a stored Boot holds and how it is drawn (2: resamples shared by every entry)
METHOD = ("95% percentile bootstrap intervals over test examples (1,000 resamples per task, shared by every "
          "entry; seeds averaged per resample); entries grouped as tied when a paired bootstrap test on the "
          "same resamples, over the examples both answered, cannot separate them from the best entry of their "
          "group (two-sided p >= 0.05); fixed seeds, so ties are deterministic")


def example_counts(results: Sequence[RunResult], subset: str = "all") -> dict[str, Any]:
    """Per task: task type and, per seed, one row of additive counts per example on `subset`."""
    from fsabench.report.stats import example_counts as counts_of, labels_of

    out: dict[str, Any] = {}
    for result in sorted(results, key=lambda r: r.seed):
        records = [r for r in result.examples if subset in r.subsets]
        task = out.setdefault(result.task.name, {"type": result.task.type, "seeds": []})
        task["seeds"].append(counts_of(records, result.task.type, labels_of(result)).astype(int).tolist())
    return out


@dataclass(frozen=True)
class Boot:
    """An entry's bootstrap, stored with it: examples per task, the point score (mean over tasks of
    the seed-averaged metric), 95% intervals, and the average's replicates (shape (N_BOOT,))."""

    n: tuple[int, ...]
    point: float
    ci: dict[str, list[float] | None]
    replicates: np.ndarray

    def header(self) -> dict[str, Any]:
        return {"n": list(self.n), "point": self.point, "ci": self.ci}

    @classmethod
    def from_stored(cls, header: dict[str, Any], replicates: bytes) -> "Boot":
        return cls(tuple(header["n"]), header["point"], header["ci"], np.frombuffer(replicates, dtype=np.float64))


@lru_cache(maxsize=16)
def weights(task: str, metric: str, n: int) -> np.ndarray:
    """The shared resamples of a task's first n examples: (N_BOOT, n) multinomial counts, drawn in
    fsabench.bootstrap's chunks from one fixed seed (2 bytes a cell: ~2 MB for a 1,000-example task)."""
    from fsabench.bootstrap import CHUNK, stable_seed

    rng = np.random.default_rng(stable_seed("lb-ci", task, metric))
    draws = [rng.multinomial(n, np.full(n, 1.0 / n), size=min(CHUNK, N_BOOT - start)).astype(np.uint16)
             for start in range(0, N_BOOT, CHUNK)]
    return np.concatenate(draws)


def _replicates(mats: Sequence[np.ndarray], metric: str, task_type: str, w: np.ndarray) -> np.ndarray:
    from fsabench.bootstrap import CHUNK, score_from_sums

    out = []
    for start in range(0, N_BOOT, CHUNK):
        chunk = w[start:start + CHUNK].astype(float)
        out.append(np.mean([score_from_sums(chunk @ m, task_type)[metric] for m in mats], axis=0))
    return np.concatenate(out)


def has_counts(counts: dict[str, Any] | None, tasks: Sequence[str]) -> bool:
    counts = counts or {}
    return all(t in counts and counts[t]["seeds"] and len(counts[t]["seeds"][0]) for t in tasks)


def examples_of(counts: dict[str, Any], tasks: Sequence[str]) -> tuple[int, ...]:
    return tuple(len(counts[t]["seeds"][0]) for t in tasks)


def bootstrap(counts: dict[str, Any] | None, tasks: Sequence[str], metric: str,
              n: Sequence[int] | None = None) -> Boot | None:
    """An entry's Boot from its counts (on each task's first n[i] examples when given); None without counts."""
    from fsabench.bootstrap import point

    if not has_counts(counts, tasks):
        return None
    n = tuple(n) if n is not None else examples_of(counts, tasks)
    ci: dict[str, list[float] | None] = {}
    reps, points = [], []
    for task, size in zip(tasks, n):
        kind = counts[task]["type"]
        mats = [np.asarray(s[:size], dtype=float) for s in counts[task]["seeds"]]
        values = _replicates(mats, metric, kind, weights(task, metric, size))
        reps.append(values)
        points.append(point(mats, metric, kind))
        ci[task] = [round(float(v), 2) for v in np.quantile(values, [0.025, 0.975])]
    average = np.mean(reps, axis=0)
    ci["score"] = [round(float(v), 2) for v in np.quantile(average, [0.025, 0.975])]
    return Boot(n, float(np.mean(points)), ci, average)


def no_intervals(tasks: Sequence[str]) -> dict[str, None]:
    return {**{t: None for t in tasks}, "score": None}


def p_value(a: Boot, b: Boot) -> float:
    """Two-sided paired bootstrap p of a vs b (both drawn on the same examples and resamples)."""
    diff = a.replicates - b.replicates
    delta = a.point - b.point
    extreme = int(np.sum(np.abs(diff - delta) >= abs(delta) - 1e-9))
    return round((extreme + 1) / (len(diff) + 1), 4)


def paired_p(a: dict[str, Any], b: dict[str, Any], tasks: Sequence[str], metric: str) -> float | None:
    """The paired p of two rows from their counts, on the examples both answered (None without counts)."""
    if not (has_counts(a.get("counts"), tasks) and has_counts(b.get("counts"), tasks)):
        return None
    n = tuple(min(x, y) for x, y in zip(examples_of(a["counts"], tasks), examples_of(b["counts"], tasks)))
    return p_value(bootstrap(a["counts"], tasks, metric, n), bootstrap(b["counts"], tasks, metric, n))


def compare(a: Boot | None, b: Boot | None, counts_a, counts_b, tasks: Sequence[str], metric: str) -> float | None:
    """The paired p of two entries from their Boots; when they scored different numbers of examples,
    both are re-drawn on the examples both answered (`counts_a()`/`counts_b()` give their counts)."""
    if a is None or b is None:
        return None
    if a.n == b.n:
        return p_value(a, b)
    n = tuple(min(x, y) for x, y in zip(a.n, b.n))
    return p_value(bootstrap(counts_a(), tasks, metric, n), bootstrap(counts_b(), tasks, metric, n))
