"""`fsabench run` and `fsabench score`: parse options into EvalOptions, call the library, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import (ApiBase, BatchSize, CacheDir, Concurrency, DataDir, Device, Dtype, EngineArgs, EngineBin,
                                 GgufFile, JsonOut, Launch, Limit, MaxCost, MaxNewTokens, MaxRetries, NoCache, NumShots,
                                 PromptStyle, Quiet, Scoring, Seed, Tasks, TasksDir, Threads, Timeout, app, output_option)


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
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Run tasks on a model, write one RunResult per task and print the score table."""
    from fsabench.commands.run import run_command
    from fsabench.options import EvalOptions, ModelOptions

    model_options = ModelOptions(batch_size=batch_size, device=device, dtype=dtype, max_new_tokens=max_new_tokens,
                                 concurrency=concurrency, api_base=api_base, timeout=timeout, max_retries=max_retries,
                                 prompt_style=prompt_style, threads=threads, gguf_file=gguf_file,
                                 engine_bin=engine_bin, engine_args=engine_args, launch=launch)
    options = EvalOptions(limit=limit, seed=seed, num_shots=num_shots, scoring=scoring, output_dir=output,
                          overwrite=overwrite, cache=not no_cache, cache_dir=cache_dir, max_cost=max_cost,
                          allow_failures=allow_failures, data_dir=data_dir, tasks_dir=tuple(tasks_dir or ()),
                          model=model_options)
    raise typer.Exit(run_command(model, tasks, options, quiet=quiet or json_out, json_out=json_out))


@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(help="JSONL: one {\"id\": ..., \"output\": ...} per example")],
    task: Annotated[str, typer.Option("--task", help="the task the predictions answer")],
    output: Annotated[Optional[Path], output_option("also write a RunResult here")] = None,
    model_name: Annotated[str, typer.Option("--model-name", help="model name recorded in the RunResult")] = "external:predictions",
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
) -> None:
    """Score predictions made anywhere else, exactly as `run` would."""
    from fsabench.commands.score import score_command

    score_command(predictions, task, output, model_name, data_dir, tasks_dir, json_out)
