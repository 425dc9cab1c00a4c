"""Terminal output: score tables and progress (rich), kept out of library code."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

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
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
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


def emit_json(payload: Any) -> None:
    """The one way commands print `--json`: UTF-8, indented, non-JSON values as strings, one trailing newline."""
    sys.stdout.write(json.dumps(payload, indent=1, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


class _NoticeHandler(logging.Handler):
    """Library notices (logger `fsabench`) as one plain line each on stderr: warnings always, info unless quiet."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(logging.WARNING if quiet else logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        err.print(f"{prefix}{record.getMessage()}", highlight=False, markup=False, soft_wrap=True,
                  style="yellow" if prefix else "dim")


@contextmanager
def library_notices(quiet: bool = False) -> Iterator[None]:
    """Show what the library reports (skips, re-runs, cache problems) while a command runs."""
    logger = logging.getLogger("fsabench")
    handler = _NoticeHandler(quiet)
    logger.addHandler(handler)
    previous, logger.propagate = logger.propagate, False
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, _ = previous, logger.setLevel(level)
