"""The sweep itself: read SWEEP.yaml, expand the cells, dispatch units to an executor, summarize.

    spec  = load_sweep(file)                       -> one-line errors naming the file and field
    cells = expand(spec, registry)                 -> exclude applied; prompts and shots checked per task
    units = make_units(...)                        -> one per costly model, light models split
    outcomes = run_local(...) | run_ray(...)       -> each cell done / skipped / failed / n/a, with its cause
    summary                                        -> counts, causes, wall time; the caller exits 1 on a failure

Resume needs no state of its own: a cell is skipped when its result file holds the same run key
(`resume.py`), so re-running the command after a kill (driver or worker) runs only what is missing.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.sweep.cells import Cell, Unit, expand, make_units
from fsabench.sweep.spec import SweepSpec, load_sweep
from fsabench.sweep.worker import CellOutcome, log_event

LOG_FILE = "sweep.log.jsonl"  # not *.json: report and leaderboard tools read every *.json as a RunResult
API_SCHEMES = ("litellm", "openai-compat")


@dataclass
class SweepSummary:
    out_dir: Path
    executor: str
    cells: list[Cell]
    outcomes: dict[Cell, CellOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(o.status for o in self.outcomes.values())
        return {s: found.get(s, 0) for s in ("done", "skipped", "failed", "n/a")}

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    def as_json(self) -> dict[str, Any]:
        return {"out": str(self.out_dir), "executor": self.executor, "cells": len(self.cells), **self.counts,
                "seconds": round(self.seconds, 3),
                "outcomes": [{"cell": o.cell.id, "model": o.cell.model, "task": o.cell.task, "num_shots": o.cell.num_shots,
                              "seed": o.cell.seed, "prompt": o.cell.prompt, "status": o.status, "cause": o.cause,
                              "seconds": o.seconds, "requests": o.requests, "file": str(o.cell.path(self.out_dir))}
                             for o in sorted(self.outcomes.values(), key=lambda o: o.cell)]}


def load_plan(sweep_file: Path, tasks_dir: tuple[str, ...] = ()) -> tuple[SweepSpec, list[Cell], Any]:
    from fsabench.options import ModelOptions
    from fsabench.tasks.registry import build_registry

    spec = load_sweep(sweep_file)
    registry = build_registry(list(tasks_dir) or None)
    models = {m.model for m in spec.models}
    for index, entry in enumerate(spec.models):  # device, dtype, prompt style...: refused now, not per cell
        try:
            ModelOptions(**entry.model_options())
        except FsabenchError as exc:
            raise FsabenchError(f"{sweep_file}: field 'models.{index}': {exc.message}", hint=exc.hint) from None
    for index, rule in enumerate(spec.exclude):
        if rule.model is not None and rule.model not in models:
            raise FsabenchError(f"{sweep_file}: field 'exclude.{index}.model': {rule.model!r} is not one of the models",
                                hint="copy the model string exactly as `models:` lists it")
    cells = expand(spec, registry, str(sweep_file))
    if not cells:
        raise FsabenchError(f"{sweep_file}: 'exclude' leaves no cell to run", hint="remove an exclude rule")
    return spec, cells, registry


def placed_dirs(options) -> tuple[Path, Path | None, bool]:
    """(output folder, cache folder, workers write files) for the executor chosen.

    A local executor or a local Ray head shares this machine's folders. Joining a cluster, the workers
    write only under --shared-dir (which must hold the output folder); without it they return their
    results and this process writes them."""
    out = Path(options.output_dir).expanduser().resolve()
    cache_dir = Path(options.cache_dir).expanduser().resolve() if options.cache_dir else None
    if options.shared_dir is not None:
        shared = Path(options.shared_dir).expanduser()
        if not shared.is_absolute():
            raise FsabenchError(f"--shared-dir {shared}: a relative path means a different folder on each Ray worker",
                                hint="give the absolute path of storage every worker mounts, e.g. /shared/fsabench")
        if not out.is_relative_to(shared.resolve()):
            raise FsabenchError(f"--output {out} is not under --shared-dir {shared}: Ray workers may not see it",
                                hint=f"write the sweep under the shared folder, e.g. -o {shared / 'sweep'}")
        return out, cache_dir or shared.resolve() / "cache", True
    joining = options.executor == "ray" and bool(options.ray_address or os.environ.get("RAY_ADDRESS"))
    return out, cache_dir, not joining


def run_sweep(options, on_done: Callable[[CellOutcome], None] | None = None) -> SweepSummary:
    """Run every cell not already done; see the module doc. `options` is a fsabench.options.SweepOptions."""
    from fsabench.evaluation import check_output_dir

    spec, cells, registry = load_plan(options.sweep_file, options.tasks_dir)
    check_output_dir(options.output_dir)
    out, cache_dir, write = placed_dirs(options)
    out.mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    parallel = options.max_parallel or min(4, cpus)
    common = {"data_dir": _absolute(options.data_dir), "tasks_dir": tuple(str(_absolute(d)) for d in options.tasks_dir),
              "cache": options.cache, "cache_dir": cache_dir, "write": write,
              "log": out / LOG_FILE if write else None, "threads": max(1, cpus // parallel)}
    split = parallel if options.executor == "local" else 2 * parallel  # Ray: 2 tasks per CPU keep the cluster busy
    units = make_units(spec, cells, out, split, **common)
    if not write:
        units = [replace(u, tags=stored_keys(u)) for u in units]
    summary = SweepSummary(out, options.executor, cells)
    log = out / LOG_FILE
    log_event(log, "sweep-start", executor=options.executor, cells=len(cells), units=len(units))
    clock = time.perf_counter()

    def done(outcome: CellOutcome) -> None:
        summary.outcomes[outcome.cell] = outcome
        if on_done:
            on_done(outcome)

    if options.executor == "local":
        from fsabench.sweep.local import run_local

        run_local(units, parallel, done)
    else:
        from fsabench.sweep.cluster import run_ray

        run_ray(units, done, options.ray_address, num_cpus=parallel, save=save_returned)
    summary.seconds = time.perf_counter() - clock
    for cell in cells:  # never silently lost: a cell without an outcome is a failure
        summary.outcomes.setdefault(cell, CellOutcome(cell, "failed", "no outcome came back from its worker"))
    log_event(log, "sweep-end", seconds=round(summary.seconds, 3), **summary.counts)
    return summary


def _absolute(path) -> Path | None:
    return Path(path).expanduser().resolve() if path is not None else None


def stored_key(path: Path) -> dict | None:
    """The run key of a finished, failure-free result at `path`, else None."""
    from fsabench.results import load_result

    if not path.is_file():
        return None
    try:
        result = load_result(path)
    except FsabenchError:
        return None
    if not result.complete or result.usage.failed:
        return None
    key = result.meta.get("run_key")
    return key if isinstance(key, dict) else None


def stored_keys(unit: Unit) -> dict[str, dict]:
    """cell id -> stored run key, for workers that cannot read the output folder (they compare and skip)."""
    keys = {c.id: stored_key(c.path(unit.out_dir)) for c in unit.cells}
    return {k: v for k, v in keys.items() if v is not None}


def save_returned(outcome: CellOutcome, unit: Unit) -> None:
    from fsabench.results import RunResult, save_result

    save_result(RunResult.model_validate(outcome.payload), outcome.cell.path(unit.out_dir))


# --- dry run ----------------------------------------------------------------------------------------
@dataclass
class DryRun:
    cells: list[tuple[Cell, str]]  # (cell, "done" | "todo" | "n/a")
    cost: dict[str, dict[str, Any]]  # model -> requests, tokens, usd (None = no known price)

    @property
    def done(self) -> int:
        return sum(state == "done" for _, state in self.cells)

    @property
    def todo(self) -> int:
        return sum(state == "todo" for _, state in self.cells)

    @property
    def total_usd(self) -> float | None:
        known = [c["usd"] for c in self.cost.values() if c["usd"] is not None]
        return round(sum(known), 4) if known else (0.0 if not self.cost else None)

    def as_json(self) -> dict[str, Any]:
        return {"cells": [{"cell": c.id, "state": s} for c, s in self.cells], "total": len(self.cells),
                "done": self.done, "todo": self.todo, "cost": self.cost, "total_usd": self.total_usd}


def dry_run(options) -> DryRun:
    """The cells, which already have a matching result (checked without loading a model: task, data,
    limit, seed, shots, prompt and model name; the model's identity is checked when it runs), and the
    estimated API cost of the rest (~4 characters a token, the task's full token budget per answer)."""
    from fsabench.examples import load_split
    from fsabench.settings import data_dir as resolve_data_dir

    spec, cells, registry = load_plan(options.sweep_file, options.tasks_dir)
    out = Path(options.output_dir)
    root = resolve_data_dir(options.data_dir)
    specs, files, marked = {}, {}, []
    for cell in cells:
        if (cell.task, cell.prompt) not in specs:
            specs[cell.task, cell.prompt] = registry.spec(cell.task).with_prompt(cell.prompt)
        if cell.task not in files:
            files[cell.task] = load_split(specs[cell.task, cell.prompt], root, "test").files
        if cell.num_shots and cell.model.startswith("baseline:"):  # raw input: shots do not apply
            marked.append((cell, "n/a"))
            continue
        done = looks_done(cell, out, specs[cell.task, cell.prompt].definition_hash(), files[cell.task], spec.limit)
        marked.append((cell, "done" if done else "todo"))
    cost = {}
    for entry in spec.models:
        todo = [c for c, state in marked if c.model == entry.model and state == "todo"]
        if todo and entry.model.partition(":")[0] in API_SCHEMES:
            cost[entry.model] = estimate_cost(entry, todo, specs, root, spec.limit)
    return DryRun(marked, cost)


def looks_done(cell: Cell, out: Path, task_sha256: str, data_files: dict[str, str], limit: int | None) -> bool:
    key = stored_key(cell.path(out))
    if key is None:
        return False
    expected = {"task_sha256": task_sha256, "data": dict(sorted(data_files.items())), "limit": limit,
                "seed": cell.seed, "num_shots": cell.num_shots, "prompt": cell.prompt if cell.prompt != "default" else None}
    return (all(key.get(k) == v for k, v in expected.items())
            and (key.get("model") or {}).get("name") == cell.model)


def estimate_cost(entry, cells: list[Cell], specs: dict, root: Path, limit: int | None) -> dict[str, Any]:
    from fsabench.prompts import build_requests
    from fsabench.runner import load_examples, task_context

    requests = prompt_chars = completion_max = 0
    for cell in cells:
        spec = specs[cell.task, cell.prompt]
        _, examples = load_examples(spec, root, limit)
        train = task_context(spec, root, examples).train if cell.num_shots else []
        built = build_requests(spec, examples, entry.prompt_style or "chat", train, cell.num_shots, cell.seed)
        requests += len(built)
        prompt_chars += sum(len(r.prompt or "") for r in built)
        completion_max += len(built) * (entry.max_new_tokens or spec.max_new_tokens)
    prompt_tokens = prompt_chars // 4
    prices = tuple(entry.price_per_million) if entry.price_per_million else _litellm_prices(entry.model)
    usd = None if prices is None else round((prompt_tokens * prices[0] + completion_max * prices[1]) / 1e6, 4)
    return {"cells": len(cells), "requests": requests, "prompt_tokens": prompt_tokens,
            "completion_tokens_max": completion_max, "usd": usd,
            "usd_per_million_tokens": list(prices) if prices else None}


def _litellm_prices(model: str) -> tuple[float, float] | None:
    from fsabench.distill.teacher import litellm_prices

    return litellm_prices(model)


def read_log(out_dir: Path) -> list[dict[str, Any]]:
    """The events file as dicts (a torn last line from a killed process is skipped)."""
    path = Path(out_dir) / LOG_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
