"""Terminal output: score tables and progress (rich), kept out of library code.

The score table fits the terminal (80 columns when output is not a terminal and COLUMNS is unset):
optional columns go first, then long model names are shortened in the middle; numbers are never cut.
Progress (progress_display: run, evaluate, distill corpus, pretraining) is a live bar on a terminal and
a plain log line every few hundred units or 30 s elsewhere (CI, nohup, a pipe), so a long job's log
shows it is alive and when it will end.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from fsabench.results import RunResult

out = Console(width=None if Console().is_terminal else 160)
err = Console(stderr=True)

PLAIN_WIDTH = 80  # table width when stdout is not a terminal and COLUMNS is not set
MIN_MODEL_WIDTH = 16  # a model name is never shortened below this
LOG_EVERY_EXAMPLES = 500  # non-interactive progress: a line at least this often (in examples) ...
LOG_EVERY_SECONDS = 30.0  # ... or this often (in seconds), whichever comes first


def table_width() -> int:
    """The columns a table may use: the terminal's width, else COLUMNS, else 80."""
    if out.is_terminal:
        return out.width
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return PLAIN_WIDTH


def shorten_middle(text: str, width: int) -> str:
    """`hf:/home/me/runs/…/student-seed42`: keep both ends, which tell models apart."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _rows(results: Sequence[RunResult]) -> list[dict[str, str]]:
    return [{"model": r.model.name, "task": r.task.name, "subset": subset, "n": str(s.n),
             "P": _fmt(s.precision), "R": _fmt(s.recall), "F1": _fmt(s.f1), "acc": _fmt(s.accuracy),
             "macro-F1": _fmt(s.macro_f1), "unparse%": _fmt(s.unparseable), "failed": str(s.failed)}
            for r in results for subset, s in r.scores.items()]


def _build(rows: list[dict[str, str]], columns: list[str], model_width: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "task", "subset") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(shorten_middle(row[c], model_width) if c == "model" else row[c] for c in columns))
    return table


def _rendered_width(table: Table) -> int:
    sink = Console(width=10_000, file=io.StringIO(), color_system=None, legacy_windows=False)
    with sink.capture() as captured:
        sink.print(table)
    return max((len(line.rstrip()) for line in captured.get().splitlines()), default=0)


def score_table(results: Sequence[RunResult], width: int | None = None) -> Table:
    """One row per (model, task, subset) with the task's main metrics, fitted to `width` columns.

    Columns are dropped from the end of the optional list (failed when nothing failed, unparse%,
    P and R) until the table fits; then model names are shortened in the middle. F1, accuracy
    and the identifying columns always stay, and no number is ever cut.
    """
    width = width or table_width()
    extraction = any(r.task.type == "extraction" for r in results)
    classification = any(r.task.type == "classification" for r in results)
    rows = _rows(results)
    any_failed = any(row["failed"] != "0" for row in rows)
    columns = ["model", "task", "subset", "n"] + (["P", "R", "F1"] if extraction else []) + (
        ["acc", "macro-F1"] if classification else []) + ["unparse%", "failed"]
    optional = ([["failed"]] if not any_failed else []) + [["unparse%"], ["macro-F1"], ["P", "R"]]
    longest = max((len(row["model"]) for row in rows), default=0)
    table = _build(rows, columns, longest)
    for group in optional:
        if _rendered_width(table) <= width:
            return table
        columns = [c for c in columns if c not in group]
        table = _build(rows, columns, longest)
    overflow = _rendered_width(table) - width
    if overflow > 0:
        table = _build(rows, columns, max(MIN_MODEL_WIDTH, longest - overflow))
    return table


class LogProgress:
    """Progress for a non-interactive stderr: one plain line per task every N units or 30 s.

    Same three calls as rich's Progress (add_task, update, remove_task), so callers need not care;
    extra keyword fields named in `fields` (label templates such as "loss {}") end the line."""

    def __init__(self, console: Console, every: int = LOG_EVERY_EXAMPLES, seconds: float = LOG_EVERY_SECONDS,
                 unit: str = "ex", fields: dict[str, str] | None = None) -> None:
        self.console, self.every, self.seconds, self.unit = console, every, seconds, unit
        self.fields = fields or {}
        self.tasks: dict[int, dict[str, Any]] = {}

    def add_task(self, description: str, total: int | None = None, **values: Any) -> int:
        handle = len(self.tasks)
        self.tasks[handle] = {"name": description, "start": None, "last_time": None, "last_done": None,
                              "values": {k: v for k, v in values.items() if k in self.fields}}
        return handle

    def update(self, handle: int, completed: int = 0, total: int | None = None, **values: Any) -> None:
        task, now = self.tasks[handle], time.monotonic()
        task["values"].update((k, v) for k, v in values.items() if k in self.fields)
        if task["start"] is None:  # the clock starts at the first report (generation), not at data loading
            task["start"], task["first_done"] = now, completed
        due = (task["last_done"] is None or completed == total
               or completed - task["last_done"] >= self.every or now - task["last_time"] >= self.seconds)
        if not due or completed == task["last_done"]:
            return
        task["last_time"], task["last_done"] = now, completed
        line = progress_line(task["name"], completed, total, now - task["start"], task["first_done"], self.unit)
        extra = " ".join(label.format(task["values"][k]) for k, label in self.fields.items() if k in task["values"])
        self.console.print(f"{line} {extra}" if extra else line, markup=False, highlight=False, soft_wrap=True)

    def remove_task(self, handle: int) -> None:
        self.tasks.pop(handle, None)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_line(name: str, done: int, total: int | None, elapsed: float, first_done: int = 0,
                  unit: str = "ex") -> str:
    """`atsa-rest14: 512/1140 (45%) 38.2 ex/s elapsed 0:00:13 ETA 0:00:16`; the rate counts only
    units done since the clock started (a resumed run's earlier ones do not inflate it)."""
    if not total:
        return f"{name}: {done} done, elapsed {_clock(elapsed)}"
    if done == first_done and done < total:
        return f"{name}: {done}/{total} started"
    rate = (done - first_done) / elapsed if elapsed > 0 and done > first_done else None
    eta = _clock((total - done) / rate) if rate else "?"
    speed = f" {rate:.1f} {unit}/s" if rate else ""
    return f"{name}: {done}/{total} ({100 * done // total}%){speed} elapsed {_clock(elapsed)} ETA {eta}"


@contextmanager
def progress_display(enabled: bool, fields: dict[str, str] | None = None, unit: str = "ex", eta: bool = True,
                     transient: bool = True) -> Iterator[Progress | LogProgress | None]:
    """The one progress display of every long job: a live rich bar (description, bar, done/total,
    the `fields` given as label templates such as "loss {}", elapsed, ETA) on a terminal; plain log
    lines every few hundred units or 30 s when stderr is not one (CI, nohup, a pipe); None when quiet.
    Either way the caller uses add_task(name, total, **fields) / update(handle, completed, total, **fields)."""
    if not enabled:
        yield None
        return
    fields = fields or {}
    if not err.is_terminal:
        yield LogProgress(err, unit=unit, fields=fields)
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(label.replace("{}", f"{{task.fields[{key}]}}")) for key, label in fields.items()]
    columns += [TimeElapsedColumn()] + ([TextColumn("ETA"), TimeRemainingColumn()] if eta else [])
    with Progress(*columns, console=err, transient=transient) as progress:
        yield progress


def progress_bar(enabled: bool) -> Any:
    """progress_display for examples (run / evaluate)."""
    return progress_display(enabled)


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


@contextmanager
def count_bar(enabled: bool, label: str) -> Iterator[Any]:
    """One counter (`label done/total elapsed`) yielding update(done, total), or None when disabled
    (progress_display: log lines off a terminal)."""
    with progress_display(enabled, unit="req", eta=False) as display:
        if display is None:
            yield None
            return
        handle = display.add_task(label, total=None)
        yield lambda done, total: display.update(handle, completed=done, total=total or None)


PRETRAIN_FIELDS = {"loss": "loss {}", "valid": "valid {}", "tps": "{} tok/s"}


@contextmanager
def pretrain_progress(enabled: bool, total: int) -> Iterator[Any]:
    """Step, loss, validation loss and tokens/s; yields the report callback the training loop calls.
    The bar (or the first log line) appears at the first report (a recipe may skip pretraining altogether)."""
    if not enabled:
        yield None
        return
    with ExitStack() as stack:
        display: Any = None
        handle = None

        def report(line: dict[str, Any]) -> None:
            nonlocal display, handle
            if display is None:
                display = stack.enter_context(progress_display(True, PRETRAIN_FIELDS, unit="steps", transient=False))
                handle = display.add_task("pretrain", total=total, loss="-", valid="-", tps="-")
            fields = {"loss": f"{line['loss']:.4f}", "tps": f"{line['tokens_per_second']:,.0f}"}
            if "valid_loss" in line:
                fields["valid"] = f"{line['valid_loss']:.4f}"
            display.update(handle, completed=line["step"], total=total, **fields)
            if line["step"] >= total and hasattr(display, "refresh"):  # the last report (validation comes after)
                display.refresh()

        yield report


@contextmanager
def task_progress(enabled: bool) -> Iterator[Any]:
    """`progress(task, done, total)` for `evaluate`: one bar (or log line) per task, or None when quiet."""
    with progress_bar(enabled) as bar:
        if bar is None:
            yield None
            return
        handles: dict[str, Any] = {}

        def progress(task: str, done: int, total: int) -> None:
            if task not in handles:
                handles[task] = bar.add_task(task, total=total)
            bar.update(handles[task], completed=done, total=total)

        yield progress
