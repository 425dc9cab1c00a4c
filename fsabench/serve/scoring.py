"""Prompt scoring on /v1/completions: `echo: true` with `logprobs: N` and `max_tokens` 0 or 1.

What lm-eval's `local-completions` sends for a loglikelihood request (with a tokenizer and
`tokenized_requests=True`): the context + continuation as token ids, `echo: true`, `logprobs: 1`,
`max_tokens: 1`. It sums `choices[i].logprobs.token_logprobs[ctxlen:-1]` (the last entry is the one
generated token) and calls a continuation greedy when each token's logprob is the largest of its
`top_logprobs`. The answer here is OpenAI's legacy shape, as vLLM gives it:

    "logprobs": {"tokens": [...], "token_logprobs": [null, ...], "top_logprobs": [null, {...}, ...],
                 "text_offset": [...]}

covering every prompt token (the first has no logprob: nothing predicts it) and then the generated
token when `max_tokens` is 1. `top_logprobs` holds the N likeliest tokens at each position plus the
token that is there. `text` is the prompt's text (its tokens' strings joined) plus the generated token.

Only a local decoder-only (`hf:`) model can be scored: for a seq2seq model (T5) prompt logprobs mean
nothing (its encoder predicts no tokens, and a token list carries no context/continuation split), so
the request is refused in one line pointing at in-process likelihood scoring, which scores the
continuation as decoder targets. Work is bounded: each prompt fits the model's window, a request holds
at most MAX_SCORED_TOKENS ids, and requests are scored one at a time (`lock`), beside generation.
A client that disconnects stops its scoring: a request still waiting for the lock gives up, and one
being scored stops before its next forward pass (as a generating row stops at its next step).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fsabench.models.prompt_scores import ScoringCancelled, max_row_tokens
from fsabench.serve.engine import BadRequest
from fsabench.serve.schemas import CompletionRequest

MAX_SCORED_TOKENS = 65_536  # prompt tokens one scoring request may send (all its prompts together)
lock = threading.Lock()  # one scoring pass at a time: concurrent forward passes only fight over the cores
LOCK_POLL = 0.1  # seconds between looks at `stop` while another request holds the lock


def check(body: CompletionRequest, engine: Any) -> None:
    """Refuse what prompt scoring cannot do, naming the field (called before any work)."""
    if body.stream:
        raise BadRequest("'stream' is not supported with 'echo' (prompt scoring answers at once)", "stream")
    if body.max_tokens is not None and body.max_tokens > 1:
        raise BadRequest(f"max_tokens = {body.max_tokens} with 'echo': prompt scoring generates at most 1 token "
                         "(send 0 or 1)", "max_tokens")
    if body.min_tokens:
        raise BadRequest("'min_tokens' is not supported with 'echo'", "min_tokens")
    adapter = engine.adapter
    if not engine.local:
        raise BadRequest("prompt logprobs ('echo') need a local hf: model; this server serves "
                         f"{getattr(adapter, 'name', 'another adapter')}", "echo")
    if adapter.seq2seq:
        raise BadRequest("prompt logprobs ('echo') need a decoder-only model; this server serves a seq2seq model "
                         "(score it in-process: fsabench run --scoring likelihood, or lm-eval's hf model with "
                         "backend=seq2seq)", "echo")


def rows_of(body: CompletionRequest, engine: Any) -> list[list[int]]:
    """The prompts as token ids (text prompts tokenized as generation tokenizes them), checked."""
    adapter, window = engine.adapter, engine.window() or 0
    prompts = body.prompts()
    vocab = min(len(adapter.tokenizer), getattr(adapter.model.config, "vocab_size", None) or len(adapter.tokenizer))
    longest = min(window, max_row_tokens(vocab))
    rows: list[list[int]] = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            if len(prompt) > window * 32:
                raise BadRequest(f"prompt {i} of {len(prompt):,} characters is longer than the model's window of "
                                 f"{window} tokens", "prompt")
            with adapter.lock:
                prompt = adapter.tokenizer(prompt, add_special_tokens=adapter._special_tokens()).input_ids
        if not prompt:
            raise BadRequest(f"prompt {i} is empty: a scored prompt needs at least 1 token", "prompt")
        if len(prompt) > longest:
            why = f"the model's window of {window} tokens" if longest == window else \
                f"the {longest} tokens one prompt may hold for scoring with this model's vocabulary"
            raise BadRequest(f"prompt {i} of {len(prompt)} tokens is longer than {why}", "prompt")
        bad = next((t for t in prompt if t >= vocab), None)
        if bad is not None:
            raise BadRequest(f"prompt {i} holds token id {bad}, outside the model's vocabulary of {vocab}", "prompt")
        rows.append(list(prompt))
    total = sum(len(r) for r in rows)
    if total > MAX_SCORED_TOKENS:
        raise BadRequest(f"the prompts hold {total:,} tokens; one scoring request may hold {MAX_SCORED_TOKENS:,} "
                         "(split it)", "prompt")
    return rows


def score(body: CompletionRequest, engine: Any, stop: threading.Event | None = None
          ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The choices and usage of a scoring request (runs in the thread pool); raises ScoringCancelled
    once `stop` is set (the client left), before the lock is taken or between forward passes."""
    from fsabench.models.prompt_scores import score_rows  # torch, on first use

    check(body, engine)
    rows = rows_of(body, engine)
    top = body.logprobs or 0
    stop = stop or threading.Event()
    while not lock.acquire(timeout=LOCK_POLL):
        if stop.is_set():
            engine.stats.scoring_cancelled.append(0.0)
            raise ScoringCancelled("the client left while another request was being scored")
    started = time.monotonic()
    try:
        scored = score_rows(engine.adapter, rows, top, stop=stop.is_set)
    except ScoringCancelled:
        engine.stats.scoring_cancelled.append(time.monotonic() - started)
        raise
    finally:
        lock.release()
    generate = body.max_tokens != 0  # OpenAI's default budget is more than 0; scoring answers 1 token
    pieces = token_strings(engine.adapter, scored, top)
    choices = [choice(i, s, pieces, generate, body.logprobs is not None) for i, s in enumerate(scored)]
    prompt_tokens = sum(len(r) for r in rows)
    completion = len(rows) if generate else 0
    return choices, {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                     "total_tokens": prompt_tokens + completion}


def token_strings(adapter: Any, scored: list, top: int) -> dict[int, str]:
    """Each token id in the answer decoded alone (special tokens kept), once per distinct id."""
    wanted = {t for s in scored for t in s.ids} | {s.next_id for s in scored}
    if top:
        wanted |= {t for s in scored for alts in (*s.top, s.next_top) for t, _ in alts}
    with adapter.lock:
        return {t: adapter.tokenizer.decode([t], skip_special_tokens=False) for t in wanted}


def choice(index: int, scored: Any, pieces: dict[int, str], generate: bool, with_logprobs: bool) -> dict[str, Any]:
    ids, logprobs, tops = list(scored.ids), list(scored.logprobs), list(scored.top)
    if generate:
        ids.append(scored.next_id)
        logprobs.append(scored.next_logprob)
        tops.append(scored.next_top)
    tokens = [pieces[t] for t in ids]
    offsets, at = [], 0
    for piece in tokens:
        offsets.append(at)
        at += len(piece)
    top_logprobs: list[dict[str, float] | None] = []
    for token, value, alts in zip(ids, logprobs, tops):
        if value is None:
            top_logprobs.append(None)
            continue
        entry = {pieces[t]: v for t, v in alts}
        entry.setdefault(pieces[token], value)  # the token that is there, as vLLM adds it
        top_logprobs.append(entry)
    block = {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": top_logprobs, "text_offset": offsets}
    return {"index": index, "text": "".join(tokens), "logprobs": block if with_logprobs else None,
            "finish_reason": "length"}
