"""Bootstrap confidence intervals and paired bootstrap tests, re-scored from stored examples.

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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fsabench.metrics import hits as example_hits
from fsabench.results import Record, RunResult

BASE_SEED = 20241224
CHUNK = 250  # resamples per matrix product (bounds memory on large test sets)


def ids_digest(ids: Sequence[str]) -> str:
    """A fingerprint of the example ids a bootstrap resamples (order-free)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def stable_seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return BASE_SEED ^ int.from_bytes(digest[:4], "big")


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


def score_from_sums(sums: np.ndarray, task_type: str) -> dict[str, np.ndarray]:
    """Metric values x100 from summed counts (shape (..., k)); mirrors metrics.tuple_f1 / accuracy_macro_f1."""
    if task_type == "classification":
        n, correct = sums[..., 0], sums[..., 1]
        tp, fp, fn = sums[..., 2::3], sums[..., 3::3], sums[..., 4::3]
        accuracy = np.divide(correct, n, out=np.zeros_like(n), where=n > 0)
        denom = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        used = (denom > 0).sum(-1)
        macro = np.divide(f1.sum(-1), used, out=np.zeros_like(n), where=used > 0)
        return {"accuracy": 100 * accuracy, "macro_f1": 100 * macro}
    n_gold, n_pred, hit_pred, hit_gold = (sums[..., i] for i in range(4))
    precision = np.divide(hit_pred, n_pred, out=np.ones_like(n_pred), where=n_pred > 0)
    recall = np.divide(hit_gold, n_gold, out=np.ones_like(n_gold), where=n_gold > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return {"f1": 100 * f1, "precision": 100 * precision, "recall": 100 * recall}


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


def _resampled(mats: Sequence[np.ndarray], metric: str, task_type: str, rng: np.random.Generator,
               n_boot: int) -> np.ndarray:
    """Seed-averaged metric for n_boot resamples of the shared example axis."""
    n = mats[0].shape[0]
    out = []
    for start in range(0, n_boot, CHUNK):
        size = min(CHUNK, n_boot - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
        out.append(np.mean([score_from_sums(weights @ m, task_type)[metric] for m in mats], axis=0))
    return np.concatenate(out) if out else np.zeros(0)


def point(mats: Sequence[np.ndarray], metric: str, task_type: str) -> float:
    return float(np.mean([score_from_sums(m.sum(0), task_type)[metric] for m in mats]))


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
    values = _resampled(mats, metric, runs[0].task.type, rng, n_boot)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(round(float(low), 2), round(float(high), 2), len(ids))


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
    diffs = (_resampled(mats_a, metric, task_type, np.random.default_rng(seed), n_boot)
             - _resampled(mats_b, metric, task_type, np.random.default_rng(seed), n_boot))
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    extreme = int(np.sum(np.abs(diffs - delta) >= abs(delta) - 1e-9))
    p_value = (extreme + 1) / (n_boot + 1)
    return PairedTest(round(delta, 2), round(float(low), 2), round(float(high), 2), round(p_value, 4), len(keep))
