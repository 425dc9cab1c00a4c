"""Plain pandas frames from RunResults: one row per run, per seed-averaged score, per paired test.

These are the report's data; tables and charts are views of them, and the leaderboard reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from fsabench.errors import UnknownName
from fsabench.report.loading import Group, group_runs
from fsabench.report.stats import bootstrap_ci, metrics_of, paired_bootstrap
from fsabench.results import RunResult

RUN_COLUMNS = ["model", "protocol", "task", "task_name", "task_type", "seed", "subset", "metric", "value", "n",
               "parameters", "tokens_per_1k", "cost_per_1k"]
SUMMARY_COLUMNS = ["model", "protocol", "task", "task_name", "task_type", "subset", "metric", "mean", "std",
                   "seeds", "ci_low", "ci_high", "delta", "n", "parameters", "tokens_per_1k", "cost_per_1k"]
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


NUMERIC = {"value": float, "mean": float, "std": float, "ci_low": float, "ci_high": float, "delta": float,
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


def _std(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def group_summary(g: Group, n_boot: int) -> list[list]:
    """Seed mean, sample std (ddof=1) and bootstrap interval for every subset and metric of one group."""
    rows = []
    subsets = list(dict.fromkeys(s for r in g.runs for s in r.scores))
    for subset in subsets:
        runs = [r for r in g.runs if subset in r.scores]
        for metric in metrics_of(g.runs[0]):
            values = [getattr(r.scores[subset], metric) for r in runs
                      if r.scores[subset].n > 0 and getattr(r.scores[subset], metric) is not None]
            ci = bootstrap_ci(runs, subset, metric, n_boot, key=g.task) if values else None
            rows.append([g.model, g.protocol, g.task, g.task_name, g.task_type, subset, metric,
                         round(sum(values) / len(values), 2) if values else None,
                         round(s, 2) if (s := _std(values)) is not None else None, len(values),
                         ci.low if ci else None, ci.high if ci else None, None, runs[0].scores[subset].n,
                         _parameters(g), _mean(tokens_per_1k(r) for r in g.runs),
                         _mean(cost_per_1k(r) for r in g.runs)])
    return rows


def baseline_groups(groups: Sequence[Group], baseline: str) -> dict[str, Group]:
    """task -> the baseline model's group (most seeds, then protocol name, when it ran several)."""
    known = sorted({g.model for g in groups})
    if baseline not in known:
        raise UnknownName("baseline model", baseline, known)
    chosen: dict[str, Group] = {}
    for g in sorted((g for g in groups if g.model == baseline), key=lambda g: (-len(g.runs), g.protocol)):
        chosen.setdefault(g.task, g)
    return chosen


def summary_from_groups(groups: Sequence[Group], baseline: str | None = None, n_boot: int = 1000) -> pd.DataFrame:
    if baseline:
        baseline_groups(groups, baseline)  # an unknown name fails before any bootstrap work
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
                test = paired_bootstrap(a.runs, b.runs, subset, metric, n_boot, key=task)
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
    baseline: str | None = None


def analyze(results: Iterable[RunResult], baseline: str | None = None, n_boot: int = 1000,
            tests: bool = True) -> Analysis:
    groups, flags = group_runs(results)
    return Analysis(groups, flags, summary_from_groups(groups, baseline, n_boot), runs_frame(groups),
                    tests_from_groups(groups, baseline, n_boot) if tests else pd.DataFrame(columns=TEST_COLUMNS),
                    baseline)


def summary_frame(results: Iterable[RunResult], baseline: str | None = None, n_boot: int = 1000) -> pd.DataFrame:
    """One row per (model, protocol, task, subset, metric): seed mean/std, seeds, 95% CI, delta to baseline."""
    groups, _ = group_runs(results)
    return summary_from_groups(groups, baseline, n_boot)
