"""Ranks that respect statistics: 95% intervals and ties a paired test cannot separate.

Method (named on the site): per task, a percentile bootstrap over test examples (1,000 resamples;
seeds share each resample and the statistic is their mean) gives each entry's 95% interval; the
average's interval resamples every task independently and averages the tasks per resample. Two
entries are compared with the paired bootstrap of `fsabench.report.stats` (the same resample for
both, on the examples both answered; two-sided p under the shifted null). Walking the ranked list
best first, an entry whose paired test against the best entry of the current group gives p >= 0.05
joins that group ("tied with #k"); otherwise it starts a new group. Random draws use fixed seeds
derived from the task and the entry names, so a rebuild gives the same intervals and ties.

Rows carry their per-example counts (`counts`, computed at verification) so the site and the
service can rank from rows alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fsabench.results import RunResult

N_BOOT = 1000
ALPHA = 0.05
METHOD = ("95% percentile bootstrap intervals over test examples (1,000 resamples, seeds averaged per "
          "resample); entries grouped as tied when a paired bootstrap test on the examples both answered "
          "cannot separate them from the best entry of their group (two-sided p >= 0.05); fixed seeds, "
          "so ties are deterministic")


def example_counts(results: Sequence[RunResult], subset: str = "all") -> dict[str, Any]:
    """Per task: task type and, per seed, one row of additive counts per example on `subset`."""
    from fsabench.report.stats import example_counts as counts_of, labels_of

    out: dict[str, Any] = {}
    for result in sorted(results, key=lambda r: r.seed):
        records = [r for r in result.examples if subset in r.subsets]
        task = out.setdefault(result.task.name, {"type": result.task.type, "seeds": []})
        task["seeds"].append(counts_of(records, result.task.type, labels_of(result)).astype(int).tolist())
    return out


def _mats(row: dict[str, Any], task: str, n: int | None = None) -> list[np.ndarray]:
    return [np.asarray(s[:n] if n is not None else s, dtype=float) for s in row["counts"][task]["seeds"]]


def _replicates(mats: Sequence[np.ndarray], metric: str, task_type: str, seed: int) -> np.ndarray:
    from fsabench.bootstrap import metric_replicates

    return metric_replicates(mats, metric, task_type, np.random.default_rng(seed), N_BOOT)


def _has_counts(row: dict[str, Any], tasks: Sequence[str]) -> bool:
    counts = row.get("counts") or {}
    return all(t in counts and counts[t]["seeds"] and len(counts[t]["seeds"][0]) for t in tasks)


_MEMO: dict[tuple, Any] = {}  # the service ranks on every request: remember results per row content
_MEMO_MAX = 4096


def _memo(key: tuple, compute):
    """Cache by the rows' output fingerprints (a row without one is not cached)."""
    if any(part is None for part in key):
        return compute()
    if key not in _MEMO:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = compute()
    return _MEMO[key]


def intervals(row: dict[str, Any], tasks: Sequence[str], metric: str) -> dict[str, list[float] | None]:
    """95% interval per task and for the average ('score')."""
    return _memo(("ci", row.get("fingerprint"), row.get("name"), tuple(tasks), metric),
                 lambda: _intervals(row, tasks, metric))


def paired_p(a: dict[str, Any], b: dict[str, Any], tasks: Sequence[str], metric: str) -> float | None:
    """Two-sided paired bootstrap p for a vs b on the mean over `tasks` (shared examples only)."""
    return _memo(("p", a.get("fingerprint"), a.get("name"), b.get("fingerprint"), b.get("name"), tuple(tasks), metric),
                 lambda: _paired_p(a, b, tasks, metric))


def _intervals(row: dict[str, Any], tasks: Sequence[str], metric: str) -> dict[str, list[float] | None]:
    from fsabench.report.stats import stable_seed

    if not _has_counts(row, tasks):
        return {**{t: None for t in tasks}, "score": None}
    out: dict[str, list[float] | None] = {}
    reps = []
    for task in tasks:
        kind = row["counts"][task]["type"]
        values = _replicates(_mats(row, task), metric, kind, stable_seed("lb-ci", task, metric))
        reps.append(values)
        out[task] = [round(float(v), 2) for v in np.quantile(values, [0.025, 0.975])]
    average = np.mean(reps, axis=0)
    out["score"] = [round(float(v), 2) for v in np.quantile(average, [0.025, 0.975])]
    return out


def _paired_p(a: dict[str, Any], b: dict[str, Any], tasks: Sequence[str], metric: str) -> float | None:
    from fsabench.report.stats import point, stable_seed

    if not (_has_counts(a, tasks) and _has_counts(b, tasks)):
        return None
    diffs, delta = [], 0.0
    for task in tasks:
        kind = a["counts"][task]["type"]
        n = min(len(a["counts"][task]["seeds"][0]), len(b["counts"][task]["seeds"][0]))
        ma, mb = _mats(a, task, n), _mats(b, task, n)
        seed = stable_seed("lb-paired", task, metric, *sorted([a["name"], b["name"]]))
        diffs.append(_replicates(ma, metric, kind, seed) - _replicates(mb, metric, kind, seed))
        delta += point(ma, metric, kind) - point(mb, metric, kind)
    diff = np.mean(diffs, axis=0)
    delta /= len(tasks)
    extreme = int(np.sum(np.abs(diff - delta) >= abs(delta) - 1e-9))
    return round((extreme + 1) / (len(diff) + 1), 4)


def tie_groups(rows: Sequence[dict[str, Any]], tasks: Sequence[str], metric: str) -> list[int | None]:
    """For rows already in rank order: the 0-based index of the group leader each row is tied with
    (None for a group's leader, or when the rows carry no counts)."""
    leaders: list[int | None] = []
    leader = 0
    for i, row in enumerate(rows):
        if i == 0:
            leaders.append(None)
            continue
        p = paired_p(rows[leader], row, tasks, metric)
        if p is not None and p >= ALPHA:
            leaders.append(leader)
        else:
            leader = i
            leaders.append(None)
    return leaders
