"""How wide are a human study's intervals for a given number of items? (the table in docs/human.md)

Simulated studies: each item has a true quality on the 1-5 scale (spread `sd` across items), three
raters each add their own noise (rounded to the scale), the item's score is the raters' mean. For
each number of items we report the median half-width of the bootstrap 95% interval of the mean
(fsabench.human.stats.bootstrap_ci, as `fsabench human stats` computes it), the same for a
hallucination rate, and the spread (2.5-97.5 percentile over replicate studies) of Krippendorff's
alpha. Not a test: it prints a table.  Run: python scripts/human_intervals.py
"""

from __future__ import annotations

import random
import statistics

from fsabench.human.agreement import alpha
from fsabench.human.stats import bootstrap_ci


def study(n: int, rng: random.Random, sd: float = 0.8, noise: float = 0.6, rate: float = 0.2):
    scores, flags, table = [], [], {r: {} for r in "abc"}
    for i in range(n):
        truth = rng.gauss(3.2, sd)
        codes = [min(5, max(1, round(truth + rng.gauss(0, noise)))) for _ in "abc"]
        for r, c in zip("abc", codes):
            table[r][str(i)] = float(c - 1)
        scores.append(sum(codes) / 3)
        hallucinated = rng.random() < rate
        flags.append(sum((rng.random() < 0.85) == hallucinated for _ in "abc") / 3)
    return scores, flags, table


def main() -> None:
    print("| items | mean (1-5): ± half-width | hallucination rate 20%: ± | alpha: 95% of studies within |")
    print("|---|---|---|---|")
    for n in (25, 50, 100, 200, 400):
        rng = random.Random(n)
        widths, rates, alphas = [], [], []
        for rep in range(40):
            scores, flags, table = study(n, rng)
            lo, hi = bootstrap_ci(scores, 1000, rep)
            widths.append((hi - lo) / 2)
            lo, hi = bootstrap_ci(flags, 1000, rep)
            rates.append((hi - lo) / 2)
            alphas.append(alpha(table, "ordinal")[0])
        alphas.sort()
        print(f"| {n} | ±{statistics.median(widths):.2f} | ±{100 * statistics.median(rates):.1f} points "
              f"| {alphas[1]:.2f} – {alphas[-2]:.2f} (median {statistics.median(alphas):.2f}) |")


if __name__ == "__main__":
    main()
