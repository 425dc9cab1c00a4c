"""RunResult: one self-describing JSON file per (model, task), written atomically.

Reports and leaderboards read only these files, so they work on results produced anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fsabench.errors import from_validation
from fsabench.errors import ResultError
from fsabench.io import read_text, write_json_atomic
from fsabench.jsonstrict import JSONProblem, loads

SCHEMA_VERSION = 1
MAX_RESULT_BYTES = 1 << 30  # a RunResult is read whole; a leaderboard bundle of many runs is capped at 64 MB


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    input: str
    gold: list[list[str]] = Field(description="gold tuples, e.g. [[term, polarity], ...] or [[label]]")
    target: str = Field("", description="the gold answer as text")
    prompt: str | list[dict[str, str]] | None = Field(None, description="what the model was sent")
    output: str | None = Field(description="the model's raw text; null when the request failed")
    prediction: list[list[str]] = Field(description="tuples parsed from the output")
    subsets: list[str]
    unparseable: int = 0
    pieces: int = 0
    repairs: list[str] = Field(default_factory=list)
    error: str | None = None
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    cost_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    cached: bool = False


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="examples in the subset")
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    unparseable: float = Field(0.0, description="% of non-empty output pieces that could not be parsed")
    failed: int = Field(0, description="examples whose request failed (scored as no answer)")
    n_gold: int | None = None
    n_pred: int | None = None
    per_polarity: dict[str, float] = Field(default_factory=dict, description="F1 x100 per polarity/label")
    repairs: dict[str, int] = Field(default_factory=dict, description="outputs each named repair changed")
    per_element: dict[str, float | None] = Field(
        default_factory=dict, description="triplets/quads: F1 x100 of each element projection the task declares "
        "(aspect only, opinion only, (aspect, opinion) pair); absent in older results")


class TaskInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: int
    type: Literal["extraction", "classification"]
    sha256: str = Field(description="sha256 of the canonical task definition")
    data: dict[str, str] = Field(description="data-dir relative path -> sha256 of every test file")
    split: str = "test"
    definition: dict[str, Any] = Field(default_factory=dict, description="the task spec that was run")


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the model string as given, e.g. hf:google-t5/t5-base")
    scheme: str
    identity: dict[str, Any] = Field(default_factory=dict, description="what pins the model: path, revision, hash")
    settings: dict[str, Any] = Field(default_factory=dict, description="generation and runtime settings")
    parameters: int | None = None


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started: str
    finished: str
    seconds: float
    examples_per_second: float | None = None


class Usage(BaseModel):
    """What a run's requests used: the one usage counter (a RunResult's `usage`, a teacher's corpus
    stats, a judge's stats; `leaderboard.submission.SubmittedUsage` is its bounded variant for bundles).
    `requests` were sent to the model (not answered from the cache); `failed` came back with an error."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = Field(0, ge=0)  # counts and cost are validated before they are summed or printed
    completion_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0, allow_inf_nan=False)
    requests: int = Field(0, ge=0)
    cached: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)

    def add(self, completion: Any, charge_cached: bool = True) -> None:
        """Count one answer (a models.base.Completion); `charge_cached=False` counts no cost for an answer
        from the cache (what a budget such as --max-cost should see)."""
        self.prompt_tokens += completion.prompt_tokens or 0
        self.completion_tokens += completion.completion_tokens or 0
        if charge_cached or not completion.cached:
            self.cost_usd += completion.cost_usd or 0.0
        self.requests += not completion.cached
        self.cached += bool(completion.cached)
        self.failed += completion.error is not None

    @classmethod
    def of(cls, completions: Any) -> Usage:
        """The usage of answers (None entries, never sent, are skipped); cost rounded to 6 places."""
        usage = cls()
        for completion in completions:
            if completion is not None:
                usage.add(completion)
        usage.cost_usd = round(usage.cost_usd, 6)
        return usage


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    fsabench_version: str
    task: TaskInfo
    model: ModelInfo
    seed: int = 0
    protocol: str = Field("zero-shot", description="fine-tuned | zero-shot | few-shot | baseline")
    timing: Timing
    usage: Usage = Field(default_factory=Usage)
    scores: dict[str, Score]
    examples: list[Record]
    complete: bool = Field(True, description="false when the run stopped early (e.g. --max-cost)")
    meta: dict[str, Any] = Field(default_factory=dict, description="free-form provenance")


def slug(text: str) -> str:
    """A file-name-safe slug of a model or task name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "model"


_PLAIN_MODEL = re.compile(r"[a-z][a-z0-9-]*:[A-Za-z0-9.-]+(?:/[A-Za-z0-9.-]+)*")


def model_dir_name(model_name: str) -> str:
    """The results folder of a model: readable, and never shared by two different model names.

    `scheme:org/name` (no '_' or other characters) maps one-to-one to `scheme_org_name`; any other name
    gets a short hash of the full name appended, so `hf:a/b`, `hf:a_b` and `hf:a:b` never collide."""
    plain = slug(model_name)
    if _PLAIN_MODEL.fullmatch(model_name) and len(plain) == len(model_name) and len(model_name) <= 120:
        return plain
    import hashlib

    return f"{plain[:100]}-{hashlib.sha256(model_name.encode('utf-8')).hexdigest()[:10]}"


def result_path(out_dir: Path, model_name: str, task_name: str, seed: int | None = None,
                prompt: str = "default") -> Path:
    """`<out>/<model>/<task>[__prompt-NAME][__seedN].json` (the default prompt adds nothing)."""
    variant = f"__prompt-{slug(prompt)}" if prompt != "default" else ""
    suffix = f"__seed{seed}" if seed is not None else ""
    return Path(out_dir) / model_dir_name(model_name) / f"{slug(task_name)}{variant}{suffix}.json"


def upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    """Bring an older schema up to the current one (there is only version 1 so far)."""
    return payload


def load_result(path: str | Path) -> RunResult:
    """Read and validate a RunResult file; any problem is one ResultError naming the file."""
    path = Path(path)
    text = read_text(path, "result file", error=ResultError, max_bytes=MAX_RESULT_BYTES)
    try:
        payload = loads(text)
    except JSONProblem as exc:
        raise ResultError(f"{path}: not valid JSON ({exc.msg})", hint="the file is truncated or not a RunResult") from None
    if not isinstance(payload, dict) or "schema_version" not in payload:
        raise ResultError(f"{path}: not a RunResult (no schema_version)", hint="pass files written by `fsabench run`")
    if type(payload["schema_version"]) is not int or payload["schema_version"] < 1:
        raise ResultError(f"{path}: schema_version {payload['schema_version']!r} is not a version number",
                          hint="pass files written by `fsabench run`")
    if payload["schema_version"] > SCHEMA_VERSION:
        raise ResultError(f"{path}: schema_version {payload['schema_version']} is newer than this fsabench "
                          f"understands ({SCHEMA_VERSION})", hint="upgrade fsabench")
    try:
        result = RunResult.model_validate(upgrade(payload))
    except ValidationError as exc:
        raise from_validation(str(path), exc, "the file is damaged or hand-edited", ResultError) from None
    seen: set[str] = set()
    for record in result.examples:  # a repeated example is counted twice by every score re-computed from the file
        if record.id in seen:
            raise ResultError(f"{path}: example {record.id!r} appears twice in 'examples'",
                              hint="the file is damaged or hand-edited: re-run it, or keep one copy of the example")
        seen.add(record.id)
    return result


def save_result(result: RunResult, path: str | Path) -> Path:
    return write_json_atomic(path, result.model_dump(mode="json"))


def find_results(paths: list[str | Path]) -> list[Path]:
    """Every *.json RunResult under the given files and folders, sorted."""
    from fsabench.io import files_under

    return files_under(paths, "*.json", ResultError, "check the path")
