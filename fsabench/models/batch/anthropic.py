"""Anthropic's Message Batches API (`/v1/messages/batches`), as documented, over httpx.

Create takes the requests in its body ({"requests": [{"custom_id", "params": <a Messages request>}]}; no
file upload); a batch is `in_progress`, `canceling` or `ended`; once ended, `results_url` serves JSONL
lines {"custom_id", "result": {"type": "succeeded", "message"} | {"type": "errored", "error"} |
{"type": "canceled"} | {"type": "expired"}}. Limits per batch: 100,000 requests, 256 MB.
custom_id must match ^[a-zA-Z0-9_-]{1,64}$: the cache key (64 hex digits) does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fsabench.models.base import Completion, Request
from fsabench.models.batch.client import HTTP, BatchStatus, parse_line, text_of
from fsabench.models.batch.pricing import batch_prices, cost_of
from fsabench.models.engine import messages_of

MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
API_VERSION = "2023-06-01"
DEFAULT_ENDPOINT = "https://api.anthropic.com"


def message_params(model: str, request: Request) -> dict[str, Any]:
    """A Messages request: system prompts move to the top-level `system`, stop strings to `stop_sequences`."""
    messages = messages_of(request)
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    params: dict[str, Any] = {"model": model, "max_tokens": request.max_new_tokens,
                              "messages": [m for m in messages if m.get("role") != "system"],
                              "temperature": request.temperature}
    if system:
        params["system"] = system
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


def result_of(result: Any, prices: tuple[float, float] | None) -> Completion:
    if not isinstance(result, dict):
        return Completion(text=None, error="batch result line has no result")
    kind = result.get("type")
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        message = result["message"]
        blocks = message.get("content") or []
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        return Completion(text=text, prompt_tokens=tokens_in, completion_tokens=tokens_out,
                          cost_usd=cost_of(prices, tokens_in, tokens_out))
    if kind == "errored":
        error = (result.get("error") or {}).get("error") if isinstance(result.get("error"), dict) else None
        error = error if isinstance(error, dict) else {}
        return Completion(text=None, error=f"batch errored {text_of(error.get('type'), 60)}: "
                                           f"{text_of(error.get('message'))}")
    if kind in ("canceled", "expired"):
        return Completion(text=None, error=f"batch request {kind} before it was processed")
    return Completion(text=None, error=f"batch result of unknown type {text_of(kind, 40)}")


class AnthropicBatches:
    provider = "anthropic"
    uploads_file = False

    def __init__(self, endpoint: str | None, model: str, max_requests: int = MAX_REQUESTS,
                 max_bytes: int = MAX_BYTES) -> None:
        base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.endpoint = base[:-3] if base.endswith("/v1") else base
        self.model = model
        self.max_requests, self.max_bytes = max_requests, max_bytes
        headers = {"anthropic-version": API_VERSION}
        if os.environ.get("ANTHROPIC_API_KEY"):
            headers["x-api-key"] = os.environ["ANTHROPIC_API_KEY"]
        self.http = HTTP(self.endpoint, headers)
        self.prices = batch_prices(model, "anthropic")

    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": message_params(self.model, request)}

    def upload(self, job: str, data: bytes) -> str:
        raise NotImplementedError("Message Batches take their requests in the create call")

    def create(self, job: str, file_id: str | None, lines: list[str]) -> str:
        body = '{"requests":[' + ",".join(lines) + "]}"
        payload = self.http.json("POST", "/v1/messages/batches", content=body.encode("utf-8"),
                                 headers={"content-type": "application/json"})
        return str(payload["id"])

    def find(self, job: str, file_id: str | None, count: int, since: float) -> str | None:
        """A batch a killed run created but never recorded: Message Batches carry no metadata, so adopt the
        one batch created since the job's create call with the job's request count (none or several: None)."""
        matches, after = [], None
        for _ in range(100):
            page = self.http.json("GET", "/v1/messages/batches", params={"limit": 100, **({"after_id": after} if after else {})})
            data = [b for b in page.get("data") or [] if isinstance(b, dict)]
            for batch in data:
                created = _timestamp(batch.get("created_at"))
                counts = batch.get("request_counts") or {}
                total = sum(int(v or 0) for v in counts.values()) if isinstance(counts, dict) else -1
                if created is not None and created >= since - 5 and total == count:
                    matches.append(str(batch["id"]))
            if not page.get("has_more") or not data:
                break
            after = page.get("last_id")
        return matches[0] if len(matches) == 1 else None

    def status(self, batch_id: str) -> BatchStatus:
        batch = self.http.json("GET", f"/v1/messages/batches/{batch_id}")
        counts = batch.get("request_counts") or {}
        count = {k: int(counts.get(k) or 0) for k in ("processing", "succeeded", "errored", "canceled", "expired")}
        status = str(batch.get("processing_status"))
        return BatchStatus(status=status, ended=status == "ended", done=count["succeeded"],
                           failed=count["errored"] + count["canceled"] + count["expired"], total=sum(count.values()),
                           results_url=batch.get("results_url"))

    def results(self, status: BatchStatus) -> Iterator[tuple[str, Completion]]:
        if not status.results_url:
            return
        for raw in self.http.lines(status.results_url):
            entry = parse_line(raw)
            if entry is not None and isinstance(entry.get("custom_id"), str):
                yield entry["custom_id"], result_of(entry.get("result"), self.prices)

    def cancel(self, batch_id: str) -> None:
        self.http.json("POST", f"/v1/messages/batches/{batch_id}/cancel")


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

