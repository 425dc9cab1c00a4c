"""Score outputs made anywhere else (another harness, a notebook, an API batch job) exactly as `run` would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from fsabench import __version__
from fsabench.errors import PredictionsError
from fsabench.examples import load_split
from fsabench.io import iter_jsonl
from fsabench.results import ModelInfo, RunResult, TaskInfo, Timing
from fsabench.scoring import score_record, score_records, with_convention
from fsabench.settings import data_dir as resolve_data_dir
from fsabench.tasks.registry import build_registry
from fsabench.tasks.spec import TaskSpec

MAX_PREDICTIONS_BYTES = 512 * 1024 * 1024  # a predictions file larger than this is not a test set's answers


def read_predictions(path: Path) -> dict[str, str]:
    """id -> output; every line must be {"id": ..., "output": str}; ids unique."""
    outputs: dict[str, str] = {}
    for number, _, _, row in iter_jsonl(path, "predictions file", error=PredictionsError,
                                        max_bytes=MAX_PREDICTIONS_BYTES, hint="one JSON object per line"):
        if not isinstance(row, dict) or "id" not in row or "output" not in row:
            raise PredictionsError(f"{path}:{number}: expected an object with 'id' and 'output'",
                                   hint='write lines like {"id": "123", "output": "food | positive"}')
        if not isinstance(row["output"], str):
            raise PredictionsError(f"{path}:{number}: 'output' must be a string", hint="use \"\" for no aspects")
        if isinstance(row["id"], (dict, list, bool, float)) or row["id"] is None:
            raise PredictionsError(f"{path}:{number}: 'id' must be a string or integer", hint="use the task's example ids")
        key = str(row["id"])
        if key in outputs:
            raise PredictionsError(f"{path}:{number}: duplicate id {key!r}", hint="keep one prediction per example")
        outputs[key] = row["output"]
    return outputs


def _mapping(predictions: Mapping[object, object]) -> dict[str, object]:
    """id -> output from a Python mapping; 1 and "1" are one id, so a mapping holding both is ambiguous."""
    if not isinstance(predictions, Mapping):
        raise PredictionsError(f"predictions: expected a mapping of id -> output or a JSONL path, not "
                               f"{type(predictions).__name__}", hint='pass {"id": "output", ...} or a file path')
    outputs: dict[str, object] = {}
    for key, value in predictions.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise PredictionsError(f"predictions: id {key!r} is a {type(key).__name__}, not a string or integer",
                                   hint="use the task's example ids (fsabench tasks ids TASK)")
        if str(key) in outputs:
            raise PredictionsError(f"predictions: id {str(key)!r} is given twice (as {key!r} and as text)",
                                   hint="keep one prediction per example")
        outputs[str(key)] = value
    return outputs


def score_predictions(task: str | TaskSpec, predictions: Mapping[str, str] | str | Path, *,
                      model_name: str = "external:predictions", data_dir: str | Path | None = None,
                      tasks_dir: Sequence[str | Path] = (), convention: str | None = None) -> RunResult:
    """A RunResult for outputs made elsewhere; every test id answered exactly once, nothing else.
    `convention` (capped | authors) scores triplet and quad tasks under that convention."""
    spec = task if isinstance(task, TaskSpec) else build_registry([str(d) for d in tasks_dir] or None).spec(task)
    if convention is not None:
        from fsabench.options import CONVENTIONS, check_choice

        check_choice("--convention", convention, CONVENTIONS)
        spec = with_convention(spec, convention)
    split = load_split(spec, resolve_data_dir(data_dir), "test")
    source = str(predictions) if isinstance(predictions, (str, Path)) else "predictions"
    outputs = read_predictions(Path(predictions)) if isinstance(predictions, (str, Path)) else _mapping(predictions)
    if any(not isinstance(v, str) for v in outputs.values()):
        raise PredictionsError(f"{source}: every output must be a string", hint="use \"\" for no aspects")
    for key, value in outputs.items():
        try:
            value.encode("utf-8")  # type: ignore[union-attr]
        except UnicodeEncodeError as exc:  # "\ud800" is valid JSON but no result file can store it
            raise PredictionsError(f"{source}: the output of id {key!r} holds a lone surrogate "
                                   f"U+{ord(value[exc.start]):04X} (cut in the middle of a character?)",  # type: ignore[index]
                                   hint="write the output as valid Unicode text") from None
    ids = [e.id for e in split.examples]
    missing = [i for i in ids if i not in outputs]
    unknown = sorted(set(outputs) - set(ids))
    if unknown:
        raise PredictionsError(f"{source}: {len(unknown)} ids are not in task {spec.name}'s test set "
                               f"(first: {unknown[0]!r})",
                               hint=f"predict the task's test ids only (list them: fsabench tasks ids {spec.name})")
    if missing:
        raise PredictionsError(f"{source}: {len(missing)} of {len(ids)} test ids have no prediction "
                               f"(first: {missing[0]!r})", hint="add a line for every test example (\"\" for none)")
    records = [score_record(spec, e, outputs[e.id]) for e in split.examples]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return RunResult(
        fsabench_version=__version__,
        task=TaskInfo(name=spec.name, version=spec.version, type=spec.type, sha256=spec.definition_hash(),
                      data=split.files, definition=spec.definition()),
        model=ModelInfo(name=model_name, scheme=model_name.partition(":")[0] or "external",
                        identity={"predictions": source}),
        timing=Timing(started=now, finished=now, seconds=0.0), scores=score_records(spec, records),
        examples=records, protocol="external",
        meta={"convention": spec.convention} if spec.metric == "absa_f1" else {},
    )
