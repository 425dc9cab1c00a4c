"""The paper's analyses as named sections of `fsabench report --preset paper`.

Each section is drawn from whatever runs are given and says plainly which runs it lacks
("missing runs: ...") instead of drawing an empty chart:

- `scaling`:   F1 against the number of teacher responses the student was distilled from
               (runs of `fsabench distill recipe ... --set corpus.size=N`, at two sizes or more);
- `ablation`:  analysis-only vs rewrite-only vs both prompts, and no distillation pretraining;
- `teachers`:  students distilled from different teachers;
- `zero_shot`: the teacher (and other LLMs) zero-shot or few-shot against the distilled student;
- `human`:     the human-evaluation table, contributed by `fsabench.human` when it is installed.

Distillation runs are recognised by `meta.distill` (written by `distill recipe`: recipe, ablation,
corpus size, prompts, teacher); a section hook is any callable `(Analysis) -> Section`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fsabench.metrics import seed_mean_std
from fsabench.report.frames import Analysis
from fsabench.report.loading import Group
from fsabench.report.tables import DASH, Cell, Table, fmt_score


@dataclass
class Section:
    """One named analysis: its tables, its figures (name, caption, draw) and the runs it lacks."""

    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, str, Callable]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


PROMPT_SETS = {("analysis", "rewrite"): "analysis + rewrite", ("analysis",): "analysis only",
               ("rewrite",): "rewrite only"}


def distill_of(g: Group) -> dict[str, Any] | None:
    """The group's `meta.distill` record (the same for every seed), or None for other runs."""
    info = g.runs[0].meta.get("distill")
    return info if isinstance(info, dict) else None


def _corpus(g: Group) -> dict[str, Any]:
    info = distill_of(g) or {}
    corpus = info.get("corpus")
    return corpus if isinstance(corpus, dict) else {}


def variant_of(g: Group) -> str:
    """'no pretraining' for the ablation, else the corpus prompts ('analysis only', ...)."""
    info = distill_of(g) or {}
    if info.get("ablation") == "no-pretrain":
        return "no pretraining"
    prompts = tuple(sorted(str(p) for p in _corpus(g).get("prompts") or ()))
    return PROMPT_SETS.get(prompts, " + ".join(prompts) or "unknown prompts")


def _score(g: Group, subset: str = "all") -> tuple[float | None, float | None, int]:
    metric = "accuracy" if g.task_type == "classification" else "f1"
    values = [getattr(r.scores[subset], metric) if subset in r.scores and r.scores[subset].n else None
              for r in g.runs]
    stats = seed_mean_std(values)
    return stats.mean, stats.std, stats.n


def _cell(groups: Sequence[Group]) -> Cell:
    """Mean ± std over the seeds of every group given (pooled: one model, one task)."""
    if not groups:
        return Cell(DASH)
    metric = "accuracy" if groups[0].task_type == "classification" else "f1"
    values = [getattr(r.scores["all"], metric) for g in groups for r in g.runs if r.scores["all"].n]
    stats = seed_mean_std(values)
    return Cell(fmt_score(stats.mean, stats.std))


def _full(groups: Sequence[Group]) -> list[Group]:
    return [g for g in groups if not g.partial]


def _pivot(rows: dict[tuple[str, ...], list[Group]], tasks: Sequence[str], name: str, title: str,
           first: Sequence[str], notes: Sequence[str]) -> Table:
    """One row per key (its parts are the first columns), one column per task."""
    body = []
    for key, members in rows.items():
        body.append([Cell(part) for part in key] + [_cell([g for g in members if g.task == t]) for t in tasks])
    return Table(name, title, [*first, *tasks], body, list(notes))


def _size(g: Group) -> str:
    value = _corpus(g).get("responses")
    return str(value) if value is not None else DASH


def _by(groups: Sequence[Group], key, order: Sequence[str] = ()) -> dict[tuple[str, str], list[Group]]:
    """Groups keyed by (key(g), corpus size): rows never pool students distilled from different sizes."""
    found: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        found.setdefault((key(g), _size(g)), []).append(g)
    rank = {v: i for i, v in enumerate(order)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0][0], len(rank)), kv[0][0],
                                                      int(kv[0][1]) if kv[0][1].isdigit() else -1)))


def scaling_section(analysis: Analysis) -> Section:
    section = Section("scaling", "Corpus-size scaling: F1 against the number of teacher responses")
    distilled = [g for g in _full(analysis.groups) if distill_of(g) and variant_of(g) != "no pretraining"
                 and _corpus(g).get("responses")]
    sizes = sorted({int(_corpus(g)["responses"]) for g in distilled})
    if len(sizes) < 2:
        found = f"found {', '.join(map(str, sizes))} responses" if sizes else "found none"
        section.missing.append("distilled students at two corpus sizes or more "
                               f"(`fsabench distill recipe R.yaml --set corpus.size=N`; {found})")
        return section
    tasks = list(dict.fromkeys(g.task for g in distilled))
    rows = []
    for g in distilled:
        mean, std, n = _score(g)
        rows.append({"task": g.task, "model": f"recipe {(distill_of(g) or {}).get('recipe', '?')}",
                     "responses": int(_corpus(g)["responses"]),
                     "mean": mean, "std": std, "seeds": n})
    frame = pd.DataFrame(rows).sort_values(["task", "responses", "model"], kind="stable")
    body = [[Cell(str(size))] + [Cell(_fmt_rows(frame[(frame.task == t) & (frame.responses == size)]))
                                 for t in tasks] for size in sizes]
    section.tables.append(Table("scaling", "F1 by corpus size (teacher responses)", ["Responses", *tasks], body,
                                ["mean ± std over seeds of the distilled students at each corpus size"]))
    from fsabench.report.charts import scaling_chart

    section.figures.append(("scaling", "F1 ('all') against the number of teacher responses, error bars: std "
                            "over seeds", lambda: scaling_chart(frame, analysis.colors)))
    return section


def _fmt_rows(part: pd.DataFrame) -> str:
    if part.empty:
        return DASH
    return "; ".join(fmt_score(r.mean, r.std) for r in part.itertuples())


def ablation_section(analysis: Analysis) -> Section:
    section = Section("ablation", "Ablation: analysis vs rewrite prompts, and no distillation pretraining")
    distilled = [g for g in _full(analysis.groups) if distill_of(g)]
    by_variant: dict[str, list[Group]] = {}
    for g in distilled:
        by_variant.setdefault(variant_of(g), []).append(g)
    wanted = ["analysis + rewrite", "analysis only", "rewrite only", "no pretraining"]
    commands = {"analysis + rewrite": "`distill recipe R.yaml`",
                "analysis only": "`distill recipe R.yaml --set corpus.prompts=[analysis]`",
                "rewrite only": "`distill recipe R.yaml --set corpus.prompts=[rewrite]`",
                "no pretraining": "`distill recipe R.yaml --ablation no-pretrain`"}
    partial: dict[str, list[int]] = {}  # variants found only on fewer examples: set aside, and said so
    for g in analysis.groups:
        if g.partial and distill_of(g):
            partial.setdefault(variant_of(g), []).append(g.n)
    section.missing += [f"{v} ({commands[v]}" + (f"; only partial runs were found (n={min(partial[v])} examples, "
                                                  "--limit): set aside, re-run on the full test sets)"
                                                  if v in partial else ")")
                        for v in wanted if v not in by_variant]
    if not by_variant:
        return section
    tasks = list(dict.fromkeys(g.task for g in distilled))
    section.tables.append(_pivot(_by(distilled, variant_of, wanted), tasks, "ablation",
                                 "Students by teacher prompts (tuple F1, 'all')", ["Pretraining corpus", "Responses"],
                                 ["mean ± std over seeds; every row is the same student architecture and "
                                  "fine-tuning, only the distillation corpus differs"]))
    return section


def teachers_section(analysis: Analysis) -> Section:
    section = Section("teachers", "Teacher comparison: students distilled from different teachers")
    distilled = [g for g in _full(analysis.groups) if distill_of(g) and variant_of(g) != "no pretraining"]
    by_teacher: dict[str, list[Group]] = {}
    for g in distilled:
        by_teacher.setdefault(str(_corpus(g).get("teacher") or "unknown teacher"), []).append(g)
    if len(by_teacher) < 2:
        found = f"found only {next(iter(by_teacher))}" if by_teacher else "found none"
        section.missing.append(f"students distilled from two teachers or more ({found})")
    if not by_teacher:
        return section
    tasks = list(dict.fromkeys(g.task for g in distilled))
    teacher = lambda g: str(_corpus(g).get("teacher") or "unknown teacher")  # noqa: E731
    section.tables.append(_pivot(_by(distilled, teacher), tasks, "teachers",
                                 "Distilled students by teacher (tuple F1, 'all')", ["Teacher", "Responses"],
                                 ["mean ± std over the seeds of every student distilled from that teacher"]))
    return section


def zero_shot_section(analysis: Analysis) -> Section:
    section = Section("zero_shot", "Zero-shot LLMs, the teacher among them, against the distilled student")
    groups = analysis.groups
    teachers = sorted({str(_corpus(g).get("teacher")) for g in groups if distill_of(g) and _corpus(g).get("teacher")})
    prompted = [g for g in groups if g.protocol in ("zero-shot", "few-shot")]
    students = [g for g in _full(groups) if distill_of(g) and variant_of(g) != "no pretraining"]
    teacher_rows = [g for g in prompted if any(t.lower() in (g.model_id + " " + g.model).lower() for t in teachers)]
    if not students:
        section.missing.append("a distilled student (`fsabench distill recipe`)")
    if not teachers:
        section.missing.append("the teacher's name (a distilled student's `meta.distill.corpus.teacher`)")
    elif not teacher_rows:
        section.missing.append(f"a zero-shot run of the teacher ({', '.join(teachers)}): "
                               "`fsabench run --model TEACHER --tasks ...`")
    if not prompted and not students:
        return section
    rows: dict[str, list[Group]] = {}
    for g in sorted(prompted, key=lambda g: (g not in teacher_rows, g.model, g.protocol)):
        tag = "teacher, " if g in teacher_rows else ""
        scope = f", partial n={g.n}" if g.partial else ""
        rows.setdefault(f"{g.model} ({tag}{g.protocol}{scope})", []).append(g)
    for g in students:
        rows.setdefault(f"{g.model} (distilled student)", []).append(g)
    tasks = list(dict.fromkeys(g.task.split(" (partial")[0] for gs in rows.values() for g in gs))
    body = [[Cell(label)] + [_cell([g for g in members if g.task.split(" (partial")[0] == t]) for t in tasks]
            for label, members in rows.items()]
    notes = ["mean ± std over seeds; a partial row (--limit) scored fewer examples and is not comparable"]
    section.tables.append(Table("zero_shot_teacher", "Zero-shot vs distilled (tuple F1 / accuracy, 'all')",
                                ["Model", *tasks], body, notes))
    return section


HUMAN_HOOK = "fsabench.human.report:render_human_section"  # (stats path) -> (Table, FigureJob); issue 16


def human_section(analysis: Analysis, human: Sequence[str | Path] = ()) -> Section:
    """The human-evaluation table(s) from `fsabench human stats` files (`build_report(human=...)`,
    `fsabench report --human STUDY/stats.json`); a clear gap when none is given."""
    section = Section("human", "Human evaluation")
    if not human:
        section.missing.append("human-evaluation results (`fsabench human stats STUDY`, then "
                               "`fsabench report ... --human STUDY/stats.json`)")
        return section
    from importlib import import_module

    module, _, attr = HUMAN_HOOK.partition(":")
    try:
        render = getattr(import_module(module), attr)
    except (ImportError, AttributeError):
        section.missing.append("human-evaluation support (`fsabench.human`) is not in this installation")
        return section
    for path in human:
        table, job = render(Path(path))
        section.tables.append(table)
        if job is not None:
            section.figures.append((job.name, job.caption, job.draw))
    return section


SECTIONS: dict[str, Callable[..., Section]] = {
    "scaling": scaling_section, "ablation": ablation_section, "teachers": teachers_section,
    "zero_shot": zero_shot_section}


def paper_sections(analysis: Analysis, human: Sequence[str | Path] = ()) -> list[Section]:
    """Every paper section in order (the main tables are the report's own), human evaluation last."""
    return [build(analysis) for build in SECTIONS.values()] + [human_section(analysis, human)]
