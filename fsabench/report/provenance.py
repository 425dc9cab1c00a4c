"""What a reader must know before comparing two rows: the tuple-scoring convention and test-set contamination.

Both are read from the RunResults (`task.definition.convention`, `meta.contamination`) and said in
words in the report's notes; a task scored under both conventions is a comparability flag.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from fsabench.metrics import seed_mean_std
from fsabench.report.stats import convention_of
from fsabench.results import RunResult


def convention_lines(results: Sequence[RunResult]) -> tuple[list[str], list[str]]:
    """(notes, flags): which tuple tasks were scored with the authors' convention; both in one task is a flag."""
    by_task: dict[str, set[str]] = defaultdict(set)
    for result in results:
        if (result.task.definition or {}).get("metric") == "absa_f1":
            by_task[result.task.name].add(convention_of(result))
    notes = [f"{task}: scored with the authors' convention (ABSA-QUAD compute_f1_scores: every repeated tuple is "
             "a hit, case-sensitive exact match, an empty output or piece is one wrong prediction)"
             for task, kinds in sorted(by_task.items()) if kinds == {"authors"}]
    flags = [f"{task}: some runs are scored with the capped convention and some with the authors'; their F1 are "
             "not comparable (re-score one side with fsabench score --convention)"
             for task, kinds in sorted(by_task.items()) if len(kinds) > 1]
    return notes, flags


def contamination_lines(results: Sequence[RunResult]) -> list[str]:
    """One note per (model, task) whose runs record `meta.contamination` (distill recipe students)."""
    groups: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for result in results:
        if isinstance(result.meta.get("contamination"), dict):
            groups[(result.model.name, result.task.name)].append(result)
    lines = []
    for (model, task), runs in sorted(groups.items()):
        leak = runs[0].meta["contamination"]
        found = (leak.get("overlapping") or {}).get("all", len(leak.get("ids", [])))
        metric = "f1" if "f1" in leak.get("clean", {}) else "macro_f1"
        clean = seed_mean_std([r.meta["contamination"].get("clean", {}).get(metric) for r in runs])
        full = seed_mean_std([r.scores["all"].model_dump().get(metric) for r in runs if "all" in r.scores])
        lines.append(f"{model} on {task}: {found} test sentences share a word {leak.get('ngram')}-gram with its "
                     f"teacher corpus {leak.get('corpus')}; {metric} on the clean rest {_fmt(clean.mean)} "
                     f"(all: {_fmt(full.mean)}; ids: {', '.join(leak.get('ids', [])[:10]) or 'none'})")
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
