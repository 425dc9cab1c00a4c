"""Continuous batching for causal LMs (Llama, Qwen, Mistral, Phi, Gemma, GPT-2 ... families): rows join
and leave between decoding steps, as `hf_stepper.T5Stepper` does for T5.

Why it is shaped this way:
- Unlike T5, a causal LM has absolute positions (rotary, learned or ALiBi), so each row carries its own
  position id: newly admitted prompts are prefilled together, LEFT-padded with `generate`'s position ids
  (cumulative sum of the mask), and their cache is merged into the running one, left-padded to the
  longest row with the 2-D attention mask saying which positions are real. Every row then attends, at
  its own positions, to exactly what it would attend to alone.
- The model's own `forward` and transformers' `DynamicCache` do the decoding (attention, masks, position
  embeddings, soft-capping: whatever the architecture needs); only the cache's per-layer tensors are
  re-stacked when rows join or leave. That needs the per-layer cache of transformers >= 4.56
  (`DynamicLayer`), and every layer a plain full-attention one (see `supports_causal`).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F

from fsabench.models.hf_precision import autocast_context
from fsabench.models.hf_stepper import Row, choose_greedy, plain_greedy, staying

# Families whose served greedy answers were checked answer for answer (text, token count) against batched
# `generate` on tiny random models (tests/models/test_hf_causal_stepper.py builds one per family;
# transformers 5.25). A family joins this set only with a case there: the cache re-stacking is only as
# right as the model's forward is ordinary (a custom cache, positions taken from cache indices rather than
# `position_ids`, a mask built outside the cache would break it silently, and a config cannot tell).
# Left out: gemma2/gemma3_text/olmo3/ministral/exaone4 (their checkpoints interleave sliding-window
# layers, refused below anyway), gpt_neo (local-attention layers its cache config does not declare),
# hybrid/recurrent models (mamba, jamba, falcon_h1, qwen3_next, lfm2: state caches, not key/value layers).
VERIFIED_FAMILIES = frozenset({
    "bloom", "cohere", "falcon", "gemma", "gpt2", "gpt_bigcode", "gpt_neox", "gptj", "granite", "llama",
    "mistral", "mixtral", "olmo", "olmo2", "opt", "phi", "phi3", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "smollm3", "stablelm", "starcoder2",
})
ALIBI_FAMILIES = frozenset({"bloom"})  # no position ids: ALiBi is derived from the attention mask, as in `generate`


def supports_causal(adapter: Any) -> bool:
    """True when `CausalStepper` reproduces the model's batched greedy `generate`: a plain-greedy decoder of
    a verified family whose every layer keeps a plain full-attention cache (`DynamicLayer`: its only state
    is the key/value tensors the stepper re-stacks). A sliding-window layer also counts the tokens it has
    seen (which sizes its mask) and crops its cache, state the re-stacking does not maintain, so a window
    is refused even when answers are shorter than it (a tiny Mistral with a window fails outright).
    Qwen2's `sliding_window` with `use_sliding_window: false` is no window: transformers then builds
    full-attention layers, and the layers are what is checked. Rotary scaling that picks its frequencies
    from the batch's longest position (`dynamic`, `longrope`) is refused too: an answer would depend on
    which rows share its steps."""
    model = getattr(adapter, "model", None)
    if model is None or getattr(adapter, "seq2seq", True):
        return False
    try:
        from transformers.cache_utils import DynamicCache, DynamicLayer  # (>= 4.56)
    except ImportError:
        return False
    config = model.config
    if getattr(config, "model_type", "") not in VERIFIED_FAMILIES or not plain_greedy(model.generation_config):
        return False
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return False
    if _rope_types(config) & {"dynamic", "longrope"}:
        return False
    if "position_ids" not in inspect.signature(model.forward).parameters and config.model_type not in ALIBI_FAMILIES:
        return False
    try:  # the cache `generate` would build: one plain key/value layer per decoder layer
        layers = DynamicCache(config=config).layers
    except Exception:  # noqa: BLE001 - a config the cache cannot read: keep the static path
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _rope_types(config: Any) -> set[str]:
    """Every rotary scaling type the config names (`rope_parameters` of transformers 5, possibly per layer
    type; `rope_scaling` of 4.x)."""
    found: set[str] = set()
    pending = [getattr(config, "rope_parameters", None), getattr(config, "rope_scaling", None)]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            found.update(str(item[k]) for k in ("rope_type", "type") if isinstance(item.get(k), str))
            pending += [v for v in item.values() if isinstance(v, dict)]
    return found


class CausalStepper:
    """Rows decoding together (same interface as `T5Stepper`: admit, step, drop, rows)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter, self.model, self.device = adapter, adapter.model, adapter.device
        self.eos = torch.tensor(adapter._eos_ids(), dtype=torch.long, device=self.device)
        self.rows: list[Row] = []
        self.pending: list[tuple[list[Any], list[str], list[int]]] = []
        self.cache: Any = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=self.device)  # real positions per row
        self.last = torch.zeros(0, dtype=torch.long, device=self.device)
        # the cache keyword: `cache` from transformers 5.x (`past_key_values` is deprecated there), else the old name
        self.cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def __len__(self) -> int:
        return len(self.rows) + sum(len(keys) for keys, _, _ in self.pending)

    def admit(self, keys: list[Any], texts: list[str], min_tokens: list[int]) -> None:
        """Queue prompts for the next step, which prefills them (choosing their first token) after
        decoding the running rows: every row gains exactly one token per step."""
        self.pending.append((keys, texts, min_tokens))

    def _prefill(self, keys: list[Any], texts: list[str], min_tokens: list[int]) -> None:
        """Prefill the prompts (left-padded, as batched `generate`), choose each one's first token, and
        merge their cache into the running rows."""
        from transformers.cache_utils import DynamicCache

        tokenizer = self.adapter.tokenizer
        with self.adapter.lock:
            tokenizer.padding_side = "left"
            encoded = tokenizer(texts, return_tensors="pt", padding=True,
                                add_special_tokens=self.adapter._special_tokens())
        ids, mask = encoded["input_ids"].to(self.device), encoded["attention_mask"].to(self.device)
        positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
        cache = DynamicCache(config=self.model.config)
        with autocast_context(self.device, self.adapter.autocast):
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, **{self.cache_arg: cache},
                                use_cache=True).logits[:, -1, :].float()
        rows = [Row(key, m, p) for key, m, p in zip(keys, min_tokens, mask.sum(dim=1).tolist())]
        first = choose_greedy(logits, rows, self.eos)
        self._merge(cache, mask.long())
        self.last = torch.cat([self.last, first])
        self.rows += rows

    def _merge(self, new: Any, new_mask: torch.Tensor) -> None:
        """Stack the new rows' cache under the running one, left-padding both to the longer length."""
        if self.cache is None:
            self.cache, self.mask = new, new_mask
            return
        span = max(self.mask.shape[1], new_mask.shape[1])
        for old_layer, new_layer in zip(self.cache.layers, new.layers):
            old_layer.keys = torch.cat([_pad_left(old_layer.keys, span), _pad_left(new_layer.keys, span)])
            old_layer.values = torch.cat([_pad_left(old_layer.values, span), _pad_left(new_layer.values, span)])
        self.mask = torch.cat([F.pad(self.mask, (span - self.mask.shape[1], 0)), F.pad(new_mask, (span - new_mask.shape[1], 0))])

    @torch.inference_mode()
    def step(self) -> list[Row]:
        """Feed every running row its pending token at its own position (greedy next token appended),
        then prefill the rows admitted since the last step."""
        if self.rows:
            positions = self.mask.sum(dim=1, keepdim=True)
            self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
            with autocast_context(self.device, self.adapter.autocast):
                logits = self.model(input_ids=self.last[:, None], attention_mask=self.mask, position_ids=positions,
                                    use_cache=True, **{self.cache_arg: self.cache}).logits[:, -1, :].float()
            self.last = choose_greedy(logits, self.rows, self.eos)
        pending, self.pending = self.pending, []
        for keys, texts, min_tokens in pending:
            self._prefill(keys, texts, min_tokens)
        return self.rows

    def drop(self, gone: list[Row]) -> None:
        """Remove rows, then the left padding no remaining row needs."""
        if not gone:
            return
        keep = staying(self.rows, gone)
        if not keep:
            self.rows, self.cache = [], None
            self.mask = self.mask[:0, :0]
            self.last = self.last[:0]
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self.rows = [self.rows[k] for k in keep]
        self.mask, self.last = self.mask[index], self.last[index]
        cut = int((self.mask.sum(dim=0) == 0).long().cumprod(dim=0).sum())  # leading columns nobody uses
        self.mask = self.mask[:, cut:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, cut:].contiguous()
            layer.values = layer.values[index, :, cut:].contiguous()


def _pad_left(x: torch.Tensor, span: int) -> torch.Tensor:
    """Left-pad [rows, heads, positions, dim] with zeros to `span` positions."""
    return F.pad(x, (0, 0, span - x.shape[2], 0)) if x.shape[2] < span else x
