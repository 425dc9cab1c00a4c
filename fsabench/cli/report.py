"""`fsabench report`: parse into ReportOptions, call `fsabench.api.report_files`, print what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import JsonOut, Quiet, app


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="RunResult JSON files or folders (searched recursively)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the report")] = Path("report"),
    formats: Annotated[str, typer.Option("--format", help="comma-separated: md, latex, html, csv, json")] = "md,latex,html,csv,json",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="model name every row is compared with")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="paper: every format, PDF figures, per-subset tables; sweep: md, html, csv, json and the prompt/seed sensitivity section")] = None,
    figures: Annotated[str, typer.Option("--figures", help="figure files: comma-separated png, svg, pdf, or none")] = "png,svg",
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples for CIs and paired tests (0 = off)")] = 1000,
    human: Annotated[Optional[list[Path]], typer.Option("--human", help="a human-evaluation stats.json (`fsabench human stats`) to add as a table and chart (repeatable)")] = None,
    label: Annotated[Optional[list[str]], typer.Option("--label", help="MODEL=NAME display name (repeatable)")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="labels.yaml: model string -> display name (and colour)")] = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Tables (seed mean ± std, 95% CIs, paired tests) and charts from RunResult files."""
    from rich.markup import escape

    from fsabench.api import report_files
    from fsabench.console import emit_json, err, out
    from fsabench.options import ReportOptions

    o = ReportOptions(runs=tuple(runs), output=output, formats=formats, baseline=baseline, preset=preset,
                      figures=figures, bootstrap=bootstrap, human=tuple(human or ()), label=tuple(label or ()),
                      labels=labels)
    built = report_files(o)
    files = [p.as_posix() for p in built.files]
    if json_out:
        emit_json({"out": str(output), "files": files, "flags": built.flags, "notes": built.notes,
                   "warnings": built.warnings})
        return
    for flag in built.flags:
        err.print(f"[yellow]flag:[/yellow] {escape(flag)}", highlight=False, soft_wrap=True)
    for note in built.notes:
        kind = "[yellow]warning:[/yellow]" if note in built.warnings else "[cyan]note:[/cyan]"
        err.print(f"{kind} {escape(note)}", highlight=False, soft_wrap=True)
    summary = built.analysis.summary
    out.print(f"report: {summary['model'].nunique()} models x {summary['task'].nunique()} tasks, "
              f"{len(files)} files in {output}/", highlight=False)
    for name in ("report.md", "report.html", "report.tex"):
        if (output / name).exists() and any(f.endswith(name) for f in files):
            out.print(f"  {output / name}", highlight=False)
