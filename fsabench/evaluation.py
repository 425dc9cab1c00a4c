"""`evaluate`: tasks x one model -> RunResults, with every check that protects a result.

The CLI's `run` and notebooks share this code, so both get the same validation (tasks, gold, options,
output folder and cache are checked before any model work), the same resume rule (a stored result is
reused only when its run key matches, see resume.py) and the same cache. Steps, in order:

    specs = resolve tasks          -> every task and its test split validated (gold is lossless)
    check protocol                 -> --scoring / --num-shots make sense for these tasks
    check output folder            -> writable before a model is loaded
    adapter = open model (+ cache) -> damaged or read-only caches degrade to no cache, with a warning
    for each task: reuse or run_task, save atomically
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.examples import load_split
from fsabench.models import load_model
from fsabench.models.base import ModelAdapter
from fsabench.models.batch import BatchAdapter, BatchPending, maybe_batch
from fsabench.models.cache import open_cache, with_cache
from fsabench.options import EvalOptions
from fsabench.results import RunResult, result_path, save_result
from fsabench.resume import reusable, run_key
from fsabench.runner import RunOptions, run_task
from fsabench.scoring import with_convention
from fsabench.settings import data_dir as resolve_data_dir
from fsabench.tasks.registry import TaskRegistry as Registry, build_registry
from fsabench.tasks.spec import TaskSpec

log = logging.getLogger("fsabench")
Progress = Callable[[str, int, int], None]  # (task, done, total)


def parse_names(names: str | Sequence[str]) -> list[str]:
    """'fsa,sc-sst2' or ['fsa', 'sc-sst2'] -> names."""
    if not isinstance(names, str) and not (isinstance(names, Sequence) and all(isinstance(n, str) for n in names)):
        raise FsabenchError(f"tasks must be a name, 'a,b' or a list of names, not {names!r}"[:200],
                            hint="e.g. tasks='fsa' or tasks=['atsa-rest14', 'sc-sst2']")
    parts = names.split(",") if isinstance(names, str) else list(names)
    return [name.strip() for name in parts if name and name.strip()]


def resolve_tasks(names: str | Sequence[str], registry: Registry) -> list[TaskSpec]:
    expanded = registry.expand(parse_names(names))
    if not expanded:
        raise FsabenchError("no tasks given", hint="pass task or group names, e.g. --tasks fsa")
    return [registry.spec(name) for name in expanded]


def model_name_of(model: str | ModelAdapter) -> str:
    if isinstance(model, str):
        return model
    if not isinstance(model, ModelAdapter):
        raise FsabenchError(f"model {type(model).__name__} is neither a model string nor an adapter",
                            hint="pass 'SCHEME:NAME' or an object with name, prompt_style, identity(), settings() "
                                 "and generate() (see fsabench.models.base.ModelAdapter)")
    return model.name


def check_protocol(model: str, specs: Sequence[TaskSpec], options: EvalOptions) -> None:
    """Refuse option combinations that would silently run another protocol than the one asked for."""
    if options.scoring == "likelihood":
        from fsabench.prompts import label_choices

        if not model.startswith(("hf:", "lm-eval:")):
            raise FsabenchError(f"--scoring likelihood needs a local model; {model} only generates text",
                                hint="use an hf: or lm-eval: model, or --scoring generate")
        for spec in specs:
            label_choices(spec)
    if options.num_shots:
        missing = [spec.name for spec in specs if "train" not in spec.data.splits]
        if missing:
            raise FsabenchError(f"--num-shots {options.num_shots}: task {missing[0]} has no train split to draw "
                                "demonstrations from", hint="use --num-shots 0 for it, or add a train split to the task")


def check_output_dir(folder: Path | None) -> None:
    """An unusable output folder fails now, before any model work, not after an hour of generation."""
    if folder is None:
        return
    folder = Path(folder)
    probe_dir = folder
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise FsabenchError(f"--output {folder}: {probe_dir} is a file, not a folder", hint="pass a folder path")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise FsabenchError(f"--output {folder}: {probe_dir} is not writable", hint="pass a folder you can write to")


def open_model(model: str | ModelAdapter, options: EvalOptions) -> Any:
    """The adapter (loaded by name, or the caller's object) behind the response cache."""
    from fsabench.threads import use_threads

    use_threads(options.model.threads)
    cache = open_cache(options.cache_dir) if options.cache else None  # checked before the model loads
    if isinstance(model, str):
        adapter = load_model(model, **options.model.adapter_kwargs(options.seed))
    else:
        adapter = model
    use_threads(options.model.threads)
    return with_cache(adapter, cache)


def evaluate_tasks(model: str | ModelAdapter, tasks: str | Sequence[str], options: EvalOptions,
                   progress: Progress | None = None) -> list[RunResult]:
    """Run every task on the model, reusing stored results whose run key matches; see the module doc."""
    name = model_name_of(model)
    registry = build_registry(list(options.tasks_dir) or None)
    specs = [with_convention(spec, options.convention).with_prompt(options.prompt)
             for spec in resolve_tasks(tasks, registry)]
    root = resolve_data_dir(options.data_dir)
    splits = {spec.name: load_split(spec, root, "test") for spec in specs}  # gold checked before the model loads
    check_protocol(name, specs, options)
    check_output_dir(options.output_dir)
    adapter = maybe_batch(open_model(model, options), options.model, options.max_cost)
    try:
        return _evaluate_specs(name, adapter, specs, splits, root, options, progress)
    finally:
        if isinstance(model, str):  # we opened it: stop what it started (a launched engine server)
            close = getattr(adapter, "close", None)
            if callable(close):
                close()


def _evaluate_specs(name: str, adapter: Any, specs: list[TaskSpec], splits: dict, root: Path, options: EvalOptions,
                    progress: Progress | None) -> list[RunResult]:
    if options.num_shots and adapter.prompt_style == "raw":
        raise FsabenchError(f"--num-shots {options.num_shots}: {name} takes the raw input (no prompt), so shots "
                            "would be silently dropped", hint="use --prompt-style chat for an instruction model, or --num-shots 0")
    run_options = RunOptions(limit=options.limit, seed=options.seed, num_shots=options.num_shots,
                             scoring=options.scoring, max_cost=options.max_cost,
                             chunk_size=chunk_size(options), prompt=options.prompt)
    results: dict[str, RunResult] = {}
    pending = run_each(specs, adapter, options, run_options, splits, root, name, progress, results)
    if pending and isinstance(adapter, BatchAdapter) and adapter.waits_after_submit():
        adapter.wait = True  # every task's batches are submitted: now wait for them, task by task
        pending = run_each([spec for spec, _ in pending], adapter, options, run_options, splits, root, name, progress, results)
    if pending:
        hints = dict.fromkeys(hint for _, hint in pending if hint)
        log.warning(f"not scored yet: {', '.join(spec.name for spec, _ in pending)}; " +
                    ("; ".join(hints) or "the same command scores them once their answers are in the cache"))
    return [results[spec.name] for spec in specs if spec.name in results]


def run_each(specs: Sequence[TaskSpec], adapter: Any, options: EvalOptions, run_options: RunOptions, splits: dict,
             root: Path, name: str, progress: Progress | None,
             results: dict[str, RunResult]) -> list[tuple[TaskSpec, str | None]]:
    """Run (or reuse) each task into `results`; return the tasks whose batches have not ended yet (and what to do)."""
    pending = []
    for spec in specs:
        key = run_key(adapter, spec.definition_hash(), splits[spec.name].files, options.limit, options.seed,
                      options.num_shots, options.scoring, spec.convention, options.prompt)
        path = (result_path(options.output_dir, name, spec.name, options.seed or None, options.prompt)
                if options.output_dir else None)
        previous = maybe_reuse(path, key, options.overwrite, spec.name)
        if previous is not None:
            results[spec.name] = previous
            continue
        report = (lambda done, total, task=spec.name: progress(task, done, total)) if progress else None
        try:
            result = run_task(spec, adapter, root, run_options, progress=report, test=splits[spec.name])
        except BatchPending as exc:
            log.info(f"{spec.name}: {exc.message}")
            pending.append((spec, exc.hint))
            continue
        result.meta["run_key"] = key
        if path is not None:
            save_result(result, path)
        results[spec.name] = result
        maybe_warn_partial(result, path)
    return pending


def chunk_size(options: EvalOptions) -> int:
    """Requests per adapter call: a chunk waits for its slowest request, so API runs hand over many;
    with --max-cost smaller chunks bound the overshoot past the budget."""
    if options.model.batch or options.model.batch_file or options.model.batch_results:
        return 1 << 30  # a task's uncached requests go into its batches at once
    per_slot = 4 if options.max_cost is not None else 16
    return max(64, per_slot * options.model.concurrency)


def maybe_reuse(path: Path | None, key: dict[str, Any], overwrite: bool, task: str) -> RunResult | None:
    if path is None or overwrite or not path.exists():
        return None
    try:
        previous, differs = reusable(path, key)
    except FsabenchError as exc:
        log.warning(f"{task}: re-running; the stored result cannot be read ({exc})")
        return None
    if previous is not None:
        log.info(f"skip {task}: {path} has the same run (use --overwrite to re-run)")
        return previous
    log.warning(f"{task}: re-running ({path}: {'; '.join(differs)})")
    return None


def maybe_warn_partial(result: RunResult, path: Path | None) -> None:
    if not result.complete:
        where = f"partial result in {path}; " if path else ""
        log.warning(f"{result.task.name}: stopped at --max-cost after {len(result.examples)} examples "
                    f"(${result.usage.cost_usd:.4f}); {where}re-run to resume from the cache")
