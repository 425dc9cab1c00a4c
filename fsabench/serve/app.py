"""The HTTP face of `fsabench serve` (FastAPI): OpenAI's routes, errors and streaming format.

    POST /v1/chat/completions   POST /v1/completions   (also without the /v1 prefix)
    GET  /v1/models             GET  /v1/models/{id}   GET /health    GET /docs (OpenAPI)
    GET  /metrics               the engine's counters (Prometheus text format)

/v1/completions also scores prompts (`echo` + `logprobs`, token-id prompts: lm-eval's loglikelihood
requests), see scoring.py; /tokenizer_info, /tokenize and /detokenize are in tokens.py.

Errors use OpenAI's shape, {"error": {"message", "type", "param", "code"}}: 400 for a body that
fails validation (the field is named) or asks for what the server cannot do, 404 for an unknown
model or route, 500 when the model itself fails. Non-streaming requests watch their connection
while they wait; a client that goes away cancels its jobs (see engine.py) and its prompt scoring (scoring.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi import Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from fsabench.web.jsonbody import strict_route_class
from fsabench.models.base import Request
from fsabench.serve.engine import Answer, BadRequest, Engine, Job
from fsabench.serve.schemas import MAX_PROMPTS, ChatRequest, CompletionRequest
from fsabench.web import Limits, make_app

DEFAULT_MAX_TOKENS = 256  # when a request names no budget (capped by --max-tokens)
INLINE_CHARS = 4096  # prompts up to this many characters in all are checked and tokenized on the event loop
UNION_TAG = re.compile(r"^(int|float|str|bool|list|dict|none)(\[.*\])?$|^function-")  # pydantic's branch labels


class ModelNotFound(LookupError):
    pass


def shown(value: Any, limit: int = 80) -> str:
    """A client's value quoted in an error, cut short: a 4 MB `logit_bias` must not come back 4 MB long
    (reprlib stops early: a full repr of a deeply nested 3 MB `tools` took ~0.3 s on the event loop)."""
    import reprlib

    brief = reprlib.Repr()  # attributes, not keywords: Python 3.11's Repr() takes none
    brief.maxlevel, brief.maxlist, brief.maxdict, brief.maxstring, brief.maxother = 3, 6, 6, limit, limit
    text = brief.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def error_body(status: int, message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def build_app(engine: Engine, card: dict[str, Any], max_tokens: int, limits: Limits, quiet: bool = False):
    """The FastAPI app over one engine: the module's router and error handlers, the served state in
    `app.state` (engine, card = the /v1/models entry of the served model, max_tokens = the cap)."""
    app = make_app("fsabench serve", limits, quiet=quiet, description="An OpenAI-compatible API over a local model.")
    app.state.engine, app.state.card, app.state.max_tokens = engine, card, max_tokens
    for kind, handler in ((RequestValidationError, invalid), (HTTPException, http_error), (BadRequest, bad),
                          (ModelNotFound, no_model)):
        app.add_exception_handler(kind, handler)
    app.include_router(router)
    from fsabench.serve.tokens import NoTokenizer, router as tokenizer_router  # /tokenize, for lm-eval

    app.add_exception_handler(NoTokenizer, no_model)
    app.include_router(tokenizer_router)
    return app


router = APIRouter(route_class=strict_route_class())  # duplicate keys, NaN: a 400, as the leaderboard refuses them


async def invalid(http: HTTPRequest, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors() or [{"loc": (), "msg": "invalid body"}]
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:  # was "1: JSON decode error" with param "1" (the offset taken for a field)
        where = bad_json.get("loc", ("body", "?"))[-1]
        reason = (bad_json.get("ctx") or {}).get("error", "JSON decode error")
        return JSONResponse(error_body(400, f"the body is not valid JSON: {reason} (at character {where})",
                                       "invalid_request_error"), 400)
    kind = http.headers.get("content-type", "")
    if "json" not in kind.lower():  # FastAPI reads the body as JSON only when it is labelled so
        return JSONResponse(error_body(415, f"send the body as JSON with Content-Type: application/json (it was "
                                            f"{shown(kind[:60]) if kind else 'not labelled'})",
                                       "invalid_request_error"), 415)
    # in a union (a prompt string or a list of them) the branch that got deepest says what is wrong:
    # ["ok", "\\ud800"] is "prompt.1: holds a lone surrogate", not "prompt: should be a valid string"
    # (and at equal depth a broken rule, "at most 256 entries", says more than "should be a valid string")
    first = max(errors, key=lambda e: (len(e.get("loc", ())), e.get("type") == "value_error"))
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and not UNION_TAG.match(str(p))]
    field = ".".join(loc) or "body"
    return JSONResponse(error_body(400, f"{field}: {first.get('msg')}", "invalid_request_error", field), 400)


async def http_error(_: HTTPRequest, exc: HTTPException) -> JSONResponse:
    kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
    text = str(exc.detail)
    if text == "There was an error parsing the body":  # FastAPI's words for any body json.loads raised on
        text = ("the body could not be read as JSON: it must be UTF-8, nested fewer than 1,000 levels deep, "
                "with integers of fewer than 4,300 digits")
    return JSONResponse(error_body(exc.status_code, text, kind), exc.status_code, getattr(exc, "headers", None))


async def bad(_: HTTPRequest, exc: BadRequest) -> JSONResponse:
    return JSONResponse(error_body(400, str(exc), "invalid_request_error", exc.param), 400)


async def no_model(_: HTTPRequest, exc: ModelNotFound) -> JSONResponse:
    return JSONResponse(error_body(404, str(exc), "invalid_request_error", "model"), 404)


@router.get("/health")
@router.get("/v1/health", include_in_schema=False)
async def health(http: HTTPRequest):
    if not http.app.state.engine.alive:  # the engine process died: every generation would fail
        return JSONResponse({"status": "error", "reason": "the decoding engine stopped"}, 503)
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(http: HTTPRequest) -> PlainTextResponse:
    """The engine's counters in Prometheus' text format (a round trip to an engine process)."""
    engine = http.app.state.engine
    stats = await run_in_threadpool(lambda: engine.stats)
    return PlainTextResponse(stats.prometheus(engine.alive), media_type="text/plain; version=0.0.4")


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
async def models(http: HTTPRequest) -> dict[str, Any]:
    return {"object": "list", "data": [http.app.state.card]}


@router.get("/v1/models/{model_id:path}")
@router.get("/models/{model_id:path}", include_in_schema=False)
async def model(model_id: str, http: HTTPRequest) -> dict[str, Any]:
    """One model's object (OpenAI's `models.retrieve`); 404 in OpenAI's error shape for any other id."""
    card = http.app.state.card
    if model_id != card["id"]:
        raise ModelNotFound(f"model {shown(model_id)} is not served here; this server serves {card['id']!r}")
    return card


def check_served(body: ChatRequest | CompletionRequest, card: dict[str, Any], verb: str) -> None:
    """The model asked for is the one served, and no sampling option this server cannot honour is set."""
    if body.model not in (None, card["id"]):
        raise ModelNotFound(f"model {shown(body.model)} is not served here; this server serves {card['id']!r}")
    unsupported = body.unsupported()
    if unsupported:
        raise BadRequest(f"'{unsupported}' = {shown(getattr(body, unsupported))} is not supported: this server {verb} "
                         "greedily, one answer per prompt (leave it out)", unsupported)


def jobs_for(body: ChatRequest | CompletionRequest, requests: list[Request], events: asyncio.Queue,
             http: HTTPRequest, loop: asyncio.AbstractEventLoop) -> list[Job]:
    """Check the request and count its prompts' tokens: called in the thread pool (tokenizing 256
    prompts on the event loop stalled every other client for ~0.4 s)."""
    engine, card = http.app.state.engine, http.app.state.card
    check_served(body, card, "decodes")
    if body.min_tokens and not engine.local:
        raise BadRequest("'min_tokens' is only supported for local (hf:) models", "min_tokens")
    client = http.client.host if http.client else ""
    return [Job(r, i, events, loop, engine.prompt_tokens(r, r.max_new_tokens),
                min(body.min_tokens or 0, r.max_new_tokens), body.stream, client=client)
            for i, r in enumerate(requests)]


def budget_of(body: ChatRequest | CompletionRequest, http: HTTPRequest) -> int:
    max_tokens, engine = http.app.state.max_tokens, http.app.state.engine
    asked = body.budget()
    field = "max_completion_tokens" if getattr(body, "max_completion_tokens", None) else "max_tokens"
    if asked is not None and asked > max_tokens:
        raise BadRequest(f"{field} = {asked} is over this server's cap of {max_tokens} tokens "
                         "(fsabench serve --max-tokens)", field)
    window = engine.window()
    if asked is not None and window and asked > window:
        raise BadRequest(f"{field} = {asked} is over the model's window of {window} tokens", field)
    return asked or min(DEFAULT_MAX_TOKENS, max_tokens)


@router.post("/v1/chat/completions")
@router.post("/chat/completions", include_in_schema=False)
async def chat(body: ChatRequest, http: HTTPRequest):
    messages = tuple({"role": m.role, "content": m.text()} for m in body.messages)
    request = Request(id="", prompt="\n\n".join(m["content"] for m in messages), messages=messages,
                      max_new_tokens=budget_of(body, http), stop=body.stops())
    events: asyncio.Queue = asyncio.Queue()
    jobs = await prepare(body, [request], events, http)
    return await respond(http, body, jobs, events, chat=True)


@router.post("/v1/completions")
@router.post("/completions", include_in_schema=False)
async def completions(body: CompletionRequest, http: HTTPRequest):
    prompts = body.prompts()
    if not prompts or len(prompts) > MAX_PROMPTS:
        raise BadRequest(f"'prompt' must hold 1 to {MAX_PROMPTS} prompts", "prompt")
    if body.scores_prompt():
        return await scored(body, http)
    if not isinstance(prompts[0], str):
        raise BadRequest("token-id prompts are only scored ('echo': true with 'logprobs', as lm-eval's "
                         "loglikelihood sends them); to generate, send text (lm-eval: tokenized_requests=False)",
                         "prompt")
    if body.max_tokens == 0:
        raise BadRequest("max_tokens = 0 generates nothing: it is only for prompt scoring ('echo': true)",
                         "max_tokens")
    budget, stops = budget_of(body, http), body.stops()
    events: asyncio.Queue = asyncio.Queue()
    jobs = await prepare(body, [Request(id="", prompt=p, max_new_tokens=budget, stop=stops) for p in prompts],
                         events, http)
    return await respond(http, body, jobs, events, chat=False)


async def prepare(body: ChatRequest | CompletionRequest, requests: list[Request], events: asyncio.Queue,
                  http: HTTPRequest) -> list[Job]:
    """Check and tokenize a request's prompts (`jobs_for`), then queue its jobs. The engine is told the
    request is coming first, so a batch being filled waits for it (and for nothing else). A small
    request is handled right here on the event loop: a hop to the thread pool and back cost two thread
    hand-offs, each waiting for the GIL while the model decodes. A big one (256 long prompts took
    ~0.4 s to tokenize) still goes to the thread pool, so it stalls no other client."""
    engine, budget, loop = http.app.state.engine, requests[0].max_new_tokens, asyncio.get_running_loop()
    engine.expect(budget)
    try:
        if sum(len(r.prompt) for r in requests) <= INLINE_CHARS:
            jobs = jobs_for(body, requests, events, http, loop)
        else:
            jobs = await run_in_threadpool(jobs_for, body, requests, events, http, loop)
    except BaseException:
        engine.refused(budget)
        raise
    engine.submit_all(jobs, budget)
    return jobs


async def scored(body: CompletionRequest, http: HTTPRequest) -> dict[str, Any]:
    """`echo` + `logprobs`: the prompt's token logprobs (lm-eval's loglikelihood; see scoring.py)."""
    from fsabench.models.prompt_scores import ScoringCancelled
    from fsabench.serve.scoring import score

    card = http.app.state.card
    check_served(body, card, "scores")
    stop = threading.Event()
    scoring = asyncio.ensure_future(run_in_threadpool(score, body, http.app.state.engine, stop))
    while not scoring.done():
        await asyncio.wait({scoring}, timeout=0.25)
        if not scoring.done() and await http.is_disconnected():
            stop.set()  # the thread stops before its next forward pass (or gives up waiting for the lock)
            with contextlib.suppress(ScoringCancelled):
                await scoring
            return JSONResponse(error_body(499, "client closed the request", "cancelled"), 499)
    choices, usage = scoring.result()
    return {"id": f"cmpl-{time.time_ns():x}", "object": "text_completion", "created": int(time.time()),
            "model": card["id"], "choices": choices, "usage": usage}


async def respond(http: HTTPRequest, body: Any, jobs: list[Job], events: asyncio.Queue, chat: bool):
    """The answer to queued jobs: one JSON body, or server-sent events as they are made."""
    meta = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{time.time_ns():x}", "created": int(time.time()),
            "model": http.app.state.card["id"]}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(stream(jobs, events, meta, chat, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    answers = await collect(http, jobs, events)
    if answers is None:  # the client left; nobody reads this
        return JSONResponse(error_body(499, "client closed the request", "cancelled"), 499)
    failed = next((a for a in answers if isinstance(a, str)), None)
    if failed is not None:
        return JSONResponse(error_body(500, f"model failed: {failed}", "server_error"), 500)
    if chat:
        choices = [{"index": 0, "message": {"role": "assistant", "content": answers[0].text},
                    "finish_reason": answers[0].finish_reason}]
    else:
        choices = [{"index": i, "text": a.text, "finish_reason": a.finish_reason, "logprobs": None}
                   for i, a in enumerate(answers)]
    return {**meta, "object": "chat.completion" if chat else "text_completion", "choices": choices,
            "usage": usage_of(answers)}


async def collect(http: Any, jobs: list[Job], events: asyncio.Queue) -> list[Answer | str] | None:
    """Wait for every job's answer, checking the connection meanwhile; None (and cancelled jobs) if it drops."""
    answers: dict[int, Answer | str] = {}
    while len(answers) < len(jobs):
        try:
            kind, index, payload = await asyncio.wait_for(events.get(), timeout=0.25)
        except asyncio.TimeoutError:
            if await http.is_disconnected():
                for job in jobs:
                    job.cancel()
                return None
            continue
        if kind == "done":
            answers[index] = payload
    return [answers[i] for i in range(len(jobs))]


async def stream(jobs: list[Job], events: asyncio.Queue, meta: dict[str, Any], chat: bool,
                 include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events as OpenAI sends them: role chunk, content deltas, finish chunk, [DONE]."""
    kind_name = "chat.completion.chunk" if chat else "text_completion"

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        return f"data: {json.dumps({**meta, 'object': kind_name, 'choices': choices, **extra}, ensure_ascii=False)}\n\n"

    def choice(index: int, text: str | None, finish: str | None, role: bool = False) -> dict[str, Any]:
        if chat:
            delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else \
                ({"content": text} if text is not None else {})
            return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}

    answers: dict[int, Answer] = {}
    try:
        if chat:
            yield chunk([choice(0, None, None, role=True)])
        while len(answers) < len(jobs):
            kind, index, payload = await events.get()
            if kind == "delta":
                yield chunk([choice(index, payload, None)])
            elif isinstance(payload, str):  # the model failed mid-stream: say so in the stream, as OpenAI does
                yield f"data: {json.dumps(error_body(500, f'model failed: {payload}', 'server_error'))}\n\n"
                return
            else:
                answers[index] = payload
                yield chunk([choice(index, None, payload.finish_reason)])
        if include_usage:
            yield chunk([], usage=usage_of(list(answers.values())))
        yield "data: [DONE]\n\n"
    finally:
        for job in jobs:  # a client that left mid-stream frees its rows at the next step
            if not job.finished:
                job.cancel()


def usage_of(answers: list[Any]) -> dict[str, int]:
    prompt = sum(a.prompt_tokens for a in answers)
    completion = sum(a.completion_tokens for a in answers)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
