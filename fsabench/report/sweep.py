"""The sweep section of a report: how much prompt wording and seeds move each model, and whether the
ranking of models survives a change of prompt.

Read from the raw runs (not the seed groups, which keep one run per seed): one value per cell, the
task's main metric on 'all' (F1, or accuracy for classification), keyed by (model, task, shots, prompt,
seed) from each file's `meta` (num_shots, prompt). Shown when the runs come from `fsabench sweep`
(`meta.sweep`) or with `--preset sweep`.

    spread     per model, task and shots: mean and sample sd over every prompt x seed cell, the mean per
               prompt, and the range of those prompt means
    ranks      per task and shots, and over everything: Kendall's tau-b between the model rankings
               (by mean over seeds) under each pair of prompts; 1 = same order, -1 = reversed
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

from fsabench.report.paper import Section
from fsabench.report.tables import Cell, DASH, Table
from fsabench.results import RunResult


def is_sweep(results: Sequence[RunResult]) -> bool:
    return any(isinstance(r.meta.get("sweep"), dict) for r in results)


def main_value(result: RunResult) -> float | None:
    score = result.scores.get("all")
    if score is None or score.n == 0:
        return None
    return score.accuracy if result.task.type == "classification" else score.f1


def cells_of(results: Sequence[RunResult], labels=None) -> dict[tuple[str, str, int, str, int], float]:
    """(model display name, task, shots, prompt, seed) -> main score; the first file wins when a cell repeats."""
    from fsabench.report.loading import model_label, model_names

    names = model_names(results, labels)
    values: dict[tuple[str, str, int, str, int], float] = {}
    for r in results:
        value = main_value(r)
        if value is None:
            continue
        key = (names[model_label(r)], r.task.name, int(r.meta.get("num_shots") or 0), str(r.meta.get("prompt") or "default"),
               r.seed)
        values.setdefault(key, value)
    return values


def _f(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def spread_table(values: dict) -> Table:
    prompts = sorted({k[3] for k in values}, key=lambda p: (p != "default", p))
    groups: dict[tuple[str, str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (model, task, shots, prompt, _seed), value in sorted(values.items()):
        groups[model, task, shots][prompt].append(value)
    rows = []
    for (model, task, shots), by_prompt in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        every = [v for vs in by_prompt.values() for v in vs]
        means = {p: statistics.fmean(vs) for p, vs in by_prompt.items()}
        sd = statistics.stdev(every) if len(every) > 1 else None
        spread = max(means.values()) - min(means.values()) if len(means) > 1 else None
        rows.append([Cell(model), Cell(task), Cell(str(shots)), Cell(str(len(every))),
                     Cell(_f(statistics.fmean(every))), Cell(_f(sd))]
                    + [Cell(_f(means.get(p))) for p in prompts] + [Cell(_f(spread))])
    return Table("sweep_spread", "Sweep: mean and sd over prompts x seeds, per model, task and shots",
                 ["Model", "Task", "Shots", "Cells", "Mean", "SD"] + [f"prompt: {p}" for p in prompts]
                 + ["Prompt range"], rows,
                 notes=["Main metric on 'all' (F1; accuracy for classification). SD: sample sd over every prompt x "
                        "seed cell. Prompt range: highest minus lowest per-prompt mean."])


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b (as scipy.stats.kendalltau computes it, ties in either ranking corrected):
    (concordant - discordant) / sqrt((pairs - ties in a) * (pairs - ties in b)). None when n < 2 or a
    ranking is constant. O(n^2): a sweep ranks a handful of models."""
    n = len(a)
    if n < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    concordant = discordant = ties_a = ties_b = 0
    for i, j in combinations(range(n), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        ties_a += da == 0
        ties_b += db == 0
        if da and db:
            concordant += (da > 0) == (db > 0)
            discordant += (da > 0) != (db > 0)
    pairs = n * (n - 1) // 2
    return (concordant - discordant) / math.sqrt((pairs - ties_a) * (pairs - ties_b))


def rank_table(values: dict) -> Table:
    """Per (task, shots) and overall: tau between model rankings under each pair of prompts."""
    prompts = sorted({k[3] for k in values}, key=lambda p: (p != "default", p))
    means: dict[tuple[str, int], dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for (model, task, shots, prompt, _seed), value in values.items():
        means[task, shots][prompt][model].append(value)
        means["(all tasks)", -1][prompt][model].append(value)
    rows = []
    for (task, shots), by_prompt in sorted(means.items(), key=lambda kv: (kv[0][0] == "(all tasks)", kv[0])):
        for p, q in combinations([p for p in prompts if p in by_prompt], 2):
            models = sorted(set(by_prompt[p]) & set(by_prompt[q]))
            a = [statistics.fmean(by_prompt[p][m]) for m in models]
            b = [statistics.fmean(by_prompt[q][m]) for m in models]
            tau = kendall_tau(a, b)
            order_p = " > ".join(m for _, m in sorted(zip(a, models), key=lambda t: -t[0]))
            order_q = " > ".join(m for _, m in sorted(zip(b, models), key=lambda t: -t[0]))
            rows.append([Cell(task), Cell("all" if shots < 0 else str(shots)), Cell(f"{p} vs {q}"),
                         Cell(str(len(models))), Cell(_f(tau)), Cell(order_p), Cell(order_q)])
    notes = ["Kendall's tau-b between the model rankings (mean over seeds) under two prompts: 1.00 = the same "
             "order, -1.00 = reversed; – = fewer than two models or a ranking with every model tied."]
    if not rows:
        notes.append("Only one prompt variant in these runs: no rank stability to show (sweep `prompts: [default, terse]`).")
    return Table("sweep_ranks", "Sweep: rank stability of the models across prompts (Kendall's tau)",
                 ["Task", "Shots", "Prompts", "Models", "Tau", "Order (first)", "Order (second)"], rows, notes=notes)


def sweep_section(results: Sequence[RunResult], labels=None) -> Section:
    section = Section("sweep", "Sweep: prompt and seed sensitivity")
    values = cells_of(results, labels)
    if not values:
        section.missing.append("runs with a main score (F1 or accuracy on 'all')")
        return section
    section.tables += [spread_table(values), rank_table(values)]
    return section
