"""`fsabench score`: the terminal around `fsabench.score` (table or JSON, optional RunResult file)."""

from __future__ import annotations

from pathlib import Path

from fsabench.console import emit_json, out, score_table
from fsabench.external import read_predictions, score_predictions  # noqa: F401  (read_predictions: public)
from fsabench.results import save_result


def score_command(predictions: Path, task: str, output: Path | None, model_name: str, data_dir: Path | None,
                  tasks_dir: list[str] | None, json_out: bool, convention: str | None = None) -> None:
    result = score_predictions(task, predictions, model_name=model_name, data_dir=data_dir, tasks_dir=tasks_dir or (),
                               convention=convention)
    if output:
        save_result(result, output)
    if json_out:
        emit_json({k: v.model_dump(exclude_none=True) for k, v in result.scores.items()})
    else:
        out.print(score_table([result]))
