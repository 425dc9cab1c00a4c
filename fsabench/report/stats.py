"""Bootstrap confidence intervals and paired bootstrap tests of RunResults, re-scored from stored examples
(the resampling itself is fsabench.bootstrap, shared with the leaderboard and human studies).

Every metric here is a function of per-example counts that add up over examples, so a bootstrap
resample is a weight vector over examples and its score is `weights @ counts`. For tuple F1 the
counts are (n_gold, n_pred, hit_pred, hit_gold) exactly as `fsabench.metrics.tuple_f1` pools
(example, tuple) pairs: resampling example i twice gives two distinct examples, each counted in
full. For accuracy / macro-F1 they are the per-label tp, fp, fn. Runs of several seeds share one
resample of example ids and the statistic is the mean over seeds, so an interval describes the
seed-averaged score the tables show. Random draws are seeded from the example ids resampled (and
the subset and metric), so reports are deterministic and a row's interval depends only on its own
data: adding, removing or renaming another run never moves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fsabench.bootstrap import (CHUNK, ids_digest, metric_replicates, percentile_interval, point,  # noqa: F401
                                score_from_sums, shifted_null_p, stable_seed)
from fsabench.metrics import hits as example_hits
from fsabench.results import Record, RunResult

def labels_of(result: RunResult) -> list[str]:
    """The closed label set the task scores (from the stored definition), else the gold labels seen."""
    output = result.task.definition.get("output", {}) if result.task.definition else {}
    labels = output.get("labels") if output.get("parser") == "label" else output.get("polarities")
    return list(labels) if labels else sorted({t[-1] for r in result.examples for t in r.gold})


def metrics_of(result: RunResult) -> list[str]:
    return ["accuracy", "macro_f1"] if result.task.type == "classification" else ["f1"]


def example_counts(records: Sequence[Record], task_type: str, labels: Sequence[str], absa: bool = False,
                   convention: str = "capped") -> np.ndarray:
    """One row of additive counts per example (see the module docstring); `absa` counts as
    metrics.absa_f1 does (unparseable pieces are predictions, hits are a multiset intersection, or under
    the authors' convention every predicted tuple found in gold)."""
    if task_type == "classification":
        rows = []
        for r in records:
            gold = r.gold[0][0] if r.gold else None
            pred = r.prediction[0][0] if r.prediction else None
            row = [1.0, float(gold == pred)]
            for label in labels:
                row += [gold == label and pred == label, gold != label and pred == label,
                        gold == label and pred != label]
            rows.append(row)
        return np.asarray(rows, dtype=float).reshape(len(records), 2 + 3 * len(labels))
    rows = []
    for r in records:
        gold, pred = [tuple(t) for t in r.gold], [tuple(t) for t in r.prediction]
        if absa:
            hits = example_hits(gold, pred, convention)
            rows.append([len(gold), len(pred) + r.unparseable, hits, hits])
            continue
        rows.append([len(gold), len(pred), sum(t in gold for t in pred), sum(t in pred for t in gold)])
    return np.asarray(rows, dtype=float).reshape(len(records), 4)


def convention_of(result: RunResult) -> str:
    """capped | authors: how the run's tuples were scored (results made before the option: capped)."""
    return (result.task.definition or {}).get("convention") or "capped"


def aligned_counts(runs: Sequence[RunResult], ids: Sequence[str], subset: str) -> tuple[list[np.ndarray], list[str]]:
    """Per-run count matrices over the given ids (in that order) restricted to one subset."""
    first = {r.id: r for r in runs[0].examples}
    keep = [i for i in ids if subset in first[i].subsets]
    task_type, labels = runs[0].task.type, labels_of(runs[0])
    absa = (runs[0].task.definition or {}).get("metric") == "absa_f1"
    mats = []
    for run in runs:
        by_id = {r.id: r for r in run.examples}
        mats.append(example_counts([by_id[i] for i in keep], task_type, labels, absa, convention_of(run)))
    return mats, keep


def common_ids(runs: Sequence[RunResult]) -> list[str]:
    """Example ids every run holds, in the first run's order."""
    shared = set.intersection(*({r.id for r in run.examples} for run in runs))
    return [r.id for r in runs[0].examples if r.id in shared]


_resampled = metric_replicates  # the old private name (leaderboard.stats on older branches)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    n: int  # examples resampled


def bootstrap_ci(runs: Sequence[RunResult], subset: str, metric: str, n_boot: int = 1000,
                 level: float = 0.95, key: str = "") -> Interval | None:
    """Percentile bootstrap interval of the seed-averaged metric (x100); None without examples.
    (`key` is accepted for compatibility and ignored: the seed comes from the data.)"""
    mats, ids = aligned_counts(runs, common_ids(runs), subset)
    if not ids or n_boot <= 0:
        return None
    rng = np.random.default_rng(stable_seed("ci", ids_digest(ids), subset, metric))
    low, high = percentile_interval(metric_replicates(mats, metric, runs[0].task.type, rng, n_boot), level)
    return Interval(round(low, 2), round(high, 2), len(ids))


@dataclass(frozen=True)
class PairedTest:
    delta: float  # a - b on the shared examples, x100
    low: float
    high: float
    p_value: float
    n: int


def paired_bootstrap(runs_a: Sequence[RunResult], runs_b: Sequence[RunResult], subset: str, metric: str,
                     n_boot: int = 1000, level: float = 0.95, key: str = "") -> PairedTest | None:
    """Paired bootstrap over the examples both models answered (same resample for both sides).

    p is two-sided under the shifted null (Berg-Kirkpatrick et al., 2012): the share of resampled
    differences at least |delta| away from the observed delta, with the +1 correction.
    """
    ids = common_ids(list(runs_a) + list(runs_b))
    mats_a, keep = aligned_counts(runs_a, ids, subset)
    mats_b, _ = aligned_counts(runs_b, keep, subset)
    if not keep or n_boot <= 0:
        return None
    task_type = runs_a[0].task.type
    delta = point(mats_a, metric, task_type) - point(mats_b, metric, task_type)
    seed = stable_seed("paired", ids_digest(keep), subset, metric)
    diffs = (metric_replicates(mats_a, metric, task_type, np.random.default_rng(seed), n_boot)
             - metric_replicates(mats_b, metric, task_type, np.random.default_rng(seed), n_boot))
    low, high = percentile_interval(diffs, level)
    p_value = shifted_null_p(diffs, delta)
    return PairedTest(round(delta, 2), round(low, 2), round(high, 2), round(p_value, 4), len(keep))
