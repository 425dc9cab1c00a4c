"""Continuous batching over a stepper (`hf_stepper.T5Stepper`, `hf_causal_stepper.CausalStepper`): which
stepper a model gets, and `decode_all`, the loop `HFAdapter.generate` runs (`fsabench serve`'s engine
drives the same steppers from its request queue)."""

from __future__ import annotations

from typing import Any

from fsabench.models.hf_causal_stepper import CausalStepper, supports_causal
from fsabench.models.hf_stepper import Row, T5Stepper, supports


def new_stepper(adapter: Any) -> Any:
    """A continuous-batching stepper for the adapter's model (T5 family; full-attention causal LMs of a
    verified family), or None: the model keeps one static `generate` per batch."""
    if supports(adapter):
        return T5Stepper(adapter)
    return CausalStepper(adapter) if supports_causal(adapter) else None


def decode_all(stepper: Any, texts: list[str], budgets: list[int], rows: int, eos: set[int]) -> list[Row]:
    """Greedy-decode every prompt through `stepper` with at most `rows` rows decoding at once: prompts are
    admitted in the order given, each the step a row frees. Row i stops at its own budget or its first EOS
    (included in its ids); its key is i. Returns the finished rows in input order."""
    done: list[Row | None] = [None] * len(texts)
    following = 0
    while following < len(texts) or len(stepper):
        free = min(rows - len(stepper), len(texts) - following)
        if free > 0:
            keys = list(range(following, following + free))
            stepper.admit(keys, [texts[k] for k in keys], [0] * free)
            following += free
        finished = [row for row in stepper.step() if len(row.ids) >= budgets[row.key] or row.ids[-1] in eos]
        for row in finished:
            done[row.key] = row
        stepper.drop(finished)
    return [row for row in done if row is not None]
