"""Continuous batching for causal LMs, family by family: on a tiny random model of each verified family,
rows that join and leave at different steps (budgets 1..60, min_tokens, EOS) answer exactly as batched
`generate` does; a model with a sliding window, rotary frequencies set by the batch's longest row, or of an
unverified family keeps the static path."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fsabench.models.hf import HFAdapter
from fsabench.models.hf_causal_stepper import (
    VERIFIED_FAMILIES,
    CausalStepper,
    supports_causal,
)
from fsabench.serve.engine import new_stepper

SMALL_MOE = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}
# model_type -> config fields beyond the shared tiny shape (as real checkpoints of the family set them)
FAMILIES = {
    "bloom": {}, "cohere": {}, "falcon": {"head_dim": None}, "gemma": {}, "gpt2": {}, "gpt_bigcode": {},
    "gpt_neox": {}, "gptj": {"rotary_dim": 16}, "granite": {}, "llama": {},
    "mistral": {"sliding_window": None},  # Mistral-7B v0.2+ (v0.1's 4096 window is refused below)
    "mixtral": {"num_local_experts": 4, "sliding_window": None}, "olmo": {}, "olmo2": {}, "opt": {}, "phi": {},
    "phi3": {"sliding_window": None},
    "qwen2": {"sliding_window": 32768, "use_sliding_window": False},  # as Qwen2.5 ships: a window, switched off
    "qwen2_moe": {**SMALL_MOE, "shared_expert_intermediate_size": 32}, "qwen3": {}, "qwen3_moe": SMALL_MOE,
    "smollm3": {}, "stablelm": {}, "starcoder2": {"sliding_window": None},
}
SENTENCES = ["Cold soup.", "The staff was friendly but the pasta was bland and overpriced.", "Great sushi!",
             "We waited an hour for a table, then the waiter forgot our drinks.", "Nice view.", "Fine.",
             "The battery lasts all day, the screen is dim.", "Never again."]


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def tiny_causal(model_type: str, tokenizer, **fields) -> HFAdapter:
    """A random 2-layer model of the family (hidden 64, 2 heads of 32), float32, plain greedy."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    shape = {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 32, "max_position_embeddings": 512,
             "initializer_range": 0.1, "tie_word_embeddings": False, **ids}
    config = AutoConfig.for_model(model_type, **{k: v for k, v in {**shape, **fields}.items()
                                                 if not (k == "head_dim" and fields.get(k, 0) is None)})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    model.generation_config = GenerationConfig(**ids, do_sample=False)
    return HFAdapter.from_loaded(f"tiny-{model_type}", model, tokenizer, "cpu", batch_size=4)


def served(adapter: HFAdapter, texts: list[str], budgets: list[int], minimum: list[int], width: int) -> list[list[int]]:
    """Decode as the serve engine does: up to `width` rows, a queued prompt takes a freed row's place."""
    stepper, eos, queue, done = CausalStepper(adapter), set(adapter._eos_ids()), list(range(len(texts))), {}
    while queue or len(stepper):
        free = width - len(stepper)
        if free and queue:
            take, queue = queue[:free], queue[free:]
            stepper.admit(take, [texts[i] for i in take], [minimum[i] for i in take])
        finished = [row for row in stepper.step() if len(row.ids) >= budgets[row.key] or row.ids[-1] in eos]
        done.update((row.key, row.ids) for row in finished)
        stepper.drop(finished)
    return [done[i] for i in range(len(texts))]


def test_every_verified_family_has_a_case_here():
    assert set(FAMILIES) == VERIFIED_FAMILIES


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_served_rows_answer_as_batched_generate(family, tokenizer):
    adapter = tiny_causal(family, tokenizer, **FAMILIES[family])
    assert supports_causal(adapter) and isinstance(new_stepper(adapter), CausalStepper)
    rng = random.Random(1)
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(12)]
    budgets = [rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 60]) for _ in texts]
    minimum = [min(rng.choice([0, 0, 1, 4, 10]), b) for b in budgets]
    # a token that rows write after their min_tokens and before their budget also ends a row, so some rows
    # stop at EOS (random weights seldom write the real one) and min_tokens matters
    probe = served(adapter, texts, budgets, minimum, width=6)
    common = Counter(t for ids, m, b in zip(probe, minimum, budgets) for t in set(ids[m:b - 1])).most_common(1)[0][0]
    adapter.model.generation_config.eos_token_id = [tokenizer.eos_token_id, common]

    got = served(adapter, texts, budgets, minimum, width=3)  # rows join and leave at different steps
    text, _, count = adapter._generate_batch(texts, budgets, minimum)  # one static batch of all twelve
    assert [(adapter.decode(ids), len(ids)) for ids in got] == list(zip(text, count))
    assert any(len(ids) < b for ids, b in zip(got, budgets)), "no row ended at EOS: the check is weaker"


@pytest.mark.parametrize("family, fields", [
    ("mistral", {"sliding_window": 16}),  # Mistral-7B v0.1
    ("phi3", {"sliding_window": 2047}),  # Phi-3-mini
    ("qwen2", {"sliding_window": 16, "use_sliding_window": True, "max_window_layers": 0}),
    ("gemma2", {}),  # sliding-window layers interleaved with full ones
    ("gpt_neo", {"attention_types": [[["global"], 2]]}),  # a family not checked here
    ("llama", {"rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}}),
], ids=["mistral-window", "phi3-window", "qwen2-window", "gemma2", "gpt_neo", "llama-dynamic-rope"])
def test_a_sliding_window_an_unverified_family_or_batch_dependent_rope_keeps_static_generate(family, fields, tokenizer):
    assert new_stepper(tiny_causal(family, tokenizer, **fields)) is None


def test_a_generation_config_with_logits_processors_keeps_static_generate(tokenizer):
    adapter = tiny_causal("llama", tokenizer)
    adapter.model.generation_config.repetition_penalty = 1.3
    assert new_stepper(adapter) is None
