"""The one model protocol every adapter implements: a batch of requests in, completions out.

Worked example (a fine-tuned seq2seq student on atsa-rest14):

    adapter.generate([Request(id="32897564#894393#2", prompt="The bread is top notch as well.",
                              max_new_tokens=100)])
    -> [Completion(text="bread | positive")]

Chat models get `messages` as well ([{"role": "system"|"user"|"assistant", "content": str}]);
adapters that speak chat use them, others use `prompt`. A request that fails after all retries
returns a Completion with `error` set and `text=None`: it is recorded as failed, never as an
empty answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Request:
    id: str  # the example id (for logs and baselines; not part of the cache key)
    prompt: str  # the full text prompt (raw sentence for a fine-tuned student)
    messages: tuple[dict[str, str], ...] | None = None  # chat form of the same prompt
    max_new_tokens: int = 100
    stop: tuple[str, ...] = ()
    temperature: float = 0.0  # greedy decoding by default, as in the paper
    choices: tuple[str, ...] | None = None  # for likelihood scoring: candidate continuations


@dataclass(frozen=True)
class Completion:
    text: str | None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False
    logprobs: tuple[float, ...] | None = None  # one per Request.choices, when scored by likelihood
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskContext:
    """What a baseline may learn from before answering: the task, its train split and gold by id.

    Real models ignore it; `baseline:gold` answers from `gold_by_id`, the lexicon baseline learns
    from `train`.
    """

    task_name: str
    task_type: str
    train: Sequence[Any]  # fsabench.examples.Example
    gold_by_id: dict[str, str]
    polarities: Sequence[str]
    fields: tuple[str, ...] = ()  # tuples parser: element names in answer order (triplets, quads)
    implicit: str | None = None  # tuples parser: the token for an implicit aspect or opinion (e.g. NULL)


@runtime_checkable
class ModelAdapter(Protocol):
    """Implemented by every model scheme (hf, litellm, openai-compat, lm-eval, baseline)."""

    name: str  # the model string as the user gave it, e.g. "hf:./runs/student"
    prompt_style: str  # "raw" (input text only, as a fine-tuned student) or "chat" (instruction + shots)

    def identity(self) -> dict[str, Any]:
        """What pins this model's answers (name, revision or weights hash, endpoint): the cache key part."""
        ...

    def settings(self) -> dict[str, Any]:
        """Runtime and generation settings worth recording in results (no secrets)."""
        ...

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """One Completion per Request, in the same order."""
        ...


def maybe_prepare(adapter: ModelAdapter, context: TaskContext) -> None:
    """Give a baseline its task context; real models have no `prepare` and skip this."""
    prepare = getattr(adapter, "prepare", None)
    if callable(prepare):
        prepare(context)


def parameter_count(adapter: ModelAdapter) -> int | None:
    count = getattr(adapter, "parameter_count", None)
    return count() if callable(count) else None
