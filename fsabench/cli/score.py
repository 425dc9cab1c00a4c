"""`fsabench score`: parse into ScoreOptions, call `fsabench.api.score`, print the table or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsabench.cli.common import DataDir, JsonOut, Quiet, TasksDir, app, output_option
from fsabench.cli.run import Convention


@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(help="JSONL: one {\"id\": ..., \"output\": ...} per example")],
    task: Annotated[str, typer.Option("--task", help="the task the predictions answer")],
    output: Annotated[Optional[Path], output_option("also write a RunResult here")] = None,
    model_name: Annotated[str, typer.Option("--model-name", help="model name recorded in the RunResult")] = "external:predictions",
    convention: Convention = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> None:
    """Score predictions made anywhere else, exactly as `run` would."""
    from fsabench import api
    from fsabench.console import emit_json, out, score_table
    from fsabench.options import ScoreOptions

    o = ScoreOptions(predictions=predictions, task=task, output=output, model_name=model_name, data_dir=data_dir,
                     tasks_dir=tuple(tasks_dir or ()), convention=convention)
    result = api.score(o.task, o.predictions, model_name=o.model_name, data_dir=o.data_dir, tasks_dir=o.tasks_dir,
                       output=o.output, convention=o.convention)
    if json_out:
        emit_json({k: v.model_dump(exclude_none=True) for k, v in result.scores.items()})
    else:
        out.print(score_table([result]))
