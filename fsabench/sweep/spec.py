"""SWEEP.yaml: what a sweep runs. A declaration, validated strictly (unknown keys refused).

    models:
      - model: litellm:openai/gpt-4o-mini
        concurrency: 32
      - model: vllm:Qwen/Qwen2.5-7B-Instruct
        resources: {num_gpus: 1}
      - hf:./runs/student                 # a bare string is {model: ...}
    tasks: [fsa]
    num_shots: [0, 4]
    seeds: [1, 2, 3]
    prompts: [default, terse]             # prompt variants declared in the task files
    limit: null
    exclude: [{model: hf:./runs/student, num_shots: 4}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fsabench.errors import SpecError
from fsabench.options import MAX_SEED

HINT = "see docs/sweeps.md for the SWEEP.yaml keys"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(Strict):
    """What one of the model's Ray tasks reserves (the local executor ignores it)."""

    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    memory: int | None = Field(None, ge=1, description="bytes of memory to reserve")
    custom: dict[str, float] = Field(default_factory=dict, description="other Ray resources, e.g. {TPU: 1}")


class ModelEntry(Strict):
    """One model of the grid and the settings it runs with (the `run` options of the same names)."""

    model: str = Field(min_length=3, description="SCHEME:NAME, e.g. baseline:lexicon, hf:./runs/student")
    concurrency: int | None = Field(None, ge=1, description="API models: requests in flight")
    resources: Resources = Field(default_factory=Resources)
    batch_size: int | None = Field(None, ge=1)
    device: str | None = None
    dtype: str | None = None
    max_new_tokens: int | None = Field(None, ge=1)
    api_base: str | None = None
    timeout: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    prompt_style: str | None = None
    threads: int | None = Field(None, ge=1)
    gguf_file: str | None = None
    price_per_million: tuple[float, float] | None = Field(
        None, description="USD per million (prompt, completion) tokens, for --dry-run's cost estimate "
        "(litellm: models default to litellm's own price map)")

    @field_validator("model")
    @classmethod
    def _scheme(cls, model: str) -> str:
        scheme, sep, rest = model.partition(":")
        if not sep or not scheme or not rest:
            raise ValueError(f"{model!r} has no scheme prefix; write SCHEME:NAME, e.g. baseline:lexicon")
        return model

    def model_options(self) -> dict[str, Any]:
        """The ModelOptions keyword arguments this entry sets."""
        return {k: v for k, v in self.model_dump(exclude={"model", "resources", "price_per_million"}).items()
                if v is not None}


class Exclude(Strict):
    """Cells to leave out: every key given must match (a missing key matches anything)."""

    model: str | None = None
    task: str | None = None
    num_shots: int | None = None
    seed: int | None = None
    prompt: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Exclude":
        if not self.model_fields_set:
            raise ValueError("an exclude rule needs at least one of model, task, num_shots, seed, prompt")
        return self

    def matches(self, cell: Any) -> bool:
        return all(getattr(cell, key) == getattr(self, key) for key in self.model_fields_set)


class SweepSpec(Strict):
    models: list[ModelEntry] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1, description="task or group names")
    num_shots: list[int] = Field(default_factory=lambda: [0], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    prompts: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    limit: int | None = Field(None, ge=1, description="score only the first N test examples of every task")
    exclude: list[Exclude] = Field(default_factory=list)

    @field_validator("models", mode="before")
    @classmethod
    def _bare_strings(cls, models: Any) -> Any:
        if isinstance(models, list):
            return [{"model": m} if isinstance(m, str) else m for m in models]
        return models

    @field_validator("tasks", "prompts", mode="before")
    @classmethod
    def _comma_string(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("num_shots", "seeds", mode="before")
    @classmethod
    def _one_number(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("num_shots")
    @classmethod
    def _shots(cls, shots: list[int]) -> list[int]:
        if any(k < 0 for k in shots):
            raise ValueError("shots must be >= 0 (0 = zero-shot)")
        return _unique(shots, "num_shots")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        if any(not 0 <= s <= MAX_SEED for s in seeds):
            raise ValueError(f"seeds must be from 0 to {MAX_SEED}")
        return _unique(seeds, "seeds")

    @field_validator("tasks", "prompts")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return _unique(names, "names")

    @model_validator(mode="after")
    def _distinct_models(self) -> "SweepSpec":
        _unique([m.model for m in self.models], "models")
        return self


def _unique(values: list, what: str) -> list:
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"{seen[0]!r} is listed twice in {what}")
    return values


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate SWEEP.yaml; every problem is one SpecError naming the file, line and field."""
    from fsabench.tasks.registry import _line_of
    from fsabench.yamlfile import read_yaml

    path = Path(path)
    data, node = read_yaml(path, "sweep file")
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a sweep file is a mapping of keys (models, tasks, ...)", hint=HINT)
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(node, tuple(first["loc"]))
        where = f"{path}:{line}" if line else str(path)
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        if first["type"] == "extra_forbidden":
            raise SpecError(f"{where}: unknown key '{field}'{more}", hint=f"remove it or fix its spelling; {HINT}") from None
        if first["type"] == "missing":
            raise SpecError(f"{where}: missing required key '{field}'{more}", hint=HINT) from None
        message = str(first.get("ctx", {}).get("error", first["msg"])) if first["type"] == "value_error" else first["msg"]
        raise SpecError(f"{where}: field '{field}': {message}{more}", hint=HINT) from None
