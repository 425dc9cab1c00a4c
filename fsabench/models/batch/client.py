"""What every provider's batch client gives the driver (drive.py), and the one retrying HTTP call they share.

A client turns a Request into one input line, uploads and creates batches, reports a batch's status, and
yields `(custom_id, Completion)` for each result line, a failed line being `Completion(text=None, error=...)`.
Result files are untrusted: read line by line, each line bounded, anything malformed is a failed request.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request
from fsabench.models.engine import scrub

MAX_LINE_BYTES = 16 * 1024 * 1024  # one result line (a whole chat completion) above this is refused
ATTEMPTS = 6  # control calls (upload, create, retrieve, download) retried on 429, 5xx and dropped connections


@dataclass(frozen=True)
class BatchStatus:
    status: str  # the provider's word: validating, in_progress, finalizing, completed, ended, ...
    ended: bool  # no more results will come
    done: int
    failed: int
    total: int
    output_file_id: str | None = None
    error_file_id: str | None = None
    results_url: str | None = None
    errors: str | None = None  # why a whole batch failed (validation), if it did


class BatchClient(Protocol):
    provider: str  # "openai" | "anthropic"
    endpoint: str  # API base URL
    max_requests: int
    max_bytes: int
    uploads_file: bool

    def line(self, custom_id: str, request: Request) -> dict[str, Any]: ...
    def upload(self, job: str, data: bytes) -> str: ...
    def create(self, job: str, file_id: str | None, lines: list[str]) -> str: ...
    def find(self, job: str, file_id: str | None, count: int, since: float) -> str | None: ...
    def status(self, batch_id: str) -> BatchStatus: ...
    def results(self, status: BatchStatus) -> Iterator[tuple[str, Completion]]: ...
    def cancel(self, batch_id: str) -> None: ...


class BatchGone(ModelError):
    """The provider answers 404 for a batch it had accepted (deleted, or another account's key)."""


class HTTP:
    """httpx with the engine's retry rule for control calls; errors become one-line ModelErrors."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 60.0) -> None:
        import httpx

        self.httpx = httpx
        self.base = base.rstrip("/")
        self.client = httpx.Client(headers=headers, timeout=timeout)
        self.rng = random.Random()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}{path}"

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        try:
            payload = response.json()
        except ValueError:
            raise ModelError(f"{method} {self.url(path)}: the answer is not JSON",
                             hint="is this URL a batch API endpoint?") from None
        if not isinstance(payload, dict):
            raise ModelError(f"{method} {self.url(path)}: the answer is not a JSON object", hint="check the endpoint")
        return payload

    def request(self, method: str, path: str, **kwargs: Any):
        last = ""
        for attempt in range(ATTEMPTS):
            try:
                response = self.client.request(method, self.url(path), **kwargs)
            except self.httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code == 404 and method == "GET":
                    raise BatchGone(scrub(f"GET {self.url(path)}: {last}"), hint="run again with --retry-failed")
                if response.status_code not in (408, 409, 429) and response.status_code < 500:
                    break
            time.sleep(min(30.0, self.rng.uniform(0, 0.5 * 2 ** attempt)))
        raise ModelError(scrub(f"{method} {self.url(path)} failed: {last}"),
                         hint="check the URL, the API key and that the provider offers the batch API")

    def lines(self, path: str) -> Iterator[bytes]:
        """A JSONL download, streamed; a line above MAX_LINE_BYTES is cut (and then fails to parse)."""
        for attempt in range(ATTEMPTS):
            try:
                with self.client.stream("GET", self.url(path)) as response:
                    if response.status_code >= 400:
                        raise (BatchGone if response.status_code == 404 else ModelError)(f"GET {self.url(path)}: HTTP {response.status_code}",
                                         hint="the result file is gone (expired?); run again with --retry-failed")
                    buffered = b""
                    for chunk in response.iter_bytes():
                        buffered += chunk
                        *complete, buffered = buffered.split(b"\n")
                        if len(buffered) > MAX_LINE_BYTES:
                            buffered = buffered[:MAX_LINE_BYTES]
                        yield from (line for line in complete if line.strip())
                    if buffered.strip():
                        yield buffered
                    return
            except self.httpx.HTTPError as exc:
                if attempt == ATTEMPTS - 1:
                    raise ModelError(scrub(f"GET {self.url(path)} failed: {exc}"), hint="run the same command again") from None
                time.sleep(min(30.0, self.rng.uniform(0, 0.5 * 2 ** attempt)))

    def close(self) -> None:
        self.client.close()


def parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def text_of(value: Any, limit: int = 300) -> str:
    return (value if isinstance(value, str) else json.dumps(value, default=str))[:limit]
