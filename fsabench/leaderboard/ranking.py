"""Ranked-table rows from verified runs: plain values in, plain values out (site and service share it).

A row's cell for (task, subset) is the mean (and sample standard deviation) over seeds of the
leaderboard's metric; the score is the mean over tasks of the cells on the score subset; a
per-subset column is the mean over tasks of that subset's cells.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from fsabench.leaderboard.spec import Leaderboard
from fsabench.results import RunResult


def cell(values: Sequence[float | None]) -> dict[str, Any]:
    """Seed mean and sample std through fsabench.metrics.seed_mean_std (an undefined score, e.g. a subset
    with nothing to score, is left out; nothing defined gives an undefined cell, never 0 or 100)."""
    from fsabench.metrics import seed_mean_std

    stats = seed_mean_std(values)
    return {"mean": stats.mean, "std": stats.std, "seeds": len(values)}


def summarize(board: Leaderboard, entry, results: Sequence[RunResult]) -> dict[str, Any]:
    """One row of the ranked table (JSON-ready) for an entry and its re-scored runs."""
    spec = board.spec
    tasks: dict[str, dict[str, Any]] = {}
    for task in spec.tasks:
        runs = [r for r in results if r.task.name == task]
        tasks[task] = {s: cell([getattr(r.scores[s], spec.metric) for r in runs]) for s in spec.subsets}
    subsets = {s: _mean([tasks[t][s]["mean"] for t in spec.tasks]) for s in spec.subsets}
    category = spec.categories[entry.category]
    return {
        "name": entry.name, "category": entry.category, "category_label": category.label,
        "parameters": entry.parameters, "base_model": entry.base_model, "link": entry.link,
        "license": entry.license, "date": entry.date.isoformat(), "notes": entry.notes,
        "score": subsets[spec.score.subset], "subsets": subsets, "tasks": tasks,
        "seeds": sorted({r.seed for r in results}),
        "models": sorted({r.model.name for r in results}),
        "fsabench_versions": sorted({r.fsabench_version for r in results}),
    }


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 2) if present and len(present) == len(values) else None


def standing(row: dict[str, Any], rank_partial: bool = False) -> str:
    """Why a row is or is not ranked: ranked | reference (baselines) | partial | awaiting audit | audit failed.

    A partial entry (80 of 4,238 examples) is never ranked against full ones unless the board opts in
    (`rank_partial`): its score is of another, easier or harder, test set."""
    if row.get("ranked") is False:
        return "reference"
    if row.get("partial") and not rank_partial:
        return "partial"
    audit = (row.get("audit") or {}).get("status")
    if audit == "failed":
        return "audit failed"
    if row.get("require_audit") and audit != "passed":
        return "awaiting audit"
    return "ranked"


def rank(rows: Sequence[dict[str, Any]], board: Leaderboard | None = None) -> list[dict[str, Any]]:
    """Rows ordered by score (best first, then by name). Ranked rows get a 1-based `rank` (equal scores
    share it); with a board, 95% intervals (`ci`) and statistical ties (`tied_with`, the rank of the
    group's best entry) from stats.py. Reference, failed-audit and unaudited rows get `rank: None`
    and follow the ranked ones."""
    from fsabench.leaderboard import stats

    key = lambda r: (-(r["score"] if r["score"] is not None else -1e9), r["name"].lower())  # noqa: E731
    ordered = sorted(rows, key=key)
    full = any(standing(r) == "ranked" for r in ordered)  # a board of partial runs only ranks them among themselves
    rank_partial = bool(board is not None and board.spec.rank_partial) or not full
    ranked_rows = [{**r, "standing": standing(r, rank_partial)} for r in ordered]
    ranked_rows.sort(key=lambda r: r["standing"] != "ranked")  # stable: score order kept in each part
    previous, place, position = object(), 0, 0
    for row in ranked_rows:
        row.setdefault("flags", [])
        if row["standing"] != "ranked":
            row["rank"], row["tied_with"] = None, None
            continue
        position += 1
        if row["score"] != previous:
            place, previous = position, row["score"]
        row["rank"], row["tied_with"] = place, None
    if board is not None:
        tasks, metric = board.spec.tasks, board.spec.metric
        for row in ranked_rows:
            row["ci"] = stats.intervals(row, tasks, metric)
        ranked = [r for r in ranked_rows if r["standing"] == "ranked"]
        for row, leader in zip(ranked, stats.tie_groups(ranked, tasks, metric)):
            if leader is not None and ranked[leader]["rank"] != row["rank"]:
                row["tied_with"] = ranked[leader]["rank"]
    return ranked_rows


def columns(board: Leaderboard) -> list[dict[str, str]]:
    """The table's metric columns after the name: score, one per task (score subset), one per other subset."""
    spec = board.spec
    cols = [{"key": "score", "label": spec.score.label, "kind": "score", "ci": "score"}]
    cols += [{"key": f"task:{t}", "label": t, "kind": "task", "ci": t} for t in spec.tasks]
    cols += [{"key": f"subset:{s}", "label": f"{s} (mean)", "kind": "subset", "ci": None}
             for s in spec.subsets if s != spec.score.subset]
    return cols


def column_value(row: dict[str, Any], key: str, board: Leaderboard) -> float | None:
    if key == "score":
        return row["score"]
    kind, _, name = key.partition(":")
    if kind == "task":
        return row["tasks"][name][board.spec.score.subset]["mean"]
    return row["subsets"][name]
