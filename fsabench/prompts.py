"""Examples -> Requests: raw input for fine-tuned students, instruction + k shots for chat LLMs.

Templates are jinja2 rendered in a restricted sandbox (fsabench.templates): a task file can reference
only `input`, `target` and `shots`, can never run code, and renders in bounded time and size.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fsabench.errors import SpecError
from fsabench.examples import Example
from fsabench.models.base import Request
from fsabench.tasks.spec import TaskSpec
from fsabench.templates import render


def pick_shots(train: Sequence[Example], k: int, seed: int, exclude_id: str | None = None) -> list[Example]:
    """k demonstrations drawn deterministically from the train split (same seed, same shots)."""
    if k <= 0 or not train:
        return []
    pool = [e for e in train if e.id != exclude_id]
    return random.Random(seed).sample(pool, min(k, len(pool)))


def shot_texts_of(spec: TaskSpec, shots: Sequence[Example]) -> list[str]:
    """The rendered demonstrations (the same for every example of a run)."""
    return [render(spec.prompt.shot_template, spec.name, input=s.input, target=s.target) for s in shots]


def build_request(spec: TaskSpec, example: Example, style: str, shots: Sequence[Example] = (),
                  shot_texts: Sequence[str] | None = None) -> Request:
    """One request: the raw sentence for style 'raw'; instruction, shots and query for 'chat'.
    `shot_texts`: the shots already rendered (build_requests renders them once per run, not per example)."""
    if style == "raw":
        return Request(id=example.id, prompt=example.input, max_new_tokens=spec.max_new_tokens)
    p = spec.prompt
    query = render(p.template, spec.name, input=example.input)
    if shot_texts is None:
        shot_texts = shot_texts_of(spec, shots)
    user = p.shot_separator.join([t for t in [p.instruction, *shot_texts, query] if t])
    messages = ([{"role": "system", "content": p.system}] if p.system else []) + [{"role": "user", "content": user}]
    prompt = user if not p.system else f"{p.system}\n\n{user}"
    return Request(id=example.id, prompt=prompt, messages=tuple(messages), max_new_tokens=spec.max_new_tokens)


def build_requests(spec: TaskSpec, examples: Sequence[Example], style: str, train: Sequence[Example] = (),
                   num_shots: int = 0, seed: int = 0) -> list[Request]:
    """Requests for every example; the k shots are drawn once per run so every example shares them."""
    shots = pick_shots(train, num_shots, seed) if style != "raw" else []
    texts = shot_texts_of(spec, shots)  # once: a verifier re-rendering k shots x n examples did k*n renders
    return [build_request(spec, e, style, shots, texts) for e in examples]


def label_choices(spec: TaskSpec) -> tuple[str, ...]:
    """--scoring likelihood: one continuation per label, its first verbalizer word (else the label);
    the parser maps the chosen word back to its label."""
    if spec.output.parser != "label":
        raise SpecError(f"task {spec.name}: --scoring likelihood needs a classification task (output.parser: label)",
                        hint="use --scoring generate for extraction tasks")
    return tuple((spec.output.verbalizer.get(label) or [label])[0] for label in spec.output.labels)
