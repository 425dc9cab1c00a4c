"""Two runs of the same tasks, example by example: what flipped, and is the change more than chance?

A and B are RunResults of the same task definition on the same examples (two models, or one model
before and after a change). Per task and subset: the examples A gets right and B wrong and the reverse,
by the task's own per-example counts (`report.stats.example_counts`: a tuple example is right when every
predicted tuple is a hit and every gold tuple is found, a classification example when its label is
the gold one), and B - A on the task's headline metric with the paired bootstrap of `report.stats`
(same resamples as reports, so the same numbers). B is "significantly worse" on a subset when B - A < 0
and p < alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from fsabench.errors import FsabenchError
from fsabench.report.stats import aligned_counts, convention_of, paired_bootstrap, point
from fsabench.results import Record, RunResult


@dataclass(frozen=True)
class Flip:
    id: str
    input: str
    gold: str  # the gold answer as text
    output_a: str | None
    output_b: str | None
    subsets: tuple[str, ...]


@dataclass(frozen=True)
class SubsetDiff:
    subset: str
    n: int
    metric: str
    score_a: float | None
    score_b: float | None
    delta: float | None  # B - A, x100
    low: float | None
    high: float | None
    p_value: float | None
    a_right_b_wrong: int
    b_right_a_wrong: int
    worse: bool  # B significantly worse (delta < 0 and p < alpha)


@dataclass(frozen=True)
class TaskDiff:
    task: str
    model_a: str
    model_b: str
    convention: str | None
    subsets: list[SubsetDiff]
    lost: list[Flip] = field(default_factory=list)  # right in A, wrong in B
    gained: list[Flip] = field(default_factory=list)  # wrong in A, right in B


@dataclass(frozen=True)
class DiffReport:
    a: str
    b: str
    alpha: float
    n_boot: int
    tasks: list[TaskDiff]

    @property
    def regression(self) -> bool:
        """B is significantly worse than A on at least one compared subset."""
        return any(s.worse for t in self.tasks for s in t.subsets)

    def to_dict(self) -> dict:
        return {**asdict(self), "regression": self.regression,
                "method": f"paired bootstrap over examples ({self.n_boot} resamples), two-sided p, delta = B - A"}


def headline_metric(result: RunResult) -> str:
    """The metric a diff tests: tuple F1 for extraction, macro-F1 for classification."""
    return "f1" if result.task.type == "extraction" else "macro_f1"


def check_comparable(task: str, a: RunResult, b: RunResult) -> None:
    """One line when A and B cannot be compared example by example."""
    if a.task.sha256 != b.task.sha256:
        ca, cb = convention_of(a), convention_of(b)
        why = f" (conventions {ca} vs {cb})" if ca != cb else ""
        raise FsabenchError(f"task {task}: A and B were scored with different task definitions "
                            f"({a.task.sha256[:12]} vs {b.task.sha256[:12]}){why}",
                            hint="re-score one side with the other's definition (fsabench score, --convention), "
                                 "or compare runs of the same task version")
    if a.task.data != b.task.data:
        raise FsabenchError(f"task {task}: A and B ran on different data files", hint="compare runs on the same data")
    ids_a, ids_b = [r.id for r in a.examples], {r.id for r in b.examples}
    if set(ids_a) != ids_b:
        only_a, only_b = len(set(ids_a) - ids_b), len(ids_b - set(ids_a))
        raise FsabenchError(f"task {task}: A and B hold different example sets ({len(ids_a)} vs {len(ids_b)} examples; "
                            f"{only_a} only in A, {only_b} only in B)",
                            hint="compare runs made with the same --limit (or none) on the same task")


def right_flags(result: RunResult, ids: Sequence[str], subset: str) -> tuple[np.ndarray, list[str]]:
    """Per example of the subset (in `ids` order): is it right by the task's own counts?"""
    mats, keep = aligned_counts([result], ids, subset)
    m = mats[0]
    if result.task.type == "classification":
        return m[:, 1] > 0, keep
    n_gold, n_pred, hit_pred, hit_gold = (m[:, i] for i in range(4))
    return (hit_pred == n_pred) & (hit_gold == n_gold), keep


def _flip(ra: Record, rb: Record) -> Flip:
    return Flip(ra.id, ra.input, ra.target or " ; ".join(" | ".join(t) for t in ra.gold), ra.output, rb.output,
                tuple(ra.subsets))


def diff_task(a: RunResult, b: RunResult, n_boot: int = 1000, alpha: float = 0.05) -> TaskDiff:
    """The flips and the paired test of one task, every subset the task declares."""
    task = a.task.name
    check_comparable(task, a, b)
    ids = [r.id for r in a.examples]
    metric = headline_metric(a)
    by_a, by_b = {r.id: r for r in a.examples}, {r.id: r for r in b.examples}
    subsets, lost, gained = [], [], []
    for subset in a.scores:
        right_a, keep = right_flags(a, ids, subset)
        right_b, _ = right_flags(b, keep, subset)
        test = paired_bootstrap([b], [a], subset, metric, n_boot=n_boot) if keep else None
        score_a = score_b = None
        if keep:
            score_a = round(point(aligned_counts([a], keep, subset)[0], metric, a.task.type), 2)
            score_b = round(point(aligned_counts([b], keep, subset)[0], metric, b.task.type), 2)
        worse = bool(test and test.delta < 0 and test.p_value < alpha)
        subsets.append(SubsetDiff(subset, len(keep), metric, score_a, score_b, test and test.delta,
                                  test and test.low, test and test.high, test and test.p_value,
                                  int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a)), worse))
        if subset == "all":
            lost = [_flip(by_a[i], by_b[i]) for i, x, y in zip(keep, right_a, right_b) if x and not y]
            gained = [_flip(by_a[i], by_b[i]) for i, x, y in zip(keep, right_a, right_b) if y and not x]
    convention = convention_of(a) if (a.task.definition or {}).get("metric") == "absa_f1" else None
    return TaskDiff(task, a.model.name, b.model.name, convention, subsets, lost, gained)


def one_per_task(results: Sequence[RunResult], side: str) -> dict[str, RunResult]:
    """task -> the single run of that side; several runs of a task (seeds, models) are refused."""
    out: dict[str, RunResult] = {}
    for result in results:
        if result.task.name in out:
            other = out[result.task.name]
            raise FsabenchError(f"{side} holds two runs of task {result.task.name} ({other.model.name} seed {other.seed}, "
                                f"{result.model.name} seed {result.seed})",
                                hint=f"pass one result file or a folder with one run per task as {side}")
        out[result.task.name] = result
    return out


def diff_runs(a: Sequence[RunResult], b: Sequence[RunResult], tasks: Sequence[str] | None = None,
              n_boot: int = 1000, alpha: float = 0.05, names: tuple[str, str] = ("A", "B")) -> DiffReport:
    """Every task both sides hold (or the `tasks` asked for), in A's order."""
    runs_a, runs_b = one_per_task(a, "A"), one_per_task(b, "B")
    if tasks:
        missing = [(t, side) for t in tasks for side, runs in (("A", runs_a), ("B", runs_b)) if t not in runs]
        if missing:
            task, side = missing[0]
            raise FsabenchError(f"{side} has no run of task {task}", hint=f"{side} holds: {', '.join(sorted(runs_a if side == 'A' else runs_b)) or 'nothing'}")
        selected = list(tasks)
    else:
        selected = [t for t in runs_a if t in runs_b]
        if not selected:
            raise FsabenchError(f"A and B share no task (A: {', '.join(sorted(runs_a))}; B: {', '.join(sorted(runs_b))})",
                                hint="pass runs of the same tasks")
    return DiffReport(names[0], names[1], alpha, n_boot,
                      [diff_task(runs_a[t], runs_b[t], n_boot, alpha) for t in selected])
