"""Polarity confusion counts from stored examples: gold vs predicted polarity per aspect.

Pairs are matched by their aspect (the tuple without its polarity: the term for ATSA, the category
for ACSA, nothing for a sentence label). Within one example and aspect, exact matches pair up
first, then the rest in order. A gold aspect with no prediction counts as 'missed'; a predicted
aspect with no gold counts as 'spurious'.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import pandas as pd

from fsabench.report.stats import labels_of
from fsabench.results import RunResult

MISSED, SPURIOUS = "missed", "spurious"


def example_pairs(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """(gold polarity or 'spurious', predicted polarity or 'missed') for one example."""
    by_aspect: dict[tuple, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for t in gold:
        by_aspect[tuple(t[:-1])][0].append(t[-1])
    for t in pred:
        by_aspect[tuple(t[:-1])][1].append(t[-1])
    cells = []
    for g, p in by_aspect.values():
        same = Counter(g) & Counter(p)
        cells += [(label, label) for label, count in sorted(same.items()) for _ in range(count)]
        g_left, p_left = list((Counter(g) - same).elements()), list((Counter(p) - same).elements())
        cells += list(zip(g_left, p_left))
        cells += [(label, MISSED) for label in g_left[len(p_left):]]
        cells += [(SPURIOUS, label) for label in p_left[len(g_left):]]
    return cells


def confusion_counts(runs: Sequence[RunResult], average: bool = False) -> pd.DataFrame:
    """Rows: gold labels + 'spurious'; columns: predicted labels + 'missed'; summed over the runs,
    or (average=True) the mean count per seed, so panels with different seed counts compare."""
    labels = labels_of(runs[0])
    counts: Counter = Counter()
    for run in runs:
        for r in run.examples:
            counts.update(example_pairs(r.gold, r.prediction))
    if average:
        counts = Counter({pair: count / len(runs) for pair, count in counts.items()})
    extra = sorted({x for pair in counts for x in pair} - set(labels) - {MISSED, SPURIOUS})
    labels = labels + extra  # labels a model invented (kept, never hidden)
    rows, cols = labels + [SPURIOUS], labels + [MISSED]
    frame = pd.DataFrame(0, index=rows, columns=cols, dtype=float if average else int)
    for (g, p), count in counts.items():
        frame.loc[g, p] += count
    frame.loc[SPURIOUS, MISSED] = 0
    return frame
