"""Plain pandas frames from RunResults: one row per run, per seed-averaged score, per paired test.

These are the report's data; tables and charts are views of them, and the leaderboard reuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from fsabench.errors import UnknownName
from fsabench.metrics import seed_mean_std
from fsabench.report.labels import Labels, model_colors
from fsabench.report.loading import Group, group_runs
from fsabench.report.stats import bootstrap_ci, metrics_of, paired_bootstrap
from fsabench.results import RunResult

RUN_COLUMNS = ["model", "protocol", "task", "task_name", "task_type", "seed", "subset", "metric", "value", "n",
               "parameters", "tokens_per_1k", "cost_per_1k"]
SUMMARY_COLUMNS = ["model", "protocol", "task", "task_name", "task_type", "subset", "metric", "mean", "std",
                   "seeds", "ci_low", "ci_high", "delta", "n", "parameters", "tokens_per_1k", "cost_per_1k",
                   "model_id", "spread", "partial"]
SPREADS = ("seeds", "one seed", "deterministic")  # why std is (or is not) given
TEST_COLUMNS = ["task", "subset", "metric", "model_a", "protocol_a", "model_b", "protocol_b", "n", "delta",
                "ci_low", "ci_high", "p_value"]


def tokens_per_1k(result: RunResult) -> float | None:
    """Prompt + completion tokens per 1,000 examples; None when the run recorded no token counts."""
    known = any(r.prompt_tokens is not None or r.completion_tokens is not None for r in result.examples)
    if not known or not result.examples:
        return None
    return 1000 * (result.usage.prompt_tokens + result.usage.completion_tokens) / len(result.examples)


def cost_per_1k(result: RunResult) -> float | None:
    """USD per 1,000 examples; None when no example recorded a cost (e.g. a local model)."""
    if not result.examples or all(r.cost_usd is None for r in result.examples):
        return None
    return 1000 * result.usage.cost_usd / len(result.examples)


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _parameters(group: Group) -> int | None:
    return next((r.model.parameters for r in group.runs if r.model.parameters is not None), None)


NUMERIC = {"partial": bool, "value": float, "mean": float, "std": float, "ci_low": float, "ci_high": float, "delta": float,
           "parameters": "Int64", "tokens_per_1k": float, "cost_per_1k": float}


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes (missing = NaN / <NA>), so CSV and JSON output never depend on which rows exist."""
    return frame.astype({k: v for k, v in NUMERIC.items() if k in frame.columns})


def runs_frame(groups: Sequence[Group]) -> pd.DataFrame:
    """One row per (run, subset, metric) with the stored score."""
    rows = []
    for g in groups:
        for r in g.runs:
            for subset, score in r.scores.items():
                for metric in metrics_of(r):
                    rows.append([g.model, g.protocol, g.task, g.task_name, g.task_type, r.seed, subset, metric,
                                 getattr(score, metric), score.n, r.model.parameters, tokens_per_1k(r),
                                 cost_per_1k(r)])
    return typed(pd.DataFrame(rows, columns=RUN_COLUMNS))


def is_deterministic(g: Group) -> bool:
    """Several seeds that gave the same output for every example: the seed changed nothing, so
    there is no spread to report (a std of 0.00 would read as a measured one)."""
    if len(g.runs) < 2:
        return False
    first = {r.id: r.output for r in g.runs[0].examples}
    return all({r.id: r.output for r in run.examples} == first for run in g.runs[1:])


def spread_of(g: Group) -> str:
    return "deterministic" if is_deterministic(g) else ("seeds" if len(g.runs) > 1 else "one seed")


def group_summary(g: Group, n_boot: int) -> list[list]:
    """Seed mean, sample std (ddof=1, `seed_mean_std`) and bootstrap interval per subset and metric."""
    rows = []
    spread = spread_of(g)
    subsets = list(dict.fromkeys(s for r in g.runs for s in r.scores))
    for subset in subsets:
        runs = [r for r in g.runs if subset in r.scores]
        for metric in metrics_of(g.runs[0]):
            stats = seed_mean_std([getattr(r.scores[subset], metric) if r.scores[subset].n > 0 else None
                                   for r in runs])
            ci = bootstrap_ci(runs, subset, metric, n_boot) if stats.n else None
            std = None if spread == "deterministic" else stats.std
            rows.append([g.model, g.protocol, g.task, g.task_name, g.task_type, subset, metric,
                         stats.mean, std, stats.n,
                         ci.low if ci else None, ci.high if ci else None, None, runs[0].scores[subset].n,
                         _parameters(g), _mean(tokens_per_1k(r) for r in g.runs),
                         _mean(cost_per_1k(r) for r in g.runs), g.model_id, spread, g.partial])
    return rows


def baseline_name(groups: Sequence[Group], baseline: str) -> str:
    """The display name of the baseline, given as a model string or a display name."""
    for g in groups:
        if baseline in (g.model, g.model_id):
            return g.model
    raise UnknownName("baseline model", baseline, sorted({g.model_id or g.model for g in groups}))


def baseline_groups(groups: Sequence[Group], baseline: str) -> dict[str, Group]:
    """task -> the baseline model's group (most seeds, then protocol name, when it ran several)."""
    baseline = baseline_name(groups, baseline)
    chosen: dict[str, Group] = {}
    for g in sorted((g for g in groups if g.model == baseline), key=lambda g: (-len(g.runs), g.protocol)):
        chosen.setdefault(g.task, g)
    return chosen


def summary_from_groups(groups: Sequence[Group], baseline: str | None = None, n_boot: int = 1000) -> pd.DataFrame:
    if baseline:
        baseline = baseline_name(groups, baseline)  # an unknown name fails before any bootstrap work
    frame = typed(pd.DataFrame([row for g in groups for row in group_summary(g, n_boot)], columns=SUMMARY_COLUMNS))
    if baseline and not frame.empty:
        base = baseline_groups(groups, baseline)
        lookup = {(row.task, row.subset, row.metric): row.mean for row in frame.itertuples()
                  if row.task in base and row.model == baseline and row.protocol == base[row.task].protocol}
        refs = [lookup.get((r.task, r.subset, r.metric)) for r in frame.itertuples()]
        frame["delta"] = pd.Series([None if ref is None or pd.isna(ref) or pd.isna(r.mean) else round(r.mean - ref, 2)
                                    for r, ref in zip(frame.itertuples(), refs)], dtype=float, index=frame.index)
    return frame


def tests_from_groups(groups: Sequence[Group], baseline: str | None = None, n_boot: int = 1000) -> pd.DataFrame:
    """Paired bootstrap for every pair of models on a task (or every model against the baseline)."""
    rows = []
    by_task: dict[str, list[Group]] = {}
    for g in groups:
        by_task.setdefault(g.task, []).append(g)
    for task, members in by_task.items():
        if baseline:
            base = baseline_groups(groups, baseline).get(task)
            pairs = [(g, base) for g in members if base is not None and g is not base]
        else:
            pairs = list(combinations(members, 2))
        for a, b in pairs:
            metric = metrics_of(a.runs[0])[0]
            for subset in a.runs[0].scores:
                test = paired_bootstrap(a.runs, b.runs, subset, metric, n_boot)
                if test is not None:
                    rows.append([task, subset, metric, a.model, a.protocol, b.model, b.protocol, test.n,
                                 test.delta, test.low, test.high, test.p_value])
    return typed(pd.DataFrame(rows, columns=TEST_COLUMNS))


@dataclass
class Analysis:
    """Everything a report shows, computed once from a list of RunResults."""

    groups: list[Group]
    flags: list[str]
    summary: pd.DataFrame
    runs: pd.DataFrame
    tests: pd.DataFrame
    baseline: str | None = None  # the baseline's display name
    colors: dict[str, str] = field(default_factory=dict)  # display name -> colour, one per model
    notes: list[str] = field(default_factory=list)  # skipped files, re-computed scores, charts not drawn


def colors_of(groups: Sequence[Group], labels: Labels | None = None) -> dict[str, str]:
    """Display name -> colour from `labels.model_colors` (the leaderboard site calls the same)."""
    ids = {g.model_id: g.model for g in groups}
    return {ids[m]: c for m, c in model_colors(sorted(ids), _by_id(groups, labels)).items()}


def _by_id(groups: Sequence[Group], labels: Labels | None) -> Labels:
    """The report's labels keyed by seed-folded model string, with the display names it settled on."""
    labels = labels or Labels()
    colors = {g.model_id: labels.colors[k] for g in groups for k in (g.model_id, *(r.model.name for r in g.runs))
              if k in labels.colors}
    return Labels({g.model_id: g.model for g in groups}, colors)


def analyze(results: Iterable[RunResult], baseline: str | None = None, n_boot: int = 1000,
            tests: bool = True, labels: Labels | None = None) -> Analysis:
    groups, flags = group_runs(results, labels)
    base = baseline_name(groups, baseline) if baseline else None
    return Analysis(groups, flags, summary_from_groups(groups, base, n_boot), runs_frame(groups),
                    tests_from_groups(groups, base, n_boot) if tests else pd.DataFrame(columns=TEST_COLUMNS),
                    base, colors_of(groups, labels))


def summary_frame(results: Iterable[RunResult], baseline: str | None = None, n_boot: int = 1000,
                  labels: Labels | None = None) -> pd.DataFrame:
    """One row per (model, protocol, task, subset, metric): seed mean/std, seeds, 95% CI, delta to baseline."""
    groups, _ = group_runs(results, labels)
    return summary_from_groups(groups, baseline, n_boot)
