"""LLM judges: rate a study's items on its rubric through the ordinary model adapters (cache,
retries, cost), stored as annotator `judge:<model>` with kind "judge" so human agreement is never
mixed with them.

The judge sees the rubric (instructions, questions, scale anchors), the review, the analysis and
the numbered targets, and answers one JSON object. An answer that does not parse or that the rubric
refuses is not stored: the item is asked again on the next run (and counted as failed now).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from fsabench.models.answers import answers_of
from fsabench.human.rubric import Rubric
from fsabench.human.store import check_answer, store_of
from fsabench.human.study import Study
from fsabench.models.base import Completion, Request
from fsabench.results import Usage

SYSTEM = ("You are a careful annotator evaluating a sentiment analysis that a system wrote about a "
          "customer review. Follow the rubric exactly and answer with one JSON object only.")


@dataclass
class JudgeStats:
    """A judge pass: its requests' usage (results.Usage, the one usage counter; no cost for cached
    answers) plus the answers stored and those that failed (a failed request or an unusable answer)."""

    judge: str
    asked: int = 0
    stored: int = 0
    skipped_done: int = 0
    failed: int = 0
    usage: Usage = field(default_factory=Usage)
    stopped_by_max_cost: bool = False
    errors: list[str] = field(default_factory=list)

    cost_usd = property(lambda self: self.usage.cost_usd)
    cached = property(lambda self: self.usage.cached)


def rubric_text(rubric: Rubric) -> str:
    lines = [rubric.title, "", rubric.instructions.strip(), ""]
    for dim in rubric.dimensions:
        per = " (answer once per numbered target, as a list)" if dim.per == "target" else ""
        lines.append(f"{dim.name}: {dim.question}{per}")
        lines += [f'  - "{c.value}": {c.anchor}' for c in dim.scale]
    return "\n".join(lines)


def answer_shape(rubric: Rubric, n_targets: int) -> str:
    parts = []
    for dim in rubric.dimensions:
        values = " | ".join(f'"{c.value}"' for c in dim.scale)
        per_target = f"[{values}, ... exactly {n_targets} answer(s), one per numbered target]"
        parts.append(f'"{dim.name}": ' + (per_target if dim.per == "target" else values))
        if dim.span:
            parts.append(f'"{dim.name}_span": "the exact words of the analysis that are unsupported, or empty"')
    return "{" + ", ".join(parts) + "}"


def judge_request(rubric: Rubric, item: dict, max_new_tokens: int) -> Request:
    targets = "\n".join(f"{i + 1}. {t}" for i, t in enumerate(item["targets"]))
    user = (f"{rubric_text(rubric)}\n\nReview:\n{item['review']}\n\nAnalysis:\n{item['analysis']}\n\n"
            f"Targets:\n{targets}\n\nAnswer with this JSON object and nothing else:\n"
            f"{answer_shape(rubric, len(item['targets']))}")
    messages = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})
    return Request(id=item["id"], prompt=f"{SYSTEM}\n\n{user}", messages=messages, max_new_tokens=max_new_tokens)


def first_json_object(text: str) -> dict[str, Any]:
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
        start = text.find("{", start + 1)
    raise ValueError("no JSON object in the answer")


def parse_judgement(rubric: Rubric, item: dict, text: str) -> dict[str, Any]:
    """The judge's JSON -> an answer in the store's shape; spans are located in the analysis."""
    raw = first_json_object(text)
    values: dict[str, Any] = {}
    spans: dict[str, list] = {}
    for dim in rubric.dimensions:
        value = raw.get(dim.name)
        if dim.per == "target":
            value = [str(v) if v is not None else None for v in value] if isinstance(value, list) else value
        elif value is not None:
            value = str(value)
        values[dim.name] = value
        quote = raw.get(f"{dim.name}_span")
        if dim.span and isinstance(quote, str) and quote.strip():
            start = item["analysis"].find(quote.strip())
            if start >= 0:
                spans[dim.name] = [{"start": start, "end": start + len(quote.strip())}]
    return {"values": values, "spans": spans}


def judge_study(study: Study, adapter: Any, max_cost: float | None = None, overwrite: bool = False,
                chunk_size: int = 16, max_new_tokens: int = 400, progress=None) -> JudgeStats:
    """Ask the judge about every item it has not rated yet; store each parsed answer as it arrives;
    `progress(asked, to_ask)` after each chunk."""
    name = f"judge:{adapter.name}"
    stats = JudgeStats(name)
    with closing(store_of(study)) as store:
        done = set() if overwrite else {r.item for r in store.rows(annotator=name) if r.status == "done"}
        todo = [study.items[i] for i in sorted(study.items) if i not in done]
        stats.skipped_done = len(study.items) - len(todo)
        for start in range(0, len(todo), chunk_size):
            if max_cost is not None and stats.cost_usd >= max_cost:
                stats.stopped_by_max_cost = True
                break
            chunk = todo[start:start + chunk_size]
            completions: Sequence[Completion] = answers_of(adapter, [judge_request(study.rubric, i, max_new_tokens)
                                                                     for i in chunk])
            for item, completion in zip(chunk, completions):
                stats.asked += 1
                stats.usage.add(completion, charge_cached=False)
                try:
                    if completion.text is None:
                        raise ValueError(completion.error or "request failed")
                    answer, status = check_answer(study.rubric, item, parse_judgement(study.rubric, item, completion.text))
                except ValueError as exc:
                    stats.failed += 1
                    if len(stats.errors) < 5:
                        stats.errors.append(f"{item['id']}: {str(exc).splitlines()[0][:200]}")
                    continue
                store.save(name, item["id"], "judge", status, answer)
                stats.stored += 1
            if progress:
                progress(stats.asked, len(todo))
    return stats
