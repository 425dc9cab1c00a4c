"""The one bootstrap engine: resamples of an example (or item) axis, seeded from the data.

Every statistic fsabench puts an interval on is a function of per-example counts that add up over
examples, so a resample is a weight vector over examples (multinomial, summing to n) and its value is
`score(weights @ counts)`. Several seeds share one resample and the statistic is their mean. The
report (`report.stats`), the leaderboard (`leaderboard.stats`) and human studies (`human.stats`)
all draw here: the same draws, the same percentile interval, the same shifted-null p.
Numbers only: no RunResult, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

BASE_SEED = 20241224
CHUNK = 250  # resamples per matrix product (bounds memory on large test sets)
LEVEL = 0.95

Score = Callable[[np.ndarray], np.ndarray]  # summed counts (..., k) -> the statistic (...)


def ids_digest(ids: Sequence[str]) -> str:
    """A fingerprint of the example ids a bootstrap resamples (order-free)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def stable_seed(*parts: object) -> int:
    """A seed from names (task, metric, ids digest, ...): the same data always draws the same resamples."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return BASE_SEED ^ int.from_bytes(digest[:4], "big")


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


def replicates(mats: Sequence[np.ndarray], score: Score, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """The seed-averaged statistic for n_boot resamples of the shared example axis (rows of each matrix)."""
    n = mats[0].shape[0]
    out = []
    for start in range(0, n_boot, CHUNK):
        size = min(CHUNK, n_boot - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
        out.append(np.mean([score(weights @ m) for m in mats], axis=0))
    return np.concatenate(out) if out else np.zeros(0)


def metric_replicates(mats: Sequence[np.ndarray], metric: str, task_type: str, rng: np.random.Generator,
                      n_boot: int) -> np.ndarray:
    """replicates() of a benchmark metric (x100) over example-count matrices."""
    return replicates(mats, lambda sums: score_from_sums(sums, task_type)[metric], rng, n_boot)


def point(mats: Sequence[np.ndarray], metric: str, task_type: str) -> float:
    """The seed-averaged metric on all examples (no resampling)."""
    return float(np.mean([score_from_sums(m.sum(0), task_type)[metric] for m in mats]))


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates."""
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def shifted_null_p(diffs: np.ndarray, delta: float) -> float:
    """Two-sided p under the shifted null (Berg-Kirkpatrick et al., 2012): the share of resampled
    differences at least |delta| away from the observed delta, with the +1 correction."""
    extreme = int(np.sum(np.abs(diffs - delta) >= abs(delta) - 1e-9))
    return (extreme + 1) / (len(diffs) + 1)


def mean_interval(values: Sequence[float], n_boot: int, seed: int,
                  level: float = LEVEL) -> tuple[float | None, float | None]:
    """Percentile interval of a plain mean, resampling the values (human studies resample items);
    (None, None) for fewer than two values or no resamples."""
    if len(values) < 2 or n_boot <= 0:
        return None, None
    counts = np.asarray(values, dtype=float).reshape(-1, 1)
    n = len(values)
    reps = replicates([counts], lambda sums: sums[..., 0] / n, np.random.default_rng(stable_seed("mean", seed)), n_boot)
    return percentile_interval(reps, level)
