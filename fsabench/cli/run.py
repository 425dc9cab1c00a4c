"""`fsabench run`: parse options into EvalOptions, call `fsabench.api.evaluate`, print the table and failures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from fsabench.cli.common import (ApiBase, BatchSize, CacheDir, Concurrency, DataDir, Device, Dtype, EngineArgs, EngineBin,
                                 GgufFile, JsonOut, Launch, Limit, MaxCost, MaxNewTokens, MaxRetries, NoCache, NumShots,
                                 PromptStyle, Quiet, Scoring, Seed, Tasks, TasksDir, Threads, Timeout, app, output_option)

# --- provider batch APIs (issue 23) --------------------------------------------------------------
Batch = Annotated[bool, typer.Option("--batch", help="send uncached requests through the provider's batch API "
                                     "(OpenAI, Anthropic, OpenAI-compatible servers): half the price, resumable")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="--batch: submit and exit; the same command later collects")]
RetryFailed = Annotated[bool, typer.Option("--retry-failed", help="--batch: send requests an earlier batch failed "
                                           "(errors, expired, cancelled) again in a new batch")]
BatchPoll = Annotated[float, typer.Option("--batch-poll", min=0.01, help="--batch: seconds between status checks")]
BatchFile = Annotated[Path | None, typer.Option("--batch-file", help="write the uncached requests as an OpenAI "
                                                   "batch input file (for `vllm run-batch`) instead of sending them")]
BatchResults = Annotated[Path | None, typer.Option("--batch-results", help="import an OpenAI batch output file "
                                                      "(e.g. from `vllm run-batch`) into the cache and score")]
Convention = Annotated[Optional[Literal["capped", "authors"]], typer.Option(
    "--convention", help="triplet/quad tasks: capped (default: a repeated tuple is a hit at most as often as gold "
    "holds it, lower-cased) | authors (exactly ABSA-QUAD's compute_f1_scores, as published tables)")]


@app.command()
def run(
    model: Annotated[str, typer.Option("--model", "-m", help="SCHEME:NAME, e.g. baseline:lexicon, hf:PATH")] = "baseline:lexicon",
    tasks: Tasks = "fsa",
    limit: Limit = None,
    output: Annotated[Path, output_option("folder for RunResult JSON files")] = Path("results"),
    overwrite: Annotated[bool, typer.Option(help="re-run (model, task) pairs that already have results")] = False,
    seed: Seed = 0,
    num_shots: NumShots = 0,
    batch_size: BatchSize = 16,
    device: Device = "auto",
    dtype: Dtype = "auto",
    threads: Threads = None,
    gguf_file: GgufFile = None,
    engine_bin: EngineBin = None,
    engine_args: EngineArgs = None,
    launch: Launch = None,
    max_new_tokens: MaxNewTokens = None,
    concurrency: Concurrency = 16,
    api_base: ApiBase = None,
    timeout: Timeout = 60.0,
    max_retries: MaxRetries = 6,
    max_cost: MaxCost = None,
    allow_failures: Annotated[bool, typer.Option("--allow-failures", help="exit 0 even when some requests failed")] = False,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    scoring: Scoring = "generate",
    prompt_style: PromptStyle = None,
    prompt: Annotated[str, typer.Option("--prompt", help="the task's named prompt variant (e.g. terse; `fsabench "
                                        "tasks show TASK` lists them)")] = "default",
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    convention: Convention = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
    batch: Batch = False,
    no_wait: NoWait = False,
    retry_failed: RetryFailed = False,
    batch_poll: BatchPoll = 30.0,
    batch_file: BatchFile = None,
    batch_results: BatchResults = None,
) -> None:
    """Run tasks on a model, write one RunResult per task and print the score table."""
    from fsabench.api import evaluate
    from fsabench.console import library_notices, task_progress
    from fsabench.options import EvalOptions, ModelOptions

    model_options = ModelOptions(batch_size=batch_size, device=device, dtype=dtype, max_new_tokens=max_new_tokens,
                                 concurrency=concurrency, api_base=api_base, timeout=timeout, max_retries=max_retries,
                                 prompt_style=prompt_style, threads=threads, gguf_file=gguf_file,
                                 batch=batch, no_wait=no_wait, retry_failed=retry_failed, batch_poll=batch_poll,
                                 batch_file=batch_file, batch_results=batch_results,
                                 engine_bin=engine_bin, engine_args=engine_args, launch=launch)
    options = EvalOptions(limit=limit, seed=seed, num_shots=num_shots, scoring=scoring, output_dir=output,
                          overwrite=overwrite, cache=not no_cache, cache_dir=cache_dir, max_cost=max_cost,
                          allow_failures=allow_failures, data_dir=data_dir, tasks_dir=tuple(tasks_dir or ()),
                          model=model_options, convention=convention, prompt=prompt)
    quiet = quiet or json_out
    with library_notices(quiet), task_progress(not quiet) as progress:
        results = evaluate(model, tasks, options=options, progress=progress)
    raise typer.Exit(print_run(model, results, options, quiet, json_out))


def print_run(model: str, results, options, quiet: bool, json_out: bool) -> int:
    """The table (or JSON) and the failures; returns the exit code (1 when requests failed)."""
    from fsabench.console import emit_json, out, score_table
    from fsabench.results import result_path

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


def print_failures(results: Sequence, some_fully_failed: bool) -> None:
    """The first failure's cause on the terminal (not only in the JSON), and what to do next."""
    from fsabench.console import err

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
