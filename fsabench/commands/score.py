"""`fsabench score`: score a predictions JSONL made anywhere else, exactly as `run` would."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from fsabench import __version__
from fsabench.console import out, score_table
from fsabench.errors import PredictionsError
from fsabench.results import ModelInfo, RunResult, TaskInfo, Timing, save_result
from fsabench.scoring import score_record, score_records
from fsabench.settings import data_dir as resolve_data_dir
from fsabench.tasks.registry import build_registry
from fsabench.examples import load_split


def read_predictions(path: Path) -> dict[str, str]:
    """id -> output; every line must be {"id": ..., "output": str}; ids unique."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise PredictionsError(f"{path}: predictions file not found", hint="check the path") from None
    except UnicodeDecodeError:
        raise PredictionsError(f"{path}: not UTF-8 text", hint="write the predictions as UTF-8 JSON Lines") from None
    outputs: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PredictionsError(f"{path}:{number}: invalid JSON ({exc.msg})", hint="one JSON object per line") from None
        if not isinstance(row, dict) or "id" not in row or "output" not in row:
            raise PredictionsError(f"{path}:{number}: expected an object with 'id' and 'output'",
                                   hint='write lines like {"id": "123", "output": "food | positive"}')
        if not isinstance(row["output"], str):
            raise PredictionsError(f"{path}:{number}: 'output' must be a string", hint="use \"\" for no aspects")
        key = str(row["id"])
        if key in outputs:
            raise PredictionsError(f"{path}:{number}: duplicate id {key!r}", hint="keep one prediction per example")
        outputs[key] = row["output"]
    return outputs


def score_command(predictions: Path, task: str, output: Path | None, model_name: str, data_dir: Path | None,
                  tasks_dir: list[str] | None, json_out: bool) -> None:
    spec = build_registry(tasks_dir).spec(task)
    split = load_split(spec, resolve_data_dir(data_dir), "test")
    outputs = read_predictions(predictions)
    ids = [e.id for e in split.examples]
    missing = [i for i in ids if i not in outputs]
    unknown = sorted(set(outputs) - set(ids))
    if unknown:
        raise PredictionsError(f"{predictions}: {len(unknown)} ids are not in task {task}'s test set "
                               f"(first: {unknown[0]!r})", hint="predict the task's test ids only")
    if missing:
        raise PredictionsError(f"{predictions}: {len(missing)} of {len(ids)} test ids have no prediction "
                               f"(first: {missing[0]!r})", hint="add a line for every test example (\"\" for none)")
    records = [score_record(spec, e, outputs[e.id]) for e in split.examples]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = RunResult(
        fsabench_version=__version__,
        task=TaskInfo(name=spec.name, version=spec.version, type=spec.type, sha256=spec.definition_hash(),
                      data=split.files, definition=spec.model_dump(mode="json")),
        model=ModelInfo(name=model_name, scheme=model_name.partition(":")[0] or "external",
                        identity={"predictions": str(predictions)}),
        timing=Timing(started=now, finished=now, seconds=0.0), scores=score_records(spec, records),
        examples=records, protocol="external",
    )
    if output:
        save_result(result, output)
    if json_out:
        sys.stdout.write(json.dumps({k: v.model_dump(exclude_none=True) for k, v in result.scores.items()}, indent=1) + "\n")
    else:
        out.print(score_table([result]))
