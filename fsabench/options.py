"""Typed option objects, one per job: what the CLI parses into and what the Python API takes.

`ModelOptions` is everything that configures a model adapter (shared by run, serve, the teacher of
`distill corpus`, audits and judges); `EvalOptions` is everything else `evaluate` needs. Each field
says whether it can change answers, which is what decides if a stored result may be reused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fsabench.errors import FsabenchError

SCORING = ("generate", "likelihood")
PROMPT_STYLES = ("raw", "chat")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelOptions:
    """How to load and drive a model; `None` means the adapter's own default."""

    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int | None = None
    concurrency: int = 16
    api_base: str | None = None
    timeout: float = 60.0
    max_retries: int = 6
    prompt_style: str | None = None
    threads: int | None = None
    gguf_file: str | None = None
    engine_bin: str | None = None  # vllm:/sglang: the engine's Python (its own venv) [env FSABENCH_VLLM_BIN ...]
    engine_args: str | None = None  # vllm:/sglang: extra server arguments, passed through
    launch: str | None = None  # openai-compat: the server command to start, with {port}

    def __post_init__(self) -> None:
        check_choice("--device", self.device, DEVICES)
        check_choice("--dtype", self.dtype, DTYPES)
        if self.prompt_style is not None:
            check_choice("--prompt-style", self.prompt_style, PROMPT_STYLES)
        for name in ("batch_size", "concurrency", "max_new_tokens", "threads", "max_retries"):
            check_int(f"--{name.replace('_', '-')}", getattr(self, name))
        for name in ("batch_size", "concurrency", "max_new_tokens", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FsabenchError(f"--{name.replace('_', '-')} {value} must be at least 1", hint="pass a positive number")
        if self.max_retries < 0 or self.timeout <= 0:
            raise FsabenchError("--max-retries must be >= 0 and --timeout > 0", hint="pass positive numbers")

    def adapter_kwargs(self, seed: int = 0) -> dict[str, Any]:
        """Keyword arguments for `load_model` (adapters ignore the ones they do not use)."""
        kwargs = {k: v for k, v in asdict(self).items() if v is not None and k != "threads"}
        return {**kwargs, "seed": seed}


@dataclass(frozen=True)
class EvalOptions:
    """One evaluation: which examples, which protocol, where results go and how they are reused."""

    limit: int | None = None
    seed: int = 0
    num_shots: int = 0
    scoring: str = "generate"
    output_dir: Path | None = None  # None: keep results in memory only (the Python API's default)
    overwrite: bool = False
    cache: bool = True
    cache_dir: Path | None = None
    max_cost: float | None = None
    allow_failures: bool = False
    data_dir: Path | None = None
    tasks_dir: tuple[str, ...] = ()
    model: ModelOptions = field(default_factory=ModelOptions)

    def __post_init__(self) -> None:
        check_choice("--scoring", self.scoring, SCORING)
        for option, value in (("--limit", self.limit), ("--seed", self.seed), ("--num-shots", self.num_shots)):
            check_int(option, value)
        if not 0 <= self.seed <= MAX_SEED:
            raise FsabenchError(f"--seed {self.seed} must be from 0 to {MAX_SEED}",
                                hint="seeds are stored as 64-bit integers (leaderboards refuse others)")
        if self.limit is not None and self.limit < 1:
            raise FsabenchError(f"--limit {self.limit} must be at least 1", hint="omit --limit to score every example")
        if self.num_shots < 0:
            raise FsabenchError(f"--num-shots {self.num_shots} must be >= 0", hint="use 0 for zero-shot")
        if self.max_cost is not None and self.max_cost < 0:
            raise FsabenchError(f"--max-cost {self.max_cost} must be >= 0", hint="pass a budget in USD")


MAX_SEED = 2**63 - 1


def check_int(option: str, value: Any) -> None:
    """From Python, `limit="5"` or `seed=True` would reach a comparison deep in a run (a TypeError) or be
    recorded as another number: an integer option must be an int (None where the option is optional)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise FsabenchError(f"{option} {value!r} is not an integer", hint="pass a whole number")


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FsabenchError(f"{option} {value!r} is not known", hint=f"use one of: {', '.join(allowed)}")


def split_model_options(options: dict[str, Any]) -> ModelOptions:
    """`evaluate(..., batch_size=8, device="cpu")` keyword options -> ModelOptions, unknown names refused."""
    known = {f.name for f in fields(ModelOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        raise FsabenchError(f"unknown model option {unknown[0]!r}",
                            hint=(f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(sorted(known))}")
    return ModelOptions(**options)
