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
from fsabench.leaderboard.standings import Standings, rank_partial_in_effect, standing  # noqa: F401 (standing: re-exported)
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


def rank(rows: Sequence[dict[str, Any]], board: Leaderboard | None = None) -> list[dict[str, Any]]:
    """Rows in table order (standings.sort_key) from scratch. Ranked rows get a 1-based `rank` (equal
    scores share it); with a board, 95% intervals (`ci`) and statistical ties (`tied_with`, the rank
    of the group's best entry) from stats.py, computed from the rows' `counts`. Reference,
    failed-audit and unaudited rows get `rank: None` and follow the ranked ones. The service keeps
    the same standings incrementally (service.py); both run standings.Standings."""
    from fsabench.leaderboard import stats

    by_slug = {_slug(r, i): r for i, r in enumerate(rows)}
    boots = {}
    if board is not None:
        tasks, metric = board.spec.tasks, board.spec.metric
        boots = {slug: stats.bootstrap(r.get("counts"), tasks, metric) for slug, r in by_slug.items()}

    def compare(a: str, b: str) -> float | None:
        if board is None:
            return None
        return stats.compare(boots[a], boots[b], lambda: by_slug[a]["counts"], lambda: by_slug[b]["counts"],
                             tasks, metric)

    flag = rank_partial_in_effect(by_slug.values(), bool(board is not None and board.spec.rank_partial))
    table = Standings(compare, rank_partial=flag).rebuild(by_slug.items())
    out = []
    for slug in table.order():
        place = table.places[slug]
        row = {**by_slug[slug], "standing": place.standing, "rank": place.rank, "tied_with": place.tied_with}
        row.setdefault("flags", [])
        if board is not None:
            row["ci"] = boots[slug].ci if boots[slug] is not None else stats.no_intervals(tasks)
        out.append(row)
    return out


def _slug(row: dict[str, Any], index: int) -> str:
    return row.get("slug") or f"\0row-{index}"


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
