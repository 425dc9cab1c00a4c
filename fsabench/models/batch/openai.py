"""The OpenAI Batch API (`/v1/files` + `/v1/batches`), as documented and as OpenAI-compatible servers
(vLLM's `run-batch` format, Together, Groq, ...) speak it, over httpx.

Input line: {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": <the online request>}.
Output and error files: {"id", "custom_id", "response": {"status_code", "request_id", "body"} | null,
"error": {"code", "message"} | null}; requests left when a batch expires or is cancelled appear in the
error file (codes batch_expired, batch_cancelled). Limits per input file: 50,000 requests, 200 MB.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from fsabench.models.base import Completion, Request
from fsabench.models.batch.client import HTTP, BatchStatus, parse_line, text_of
from fsabench.models.batch.pricing import batch_prices, cost_of
from fsabench.models.engine import Transient, messages_of
from fsabench.models.openai_compat import parse_chat_answer

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")


def chat_body(model: str, request: Request) -> dict[str, Any]:
    """Exactly the body `openai-compat:` posts online, so a server answers both the same way."""
    body: dict[str, Any] = {"model": model, "messages": messages_of(request),
                            "max_tokens": request.max_new_tokens, "temperature": request.temperature}
    if request.stop:
        body["stop"] = list(request.stop)
    return body


def input_line(custom_id: str, model: str, request: Request) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": chat_body(model, request)}


def result_of(entry: dict[str, Any], prices: tuple[float, float] | None) -> Completion:
    """One output/error-file line -> an answer, or a failure with its cause."""
    response, error = entry.get("response"), entry.get("error")
    if isinstance(response, dict) and response.get("status_code") == 200 and isinstance(response.get("body"), dict):
        try:
            answer = parse_chat_answer(json.dumps(response["body"]).encode())
        except Transient as exc:
            return Completion(text=None, error=f"batch output: {exc}")
        cost = cost_of(prices, answer.prompt_tokens, answer.completion_tokens)
        return Completion(text=answer.text, prompt_tokens=answer.prompt_tokens,
                          completion_tokens=answer.completion_tokens, cost_usd=cost)
    if isinstance(error, dict):
        return Completion(text=None, error=f"batch error {text_of(error.get('code'), 60)}: {text_of(error.get('message'))}")
    if isinstance(response, dict):
        body = response.get("body")
        message = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(message, dict):
            message = message.get("message", message)
        return Completion(text=None, error=f"batch HTTP {text_of(response.get('status_code'), 10)}: {text_of(message)}")
    return Completion(text=None, error="batch result line has neither a response nor an error")


class OpenAIBatches:
    provider = "openai"
    uploads_file = True

    def __init__(self, endpoint: str, model: str, key_env: tuple[str, ...] = ("FSABENCH_API_KEY", "OPENAI_API_KEY"),
                 max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES, priced: bool = True) -> None:
        self.endpoint, self.model = endpoint.rstrip("/"), model
        self.max_requests, self.max_bytes = max_requests, max_bytes
        key = next((os.environ[k] for k in key_env if os.environ.get(k)), None)
        self.http = HTTP(self.endpoint, {"Authorization": f"Bearer {key}"} if key else {})
        self.prices = batch_prices(model, "openai") if priced else None  # a local server has no price

    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        return input_line(custom_id, self.model, request)

    def upload(self, job: str, data: bytes) -> str:
        payload = self.http.json("POST", "/files", data={"purpose": "batch"},
                                 files={"file": (f"fsabench-{job}.jsonl", data, "application/jsonl")})
        return str(payload["id"])

    def create(self, job: str, file_id: str | None, lines: list[str]) -> str:
        payload = self.http.json("POST", "/batches", json={
            "input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h",
            "metadata": {"fsabench_job": job}})
        return str(payload["id"])

    def find(self, job: str, file_id: str | None, count: int, since: float) -> str | None:
        """The batch a killed run created but never recorded: its metadata names our job."""
        after = None
        for _ in range(100):  # 100 pages of 100: far past any batch made since the job was recorded
            params: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
            page = self.http.json("GET", "/batches", params=params)
            data = [b for b in page.get("data") or [] if isinstance(b, dict)]
            for batch in data:
                meta = batch.get("metadata") or {}
                if (isinstance(meta, dict) and meta.get("fsabench_job") == job) or \
                        (file_id and batch.get("input_file_id") == file_id):
                    return str(batch["id"])
            if not page.get("has_more") or not data or (data[-1].get("created_at") or 0) < since - 3600:
                return None
            after = data[-1].get("id")
        return None

    def status(self, batch_id: str) -> BatchStatus:
        batch = self.http.json("GET", f"/batches/{batch_id}")
        counts = batch.get("request_counts") or {}
        status = str(batch.get("status"))
        errors = batch.get("errors") or {}
        detail = "; ".join(text_of(e.get("message"), 200) for e in (errors.get("data") or []) if isinstance(e, dict)) \
            if isinstance(errors, dict) else None
        return BatchStatus(status=status, ended=status in TERMINAL, done=int(counts.get("completed") or 0),
                           failed=int(counts.get("failed") or 0), total=int(counts.get("total") or 0),
                           output_file_id=batch.get("output_file_id"), error_file_id=batch.get("error_file_id"),
                           errors=detail or None)

    def results(self, status: BatchStatus) -> Iterator[tuple[str, Completion]]:
        for file_id in (status.output_file_id, status.error_file_id):
            if not file_id:
                continue
            for raw in self.http.lines(f"/files/{file_id}/content"):
                entry = parse_line(raw)
                if entry is not None and isinstance(entry.get("custom_id"), str):
                    yield entry["custom_id"], result_of(entry, self.prices)

    def cancel(self, batch_id: str) -> None:
        self.http.json("POST", f"/batches/{batch_id}/cancel")
