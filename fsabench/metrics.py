"""Scores from gold and predicted tuples: plain values in, plain values out.

`tuple_f1` is the paper's F1Measure (evaluation/utils/atsa.py): pairs are pooled as
(example index, tuple) over the whole set; precision counts predicted pairs found in gold,
recall counts gold pairs found in the predictions (list membership, so duplicates are not
merged); F1 = 0 when P + R = 0. The paper's code scores an empty side 1; its F1 is kept (0 when
exactly one side is empty), but a precision of no predictions (a recall of no gold) is reported as
undefined (None), never 100, and so is everything when both sides are empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

Tuples = Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class PRF:
    """Fractions (not x100); None = undefined: nothing predicted (precision), no gold (recall), neither (all)."""

    precision: float | None
    recall: float | None
    f1: float | None
    n_gold: int
    n_pred: int


def tuple_f1(gold: Sequence[Tuples], pred: Sequence[Tuples]) -> PRF:
    """Micro P/R/F1 over (example index, tuple) pairs, exactly as the paper's code scores."""
    assert len(gold) == len(pred), "one prediction list per example"
    gold_pool = Counter((i, t) for i, tuples in enumerate(gold) for t in tuples)
    pred_pool = Counter((i, t) for i, tuples in enumerate(pred) for t in tuples)
    n_gold, n_pred = sum(gold_pool.values()), sum(pred_pool.values())
    hit_pred = sum(count for key, count in pred_pool.items() if key in gold_pool)
    hit_gold = sum(count for key, count in gold_pool.items() if key in pred_pool)
    if not n_gold and not n_pred:
        return PRF(None, None, None, 0, 0)
    precision = hit_pred / n_pred if n_pred else None
    recall = hit_gold / n_gold if n_gold else None
    p, r = (1.0 if precision is None else precision), (1.0 if recall is None else recall)  # the paper's F1
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(precision, recall, f1, n_gold, n_pred)


def per_label_f1(gold: Sequence[Tuples], pred: Sequence[Tuples], labels: Sequence[str],
                 position: int = -1, f1=None) -> dict[str, float]:
    """F1 (tuple_f1 unless another `f1` is given) restricted to tuples whose element at `position`
    (the polarity: last in pairs and triplets, third in quads) is each label; x100."""
    score = f1 or tuple_f1
    out = {}
    for label in labels:
        g = [[t for t in tuples if t[position] == label] for tuples in gold]
        p = [[t for t in tuples if t[position] == label] for tuples in pred]
        f1 = score(g, p).f1 if any(g) or any(p) else None
        if f1 is not None:
            out[label] = pct(f1)
    return out


@dataclass(frozen=True)
class ABSAPRF:
    """Micro P/R/F1 as ABSA-QUAD's compute_f1_scores; None = undefined (nothing predicted or gold)."""

    precision: float | None
    recall: float | None
    f1: float | None
    n_gold: int
    n_pred: int
    n_hit: int


def absa_f1(gold: Sequence[Tuples], pred: Sequence[Tuples], unparseable: Sequence[int] | None = None,
            convention: str = "capped") -> ABSAPRF:
    """Micro P/R/F1 over tuples as the ASQP authors' `compute_f1_scores` (IsakZhang/ABSA-QUAD,
    eval_utils.py): n_gold and n_pred count every tuple of every example, a hit is a predicted tuple
    that equals a gold tuple of the same example (every element, exact), P = hits / n_pred,
    R = hits / n_gold, F1 = 2PR / (P + R), 0 when P + R = 0; P (R) is 0 when n_pred (n_gold) is 0.

    Two rules of that code, kept: an unparseable piece of a prediction is a predicted tuple that
    matches nothing (`unparseable[i]` such pieces in example i add to n_pred); gold duplicates count
    twice. One rule changed: the authors count a predicted tuple as a hit each time it is repeated,
    so repeating a right tuple inflates recall (above 100%); here hits are the multiset intersection
    (min of the two counts per tuple), which equals theirs whenever no prediction repeats.
    `convention="authors"` restores their rule exactly: every predicted tuple found among its example's
    gold is a hit (`for t in pred_pt[i]: if t in gold_pt[i]: n_tp += 1`).
    With nothing on either side (no gold, no prediction) every score is undefined (None), never 0 or 100.
    """
    assert len(gold) == len(pred), "one prediction list per example"
    extra = list(unparseable) if unparseable is not None else [0] * len(pred)
    n_gold = sum(len(g) for g in gold)
    n_pred = sum(len(p) for p in pred) + sum(extra)
    n_hit = sum(hits(g, p, convention) for g, p in zip(gold, pred))
    if n_gold == 0 and n_pred == 0:
        return ABSAPRF(None, None, None, 0, 0, 0)
    precision = n_hit / n_pred if n_pred else 0.0
    recall = n_hit / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ABSAPRF(precision, recall, f1, n_gold, n_pred, n_hit)


def hits(gold: Tuples, pred: Tuples, convention: str = "capped") -> int:
    """Hits of one example: capped = multiset intersection; authors = every predicted tuple found in gold."""
    if convention == "authors":
        return sum(t in gold for t in pred)
    return sum((Counter(gold) & Counter(pred)).values())


def project(tuples: Tuples, positions: Sequence[int]) -> list[tuple[str, ...]]:
    """The distinct sub-tuples at `positions` (aspect only, opinion only, (aspect, opinion) pair...):
    two triplets that share an aspect name it once."""
    return list(dict.fromkeys(tuple(t[i] for i in positions) for t in tuples))


def element_f1(gold: Sequence[Tuples], pred: Sequence[Tuples],
               elements: dict[str, Sequence[int]]) -> dict[str, float | None]:
    """absa_f1 of each projection, x100: where a model fails (aspect, opinion, pairing or polarity)."""
    out: dict[str, float | None] = {}
    for name, positions in elements.items():
        prf = absa_f1([project(g, positions) for g in gold], [project(p, positions) for p in pred])
        out[name] = None if prf.f1 is None else pct(prf.f1)
    return out


def accuracy_macro_f1(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 over the given labels; an unparseable prediction (None) is wrong."""
    n = len(gold)
    accuracy = sum(g == p for g, p in zip(gold, pred)) / n if n else 0.0
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return accuracy, (sum(f1s) / len(f1s) if f1s else 0.0)


@dataclass(frozen=True)
class SeedStats:
    """Mean and sample standard deviation (ddof=1) over seeds; std is None (shown as `–`) for one seed."""

    mean: float | None
    std: float | None
    n: int


def seed_mean_std(values: Sequence[float | None], digits: int | None = 2) -> SeedStats:
    """The one seed aggregate used by fine-tuning, reports and the leaderboard.

    `None` values (undefined scores, e.g. an empty subset) are left out, never counted as 0; no values
    gives an undefined mean. One value has no spread: std is None, never 0.00."""
    import statistics

    kept = [float(v) for v in values if v is not None]
    mean = statistics.fmean(kept) if kept else None
    std = statistics.stdev(kept) if len(kept) > 1 else None
    if digits is not None:
        mean = None if mean is None else round(mean, digits)
        std = None if std is None else round(std, digits)
    return SeedStats(mean, std, len(kept))


def pct(value: float | None) -> float | None:
    """x100 with two decimals, as the paper reports; an undefined score (None) stays undefined."""
    return None if value is None else round(100.0 * value, 2)
