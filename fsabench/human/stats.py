"""`fsabench human stats`: per model and dimension a mean with a bootstrap 95% interval, the
hallucination rate, agreement among humans (alpha, pairwise kappa), judge-vs-human agreement and
the items raters disagreed on most. Plain values in, one JSON-ready dict out (seeded, so the same
answers give the same file).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from fsabench import __version__
from fsabench.bootstrap import mean_interval
from fsabench.human.agreement import alpha, consensus, cohen_kappa, mean_of, pairwise_kappa
from fsabench.human.rubric import Dimension
from fsabench.human.store import Row
from fsabench.human.study import Study

STATS_VERSION = 1


def code_of(dim: Dimension, value: str) -> float:
    """Ordinal and nominal answers become their position on the scale; interval ones their score."""
    if dim.level == "interval":
        return dim.choice(value).score
    return float(dim.rank(value)) if dim.level == "ordinal" else float([c.value for c in dim.scale].index(value))


def unit_values(study: Study, rows: Sequence[Row], dim: Dimension) -> dict[str, dict[str, str]]:
    """annotator -> unit -> answer value, for non-skipped answers (units: item, or item#target)."""
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for row in rows:
        if row.status == "skipped" or row.item not in study.items:
            continue
        value = row.answer.get("values", {}).get(dim.name)
        values = value if isinstance(value, list) else [value]
        for t, v in enumerate(values):
            if v is not None and dim.choice(v) is not None:
                table[row.annotator][row.item if dim.per == "item" else f"{row.item}#{t}"] = v
    return dict(table)


def bootstrap_ci(values: Sequence[float], n_boot: int, seed: int) -> tuple[float | None, float | None]:
    """Percentile 95% interval of the mean, resampling items (the unit a study samples): fsabench.bootstrap."""
    return mean_interval(values, n_boot, seed)


def per_item(study: Study, table: dict[str, dict[str, str]], measure) -> dict[str, list[float]]:
    """item -> the measure of every rating of it (over raters, and targets for per-target dims)."""
    out: dict[str, list[float]] = defaultdict(list)
    for units in table.values():
        for unit, value in units.items():
            out[unit.split("#")[0]].append(measure(value))
    return out


def model_rows(study: Study, humans: Sequence[Row], n_boot: int) -> list[dict]:
    rows = []
    for d, dim in enumerate(study.rubric.dimensions):
        table = unit_values(study, humans, dim)
        measures = [("mean", lambda v, dim=dim: dim.choice(v).score)] if dim.level != "nominal" else []
        if dim.span:
            measures.append(("rate", lambda v, dim=dim: float(v in dim.span)))
        for name, measure in measures:
            items = per_item(study, table, measure)
            for m, model in enumerate(sorted({study.model_of(i) for i in study.items})):
                means = [sum(v) / len(v) for i, v in sorted(items.items()) if study.model_of(i) == model]
                low, high = bootstrap_ci(means, n_boot, study.seed + 1000 * d + m)
                rows.append({"model": model, "dimension": dim.name, "statistic": name, "n_items": len(means),
                             "n_ratings": sum(len(v) for i, v in items.items() if study.model_of(i) == model),
                             "value": mean_of(means), "ci_low": low, "ci_high": high})
    return rows


def agreement_rows(study: Study, humans: Sequence[Row]) -> list[dict]:
    rows = []
    for dim in study.rubric.dimensions:
        codes = {a: {u: code_of(dim, v) for u, v in units.items()} for a, units in unit_values(study, humans, dim).items()}
        value, units = alpha(codes, dim.level)
        weights = "linear" if dim.level != "nominal" else None
        pairs = pairwise_kappa(codes, len(dim.scale), weights) if dim.level != "interval" else []
        rows.append({"dimension": dim.name, "level": dim.level, "alpha": value, "units": units,
                     "raters": len(codes), "kappa_weights": weights or "none", "kappa_pairs": pairs,
                     "kappa_mean": mean_of([p["kappa"] for p in pairs])})
    return rows


def judge_rows(study: Study, humans: Sequence[Row], judges: Sequence[Row], agreement: list[dict]) -> list[dict]:
    """Each judge against the humans: mean kappa with each human, and how often it gives the human
    consensus answer; the humans' own mean kappa beside it for scale."""
    rows = []
    names = sorted({r.annotator for r in judges})
    for dim, among in zip(study.rubric.dimensions, agreement):
        human = unit_values(study, humans, dim)
        for judge in names:
            own = unit_values(study, [r for r in judges if r.annotator == judge], dim).get(judge, {})
            weights = "linear" if dim.level != "nominal" else None
            kappas, hits, n = [], 0, 0
            for units in human.values():
                shared = sorted(set(units) & set(own))
                kappas.append(cohen_kappa([dim.rank(units[u]) for u in shared], [dim.rank(own[u]) for u in shared],
                                          len(dim.scale), weights))
            for unit, value in own.items():
                codes = [code_of(dim, h[unit]) for h in human.values() if unit in h]
                if codes:
                    n += 1
                    hits += consensus(codes, dim.level) == code_of(dim, value)
            rows.append({"judge": judge, "dimension": dim.name, "units": n, "kappa_mean": mean_of(kappas),
                         "consensus_agreement": hits / n if n else None, "human_kappa_mean": among["kappa_mean"]})
    return rows


def disagreement_rows(study: Study, humans: Sequence[Row], top: int) -> list[dict]:
    """Items ranked by disagreement: per dimension the spread of ranks over raters divided by the
    scale's range (nominal: 1 when raters differ), averaged over the item's dimensions and targets."""
    spread: dict[str, list[float]] = defaultdict(list)
    answers: dict[str, dict] = defaultdict(dict)
    for dim in study.rubric.dimensions:
        by_unit: dict[str, dict[str, str]] = defaultdict(dict)
        for annotator, units in unit_values(study, humans, dim).items():
            for unit, value in units.items():
                by_unit[unit][annotator] = value
        for unit, given in by_unit.items():
            if len(given) < 2:
                continue
            ranks = [dim.rank(v) for v in given.values()]
            score = (max(ranks) - min(ranks)) / (len(dim.scale) - 1) if dim.level != "nominal" else float(len(set(ranks)) > 1)
            item = unit.split("#")[0]
            spread[item].append(score)
            answers[item][unit.replace(item, dim.name, 1)] = dict(sorted(given.items()))
    ranked = sorted(((sum(v) / len(v), item) for item, v in spread.items()), key=lambda p: (-p[0], p[1]))
    return [{"item": item, "model": study.model_of(item), "disagreement": round(score, 4), "answers": answers[item]}
            for score, item in ranked[:top] if score > 0]


def study_stats(study: Study, rows: Sequence[Row], n_boot: int = 2000, top: int = 10) -> dict:
    humans = [r for r in rows if r.kind == "human"]
    judges = [r for r in rows if r.kind == "judge"]
    agreement = agreement_rows(study, humans)
    status = defaultdict(int)
    for r in humans:
        status[r.status] += 1
    return {
        "stats_version": STATS_VERSION, "fsabench_version": __version__, "study": study.folder.name,
        "rubric": {"name": study.rubric.name, "version": study.rubric.version, "sha256": study.rubric.digest(),
                   "dimensions": [{"name": d.name, "title": d.title, "level": d.level, "per": d.per,
                                   "min": min(c.score for c in d.scale), "max": max(c.score for c in d.scale)}
                                  for d in study.rubric.dimensions]},
        "items": len(study.items), "humans": sorted({r.annotator for r in humans}),
        "judges": sorted({r.annotator for r in judges}), "answers": dict(sorted(status.items())),
        "flagged": sorted({r.item for r in humans if r.answer.get("flagged")}),
        "bootstrap": {"resamples": n_boot, "seed": study.seed, "method": "percentile 95% interval, resampling items"},
        "models": model_rows(study, humans, n_boot),
        "agreement": agreement,
        "judges_vs_humans": judge_rows(study, humans, judges, agreement),
        "disagreements": disagreement_rows(study, humans, top),
    }
