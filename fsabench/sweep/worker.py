"""One unit of a sweep: load the model once, run its cells one after another, write each result as it ends.

Each cell is what `fsabench run` does for one task: the same checks, run key, reuse rule, runner and cache
(evaluation.py's pieces), so a sweep's file equals the one `run` writes for the same settings. A cell
that raises is reported with its cause and the next cell goes on; a model that will not load fails its
cells with that cause. Nothing here knows which executor called it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.sweep.cells import Cell, Unit, is_light

STATUSES = ("done", "skipped", "failed", "n/a")  # skipped = already done (same run key)


@dataclass(frozen=True)
class CellOutcome:
    cell: Cell
    status: str
    cause: str | None = None
    seconds: float = 0.0
    requests: int = 0  # requests sent to the model (cache hits not counted)
    payload: dict | None = None  # the RunResult, when the driver writes it (Unit.write is False)


Report = Callable[[CellOutcome], None]


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, FsabenchError) else f"{type(exc).__name__}: {text}"[:500]


def log_event(log: Path | None, event: str, cell: Cell | None = None, **extra: Any) -> None:
    """One JSON line appended to the sweep's events file (O_APPEND: lines from workers never interleave)."""
    if log is None:
        return
    line = json.dumps({"event": event, "time": round(time.time(), 3), "pid": os.getpid(),
                       **({"cell": cell.id} if cell else {}), **extra}) + "\n"
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass  # the log is a record, never a reason to fail a cell


def eval_options(unit: Unit, cell: Cell):
    from fsabench.options import EvalOptions, ModelOptions

    model = ModelOptions(**{**unit.entry.model_options(), **({"threads": unit.threads}
                                                            if unit.threads and not unit.entry.threads else {})})
    return EvalOptions(limit=unit.limit, seed=cell.seed, num_shots=cell.num_shots, output_dir=None, cache=unit.cache,
                       cache_dir=unit.cache_dir, data_dir=unit.data_dir, tasks_dir=unit.tasks_dir, model=model,
                       prompt=cell.prompt)


def run_unit(unit: Unit, report: Report | None = None) -> list[CellOutcome]:
    """Every cell's outcome, in order; `report` sees each one as it ends."""
    from fsabench.evaluation import open_model
    from fsabench.settings import data_dir as resolve_data_dir
    from fsabench.tasks.registry import build_registry

    report = report or (lambda _: None)
    outcomes: list[CellOutcome] = []
    shared = None
    try:
        tasks = Tasks(build_registry(list(unit.tasks_dir) or None), resolve_data_dir(unit.data_dir))
        if not is_light(unit.entry.model):  # costly to load: once for all the unit's cells
            shared = open_model(unit.entry.model, eval_options(unit, unit.cells[0]))
    except Exception as exc:  # noqa: BLE001 - the model will not load: each of its cells says why
        cause = f"the model did not load: {one_line(exc)}"
        for cell in unit.cells:
            outcomes.append(CellOutcome(cell, "failed", cause))
            report(outcomes[-1])
        return outcomes
    try:
        for cell in unit.cells:
            clock = time.perf_counter()
            log_event(unit.log, "start", cell)
            outcome = run_one(unit, cell, shared, tasks)
            outcome = replace(outcome, seconds=round(time.perf_counter() - clock, 3))
            log_event(unit.log, outcome.status, cell, **({"cause": outcome.cause} if outcome.cause else {}))
            outcomes.append(outcome)
            report(outcome)
    finally:
        if shared is not None:
            maybe_close(shared)
    return outcomes


def run_one(unit: Unit, cell: Cell, shared, tasks: "Tasks") -> CellOutcome:
    """A light model (baseline, API) gets a fresh adapter per cell, exactly as a `fsabench run` of that cell
    would (a baseline's identity names the task it was last prepared for, so a reused one would carry
    another task into the run key); one cell's failure never stops the others."""
    from fsabench.evaluation import open_model

    adapter = shared
    try:
        if adapter is None:
            try:
                adapter = open_model(unit.entry.model, eval_options(unit, cell))
            except Exception as exc:  # noqa: BLE001
                return CellOutcome(cell, "failed", f"the model did not load: {one_line(exc)}")
        return run_cell(unit, cell, adapter, tasks)
    except Exception as exc:  # noqa: BLE001
        return CellOutcome(cell, "failed", one_line(exc))
    finally:
        if shared is None and adapter is not None:
            maybe_close(adapter)


class Tasks:
    """Task specs (per prompt variant) and test splits, read once per unit, not once per cell."""

    def __init__(self, registry, root: Path) -> None:
        self.registry, self.root = registry, root
        self._specs: dict[tuple[str, str], Any] = {}
        self._splits: dict[str, Any] = {}

    def spec(self, task: str, prompt: str):
        if (task, prompt) not in self._specs:
            self._specs[task, prompt] = self.registry.spec(task).with_prompt(prompt)
        return self._specs[task, prompt]

    def split(self, task: str, name: str = "test"):
        """A split of the task (the same for every prompt variant), or None when the task has none."""
        from fsabench.examples import load_split

        if (task, name) not in self._splits:
            spec = self.spec(task, "default")
            self._splits[task, name] = load_split(spec, self.root, name) if name in spec.data.splits else None
        return self._splits[task, name]


def run_cell(unit: Unit, cell: Cell, adapter, tasks: Tasks) -> CellOutcome:
    """One cell, exactly as `evaluate_tasks` runs one task (checks, run key, reuse, run, save)."""
    from fsabench.evaluation import chunk_size, check_protocol, maybe_reuse
    from fsabench.results import save_result
    from fsabench.resume import _norm, differences, run_key
    from fsabench.runner import RunOptions, run_task

    if cell.num_shots and adapter.prompt_style == "raw":
        return CellOutcome(cell, "n/a", f"{cell.model} reads the raw input, so shots do not apply "
                                        f"(exclude {{model: {cell.model}, num_shots: {cell.num_shots}}})")
    options = eval_options(unit, cell)
    spec, split = tasks.spec(cell.task, cell.prompt), tasks.split(cell.task)
    check_protocol(cell.model, [spec], options)
    key = run_key(adapter, spec.definition_hash(), split.files, options.limit, cell.seed, cell.num_shots,
                  options.scoring, convention=spec.convention, prompt=cell.prompt)
    path = cell.path(unit.out_dir)
    if unit.write and maybe_reuse(path, key, False, cell.id) is not None:
        return CellOutcome(cell, "skipped")
    if not unit.write and cell.id in unit.tags and not differences(unit.tags[cell.id], _norm(key)):
        return CellOutcome(cell, "skipped")  # the driver read the stored key for us
    run = RunOptions(limit=options.limit, seed=cell.seed, num_shots=cell.num_shots, scoring=options.scoring,
                     chunk_size=chunk_size(options), prompt=cell.prompt)
    result = run_task(spec, adapter, tasks.root, run, test=split, train=tasks.split(cell.task, "train"))
    result.meta["run_key"] = key
    result.meta["sweep"] = {"cell": cell.id}
    payload = None
    if unit.write:
        save_result(result, path)
    else:
        payload = result.model_dump(mode="json")
    failed = result.usage.failed
    if failed:
        first = next((e.error for e in result.examples if e.error), None)
        return CellOutcome(cell, "failed", f"{failed} requests failed: {first}", requests=result.usage.requests,
                           payload=payload)
    return CellOutcome(cell, "done", requests=result.usage.requests, payload=payload)


def maybe_close(adapter) -> None:
    """API adapters hold an event loop and connections (the cache wrapper passes `close` through)."""
    close = getattr(adapter, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
