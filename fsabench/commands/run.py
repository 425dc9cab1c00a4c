"""`fsabench run`: tasks x one model -> RunResult files and a score table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsabench.console import err, out, progress_bar, score_table
from fsabench.errors import FsabenchError
from fsabench.models import load_model
from fsabench.models.cache import maybe_cached
from fsabench.prompts import label_choices
from fsabench.results import RunResult, load_result, result_path, save_result
from fsabench.runner import RunOptions, run_task
from fsabench.settings import data_dir as resolve_data_dir
from fsabench.tasks.registry import build_registry


def parse_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run_command(model: str, tasks: str, limit: int | None, output: Path, overwrite: bool, seed: int,
                num_shots: int, model_options: dict[str, Any], data_dir: Path | None,
                tasks_dir: list[str] | None, quiet: bool, json_out: bool,
                run_options: dict[str, Any] | None = None) -> int:
    """Run every task, skipping finished (model, task) pairs; return the exit code."""
    registry = build_registry(tasks_dir)
    names = registry.expand(parse_names(tasks))
    specs = [registry.spec(name) for name in names]  # validate every task before loading a model
    root = resolve_data_dir(data_dir)
    results: list[RunResult] = []
    todo = []
    for spec in specs:
        path = result_path(output, model, spec.name, seed if seed else None)
        if path.exists() and not overwrite:
            previous = load_result(path)
            if previous.task.sha256 == spec.definition_hash() and previous.complete:
                results.append(previous)
                if not quiet:
                    err.print(f"[dim]skip {spec.name}: {path} exists (use --overwrite to re-run)[/dim]")
                continue
        todo.append((spec, path))
    settings = dict(run_options or {})
    allow_failures = settings.pop("allow_failures", False)
    use_cache, cache_dir = settings.pop("cache", True), settings.pop("cache_dir", None)
    check_scoring(model, specs, settings.get("scoring", "generate"))
    # Requests per adapter call: a chunk waits for its slowest request, so API runs hand over many
    # (fewer, shorter waits); with --max-cost smaller chunks bound the overshoot past the budget.
    per_slot = 4 if settings.get("max_cost") is not None else 16
    settings.setdefault("chunk_size", max(64, per_slot * int(model_options.get("concurrency") or 16)))
    adapter = load_model(model, **{k: v for k, v in model_options.items() if v is not None}) if todo else None
    adapter = maybe_cached(adapter, cache_dir, use_cache) if adapter is not None else None
    options = RunOptions(limit=limit, seed=seed, num_shots=num_shots, **settings)
    with progress_bar(not quiet) as bar:
        for spec, path in todo:
            handle = bar.add_task(spec.name, total=None) if bar else None
            report = (lambda done, total, h=handle: bar.update(h, completed=done, total=total)) if bar else None
            result = run_task(spec, adapter, root, options, progress=report)
            save_result(result, path)
            results.append(result)
            if not result.complete:
                err.print(f"[yellow]{spec.name}: stopped at --max-cost after {len(result.examples)} examples "
                          f"(${result.usage.cost_usd:.4f}); partial result in {path}; re-run to resume from the "
                          "cache[/yellow]")
            if bar:
                bar.remove_task(handle)
    if json_out:
        import json
        import sys

        payload = [{"task": r.task.name, "model": r.model.name, "file": str(result_path(output, model, r.task.name, seed if seed else None)),
                    "scores": {k: v.model_dump(exclude_none=True) for k, v in r.scores.items()}} for r in results]
        sys.stdout.write(json.dumps(payload, indent=1) + "\n")
    elif not quiet:
        out.print(score_table(results))
        out.print(f"[dim]results in {output}/[/dim]")
    failed = sum(r.usage.failed for r in results)
    if failed and not quiet:
        err.print(f"[red]{failed} request(s) failed after all retries (recorded as failed, not scored as empty "
                  "answers); re-run to retry them, or pass --allow-failures[/red]")
    return 1 if failed and not allow_failures else 0


def check_scoring(model: str, specs: list, scoring: str) -> None:
    """--scoring likelihood needs label tasks and a model that returns log-likelihoods."""
    if scoring not in ("generate", "likelihood"):
        raise FsabenchError(f"--scoring {scoring!r} is not known", hint="use generate or likelihood")
    if scoring == "likelihood":
        if not model.startswith(("hf:", "lm-eval:")):
            raise FsabenchError(f"--scoring likelihood needs a local model; {model} only generates text",
                                hint="use an hf: or lm-eval: model, or --scoring generate")
        for spec in specs:
            label_choices(spec)
