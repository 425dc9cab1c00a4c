"""`fsabench sweep SWEEP.yaml -o DIR`: parse options into SweepOptions, call fsabench.api.sweep, print."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from fsabench.cli.common import CacheDir, DataDir, JsonOut, NoCache, Quiet, TasksDir, app, output_option


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP.yaml", help="the grid: models, tasks, num_shots, seeds, "
                                               "prompts, limit, exclude (docs/sweeps.md)")],
    output: Annotated[Path, output_option("folder for one RunResult per cell (DIR/<model>/...)")] = Path("sweep"),
    executor: Annotated[Literal["local", "ray"], typer.Option("--executor", help="local: worker processes here; "
                                                              "ray: Ray tasks with each model's resources")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="join this Ray cluster (default: start "
                                                       "a local Ray head on 127.0.0.1)")] = None,
    max_parallel: Annotated[Optional[int], typer.Option("--max-parallel", min=1, help="workers at once (local) or "
                                                        "CPUs of the local Ray head [default: min(4, CPUs)]")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the cells, how many are done and the estimated "
                                          "API cost; run nothing")] = False,
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="Ray: absolute folder every worker "
                                                       "mounts; holds the output and the shared cache")] = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Run a grid of models x tasks x shots x seeds x prompts, each cell one ordinary run; resumable."""
    from fsabench.api import sweep as run
    from fsabench.console import emit_json
    from fsabench.options import SweepOptions

    options = SweepOptions(sweep_file=sweep_file, output_dir=output, executor=executor, ray_address=ray_address,
                           max_parallel=max_parallel, dry_run=dry_run, shared_dir=shared_dir, cache=not no_cache,
                           cache_dir=cache_dir, data_dir=data_dir, tasks_dir=tuple(tasks_dir or ()))
    if dry_run:
        plan = run(options=options)
        if json_out:
            emit_json(plan.as_json())
        else:
            print_plan(plan)
        return
    show = None if (quiet or json_out) else print_outcome
    with contextlib.redirect_stdout(sys.stderr):  # Ray prints worker deaths on stdout: keep it for our output
        summary = run(options=options, on_done=show)
    if json_out:
        emit_json(summary.as_json())
    elif not quiet:
        print_summary(summary)
    else:
        print_failures(summary)  # --quiet still says what failed and why
    if summary.failed:
        raise typer.Exit(1)


def print_outcome(outcome) -> None:
    from fsabench.console import err

    cause = f": {outcome.cause}" if outcome.cause else ""
    err.print(f"{outcome.status:>7}  {outcome.cell.id} ({outcome.seconds:.1f}s){cause}", highlight=False, markup=False, soft_wrap=True)


def print_plan(plan) -> None:
    from fsabench.console import out

    for cell, state in plan.cells:
        out.print(f"{state:>4}  {cell.id}", highlight=False, markup=False, soft_wrap=True)
    not_applicable = len(plan.cells) - plan.done - plan.todo
    out.print(f"{len(plan.cells)} cells, {plan.done} already done, {plan.todo} to run"
              + (f", {not_applicable} not applicable (raw-input models take no shots)" if not_applicable else ""),
              highlight=False, soft_wrap=True)
    for model, cost in plan.cost.items():
        usd = f"${cost['usd']:.4f}" if cost["usd"] is not None else "unknown price (set price_per_million)"
        out.print(f"  {model}: {cost['requests']} requests, ~{cost['prompt_tokens']} prompt tokens, at most "
                  f"{cost['completion_tokens_max']} completion tokens: {usd}", highlight=False, markup=False, soft_wrap=True)
    total = plan.total_usd
    if not plan.cost:
        out.print("estimated API cost: $0 (no API model has cells left to run)", highlight=False, soft_wrap=True)
        return
    out.print(f"estimated API cost: {'$%.4f' % total if total is not None else 'unknown'}"
              + (" (upper bound: every answer at its full token budget)" if plan.cost else ""), highlight=False, soft_wrap=True)


def print_summary(summary) -> None:
    from fsabench.console import out

    counts = summary.counts
    out.print(f"sweep: {len(summary.cells)} cells in {summary.seconds:.1f}s ({summary.executor}): "
              f"{counts['done']} done, {counts['skipped']} skipped (already done), {counts['failed']} failed"
              + (f", {counts['n/a']} not applicable" if counts["n/a"] else "") + f"; results in {summary.out_dir}/",
              highlight=False, markup=False, soft_wrap=True)
    print_failures(summary)


def print_failures(summary) -> None:
    from fsabench.console import err

    for outcome in summary.failed:
        err.print(f"failed: {outcome.cell.id}: {outcome.cause}", highlight=False, markup=False, soft_wrap=True)
    if summary.failed:
        err.print("fix the causes and re-run the same command: finished cells are skipped, failed ones retried",
                  highlight=False, markup=False, soft_wrap=True)
