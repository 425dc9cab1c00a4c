"""The tokenizer routes vLLM serves and lm-eval's `local-completions` looks for: with them lm-eval finds
the served model's tokenizer itself (its `tokenizer_backend=auto` probes `/tokenizer_info` and
`/tokenize`), so a loglikelihood run needs no local copy of the tokenizer.

    GET  /tokenizer_info   eos/bos/pad tokens, chat template, window
    POST /tokenize         {"prompt", "add_special_tokens"} -> {"tokens", "count", "max_model_len"}
    POST /detokenize       {"tokens"} -> {"prompt"}

Only a local (`hf:`) model has a tokenizer here; any other adapter answers 404. Inputs are bounded as
the completion routes bound them (text within 32 characters per window token, token lists in the schema).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi import Request as HTTPRequest
from starlette.concurrency import run_in_threadpool

from fsabench.serve.engine import BadRequest
from fsabench.serve.schemas import DetokenizeRequest, TokenizeRequest
from fsabench.web.jsonbody import strict_route_class

router = APIRouter(route_class=strict_route_class())


class NoTokenizer(LookupError):
    """Answered 404 in OpenAI's error shape (the app's handler for ModelNotFound-like misses)."""


def adapter_of(http: HTTPRequest, model: str | None = None) -> Any:
    engine, card = http.app.state.engine, http.app.state.card
    if model not in (None, card["id"]):
        raise NoTokenizer(f"model {model[:80]!r} is not served here; this server serves {card['id']!r}")
    if not engine.local:
        raise NoTokenizer("this server's model has no local tokenizer (only hf: models do)")
    return engine.adapter


@router.get("/tokenizer_info")
async def tokenizer_info(http: HTTPRequest) -> dict[str, Any]:
    adapter = adapter_of(http)
    tok = adapter.tokenizer
    return {"tokenizer_class": type(tok).__name__, "eos_token": tok.eos_token, "bos_token": tok.bos_token,
            "pad_token": tok.pad_token, "unk_token": tok.unk_token,
            "chat_template": getattr(tok, "chat_template", None) or None,
            "model_max_length": http.app.state.engine.window(), "vocab_size": len(tok)}


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, http: HTTPRequest) -> dict[str, Any]:
    adapter, window = adapter_of(http, body.model), http.app.state.engine.window() or 0
    if len(body.prompt) > window * 32:
        raise BadRequest(f"prompt of {len(body.prompt):,} characters is longer than the model's window of "
                         f"{window} tokens", "prompt")

    def run() -> list[int]:
        with adapter.lock:
            return adapter.tokenizer(body.prompt, add_special_tokens=body.add_special_tokens).input_ids

    tokens = await run_in_threadpool(run)
    return {"tokens": tokens, "count": len(tokens), "max_model_len": window}


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, http: HTTPRequest) -> dict[str, Any]:
    adapter = adapter_of(http, body.model)
    vocab = len(adapter.tokenizer)
    bad = next((t for t in body.tokens if t >= vocab), None)
    if bad is not None:
        raise BadRequest(f"token id {bad} is outside the model's vocabulary of {vocab}", "tokens")

    def run() -> str:
        with adapter.lock:
            return adapter.tokenizer.decode(body.tokens, skip_special_tokens=False)

    return {"prompt": await run_in_threadpool(run)}
