"""Ask a teacher model for analyses and rewrites of reviews, through the same adapters as evaluation.

Any `--teacher` model string works (`litellm:...`, `openai-compat:...`, `hf:...`, ...): the
adapter brings its cache, concurrency and retries; this module adds resume (requests whose
answer is already in responses.jsonl are never sent again), cost accounting with `--max-cost`,
and a dry run that estimates tokens and cost before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha1
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from fsabench.models.answers import answers_of
from fsabench.distill.corpus import ResponseLog
from fsabench.distill.data import row_key
from fsabench.errors import SpecError
from fsabench.results import Usage
from fsabench.models.base import ModelAdapter, Request

PROMPTS_DIR = Path(__file__).parent / "prompts"
TYPICAL_RESPONSE_TOKENS = 220  # the 500 real Mixtral responses average ~164 words
Progress = Callable[[int, int], None]
ASSIGN = ("both", "each", "random")


@dataclass(frozen=True)
class TeacherPrompt:
    name: str  # the prompt type written to each row: analysis, rewrite, or a custom file's stem
    template: str


@dataclass
class GenerationStats:
    """A teacher pass: its requests' usage (results.Usage, the one usage counter) plus what was written."""

    sent: int = 0
    written: int = 0
    usage: Usage = field(default_factory=Usage)
    stopped_by_max_cost: bool = False
    errors: list[str] = field(default_factory=list)
    skipped_reviews: int = 0  # reviews without a text field (filled in by the caller that read them)
    skipped_where: list[str] = field(default_factory=list)

    failed = property(lambda self: self.usage.failed)  # requests that failed after retries (not written)
    cached = property(lambda self: self.usage.cached)
    prompt_tokens = property(lambda self: self.usage.prompt_tokens)
    completion_tokens = property(lambda self: self.usage.completion_tokens)
    cost_usd = property(lambda self: self.usage.cost_usd)

    def as_dict(self) -> dict[str, Any]:
        """The corpus payload's `generation` keys (flat, as before the usage moved into results.Usage)."""
        return {"sent": self.sent, "written": self.written, "failed": self.failed, "cached": self.cached,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd, "stopped_by_max_cost": self.stopped_by_max_cost, "errors": self.errors,
                "skipped_reviews": self.skipped_reviews, "skipped_where": self.skipped_where}


def load_prompts(names: Sequence[str]) -> list[TeacherPrompt]:
    """Shipped prompt names (analysis, rewrite) or paths to .j2 files."""
    prompts = []
    for name in names:
        path = Path(name)
        if not path.suffix:
            path = PROMPTS_DIR / f"{name}.j2"
        if not path.is_file():
            shipped = sorted(p.stem for p in PROMPTS_DIR.glob("*.j2"))
            raise SpecError(f"teacher prompt {name!r} not found",
                            hint=f"use a shipped prompt ({', '.join(shipped)}) or a path to a .j2 file")
        prompts.append(TeacherPrompt(path.stem, path.read_text(encoding="utf-8")))
    return prompts


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def render(prompt: TeacherPrompt, review: dict[str, Any]) -> str:
    try:
        return _env().from_string(prompt.template).render(review=review["Text"], overall=review.get("Overall")).strip()
    except TemplateError as exc:
        raise SpecError(f"teacher prompt {prompt.name}: template failed ({exc})",
                        hint="templates may use {{ review }} and {{ overall }} only") from None


def assigned(review: dict[str, Any], prompts: Sequence[TeacherPrompt], assign: str) -> list[TeacherPrompt]:
    """`both` (alias `each`): every prompt for every review, as the released corpus pairs each sampled
    review with both the analysis and the rewrite prompt; `random`: one prompt per review, fixed by a
    hash of its id (half the requests; an option, not the paper's)."""
    if assign not in ASSIGN:
        raise SpecError(f"unknown prompt assignment {assign!r}", hint=f"use one of {', '.join(ASSIGN)}")
    if assign in ("both", "each") or len(prompts) == 1:
        return list(prompts)
    index = int(sha1(str(review["ID"]).encode()).hexdigest(), 16) % len(prompts)
    return [prompts[index]]


def teacher_name_of(model: str) -> str:
    """`litellm:hosted_vllm/mistralai/Mixtral-8x7B-Instruct-v0.1` -> `mixtral_8x7b_instruct_v0_1`."""
    last = model.partition(":")[2].rstrip("/").split("/")[-1].split("#")[-1] or model
    return re.sub(r"[^a-z0-9]+", "_", last.lower()).strip("_") or "teacher"


def plan(reviews: Iterable[dict[str, Any]], prompts: Sequence[TeacherPrompt], assign: str,
         done: set[str]) -> Iterator[tuple[dict[str, Any], TeacherPrompt]]:
    """(review, prompt) pairs still to ask for."""
    for review in reviews:
        for prompt in assigned(review, prompts, assign):
            if row_key({"ID": review["ID"], "prompt_type": prompt.name}) not in done:
                yield review, prompt


def request_of(review: dict[str, Any], prompt: TeacherPrompt, max_new_tokens: int, temperature: float) -> Request:
    text = render(prompt, review)
    return Request(id=f"{review['ID']}:{prompt.name}", prompt=text, messages=({"role": "user", "content": text},),
                   max_new_tokens=max_new_tokens, temperature=temperature)


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def generate(adapter: ModelAdapter, reviews: Iterable[dict[str, Any]], prompts: Sequence[TeacherPrompt], folder: Path,
             teacher_name: str, assign: str = "each", max_new_tokens: int = 600, temperature: float = 0.0,
             max_cost: float | None = None, chunk_size: int = 256, progress: Progress | None = None,
             total: int | None = None) -> GenerationStats:
    """Ask the teacher for every missing (review, prompt) pair; append answers to responses.jsonl."""
    log = ResponseLog(folder)
    stats = GenerationStats()
    key = f"{teacher_name}_response"
    for chunk in _chunks(plan(reviews, prompts, assign, log.keys), chunk_size):
        if max_cost is not None and stats.cost_usd >= max_cost:
            stats.stopped_by_max_cost = True
            break
        completions = answers_of(adapter, [request_of(r, p, max_new_tokens, temperature) for r, p in chunk])
        rows = []
        for (review, prompt), completion in zip(chunk, completions):
            stats.sent += 1
            stats.usage.add(completion)
            if completion.text is None:  # failed after retries: not written, asked again next run
                stats.usage.failed += completion.error is None  # add() counted it when it names an error
                if len(stats.errors) < 5 and completion.error:
                    stats.errors.append(completion.error)
                continue
            row = {**review, key: completion.text, "prompt_type": prompt.name}
            if _hit_limit(completion, max_new_tokens):
                row["finish_reason"] = "length"
            rows.append(row)
        stats.written += log.append(rows)
        if progress:
            progress(stats.sent, total or 0)
    return stats


def _hit_limit(completion, max_new_tokens: int) -> bool:
    reason = (completion.extra or {}).get("finish_reason")
    if reason is not None:
        return reason == "length"
    return completion.completion_tokens is not None and completion.completion_tokens >= max_new_tokens


def estimate(reviews: Iterable[dict[str, Any]], prompts: Sequence[TeacherPrompt], assign: str, done: set[str],
             max_new_tokens: int, teacher: str, price_per_million: tuple[float, float] | None = None) -> dict[str, Any]:
    """Dry run: requests still to send, prompt tokens (~4 characters a token), completion tokens
    (typical and worst case) and their cost. Loads no model and sends nothing."""
    requests = prompt_chars = 0
    for review, prompt in plan(reviews, prompts, assign, done):
        requests += 1
        prompt_chars += len(render(prompt, review))
    prompt_tokens = prompt_chars // 4
    typical, worst = requests * TYPICAL_RESPONSE_TOKENS, requests * max_new_tokens
    prices = price_per_million or litellm_prices(teacher)
    cost = None if prices is None else {
        "typical_usd": round((prompt_tokens * prices[0] + typical * prices[1]) / 1e6, 4),
        "max_usd": round((prompt_tokens * prices[0] + worst * prices[1]) / 1e6, 4),
        "usd_per_million_tokens": {"prompt": prices[0], "completion": prices[1]}}
    return {"teacher": teacher, "requests": requests, "already_done": len(done), "prompt_tokens": prompt_tokens,
            "completion_tokens_typical": typical, "completion_tokens_max": worst, "cost": cost}


def litellm_prices(teacher: str) -> tuple[float, float] | None:
    """USD per million (prompt, completion) tokens from litellm's bundled price map, if it knows the model."""
    scheme, _, name = teacher.partition(":")
    if scheme != "litellm":
        return None
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        return None
    info = litellm.model_cost.get(name) or litellm.model_cost.get(name.split("/", 1)[-1])
    if not info or info.get("input_cost_per_token") is None:
        return None
    return info["input_cost_per_token"] * 1e6, (info.get("output_cost_per_token") or 0.0) * 1e6

