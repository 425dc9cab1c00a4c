"""Terminal output: score tables and progress (rich), kept out of library code."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fsabench.results import RunResult

out = Console(width=None if Console().is_terminal else 160)
err = Console(stderr=True)


def score_table(results: Sequence[RunResult]) -> Table:
    """One row per (model, task, subset) with the task's main metrics."""
    extraction = any(r.task.type == "extraction" for r in results)
    classification = any(r.task.type == "classification" for r in results)
    columns = ["model", "task", "subset", "n"] + (["P", "R", "F1"] if extraction else []) + (
        ["acc", "macro-F1"] if classification else []) + ["unparse%", "failed"]
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "task", "subset") else "right", no_wrap=True)
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for result in results:
        for subset, s in result.scores.items():
            values = {"model": result.model.name, "task": result.task.name, "subset": subset, "n": str(s.n),
                      "P": fmt(s.precision), "R": fmt(s.recall), "F1": fmt(s.f1), "acc": fmt(s.accuracy),
                      "macro-F1": fmt(s.macro_f1), "unparse%": fmt(s.unparseable), "failed": str(s.failed)}
            table.add_row(*(values[c] for c in columns))
    return table


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr, or None when quiet or not a terminal."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        yield progress
