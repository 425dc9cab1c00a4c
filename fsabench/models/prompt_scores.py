"""Prompt log-probabilities of a local decoder-only (`hf:`) model: what an OpenAI `echo` + `logprobs`
request asks for, and how lm-eval's `local-completions` scores a loglikelihood request.

For a row of token ids t_0 .. t_{n-1}: logprob[i] = log p(t_i | t_0 .. t_{i-1}) for i >= 1 (None for t_0,
which nothing predicts), the `top` most likely tokens at each position, and the greedy next token after
the last one (its logprob too): all from ONE forward pass, no `generate`. The arithmetic is that of
`fsabench.models.hf._sum_logprobs` (right padding, log_softmax over float32 logits), so lm-eval's sum of
`token_logprobs[ctxlen:-1]` is `hf:` likelihood's sum on the same weights.

Seq2seq models have no prompt logprobs (the encoder predicts nothing): `score_rows` refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PASS_TOKENS = 1024  # padded positions in one forward pass (rows are grouped up to this)
MAX_LOGIT_FLOATS = 2 ** 28  # logits are positions x vocabulary float32s: 1 GiB at most (see max_row_tokens)


def max_row_tokens(vocab: int) -> int:
    """The longest row one forward pass may hold: its logits alone are length x vocabulary floats
    (a 150k vocabulary at 2,048 tokens is 1.2 GB), so long rows on big vocabularies are refused."""
    return max(1, MAX_LOGIT_FLOATS // max(1, vocab))


@dataclass(frozen=True)
class RowScores:
    ids: tuple[int, ...]
    logprobs: tuple[float | None, ...]  # one per id, the first None
    top: tuple[tuple[tuple[int, float], ...], ...]  # per id: (token, logprob) of the `top` likeliest there
    next_id: int  # the greedy token after the row
    next_logprob: float
    next_top: tuple[tuple[int, float], ...]


def passes(lengths: Sequence[int], budget: int = MAX_PASS_TOKENS) -> list[list[int]]:
    """Row indices grouped into forward passes, longest first, each holding at most `budget` padded
    positions (a row longer than that goes alone)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[groups[-1][0]] * (len(groups[-1]) + 1) <= budget:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class ScoringCancelled(Exception):
    """`stop` was set between two forward passes: nobody waits for the rest of the scores."""


def score_rows(adapter: Any, rows: Sequence[Sequence[int]], top: int = 0,
               stop: Callable[[], bool] | None = None) -> list[RowScores]:
    """Every row's prompt logprobs (see the module docstring); rows are non-empty lists of valid ids.
    `stop()` is asked before each forward pass: True (the server's client left) raises ScoringCancelled."""
    import torch

    from fsabench.models.hf import autocast_context

    if adapter.seq2seq:
        raise ValueError("prompt logprobs need a decoder-only model (a seq2seq encoder predicts no prompt tokens)")
    results: list[RowScores | None] = [None] * len(rows)
    pad = adapter.tokenizer.pad_token_id or 0
    with torch.inference_mode(), autocast_context(adapter.device, adapter.autocast):
        for group in passes([len(r) for r in rows]):
            if stop is not None and stop():
                raise ScoringCancelled(f"stopped before {sum(r is None for r in results)} of {len(rows)} rows")
            width = len(rows[group[0]])
            ids = torch.tensor([list(rows[i]) + [pad] * (width - len(rows[i])) for i in group], device=adapter.device)
            mask = torch.tensor([[1] * len(rows[i]) + [0] * (width - len(rows[i])) for i in group],
                                device=adapter.device)
            logits = adapter.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            for k, i in enumerate(group):  # row by row: one row's log_softmax copy at a time
                results[i] = _row(torch.log_softmax(logits[k, :len(rows[i])].float(), dim=-1), rows[i], top)
            del logits
    return [r for r in results if r is not None]


def _row(logp: Any, ids: Sequence[int], top: int) -> RowScores:
    """logp: [n, vocab], position j predicting token j + 1."""
    import torch

    n = len(ids)
    targets = torch.tensor(list(ids[1:]), dtype=torch.long, device=logp.device)
    chosen = logp[:-1].gather(-1, targets.unsqueeze(-1)).squeeze(-1).tolist() if n > 1 else []
    k = max(1, top)
    values, indices = logp.topk(min(k, logp.shape[-1]), dim=-1)
    pairs = [tuple(zip(i, v)) for i, v in zip(indices.tolist(), values.tolist())]
    shown = [p[:top] for p in pairs]
    return RowScores(ids=tuple(ids), logprobs=(None, *chosen), top=((), *shown[:-1]),
                     next_id=pairs[-1][0][0], next_logprob=pairs[-1][0][1], next_top=shown[-1])
