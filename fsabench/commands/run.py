"""`fsabench run`: tasks x one model -> RunResult files and a score table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsabench.console import err, out, progress_bar, score_table
from fsabench.models import load_model
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
    adapter = load_model(model, **{k: v for k, v in model_options.items() if v is not None}) if todo else None
    options = RunOptions(limit=limit, seed=seed, num_shots=num_shots, **(run_options or {}))
    with progress_bar(not quiet) as bar:
        for spec, path in todo:
            handle = bar.add_task(spec.name, total=None) if bar else None
            report = (lambda done, total, h=handle: bar.update(h, completed=done, total=total)) if bar else None
            result = run_task(spec, adapter, root, options, progress=report)
            save_result(result, path)
            results.append(result)
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
    return 1 if failed and not (run_options or {}).get("allow_failures", False) else 0
