"""`fsabench run`: the terminal around `fsabench.evaluate` (progress, notices, table, exit code)."""

from __future__ import annotations

from collections.abc import Sequence

from fsabench.console import emit_json, err, library_notices, out, progress_bar, score_table
from fsabench.evaluation import evaluate_tasks
from fsabench.options import EvalOptions
from fsabench.results import RunResult, result_path


def run_command(model: str, tasks: str, options: EvalOptions, quiet: bool = False, json_out: bool = False) -> int:
    """Run every task, print what happened; return the exit code (1 when requests failed)."""
    with library_notices(quiet), progress_bar(not quiet) as bar:
        handles: dict[str, object] = {}

        def progress(task: str, done: int, total: int) -> None:
            if bar is None:
                return
            if task not in handles:
                handles[task] = bar.add_task(task, total=total)
            bar.update(handles[task], completed=done, total=total)

        results = evaluate_tasks(model, tasks, options, progress=progress)
    failed = sum(r.usage.failed for r in results)
    answered = [r for r in results if r.examples and r.usage.failed < len(r.examples)]
    if json_out:
        emit_json([{"task": r.task.name, "model": r.model.name, "complete": r.complete, "failed": r.usage.failed,
                    "file": str(result_path(options.output_dir, model, r.task.name, options.seed or None, options.prompt)),
                    "scores": {k: v.model_dump(exclude_none=True) for k, v in r.scores.items()}} for r in results])
    elif not quiet and answered:
        out.print(score_table(answered))
        out.print(f"[dim]results in {options.output_dir}/[/dim]")
    if failed:
        print_failures(results, len(answered) < len(results))
    return 1 if failed and not options.allow_failures else 0


def print_failures(results: Sequence[RunResult], some_fully_failed: bool) -> None:
    """The first failure's cause on the terminal (not only in the JSON), and what to do next."""
    first = next((e for r in results for e in r.examples if e.error), None)
    total = sum(r.usage.failed for r in results)
    cause = f": {first.error}" if first is not None else ""
    err.print(f"error: {total} request(s) failed after all retries{cause}", highlight=False, markup=False)
    if some_fully_failed:
        failed_tasks = [r.task.name for r in results if r.examples and r.usage.failed == len(r.examples)]
        err.print(f"no scores for {', '.join(failed_tasks)}: every request failed", highlight=False, markup=False)
    err.print("failed requests are recorded as failed, not scored as empty answers; fix the cause and re-run "
              "(answers already received come from the cache), or pass --allow-failures", highlight=False,
              markup=False)
