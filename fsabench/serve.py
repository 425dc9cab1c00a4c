"""An OpenAI-compatible server over any adapter: /v1/chat/completions, /v1/completions, /v1/models.

Concurrent requests are gathered into one `generate` call (up to `batch_size`, waiting at most
`batch_wait` seconds for company), so a local model answers many clients at batch speed. Standard
library only (ThreadingHTTPServer, Nagle off): serving a student needs no web framework.

/v1/models carries an `fsabench` entry with a hash of the model's identity; fsabench's own
`openai-compat:` client puts it into its cache key, so a retrained model behind the same URL is
never answered from an old model's cache.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fsabench.models.base import Completion, Request

DEFAULT_MAX_TOKENS = 256
MAX_BODY = 8 * 2 ** 20


class BadRequest(ValueError):
    """A client error, answered with HTTP 400 in OpenAI's error shape."""


class Batcher:
    """One worker thread hands gathered requests to the adapter; handler threads wait on futures."""

    def __init__(self, adapter: Any, batch_size: int = 16, batch_wait: float = 0.005) -> None:
        self.adapter, self.batch_size, self.batch_wait = adapter, max(1, batch_size), batch_wait
        self.queue: queue.Queue[tuple[Request, Future]] = queue.Queue()
        self.batches: list[int] = []  # sizes of the batches sent (tests check that batching happens)
        self.worker = threading.Thread(target=self._loop, daemon=True, name="fsabench-batcher")
        self.worker.start()

    def submit(self, requests: list[Request]) -> list[Completion]:
        futures = []
        for request in requests:
            future: Future = Future()
            self.queue.put((request, future))
            futures.append(future)
        return [f.result() for f in futures]

    def _gather(self) -> list[tuple[Request, Future]]:
        batch = [self.queue.get()]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._gather()
            self.batches.append(len(batch))
            try:
                answers = self.adapter.generate([r for r, _ in batch])
            except Exception as exc:  # noqa: BLE001 - a model error must reach every waiting client
                answers = [Completion(text=None, error=f"{type(exc).__name__}: {exc}")] * len(batch)
            for (_, future), answer in zip(batch, answers):
                future.set_result(answer)


def model_card(adapter: Any, served_name: str) -> dict[str, Any]:
    identity = json.dumps({"name": adapter.name, "identity": adapter.identity()}, sort_keys=True, default=str)
    return {"id": served_name, "object": "model", "created": 0, "owned_by": "fsabench",
            "fsabench": {"model": adapter.name, "identity_sha256": hashlib.sha256(identity.encode()).hexdigest()}}


def _int(body: dict, key: str, default: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or value < 1:
        raise BadRequest(f"'{key}' must be a positive integer")
    return value


def _stops(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise BadRequest("'stop' must be a string or a list of strings")


def _check_common(body: dict) -> None:
    if body.get("stream"):
        raise BadRequest("streaming is not supported; send stream: false")
    if body.get("n", 1) != 1:
        raise BadRequest("only n = 1 is supported")


def chat_request(body: dict) -> Request:
    """Chat messages -> Request; `prompt` joins the contents as fsabench's own prompts do."""
    _check_common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str)
            for m in messages):
        raise BadRequest("'messages' must be a non-empty list of {role, content} objects with text content")
    clean = tuple({"role": m["role"], "content": m["content"]} for m in messages)
    prompt = "\n\n".join(m["content"] for m in clean)
    return Request(id="", prompt=prompt, messages=clean, max_new_tokens=_int(body, "max_tokens", DEFAULT_MAX_TOKENS),
                   stop=_stops(body), temperature=float(body.get("temperature") or 0.0))


def completion_requests(body: dict) -> list[Request]:
    _check_common(body)
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise BadRequest("'prompt' must be a string or a non-empty list of strings")
    budget, stops = _int(body, "max_tokens", DEFAULT_MAX_TOKENS), _stops(body)
    return [Request(id="", prompt=p, max_new_tokens=budget, stop=stops,
                    temperature=float(body.get("temperature") or 0.0)) for p in prompts]


def usage_of(answers: list[Completion]) -> dict[str, int]:
    prompt = sum(a.prompt_tokens or 0 for a in answers)
    completion = sum(a.completion_tokens or 0 for a in answers)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    server: "ModelServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [self.server.card]})
        elif path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        else:
            self._error(404, f"no route {path}", "not_found")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(413, "request body too large", "invalid_request_error")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            if path in ("/v1/chat/completions", "/chat/completions"):
                self._answer_chat(body)
            elif path in ("/v1/completions", "/completions"):
                self._answer_completions(body)
            else:
                self._error(404, f"no route {path}", "not_found")
        except (BadRequest, ValueError) as exc:
            self._error(400, str(exc), "invalid_request_error")

    def _model_error(self, answers: list[Completion]) -> bool:
        failed = next((a.error for a in answers if a.text is None), None)
        if failed is not None:
            self._error(500, f"model failed: {failed}", "server_error")
        return failed is not None

    def _answer_chat(self, body: dict) -> None:
        answers = self.server.batcher.submit([chat_request(body)])
        if self._model_error(answers):
            return
        self._send(200, {"id": f"chatcmpl-{time.time_ns():x}", "object": "chat.completion", "created": int(time.time()),
                         "model": self.server.card["id"],
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": answers[0].text},
                                      "finish_reason": "stop"}], "usage": usage_of(answers)})

    def _answer_completions(self, body: dict) -> None:
        answers = self.server.batcher.submit(completion_requests(body))
        if self._model_error(answers):
            return
        self._send(200, {"id": f"cmpl-{time.time_ns():x}", "object": "text_completion", "created": int(time.time()),
                         "model": self.server.card["id"],
                         "choices": [{"index": i, "text": a.text, "finish_reason": "stop", "logprobs": None}
                                     for i, a in enumerate(answers)], "usage": usage_of(answers)})


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, adapter: Any, host: str, port: int, served_name: str, batch_size: int = 16,
                 batch_wait: float = 0.005, verbose: bool = False) -> None:
        super().__init__((host, port), Handler)
        self.card = model_card(adapter, served_name)
        self.batcher = Batcher(adapter, batch_size, batch_wait)
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


def start_server(adapter: Any, host: str = "127.0.0.1", port: int = 0, served_name: str = "model",
                 batch_size: int = 16, batch_wait: float = 0.005) -> ModelServer:
    """Serve on a daemon thread (tests, notebooks); `server.shutdown()` stops it."""
    server = ModelServer(adapter, host, port, served_name, batch_size, batch_wait)
    threading.Thread(target=server.serve_forever, daemon=True, name="fsabench-serve").start()
    return server
