"""`fsabench report`: tables and charts from RunResult files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import JsonOut, app


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
) -> None:
    """Tables (seed mean ± std, 95% CIs, paired tests) and charts from RunResult files."""
    from fsabench.commands.report import report_command

    report_command(runs, output, formats, baseline, preset, figures, bootstrap, json_out, human, label or [], labels)
