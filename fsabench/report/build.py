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

from fsabench import __version__
from fsabench.errors import FsabenchError, UnknownName
from fsabench.io import write_json_atomic, write_text_atomic
from fsabench.report.frames import Analysis, analyze
from fsabench.report.loading import load_runs
from fsabench.report.tables import Table, md_escape, table_csv, table_json, tables_for, to_csv, to_latex, to_markdown
from fsabench.results import slug

FORMATS = ("md", "latex", "html", "csv", "json")
FIGURE_FORMATS = ("png", "svg", "pdf")
PRESETS = {"paper": {"formats": FORMATS, "figures": FIGURE_FORMATS}}


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


def parse_list(text: str | Sequence[str], known: Sequence[str], kind: str) -> list[str]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    for name in names:
        if name not in known:
            raise UnknownName(kind, name, known)
    return names


def figures_for(analysis: Analysis, preset: str | None = None) -> Iterator[FigureJob]:
    """Every chart of the report, drawn lazily (one figure in memory at a time)."""
    from fsabench.report import charts

    summary, runs = analysis.summary, analysis.runs
    fsa = summary[summary["task_type"] == "extraction"]
    if preset == "paper" and fsa["task"].nunique() > 1:
        yield FigureJob("bars-overview", "F1 ('all') per task and model, error bars: std over seeds",
                        lambda: charts.bar_chart(fsa, subset="all"))
    for task in dict.fromkeys(summary["task"]):
        part = summary[summary["task"] == task]
        s = slug(task)
        yield FigureJob(f"bars-{s}", f"{task}: score per subset and model, error bars: std over seeds",
                        lambda t=task: charts.bar_chart(summary, task=t))
        yield FigureJob(f"params-{s}", f"{task}: score against parameter count (log axis)",
                        lambda t=task: charts.params_chart(summary, t))
        yield FigureJob(f"cost-{s}", f"{task}: score against cost per 1,000 examples, with the Pareto front",
                        lambda t=task: charts.cost_chart(summary, t))
        yield FigureJob(f"seeds-{s}", f"{task}: spread of the score over seeds per model",
                        lambda t=task: charts.seed_chart(runs, t))
        harder = [x for x in ("implicit", "multi") if x in set(part["subset"])]
        if harder:
            yield FigureJob(f"drop-{s}", f"{task}: drop from 'all' to {' and '.join(harder)} per model",
                            lambda t=task, h=tuple(harder): charts.drop_chart(summary, t, h))
        yield FigureJob(f"confusion-{s}", f"{task}: polarity confusion per model (gold vs predicted)",
                        lambda t=task: charts.confusion_chart(analysis.groups, t))


def markdown_report(tables: Sequence[Table], flags: Sequence[str], intro: str,
                    figures: Sequence[tuple[str, str]]) -> str:
    parts = ["# fsabench report", "", intro, ""]
    if flags:
        parts += ["## Comparability", ""] + [f"- {md_escape(f)}" for f in flags] + [""]
    parts += [to_markdown(t) for t in tables]
    if figures:
        parts += ["## Figures", ""] + [f"- [{md_escape(caption)}]({path})" for path, caption in figures] + [""]
    return "\n".join(parts)


def latex_report(tables: Sequence[Table], flags: Sequence[str]) -> str:
    header = ["% fsabench report tables (needs \\usepackage{booktabs})"] + [f"% FLAG: {f}" for f in flags]
    return "\n".join(header) + "\n\n" + "\n".join(to_latex(t) for t in tables)


def _clean(value):
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def records(frame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def build_report(paths: Sequence[str | Path], out: str | Path, formats: str | Sequence[str] = FORMATS,
                 baseline: str | None = None, preset: str | None = None,
                 figure_formats: str | Sequence[str] = ("png", "svg"), n_boot: int = 1000,
                 human: Sequence[str | Path] = ()) -> Built:
    """Read every RunResult under `paths` and write the report into `out`; `human` adds the table and
    chart of each human-evaluation stats file (`fsabench human stats`)."""
    if preset is not None and preset not in PRESETS:
        raise UnknownName("report preset", preset, PRESETS)
    if preset:
        formats, figure_formats = PRESETS[preset]["formats"], PRESETS[preset]["figures"]
    formats = parse_list(formats, FORMATS, "report format")
    figure_formats = parse_list(figure_formats, FIGURE_FORMATS + ("none",), "figure format")
    figure_formats = [f for f in figure_formats if f != "none"]
    out = Path(out)
    results = load_runs(paths, exclude=out)
    analysis = analyze(results, baseline, n_boot)
    built = Built(out, flags=analysis.flags, analysis=analysis)
    tables = tables_for(analysis, preset)
    if human:
        from fsabench.human.report import render_human_section

        sections = [render_human_section(Path(p)) for p in human]
        tables, extra_figures = tables + [t for t, _ in sections], [f for _, f in sections]
    models, tasks = analysis.summary["model"].nunique(), analysis.summary["task"].nunique()
    intro = (f"Built from {len(results)} result files ({models} models, {tasks} tasks, "
             f"{len(analysis.groups)} model x task groups) by fsabench {__version__}; "
             f"{n_boot} bootstrap resamples.")
    figures, inline = write_figures(analysis, preset, out, figure_formats, "html" in formats, built,
                                    extra_figures if human else ())
    if "md" in formats:
        built.files.append(write_text_atomic(out / "report.md", markdown_report(tables, analysis.flags, intro, figures)))
    if "latex" in formats:
        built.files.append(write_text_atomic(out / "report.tex", latex_report(tables, analysis.flags)))
    if "csv" in formats:
        for name, frame in (("summary", analysis.summary), ("runs", analysis.runs), ("tests", analysis.tests)):
            built.files.append(write_text_atomic(out / f"{name}.csv", to_csv(frame)))
        built.files += [write_text_atomic(out / "tables" / f"{t.name}.csv", table_csv(t)) for t in tables]
    if "json" in formats:
        payload = {"fsabench_version": __version__, "intro": intro, "flags": analysis.flags,
                   "baseline": baseline, "bootstrap": n_boot, "tables": [table_json(t) for t in tables],
                   "summary": records(analysis.summary), "tests": records(analysis.tests),
                   "runs": records(analysis.runs), "figures": [p for p, _ in figures]}
        built.files.append(write_json_atomic(out / "report.json", payload))
    if "html" in formats:
        from fsabench.report.html import render_html

        built.files.append(write_text_atomic(out / "report.html", render_html(tables, inline, analysis.flags,
                                                                               intro=intro)))
    return built


def write_figures(analysis: Analysis, preset: str | None, out: Path, figure_formats: Sequence[str],
                  want_inline: bool, built: Built, extra: Sequence[FigureJob] = ()) -> tuple[list[tuple[str, str]], list]:
    """Draw each chart once; save it in every figure format and keep a PNG for the HTML page."""
    if not figure_formats and not want_inline:
        return [], []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise FsabenchError("figures need matplotlib, which is not installed",
                            hint="pip install 'fsabench[report]', or pass --figures none --format md,latex,csv,json") from None
    from fsabench.report.charts import figure_bytes, write_bytes
    from fsabench.report.html import InlineFigure

    listed, inline = [], []
    encodings = list(dict.fromkeys(list(figure_formats) + (["png"] if want_inline else [])))
    for job in [*figures_for(analysis, preset), *extra]:
        fig = job.draw()
        encoded = {fmt: figure_bytes(fig, fmt) for fmt in encodings}
        paths = [write_bytes(out / "figures" / f"{job.name}.{fmt}", encoded[fmt]) for fmt in figure_formats]
        built.files += paths
        if paths:
            listed.append((paths[0].relative_to(out).as_posix(), job.caption))
        if want_inline:
            inline.append(InlineFigure(job.name, job.caption, encoded["png"]))
    return listed, inline
