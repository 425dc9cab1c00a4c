"""`fsabench diff A B`: two runs of the same tasks compared example by example, with a paired test."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import JsonOut, Quiet, app, output_option


@app.command()
def diff(
    a: Annotated[Path, typer.Argument(help="result file or folder (the reference run)")],
    b: Annotated[Path, typer.Argument(help="result file or folder (the new run)")],
    tasks: Annotated[Optional[str], typer.Option("--tasks", "-t", help="comma-separated tasks [default: every "
                                                 "task both hold]")] = None,
    output: Annotated[Optional[Path], output_option("write the flipped examples as .md or .html")] = None,
    fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression", help="exit 1 when B is significantly "
                                                     "worse than A on any subset (a CI gate)")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=1, help="paired bootstrap resamples")] = 1000,
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="significance level")] = 0.05,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Per task and subset: examples A gets right and B wrong (and the reverse), B - A with a paired bootstrap
    interval and p-value, and the flipped examples (text, gold, both outputs) with -o."""
    from fsabench.api import diff as run_diff
    from fsabench.console import emit_json, out
    from fsabench.report.diffpage import HEADER, summary_rows

    report = run_diff(a, b, tasks=tasks or (), bootstrap=bootstrap, alpha=alpha, output=output)
    if json_out:
        emit_json(report.to_dict())
    else:
        from rich.table import Table

        table = Table(*HEADER, title=f"A: {report.a}\nB: {report.b}")
        for row in summary_rows(report):
            table.add_row(*row, style="red" if row[-1] == "B worse" else None)
        out.print(table)
        out.print(f"paired bootstrap, {report.n_boot} resamples; B - A x100; B worse = B - A < 0 and p < {alpha}"
                  + (f"; flipped examples in {output}" if output else ""))
    if fail_on_regression and report.regression:
        raise typer.Exit(1)
