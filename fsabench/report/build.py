"""Build a report folder from result files: tables (md, latex, csv, json), figures and one HTML page.

    load_runs -> analyze -> tables_for -> figures_for -> write each requested format

Nothing written depends on the clock or the machine, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fsabench.extras import available, require
from fsabench import __version__
from fsabench.errors import FsabenchError, UnknownName
from fsabench.io import write_json_atomic, write_text_atomic
from fsabench.report.frames import Analysis, analyze
from fsabench.report.labels import Labels
from fsabench.report.loading import read_runs
from fsabench.report.tables import (Table, latex_comment, md_escape, table_csv, table_json, tables_for, to_csv,
                                    to_latex, to_markdown)
from fsabench.results import slug

FORMATS = ("md", "latex", "html", "csv", "json")
FIGURE_FORMATS = ("png", "svg", "pdf")
PRESETS = {"paper": {"formats": FORMATS, "figures": FIGURE_FORMATS},
           "sweep": {"formats": ("md", "html", "csv", "json"), "figures": ()}}  # + the sweep section (report/sweep.py)


@dataclass(frozen=True)
class FigureJob:
    name: str
    caption: str
    draw: Callable  # () -> matplotlib Figure, called when written


@dataclass
class Built:
    out: Path
    files: list[Path] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    analysis: Analysis | None = None
    notes: list[str] = field(default_factory=list)  # skipped files, re-computed scores, charts not drawn
    warnings: list[str] = field(default_factory=list)  # files whose stored scores disagree with their examples


def parse_list(text: str | Sequence[str], known: Sequence[str], kind: str) -> list[str]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    for name in names:
        if name not in known:
            raise UnknownName(kind, name, known)
    return names


def _width(count: int) -> str:
    """One column while a chart has few categories; the full text width beyond that."""
    return "single" if count <= 4 else "double"


def figures_for(analysis: Analysis, preset: str | None = None, skipped: list[str] | None = None) -> Iterator[FigureJob]:
    """Every chart that has data, drawn lazily (one figure in memory at a time). A chart with
    nothing to show is not drawn; `skipped` collects one line saying which and why."""
    from fsabench.report import charts

    skipped = skipped if skipped is not None else []
    summary, runs, colors = analysis.summary, analysis.runs, analysis.colors
    main = summary[~summary["partial"].astype(bool)] if "partial" in summary.columns else summary
    fsa = main[main["task_type"] == "extraction"]
    if preset == "paper" and fsa["task"].nunique() > 1:
        yield FigureJob("bars-overview", "F1 ('all') per task and model, error bars: std over seeds",
                        lambda: charts.bar_chart(fsa, subset="all", colors=colors))
    no_params, no_cost = [], []
    for task in dict.fromkeys(main["task"]):
        part = main[(main["task"] == task) & main["mean"].notna()]
        if part.empty:
            continue
        s = slug(task)
        models = part["model"].nunique()
        yield FigureJob(f"bars-{s}", f"{task}: score per subset and model, error bars: std over seeds",
                        lambda t=task: charts.bar_chart(summary, task=t, colors=colors))
        full = part[part["subset"] == "all"]
        if (full["parameters"].astype(float) > 0).any():
            yield FigureJob(f"params-{s}", f"{task}: score against parameter count (log axis)",
                            lambda t=task: charts.params_chart(summary, t, colors=colors))
        else:
            no_params.append(task)
        if full["cost_per_1k"].notna().any():
            yield FigureJob(f"cost-{s}", f"{task}: score against cost per 1,000 examples, with the Pareto front",
                            lambda t=task: charts.cost_chart(summary, t, colors=colors))
        else:
            no_cost.append(task)
        yield FigureJob(f"seeds-{s}", f"{task}: spread of the score over seeds per model",
                        lambda t=task, w=_width(models): charts.seed_chart(runs, t, colors=colors, width=w))
        harder = [x for x in ("implicit", "multi") if x in set(part["subset"])]
        if harder:
            yield FigureJob(f"drop-{s}", f"{task}: drop from 'all' to {' and '.join(harder)} per model",
                            lambda t=task, h=tuple(harder), w=_width(models): charts.drop_chart(summary, t, h, width=w))
        yield FigureJob(f"confusion-{s}", f"{task}: polarity confusion per model (gold vs predicted, mean count "
                        "per seed)", lambda t=task: charts.confusion_chart(analysis.groups, t))
    if no_params:
        skipped.append(f"no parameter-count chart for {', '.join(no_params)}: no run records a parameter count")
    if no_cost:
        skipped.append(f"no cost chart for {', '.join(no_cost)}: no run records a cost (local models and "
                       "baselines have none)")
    partial = sorted(set(summary["task"]) - set(main["task"]))
    if partial:
        skipped.append(f"no figures for partial runs ({', '.join(partial)}): they are in the partial table only")


def markdown_report(tables: Sequence[Table], flags: Sequence[str], intro: str,
                    figures: Sequence[tuple[str, str]], notes: Sequence[str] = (),
                    sections: Sequence = ()) -> str:
    parts = ["# fsabench report", "", md_escape(intro), ""]
    if flags:
        parts += ["## Comparability", ""] + [f"- {md_escape(f)}" for f in flags] + [""]
    if notes:
        parts += ["## Notes", ""] + [f"- {md_escape(n)}" for n in notes] + [""]
    parts += [to_markdown(t) for t in tables]
    if figures:
        parts += ["## Figures", ""] + [f"- [{md_escape(caption)}]({path})" for path, caption in figures] + [""]
    for section in sections:
        parts += [f"## {md_escape(section.title)}", ""]
        if section.missing:
            parts += [f"Missing runs: {md_escape('; '.join(section.missing))}", ""]
        parts += [to_markdown(t) for t in section.tables]
        parts += [f"- [{md_escape(caption)}]({path})" for path, caption in section.listed]
        parts += [""] if section.listed else []
    return "\n".join(parts)


def latex_report(tables: Sequence[Table], flags: Sequence[str], notes: Sequence[str] = (),
                 sections: Sequence = ()) -> str:
    header = ["% fsabench report tables (needs \\usepackage{booktabs})"]
    header += [f"% FLAG: {latex_comment(f)}" for f in flags] + [f"% NOTE: {latex_comment(n)}" for n in notes]
    body = [to_latex(t) for t in tables]
    for section in sections:
        body.append(f"% SECTION {section.name}: {latex_comment(section.title)}")
        body += [f"% MISSING RUNS: {latex_comment(m)}" for m in section.missing]
        body += [to_latex(t) for t in section.tables]
    return "\n".join(header) + "\n\n" + "\n".join(body)


def _clean(value):
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def records(frame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


@dataclass
class RenderedSection:
    """A paper section with its figures written: what the renderers show."""

    name: str
    title: str
    tables: list[Table]
    missing: list[str]
    listed: list[tuple[str, str]] = field(default_factory=list)  # (figure path, caption)
    inline: list = field(default_factory=list)  # InlineFigure for the HTML page


def maybe_add_provenance(analysis: Analysis, results) -> None:
    """Notes on the authors' tuple convention and test-set contamination; mixed conventions are a flag."""
    from fsabench.report.provenance import contamination_lines, convention_lines

    notes, flags = convention_lines(results)
    analysis.notes = [*analysis.notes, *notes, *contamination_lines(results)]
    analysis.flags = [*analysis.flags, *flags]


def build_report(paths: Sequence[str | Path], out: str | Path, formats: str | Sequence[str] = FORMATS,
                 baseline: str | None = None, preset: str | None = None,
                 figure_formats: str | Sequence[str] = ("png", "svg"), n_boot: int = 1000,
                 labels: Labels | None = None, human: Sequence[str | Path] = ()) -> Built:
    """Read every RunResult under `paths` and write the report into `out`.

    `labels` (from `--label MODEL=NAME` and `--labels labels.yaml`) name the models; without them
    each gets a readable default (report.labels.default_name). `human` lists human-evaluation stats
    files (`fsabench human stats`): the paper preset's `human` section, else sections of their own."""
    if preset is not None and preset not in PRESETS:
        raise UnknownName("report preset", preset, PRESETS)
    if preset:
        formats, figure_formats = PRESETS[preset]["formats"], PRESETS[preset]["figures"]
    formats = parse_list(formats, FORMATS, "report format")
    figure_formats = parse_list(figure_formats, FIGURE_FORMATS + ("none",), "figure format")
    figure_formats = [f for f in figure_formats if f != "none"]
    out = Path(out)
    loaded = read_runs(paths, exclude=out)
    analysis = analyze(loaded.results, baseline, n_boot, labels=labels)
    analysis.notes = loaded.notes
    maybe_add_provenance(analysis, loaded.results)
    built = Built(out, flags=analysis.flags, analysis=analysis)
    tables = tables_for(analysis, preset)
    models, tasks = analysis.summary["model"].nunique(), analysis.summary["task"].nunique()
    intro = (f"Built from {len(loaded.results)} result files ({models} models, {tasks} tasks, "
             f"{len(analysis.groups)} model x task groups) by fsabench {__version__}; "
             f"{n_boot} bootstrap resamples; every score re-computed from the stored examples.")
    skipped: list[str] = []
    drawing = bool(figure_formats) or "html" in formats
    if drawing and list(figure_formats) in ([], ["png", "svg"]) and not available("matplotlib"):
        drawing = False  # the default figures on the core install: the tables still come out (docs/report.md)
        skipped.append("figures were not drawn: matplotlib is not installed (pip install 'fsabench[report]')")
    if drawing:
        require("matplotlib", "report", "--figures")
    jobs = list(figures_for(analysis, preset, skipped)) if drawing else []
    sections, owner = [], {}
    if preset == "paper" or human:
        from fsabench.report.paper import human_section, paper_sections

        found = paper_sections(analysis, human) if preset == "paper" else [human_section(analysis, human)]
        for section in found:
            sections.append(RenderedSection(section.name, section.title, section.tables, section.missing))
            for name, caption, draw in section.figures if drawing else ():
                jobs.append(FigureJob(name, caption, draw))
                owner[name] = sections[-1]
    from fsabench.report.sweep import is_sweep, sweep_section

    if preset == "sweep" or is_sweep(loaded.results):
        found = sweep_section(loaded.results, labels)
        sections.append(RenderedSection(found.name, found.title, found.tables, found.missing))
    written = write_figures(jobs, out, figure_formats, "html" in formats, built)
    figures, inline = [], []
    for name, entry, picture in written:  # a section's figures are shown under it
        target = owner.get(name)
        if entry is not None:
            (target.listed if target else figures).append(entry)
        if picture is not None:
            (target.inline if target else inline).append(picture)
    notes = analysis.notes + skipped
    built.flags = analysis.flags
    if "md" in formats:
        built.files.append(write_text_atomic(out / "report.md", markdown_report(tables, analysis.flags, intro, figures,
                                                                                notes, sections)))
    if "latex" in formats:
        built.files.append(write_text_atomic(out / "report.tex", latex_report(tables, analysis.flags, notes, sections)))
    if "csv" in formats:
        for name, frame in (("summary", analysis.summary), ("runs", analysis.runs), ("tests", analysis.tests)):
            built.files.append(write_text_atomic(out / f"{name}.csv", to_csv(frame)))
        all_tables = tables + [t for s in sections for t in s.tables]
        built.files += [write_text_atomic(out / "tables" / f"{t.name}.csv", table_csv(t)) for t in all_tables]
    if "json" in formats:
        payload = {"fsabench_version": __version__, "intro": intro, "flags": analysis.flags, "notes": notes,
                   "skipped": [p.as_posix() for p in loaded.skipped],
                   "baseline": analysis.baseline, "bootstrap": n_boot, "colors": analysis.colors,
                   "tables": [table_json(t) for t in tables + [t for s in sections for t in s.tables]],
                   "sections": [{"name": s.name, "title": s.title, "missing": s.missing,
                                 "tables": [table_json(t) for t in s.tables], "figures": [p for p, _ in s.listed]}
                                for s in sections],
                   "summary": records(analysis.summary), "tests": records(analysis.tests),
                   "runs": records(analysis.runs), "figures": [p for p, _ in figures]}
        built.files.append(write_json_atomic(out / "report.json", payload))
    if "html" in formats:
        from fsabench.report.html import render_html

        built.files.append(write_text_atomic(out / "report.html", render_html(tables, inline, analysis.flags,
                                                                               intro=intro, notes=notes,
                                                                               sections=sections)))
    built.notes = notes
    built.warnings = list(loaded.warnings)
    return built


def write_figures(jobs: Sequence[FigureJob], out: Path, figure_formats: Sequence[str], want_inline: bool,
                  built: Built) -> list[tuple[str, tuple[str, str] | None, object]]:
    """Draw each chart once; save it in every figure format and keep a PNG for the HTML page.
    Returns (job name, (path, caption) or None, InlineFigure or None) per chart."""
    if not jobs or (not figure_formats and not want_inline):
        return []
    from fsabench.report.charts import figure_bytes, write_bytes
    from fsabench.report.html import InlineFigure

    written = []
    encodings = list(dict.fromkeys(list(figure_formats) + (["png"] if want_inline else [])))
    for job in jobs:
        fig = job.draw()
        encoded = {fmt: figure_bytes(fig, fmt) for fmt in encodings}
        paths = [write_bytes(out / "figures" / f"{job.name}.{fmt}", encoded[fmt]) for fmt in figure_formats]
        built.files += paths
        written.append((job.name, (paths[0].relative_to(out).as_posix(), job.caption) if paths else None,
                        InlineFigure(job.name, job.caption, encoded["png"]) if want_inline else None))
    return written
