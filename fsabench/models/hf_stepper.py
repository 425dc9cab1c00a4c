"""Continuous batching for T5-family models: greedy decoding one step at a time over rows that
join and leave between steps (`fsabench serve` admits a queued prompt into a row the step another
row finishes).

Why it is shaped this way:
- A batch that runs until its longest row ends wastes steps: over atsa-rest14's 1,140 answers at
  batch 16, static batches take ~4,400-4,700 decoding steps, refilling a row the step it frees ~800.
  For a small model a step's cost is mostly fixed Python overhead, so fewer steps is the lever.
- The step is written against T5's own modules (the same weights, layer norms, feed-forward and
  relative position bias `generate` uses) rather than through `model.forward`: joining rows need
  per-row caches that transformers' cache classes do not offer, and the lean step also skips the
  per-step mask building and output objects that dominate a tiny model's time.
- The decoder's self-attention cache is LEFT-padded to the longest active row, with a mask. T5's
  decoder has no absolute positions, only a relative position bias (key position minus query
  position), so a row shifted right by padding attends exactly as it would alone. Encoder states
  (cross-attention keys/values) are RIGHT-padded with a mask, as batched `generate` pads prompts.
- Greedy only (argmax over float32 logits, as `generate` with do_sample=False); a model whose
  generation config adds logits processors (repetition penalty, forced tokens ...) is not
  supported here and keeps the static `generate` path (`supports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from fsabench.models.hf_precision import autocast_context

_PLAIN_GREEDY = {  # generation-config fields that would add a logits processor, and their neutral values
    "repetition_penalty": (None, 1.0), "no_repeat_ngram_size": (None, 0), "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,), "suppress_tokens": (None,), "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,), "forced_eos_token_id": (None,), "sequence_bias": (None,),
    "min_length": (None, 0), "min_new_tokens": (None, 0), "num_beams": (None, 1), "renormalize_logits": (None, False),
}


def supports(adapter: Any) -> bool:
    """True for a local T5/mT5 model whose greedy `generate` is a plain argmax (what `T5Stepper` reproduces)."""
    model = getattr(adapter, "model", None)
    if model is None or not getattr(adapter, "seq2seq", False):
        return False
    if getattr(model.config, "model_type", "") not in ("t5", "mt5") or not hasattr(model, "decoder"):
        return False
    first = model.decoder.block[0].layer[0].SelfAttention
    if not getattr(first, "has_relative_attention_bias", False):
        return False
    return plain_greedy(model.generation_config)


def plain_greedy(config: Any) -> bool:
    """True when greedy `generate` with this generation config is a plain argmax (no logits processors)."""
    return all(getattr(config, name, None) in neutral for name, neutral in _PLAIN_GREEDY.items())



@dataclass(eq=False)
class Row:
    """One prompt being decoded: `ids` are its generated tokens (the decoder start token excluded)."""

    key: Any
    min_tokens: int
    prompt_tokens: int
    ids: list[int] = field(default_factory=list)


class T5Stepper:
    """Rows decoding together; `admit` adds prompts, `step` decodes one token for every row, `drop`
    removes rows (finished, cancelled). Not thread-safe: one stepper per worker thread."""

    def __init__(self, adapter: Any) -> None:
        self.adapter, self.model = adapter, adapter.model
        config = self.model.config
        self.device = adapter.device
        self.heads, self.head_dim = config.num_heads, config.d_kv
        self.blocks = list(self.model.decoder.block)
        self.bias_layer = self.blocks[0].layer[0].SelfAttention
        self.scale = getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True))
        self.model_dim = config.d_model
        self.start_id = config.decoder_start_token_id
        self.eos = torch.tensor(adapter._eos_ids(), dtype=torch.long, device=self.device)
        self.sdpa = getattr(config, "_attn_implementation", "eager") == "sdpa"
        self.rows: list[Row] = []
        self._biases: dict[int, torch.Tensor] = {}
        self._reset()

    def __len__(self) -> int:
        return len(self.rows)

    def _reset(self) -> None:
        """Empty state: tensors with a batch dimension of 0, so admission and steps need no special case."""
        dtype, layers = self.model.dtype, len(self.blocks)
        empty = torch.zeros(0, self.heads, 0, self.head_dim, dtype=dtype, device=self.device)
        self.keys, self.values = [empty] * layers, [empty] * layers
        self.cross_keys, self.cross_values = [empty] * layers, [empty] * layers
        self.valid = torch.zeros(0, 0, dtype=torch.bool, device=self.device)  # decoder positions per row
        self.cross_valid = torch.zeros(0, 0, dtype=torch.bool, device=self.device)  # encoder positions per row
        self.last = torch.zeros(0, dtype=torch.long, device=self.device)
        self.rows = []

    # --- rows join -----------------------------------------------------------------------------------
    @torch.inference_mode()
    def admit(self, keys: list[Any], texts: list[str], min_tokens: list[int]) -> None:
        """Encode the prompts (right-padded, as batched `generate` does) and add one row each."""
        tokenizer = self.adapter.tokenizer
        with self.adapter.lock:
            tokenizer.padding_side = "right"
            encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=True)
        ids, mask = encoded["input_ids"].to(self.device), encoded["attention_mask"].to(self.device)
        with autocast_context(self.device, self.adapter.autocast):
            states = self.model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            width = max(self.cross_valid.shape[1], ids.shape[1])
            for layer, block in enumerate(self.blocks):
                attention = block.layer[1].EncDecAttention
                new_k, new_v = self._heads(attention.k(states)), self._heads(attention.v(states))
                self.cross_keys[layer] = _cat_rows(self.cross_keys[layer], new_k, width)
                self.cross_values[layer] = _cat_rows(self.cross_values[layer], new_v, width)
        self.cross_valid = torch.cat([_pad_right(self.cross_valid, width), _pad_right(mask.bool(), width)])
        count, span = len(texts), self.valid.shape[1]
        self.valid = torch.cat([self.valid, torch.zeros(count, span, dtype=torch.bool, device=self.device)])
        for layer in range(len(self.blocks)):  # a new row has no decoder positions yet: all padding
            blank = self.keys[layer].new_zeros(count, self.heads, span, self.head_dim)
            self.keys[layer] = torch.cat([self.keys[layer], blank])
            self.values[layer] = torch.cat([self.values[layer], blank])
        self.last = torch.cat([self.last, torch.full((count,), self.start_id, dtype=torch.long, device=self.device)])
        prompt_tokens = mask.sum(dim=1).tolist()
        self.rows += [Row(key, m, p) for key, m, p in zip(keys, min_tokens, prompt_tokens)]

    # --- one decoding step ---------------------------------------------------------------------------
    @torch.inference_mode()
    def step(self) -> list[Row]:
        """Feed every row its last token; append the greedy next token to each row's ids."""
        if not self.rows:
            return []
        with autocast_context(self.device, self.adapter.autocast):
            logits = self._logits()
        self.last = choose_greedy(logits, self.rows, self.eos)
        return self.rows

    def _logits(self) -> torch.Tensor:
        """One pass of the decoder for one new position per row, as T5Stack + lm_head compute it."""
        count, span = self.valid.shape
        self.valid = torch.cat([self.valid, torch.ones(count, 1, dtype=torch.bool, device=self.device)], dim=1)
        hidden = self.model.decoder.embed_tokens(self.last[:, None])
        fill = torch.finfo(hidden.dtype).min
        self_mask = torch.where(self.valid[:, None, None, :], self._bias(span).to(hidden.dtype), fill)
        cross_mask = torch.where(self.cross_valid[:, None, None, :], 0.0, fill).to(hidden.dtype)
        for layer, block in enumerate(self.blocks):
            attention = block.layer[0].SelfAttention
            normed = block.layer[0].layer_norm(hidden)
            self.keys[layer] = torch.cat([self.keys[layer], self._heads(attention.k(normed))], dim=2)
            self.values[layer] = torch.cat([self.values[layer], self._heads(attention.v(normed))], dim=2)
            out = self._attend(self._heads(attention.q(normed)), self.keys[layer], self.values[layer], self_mask)
            hidden = _clamp(hidden + attention.o(out))
            cross = block.layer[1].EncDecAttention
            out = self._attend(self._heads(cross.q(block.layer[1].layer_norm(hidden))), self.cross_keys[layer],
                               self.cross_values[layer], cross_mask)
            hidden = _clamp(hidden + cross.o(out))
            hidden = _clamp(block.layer[-1](hidden))
        hidden = self.model.decoder.final_layer_norm(hidden)
        if self.scale:
            hidden = hidden * (self.model_dim ** -0.5)
        return self.model.lm_head(hidden)[:, -1, :].float()

    def _bias(self, span: int) -> torch.Tensor:
        """Relative position bias of the query at position `span` over keys 0..span (cached per span)."""
        if span not in self._biases:
            layer = self.bias_layer
            relative = torch.arange(span + 1, dtype=torch.long, device=self.device) - span
            buckets = layer._relative_position_bucket(relative[None, :], bidirectional=False,
                                                      num_buckets=layer.relative_attention_num_buckets,
                                                      max_distance=layer.relative_attention_max_distance)
            self._biases[span] = layer.relative_attention_bias(buckets).permute([2, 0, 1]).unsqueeze(0)
        return self._biases[span]

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def _attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """T5 attention (no 1/sqrt(d) scaling; bias and padding folded into one additive mask), through
        the same kernel the model's own attention uses (sdpa or the eager matmul-softmax)."""
        mask = mask.to(query.dtype)
        if self.sdpa:
            out = F.scaled_dot_product_attention(query, keys, values, attn_mask=mask, scale=1.0)
        else:
            out = torch.matmul(torch.softmax(torch.matmul(query, keys.transpose(2, 3)) + mask, dim=-1), values)
        return out.transpose(1, 2).reshape(query.shape[0], 1, self.heads * self.head_dim)

    # --- rows leave ----------------------------------------------------------------------------------
    def drop(self, gone: list[Row]) -> None:
        """Remove rows, then trim padding no remaining row needs (decoder on the left, encoder on the right)."""
        if not gone:
            return
        keep = staying(self.rows, gone)
        if not keep:
            self._reset()
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self.rows = [self.rows[k] for k in keep]
        span = max(len(row.ids) for row in self.rows)  # cached positions: start token + ids fed so far
        width = int(self.cross_valid[index].sum(dim=1).max())
        cut = self.valid.shape[1] - span
        self.valid = self.valid[index, cut:]
        self.cross_valid = self.cross_valid[index, :width]
        self.last = self.last[index]
        for layer in range(len(self.blocks)):
            self.keys[layer] = self.keys[layer][index, :, cut:].contiguous()
            self.values[layer] = self.values[layer][index, :, cut:].contiguous()
            self.cross_keys[layer] = self.cross_keys[layer][index, :, :width].contiguous()
            self.cross_values[layer] = self.cross_values[layer][index, :, :width].contiguous()


def choose_greedy(logits: torch.Tensor, rows: list[Row], eos: torch.Tensor) -> torch.Tensor:
    """Each row's greedy next token (argmax; no EOS before the row's min_tokens, as `RowMinTokens` in
    static `generate`), appended to its ids. Both steppers choose here, so they choose alike."""
    early = [k for k, row in enumerate(rows) if len(row.ids) < row.min_tokens]
    if early and len(eos):
        index = torch.tensor(early, dtype=torch.long, device=logits.device)
        logits[index[:, None], eos[None, :]] = -float("inf")
    chosen = logits.argmax(dim=-1)
    for row, token in zip(rows, chosen.tolist()):
        row.ids.append(token)
    return chosen


def staying(rows: list[Row], gone: list[Row]) -> list[int]:
    """Indices of the rows not in `gone` (rows are compared by identity: two rows may hold equal ids)."""
    leaving = {id(row) for row in gone}
    return [k for k, row in enumerate(rows) if id(row) not in leaving]


def _pad_right(x: torch.Tensor, width: int) -> torch.Tensor:
    """Pad the last dimension with zeros (False) up to `width`."""
    return F.pad(x, (0, width - x.shape[-1])) if x.shape[-1] < width else x


def _cat_rows(old: torch.Tensor, new: torch.Tensor, width: int) -> torch.Tensor:
    """Stack [rows, heads, positions, dim] tensors by row, right-padding positions to `width`."""
    def padded(x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, 0, width - x.shape[2])) if x.shape[2] < width else x

    return torch.cat([padded(old), padded(new)])


def _clamp(hidden: torch.Tensor) -> torch.Tensor:
    """T5Block's float16 guard against inf activations (a no-op in other dtypes)."""
    if hidden.dtype != torch.float16:
        return hidden
    limit = torch.finfo(hidden.dtype).max - (1000 if torch.isinf(hidden).any() else 0)
    return torch.clamp(hidden, min=-limit, max=limit)
